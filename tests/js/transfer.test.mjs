/*
 * The resumable GET of the fetch and stream modes (components/utils/transfer.js),
 * run against a scripted server: `Range`/`If-Range` resumes, their bound, and
 * the answers that must stop a transfer instead of corrupting it.
 */
import assert from 'node:assert/strict';
import {beforeEach, describe, test} from 'node:test';

import {
    RESUME_DELAY_MS,
    TransferError,
    openTransfer,
    parseContentRange,
    strongEtag,
} from '../../components/utils/transfer.js';
import {chunkedBody, installFetch, installPage} from './fakes.mjs';

const HREF = 'http://app.test/cached-data?uid=abc&download=true';
const FILE = 'abcdefghij';
const ETAG = '"v1"';

beforeEach(() => {
    installPage();
});

/** Collect the transfer's chunks as text; resolves to the text or throws. */
async function drain(transfer) {
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of transfer.chunks()) {
        text += decoder.decode(chunk);
    }
    return text;
}

/**
 * A server of FILE whose first answer breaks after `cutAt` bytes; `resume`
 * answers later requests (default: a correct 206 from the asked offset).
 */
function cuttingServer({cutAt = 4, etag = ETAG, resume} = {}) {
    const headers = {'Content-Length': String(FILE.length)};
    if (etag) {
        headers.ETag = etag;
    }
    const correct = init => {
        const from = Number(/bytes=(\d+)-/.exec(init.headers.Range)[1]);
        return new Response(FILE.slice(from), {
            status: 206,
            headers: {
                'Content-Range': `bytes ${from}-${FILE.length - 1}/${FILE.length}`,
                'Content-Length': String(FILE.length - from),
                ETag: ETAG,
            },
        });
    };
    let n = 0;
    return installFetch((url, init) => {
        n += 1;
        if (n === 1) {
            return new Response(
                chunkedBody([FILE.slice(0, cutAt), new TypeError('network error')]),
                {status: 200, headers}
            );
        }
        return (resume || correct)(init, n);
    });
}

test('strongEtag and parseContentRange', () => {
    assert.equal(strongEtag(new Headers({ETag: '"x"'})), '"x"');
    assert.equal(strongEtag(new Headers({ETag: 'W/"x"'})), null);
    assert.equal(strongEtag(new Headers()), null);
    assert.deepEqual(parseContentRange('bytes 4-9/10'), [4, 9, 10]);
    assert.deepEqual(parseContentRange('bytes 4-9/*'), [4, 9, null]);
    assert.equal(parseContentRange('bytes */10'), null);
    assert.equal(parseContentRange(null), null);
});

