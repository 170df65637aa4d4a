/*
 * Stream mode of CachedDownload: the worker's logic
 * (components/utils/streamworker.js), which fetches the address and streams
 * it, and the page's runner `runStream` (components/utils/download.js),
 * wired together in one process: a fake `navigator.serviceWorker` hands the
 * page's messages and MessagePort (Node's real MessageChannel) to a real
 * stream registry, whose requests go to the scripted `fetch`, and a fake
 * download manager answers the hidden iframe by reading the registry's
 * Response, as slowly as asked.
 */
import assert from 'node:assert/strict';
import {afterEach, beforeEach, describe, test} from 'node:test';

import {makeJob, runStream, streamUnavailable} from '../../components/utils/download.js';
import {
    OPEN,
    PING,
    attachmentHeader,
    createStreamRegistry,
    reusesChunks,
    streamId,
} from '../../components/utils/streamworker.js';
import {chunkedBody, installFetch, installObjectUrls, installPage, recorder} from './fakes.mjs';

const SCOPE = 'http://app.test/_dash-component-suites/dash_file_cache/components/';
const WORKER = `${SCOPE}stream-worker.js`;
const ADDRESS = '/cached-data?uid=abc';

const tick = () => new Promise(resolve => setImmediate(resolve));

async function until(predicate, what) {
    for (let i = 0; i < 10000; i++) {
        if (predicate()) {
            return;
        }
        await tick();
    }
    throw new Error(`timed out waiting for ${what}`);
}

/**
 * Read a Response body to the end (or its error), `delay()` before each read;
 * a delay that resolves to 'cancel' cancels the download there.
 */
async function readAll(response, delay = tick, onChunk = () => {}) {
    const reader = response.body.getReader();
    const parts = [];
    try {
        for (;;) {
            if ((await delay()) === 'cancel') {
                await reader.cancel();
                return {bytes: Buffer.concat(parts), error: 'cancelled'};
            }
            const {done, value} = await reader.read();
            if (done) {
                return {bytes: Buffer.concat(parts), error: null};
            }
            parts.push(Buffer.from(value));
            onChunk(value.byteLength);
        }
    } catch (e) {
        return {bytes: Buffer.concat(parts), error: e};
    }
}

let page;
let objectUrls;
let sw;

/**
 * A service worker container whose worker runs `createStreamRegistry`
 * in-process, and a download manager that reads what the iframe gets.
 */
function installStreamWorker({register, consume} = {}) {
    const registry = createStreamRegistry(SCOPE, {reuseBuffer: true});
    const state = {registry, registrations: [], pings: 0, frames: [], downloads: []};
    state.worker = null;
    const worker = {
        state: 'activated',
        scriptURL: WORKER,
        postMessage(data, transfer) {
            if (data && data.type === PING) {
                state.pings += 1;
                return;
            }
            registry.open(data, transfer && transfer[0]);
        },
    };
    state.worker = worker;
    globalThis.navigator = {
        serviceWorker: {
            register:
                register ||
                (async (url, options) => {
                    state.registrations.push([url, options]);
                    return {active: worker};
                }),
        },
    };
    globalThis.window.isSecureContext = true;
    const create = globalThis.document.createElement;
    globalThis.document.createElement = tag => {
        const el = create(tag);
        el.attributes = {};
        el.setAttribute = (name, value) => (el.attributes[name] = value);
        return el;
    };
    const append = globalThis.document.body.appendChild;
    globalThis.document.body.appendChild = el => {
        append(el);
        if (el.tag === 'iframe') {
            state.frames.push(el);
            const response = registry.respond(el.src);
            state.downloads.push({
                response,
                result: readAll(response, consume && consume.delay, consume && consume.onChunk),
            });
        }
    };
    return state;
}

beforeEach(() => {
    page = installPage();
    objectUrls = installObjectUrls();
    sw = null;
});

afterEach(() => {
    objectUrls.restore();
    delete globalThis.navigator;
});

function job(fields = {}) {
    return makeJob(1, {url: ADDRESS, mode: 'stream', progress_interval: 0, ...fields}, WORKER);
}

function bytes(n, seed = 1) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
        out[i] = (i * 31 + seed) & 0xff;
    }
    return out;
}

describe('stream worker', () => {
    test('attachmentHeader names the file, ASCII fallback and RFC 8187 form', () => {
        assert.equal(
            attachmentHeader('a b.csv'),
            'attachment; filename="a b.csv"; filename*=UTF-8\'\'a%20b.csv'
        );
        assert.equal(
            attachmentHeader('été "x".txt\r\n'),
            'attachment; filename="_t_ _x_.txt  "; filename*=UTF-8\'\'%C3%A9t%C3%A9%20%22x%22.txt%20%20'
        );
        assert.match(attachmentHeader(null), /filename="download"/);
    });

    test('streamId reads only synthetic URLs of its scope', () => {
        assert.equal(streamId(`${SCOPE}dfc-stream/abc-1`, SCOPE), 'abc-1');
        assert.equal(streamId(`${SCOPE}dfc-stream/abc?x=1`, SCOPE), 'abc');
        assert.equal(streamId(`${SCOPE}stream-worker.js`, SCOPE), null);
        assert.equal(streamId('http://other.test/dfc-stream/abc', SCOPE), null);
        assert.equal(streamId(`${SCOPE}dfc-stream/`, SCOPE), null);
    });

    test('reusesChunks: Chromium only', () => {
        const nav = brands => ({userAgentData: {brands: brands.map(brand => ({brand}))}});
        assert.equal(reusesChunks(nav(['Not A Brand', 'Chromium', 'Google Chrome'])), true);
        assert.equal(reusesChunks(nav(['Not A Brand'])), false);
        assert.equal(reusesChunks({userAgent: 'Firefox'}), false);
        assert.equal(reusesChunks(undefined), false);
    });

    const open = (registry, id, fields = {}) => {
        const {port1, port2} = new MessageChannel();
        const inbox = [];
        port1.onmessage = e => inbox.push(e.data);
        const ok = registry.open(
            {type: OPEN, id, href: `http://app.test${ADDRESS}`, interval: 0, ...fields},
            port2
        );
        return {ok, port: port1, inbox, types: () => inbox.map(m => m.type)};
    };

    test('leaves other requests alone; unknown, unready or used ids are 404', async () => {
        let answer;
        const answered = new Promise(resolve => (answer = resolve));
        installFetch(async () => {
            await answered;
            return new Response(bytes(3), {
                status: 200,
                headers: {'Content-Length': '3', 'Content-Disposition': 'attachment; filename="s"'},
            });
        });
        const registry = createStreamRegistry(SCOPE);
        assert.equal(registry.respond(`${SCOPE}async-CachedDownload.js`), null);
        assert.equal(registry.respond(`${SCOPE}dfc-stream/nope`).status, 404);
        assert.equal(registry.open({type: 'other'}, null), false);
        assert.equal(registry.open({type: OPEN, id: 'x'}, new MessageChannel().port1), false);

        const x = open(registry, 'x', {fileName: 'f.bin'});
        assert.equal(x.ok, true);
        await until(() => x.inbox.length >= 1, 'opened');
        assert.equal(registry.respond(`${SCOPE}dfc-stream/x`).status, 404, 'not answered yet');
        answer();
        await until(() => x.inbox.length >= 2, 'ready');
        assert.deepEqual(x.inbox[1], {type: 'ready', http_code: 200, file_name: 'f.bin', total: 3});
        const first = registry.respond(`${SCOPE}dfc-stream/x`);
        assert.equal(first.status, 200);
        assert.equal(first.headers.get('Content-Length'), '3');
        assert.equal(first.headers.get('Content-Type'), 'application/octet-stream');
        assert.match(first.headers.get('Content-Disposition'), /^attachment; filename="f.bin"/);
        assert.equal(registry.respond(`${SCOPE}dfc-stream/x`).status, 404, 'one use only');
        await until(() => x.inbox.length >= 3, 'started');
        assert.deepEqual(x.types(), ['opened', 'ready', 'started']);
        x.port.postMessage({type: 'abort'});
        await until(() => registry.size() === 0, 'release');
        x.port.close();
    });

    test('a ready stream nobody claims is dropped and its request stopped', async () => {
        let signal;
        installFetch(async (url, init) => {
            signal = init.signal;
            return new Response(bytes(5), {status: 200, headers: {'Content-Length': '5'}});
        });
        const registry = createStreamRegistry(SCOPE, {claimTimeout: 5});
        const z = open(registry, 'z');
        await until(() => z.inbox.length >= 2, 'ready');
        assert.equal(z.inbox[1].type, 'ready');
        await new Promise(resolve => setTimeout(resolve, 20));
        await until(() => registry.size() === 0, 'the stream to be dropped');
        assert.equal(signal.aborted, true);
        await until(() => z.inbox.length >= 3, 'the error');
        assert.deepEqual(z.inbox[2], {
            type: 'error',
            http_code: 0,
            message: 'The download was not started.',
        });
        assert.equal(registry.respond(`${SCOPE}dfc-stream/z`).status, 404);
        z.port.close();
    });

    test('an error answer is passed on; the worker keeps nothing', async () => {
        installFetch(
            () =>
                new Response('{"error": "gone"}', {
                    status: 410,
                    headers: {'Content-Type': 'application/json'},
                })
        );
        const registry = createStreamRegistry(SCOPE);
        const y = open(registry, 'y');
        await until(() => y.inbox.length >= 2, 'the error');
        assert.deepEqual(y.inbox[1], {type: 'error', http_code: 410, message: 'gone'});
        assert.equal(registry.size(), 0);
        assert.equal(registry.respond(`${SCOPE}dfc-stream/y`).status, 404);
        y.port.close();
    });

    test('reads the network only as the download manager reads; then closes', async () => {
        let served = 0;
        const calls = installFetch(
            () =>
                new Response(
                    new ReadableStream(
                        {
                            pull(c) {
                                served += 1;
                                if (served > 3) {
                                    c.close();
                                } else {
                                    c.enqueue(bytes(4, served));
                                }
                            },
                        },
                        {highWaterMark: 0}
                    ),
                    {status: 200, headers: {'Content-Type': 'text/csv', ETag: '"e"'}}
                )
        );
        const registry = createStreamRegistry(SCOPE);
        const z = open(registry, 'z', {headers: {'X-Token': 't'}, fallbackName: 'z.csv'});
        await until(() => z.types().includes('ready'), 'ready');
        assert.deepEqual(calls[0].init.headers, {'X-Token': 't'});
        const response = registry.respond(`${SCOPE}dfc-stream/z`);
        assert.equal(response.headers.get('Content-Length'), null);
        assert.equal(response.headers.get('Content-Type'), 'text/csv');
        assert.match(response.headers.get('Content-Disposition'), /filename="z.csv"/);
        for (let i = 0; i < 50; i++) {
            await tick();
        }
        const before = served;
        assert.ok(before <= 2, `read ${before} chunks before the download manager asked`);
        const reader = response.body.getReader();
        assert.deepEqual([...(await reader.read()).value], [...bytes(4, 1)]);
        assert.deepEqual([...(await reader.read()).value], [...bytes(4, 2)]);
        assert.deepEqual([...(await reader.read()).value], [...bytes(4, 3)]);
        assert.equal((await reader.read()).done, true);
        await until(() => z.types().includes('closed'), 'closed');
        const progress = z.inbox.filter(m => m.type === 'progress').map(m => m.loaded);
        assert.deepEqual(progress, [4, 8, 12]);
        assert.deepEqual(z.inbox.at(-1), {type: 'closed', loaded: 12, resumes: 0});
        assert.equal(registry.size(), 0);
        z.port.close();
    });

    test('a cancelled download stops the request, tells the page, releases', async () => {
        let bodyCancelled = false;
        installFetch(
            () =>
                new Response(
                    new ReadableStream({
                        pull: c => c.enqueue(bytes(8)),
                        cancel: () => {
                            bodyCancelled = true;
                        },
                    }),
                    {status: 200}
                )
        );
        const registry = createStreamRegistry(SCOPE);
        const w = open(registry, 'w');
        await until(() => w.types().includes('ready'), 'ready');
        const response = registry.respond(`${SCOPE}dfc-stream/w`);
        await response.body.cancel();
        await until(() => w.types().includes('cancelled'), 'cancelled');
        assert.equal(registry.size(), 0);
        await until(() => bodyCancelled, 'the network body to be cancelled');
        w.port.close();
    });
});