describe('openTransfer', () => {
    test('an error answer is not opened', async () => {
        installFetch(
            () =>
                new Response('{"error": "expired"}', {
                    status: 404,
                    headers: {'Content-Type': 'application/json'},
                })
        );
        const t = await openTransfer(HREF, {signal: new AbortController().signal});
        assert.deepEqual(t, {ok: false, status: 404, message: 'expired'});
    });

    test('a whole body passes through without a second request', async () => {
        const calls = installFetch(() => new Response(FILE, {status: 200, headers: {ETag: ETAG}}));
        const t = await openTransfer(HREF, {
            headers: {'X-Token': 't'},
            signal: new AbortController().signal,
            maxResumes: 3,
        });
        assert.equal(await drain(t), FILE);
        assert.equal(calls.length, 1);
        assert.deepEqual(calls[0].init.headers, {'X-Token': 't'});
        assert.deepEqual(t.state, {loaded: FILE.length, resumes: 0});
    });

    test('a cut body resumes from the received offset with If-Range', async () => {
        const calls = cuttingServer({cutAt: 4});
        const t = await openTransfer(HREF, {
            headers: {'X-Token': 't'},
            signal: new AbortController().signal,
            maxResumes: 3,
        });
        assert.equal(await drain(t), FILE);
        assert.equal(calls.length, 2);
        assert.equal(calls[1].url, HREF);
        assert.deepEqual(calls[1].init.headers, {
            'X-Token': 't',
            Range: 'bytes=4-',
            'If-Range': ETAG,
        });
        assert.deepEqual(t.state, {loaded: FILE.length, resumes: 1});
    });

    test('with reuseBytes, one buffer is read into again and again, resumes too', async () => {
        cuttingServer({cutAt: 4});
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 3});
        const decoder = new TextDecoder();
        const sizes = new Set();
        let text = '';
        let previous = null;
        for await (const chunk of t.chunks(64)) {
            if (previous) {
                assert.equal(previous.byteLength, 0, 'the last chunk was read into again');
            }
            sizes.add(chunk.buffer.byteLength);
            text += decoder.decode(chunk);
            previous = chunk;
        }
        assert.equal(text, FILE);
        assert.deepEqual([...sizes], [64]);
        assert.deepEqual(t.state, {loaded: FILE.length, resumes: 1});
    });

    test('a body that ends early (no error) also resumes', async () => {
        let n = 0;
        const calls = installFetch(() => {
            n += 1;
            if (n === 1) {
                return new Response('abc', {
                    status: 200,
                    headers: {'Content-Length': '10', ETag: ETAG},
                });
            }
            return new Response(FILE.slice(3), {
                status: 206,
                headers: {'Content-Range': 'bytes 3-9/10', ETag: ETAG},
            });
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 1});
        assert.equal(await drain(t), FILE);
        assert.equal(calls[1].init.headers.Range, 'bytes=3-');
    });

    test('resumes are bounded by maxResumes', async () => {
        // Every answer breaks after one more byte.
        let n = 0;
        const calls = installFetch((url, init) => {
            n += 1;
            const from = n === 1 ? 0 : Number(/bytes=(\d+)-/.exec(init.headers.Range)[1]);
            return new Response(chunkedBody([FILE[from], new TypeError('reset')]), {
                status: n === 1 ? 200 : 206,
                headers: {
                    ETag: ETAG,
                    'Content-Length': String(FILE.length - from),
                    'Content-Range': `bytes ${from}-9/10`,
                },
            });
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 2});
        await assert.rejects(drain(t), err => {
            assert.ok(err instanceof TransferError);
            assert.match(err.message, /after 2 resume\(s\) at 3 bytes: reset/);
            return true;
        });
        assert.equal(calls.length, 3);
    });

    test('maxResumes 0 disables resuming', async () => {
        const calls = cuttingServer();
        const t = await openTransfer(HREF, {signal: new AbortController().signal});
        await assert.rejects(drain(t), /after 0 resume\(s\) at 4 bytes/);
        assert.equal(calls.length, 1);
    });

    test('a 200 to the resume (the item changed) fails clearly', async () => {
        cuttingServer({
            resume: () => new Response('NEW VERSION', {status: 200, headers: {ETag: '"v2"'}}),
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 3});
        await assert.rejects(drain(t), err => {
            assert.ok(err instanceof TransferError);
            assert.equal(err.status, 200);
            assert.match(err.message, /changed on the server/);
            return true;
        });
    });

    test('an error answer to the resume (expired meanwhile) fails with its code', async () => {
        cuttingServer({
            resume: () =>
                new Response('{"error": "expired"}', {
                    status: 404,
                    headers: {'Content-Type': 'application/json'},
                }),
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 3});
        await assert.rejects(drain(t), err => err.status === 404 && /expired/.test(err.message));
    });

    test('a 206 for another offset fails instead of corrupting the file', async () => {
        cuttingServer({
            resume: () =>
                new Response(FILE, {status: 206, headers: {'Content-Range': 'bytes 0-9/10'}}),
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 3});
        await assert.rejects(drain(t), /unexpected Content-Range bytes 0-9\/10/);
    });

    test('without a strong ETag there is no resume', async () => {
        for (const etag of [null, 'W/"weak"']) {
            const calls = cuttingServer({etag});
            const t = await openTransfer(HREF, {
                signal: new AbortController().signal,
                maxResumes: 3,
            });
            await assert.rejects(drain(t), /cannot resume: no ETag/);
            assert.equal(calls.length, 1);
        }
    });

    test('a network failure of a resume counts as one attempt', async () => {
        const calls = cuttingServer({
            resume: (init, n) => {
                if (n === 2) {
                    throw new TypeError('Failed to fetch');
                }
                const from = Number(/bytes=(\d+)-/.exec(init.headers.Range)[1]);
                return new Response(FILE.slice(from), {
                    status: 206,
                    headers: {'Content-Range': `bytes ${from}-9/10`},
                });
            },
        });
        const t = await openTransfer(HREF, {signal: new AbortController().signal, maxResumes: 3});
        assert.equal(await drain(t), FILE);
        assert.equal(calls.length, 3);
        assert.equal(t.state.resumes, 2);
    });

    test('an abort while waiting to resume stops without another request', async t => {
        t.mock.timers.enable({apis: ['setTimeout']});
        const calls = cuttingServer();
        const controller = new AbortController();
        const transfer = await openTransfer(HREF, {signal: controller.signal, maxResumes: 3});
        const done = drain(transfer);
        while (transfer.state.resumes === 0) {
            await new Promise(resolve => setImmediate(resolve));
        }
        t.mock.timers.tick(RESUME_DELAY_MS - 1);
        controller.abort();
        await assert.rejects(done, {name: 'AbortError'});
        assert.equal(calls.length, 1);
    });
});