describe('runStream', () => {
    const serve = (chunks, headers = {}) =>
        installFetch(
            () =>
                new Response(chunkedBody(chunks), {
                    status: 200,
                    headers: {'Content-Type': 'text/csv', ETag: '"e"', ...headers},
                })
        );

    test('streams the bytes to the download manager; done once the stream closed', async () => {
        sw = installStreamWorker();
        const data = bytes(3 * (1 << 20) + 5);
        const parts = [];
        for (let i = 0; i < data.length; i += 256 * 1024) {
            parts.push(data.slice(i, i + 256 * 1024));
        }
        const calls = serve(parts, {
            'Content-Length': String(data.length),
            'Content-Disposition': 'attachment; filename="t.csv"',
        });
        const {reports, report} = recorder();
        await runStream(job({headers: {'X-Token': 't'}}), new AbortController().signal, report);
        assert.equal(calls.length, 1);
        assert.deepEqual(calls[0].init.headers, {'X-Token': 't'});
        assert.deepEqual(sw.registrations, [[WORKER, {scope: SCOPE}]]);
        // The download manager got the whole file, as an attachment.
        const [download] = sw.downloads;
        assert.equal(download.response.headers.get('Content-Length'), String(data.length));
        assert.equal(download.response.headers.get('Content-Type'), 'text/csv');
        assert.match(download.response.headers.get('Content-Disposition'), /filename="t.csv"/);
        const {bytes: saved, error} = await download.result;
        assert.equal(error, null);
        assert.ok(saved.equals(Buffer.from(data)));
        // Through a hidden iframe in the worker's scope, removed afterwards.
        assert.equal(sw.frames.length, 1);
        assert.ok(sw.frames[0].src.startsWith(`${SCOPE}dfc-stream/`));
        assert.equal(sw.frames[0].style.display, 'none');
        assert.equal(page.attached.size, 0);
        assert.equal(sw.registry.size(), 0);
        // Progress, then done with every byte.
        assert.deepEqual(reports[0], {loaded: 0});
        const progress = reports.filter(r => !r.state && r.loaded).map(r => r.loaded);
        assert.ok(progress.length >= 3);
        assert.deepEqual(
            progress,
            [...progress].sort((a, b) => a - b)
        );
        assert.deepEqual(reports.at(-1), {
            http_code: 200,
            file_name: 't.csv',
            loaded: data.length,
            total: data.length,
            state: 'done',
        });
        assert.equal(objectUrls.created.size, 0, 'no Blob in the page');
    });

    test('reports done only after the download manager took the last byte', async () => {
        let release;
        const gate = new Promise(resolve => (release = resolve));
        let reads = 0;
        sw = installStreamWorker({
            consume: {delay: () => (++reads >= 2 ? gate : tick())},
        });
        serve(['abc', 'def'], {'Content-Length': '6'});
        const {reports, report} = recorder();
        const running = runStream(job(), new AbortController().signal, report);
        await until(() => reads >= 2, 'the download manager to stall');
        for (let i = 0; i < 50; i++) {
            await tick();
        }
        assert.equal(
            reports.some(r => r.state === 'done'),
            false
        );
        release();
        await running;
        assert.equal(reports.at(-1).state, 'done');
        assert.equal((await sw.downloads[0].result).bytes.toString(), 'abcdef');
    });

    test('memory stays bounded: the network is read as the disk takes', async () => {
        let consumed = 0;
        let pulled = 0;
        let worst = 0;
        sw = installStreamWorker({
            consume: {
                delay: () => new Promise(resolve => setTimeout(resolve, 1)),
                onChunk: n => {
                    consumed += n;
                },
            },
        });
        const chunk = 64 * 1024;
        const total = 48 * chunk * 4;
        installFetch(
            () =>
                new Response(
                    new ReadableStream({
                        pull(controller) {
                            if (pulled >= total) {
                                controller.close();
                                return;
                            }
                            pulled += chunk;
                            worst = Math.max(worst, pulled - consumed);
                            controller.enqueue(bytes(chunk, pulled));
                        },
                    }),
                    {status: 200, headers: {'Content-Length': String(total)}}
                )
        );
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.equal(reports.at(-1).state, 'done');
        assert.equal((await sw.downloads[0].result).bytes.length, total);
        // Ahead of the disk by a few chunks (the fake fetch's own queue), whatever the size.
        assert.ok(worst <= 4 * chunk, `ahead by ${worst} bytes`);
    });

    test('an error answer is reported with its code and saves nothing', async () => {
        sw = installStreamWorker();
        installFetch(
            () =>
                new Response('{"error": "Unknown or expired address."}', {
                    status: 404,
                    headers: {'Content-Type': 'application/json'},
                })
        );
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: 404,
            message: 'Unknown or expired address.',
        });
        assert.equal(sw.frames.length, 0);
        assert.equal(sw.registry.size(), 0);
    });

    test('unmount (abort) mid-transfer stops the request and the worker stream', async () => {
        sw = installStreamWorker();
        const controller = new AbortController();
        let served = 0;
        installFetch(
            () =>
                new Response(
                    new ReadableStream({
                        async pull(c) {
                            await tick();
                            served += 1;
                            if (served === 40) {
                                controller.abort();
                            }
                            c.enqueue(bytes(64 * 1024, served));
                        },
                    }),
                    {status: 200, headers: {'Content-Length': String(1 << 30)}}
                )
        );
        const {reports, report} = recorder();
        await runStream(job(), controller.signal, report);
        assert.equal(
            reports.some(r => r.state),
            false,
            JSON.stringify(reports.filter(r => r.state))
        );
        const {error} = await sw.downloads[0].result;
        assert.match(String(error), /stopped the download/);
        await until(() => sw.registry.size() === 0, 'the worker to release the stream');
        assert.equal(page.attached.size, 0);
    });

    test('an abort while the download manager stalls settles the runner', async () => {
        let reads = 0;
        let release;
        const stalled = new Promise(resolve => (release = resolve));
        sw = installStreamWorker({consume: {delay: () => (++reads >= 2 ? stalled : tick())}});
        serve(['abc', 'def', 'ghi'], {'Content-Length': '9'});
        const controller = new AbortController();
        const {reports, report} = recorder();
        const running = runStream(job(), controller.signal, report);
        await until(() => reads >= 2, 'the download manager to stall');
        controller.abort();
        await running;
        assert.equal(
            reports.some(r => r.state),
            false
        );
        await until(() => sw.registry.size() === 0, 'the worker to release the stream');
        assert.equal(page.attached.size, 0);
        release();
        assert.match(String((await sw.downloads[0].result).error), /stopped the download/);
    });

    test('a download cancelled in the browser is an error', async () => {
        let reads = 0;
        sw = installStreamWorker({
            consume: {delay: async () => (++reads === 3 ? 'cancel' : undefined)},
        });
        let bodyCancelled = false;
        installFetch(
            () =>
                new Response(
                    new ReadableStream({
                        pull: c => c.enqueue(bytes(1024)),
                        cancel: () => {
                            bodyCancelled = true;
                        },
                    }),
                    {status: 200}
                )
        );
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.equal(reports.at(-1).state, 'error');
        assert.match(reports.at(-1).message, /cancelled in the browser/);
        await until(() => bodyCancelled, 'the network body to be cancelled');
    });

    test('a cut transfer resumes into the same download', async () => {
        sw = installStreamWorker();
        let n = 0;
        const calls = installFetch(() => {
            n += 1;
            if (n === 1) {
                return new Response(chunkedBody(['abcd', new TypeError('network error')]), {
                    status: 200,
                    headers: {'Content-Length': '10', ETag: '"v"'},
                });
            }
            return new Response('efghij', {
                status: 206,
                headers: {'Content-Range': 'bytes 4-9/10', ETag: '"v"'},
            });
        });
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.equal(calls[1].init.headers.Range, 'bytes=4-');
        assert.equal(calls[1].init.headers['If-Range'], '"v"');
        assert.equal(sw.frames.length, 1);
        assert.equal((await sw.downloads[0].result).bytes.toString(), 'abcdefghij');
        assert.deepEqual(
            [reports.at(-1).state, reports.at(-1).loaded, reports.at(-1).resumes],
            ['done', 10, 1]
        );
    });

    test('a new worker being installed is used, not the old active one', async () => {
        let oldUsed = false;
        const old = {state: 'activated', scriptURL: WORKER, postMessage: () => (oldUsed = true)};
        const listeners = new Set();
        const pending = {
            state: 'installing',
            scriptURL: WORKER,
            addEventListener: (type, f) => listeners.add(f),
            removeEventListener: (type, f) => listeners.delete(f),
            postMessage: (data, transfer) => sw.worker.postMessage(data, transfer),
        };
        sw = installStreamWorker({
            register: async () => {
                setTimeout(() => {
                    pending.state = 'activated';
                    listeners.forEach(f => f());
                }, 5);
                return {active: old, installing: pending};
            },
        });
        serve(['abc'], {'Content-Length': '3'});
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.equal(reports.at(-1).state, 'done');
        assert.equal(oldUsed, false);
        assert.equal((await sw.downloads[0].result).bytes.toString(), 'abc');
    });

    test('no secure context: native mode instead, saying so', async () => {
        sw = installStreamWorker();
        globalThis.window.isSecureContext = false;
        const calls = installFetch(() => new Response(null, {status: 200}));
        const {reports, report} = recorder();
        await runStream(job({file_name: 'n.bin'}), new AbortController().signal, report);
        assert.equal(calls[0].init.method, 'HEAD');
        assert.equal(page.clicks.length, 1);
        assert.equal(sw.registrations.length, 0);
        const note =
            'Stream mode unavailable (the page is not a secure context (https or ' +
            'localhost)): downloaded in native mode.';
        assert.deepEqual(reports.at(-1), {
            state: 'done',
            http_code: 200,
            file_name: 'n.bin',
            total: null,
            mode: 'native',
            message: note,
        });
        assert.ok(reports.every(r => r.mode === 'native' && r.message.startsWith(note)));
    });

    test('a refused registration: native mode instead, saying why', async () => {
        sw = installStreamWorker({
            register: async () => {
                throw new DOMException('blocked', 'SecurityError');
            },
        });
        installFetch(() => new Response(null, {status: 200}));
        const {reports, report} = recorder();
        await runStream(job(), new AbortController().signal, report);
        assert.equal(reports.at(-1).state, 'done');
        assert.equal(reports.at(-1).mode, 'native');
        assert.match(reports.at(-1).message, /service worker could not be installed: blocked/);
        assert.equal(page.clicks.length, 1);
    });

    test('streamUnavailable names what is missing', () => {
        globalThis.window.isSecureContext = true;
        globalThis.navigator = {};
        assert.match(streamUnavailable(WORKER), /no service workers/);
        globalThis.navigator = {serviceWorker: {}};
        assert.equal(streamUnavailable(WORKER), null);
        assert.match(streamUnavailable(null), /address is unknown/);
    });
});
