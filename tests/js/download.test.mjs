/*
 * The download runners of CachedDownload (components/utils/download.js),
 * run with a scripted fetch, real Response/AbortController, and a fake
 * document that records the download-link clicks.
 */
import assert from 'node:assert/strict';
import {afterEach, beforeEach, describe, test} from 'node:test';

import {
    DEFAULT_PROGRESS_INTERVAL,
    REVOKE_DELAY_MS,
    clickDownloadLink,
    downloadStatus,
    makeJob,
    runFetch,
    runNative,
    runStream,
    runnerFor,
    saveName,
} from '../../components/utils/download.js';
import {DEFAULT_MAX_RESUMES} from '../../components/utils/transfer.js';
import {chunkedBody, installFetch, installObjectUrls, installPage, recorder} from './fakes.mjs';

const ADDRESS = '/cached-data?uid=abc';
const DOWNLOAD = 'http://app.test/cached-data?uid=abc&download=true';

let page;
let objectUrls;

beforeEach(() => {
    page = installPage();
    objectUrls = installObjectUrls();
});

afterEach(() => {
    objectUrls.restore();
});

function job(fields = {}) {
    return makeJob(1, {url: ADDRESS, progress_interval: 0, ...fields});
}

describe('makeJob', () => {
    test('reads the props, with the documented defaults', () => {
        assert.deepEqual(makeJob(3, {url: ADDRESS}), {
            number: 3,
            url: ADDRESS,
            fileName: null,
            fileNameFallback: null,
            mode: 'native',
            headers: null,
            interval: DEFAULT_PROGRESS_INTERVAL,
            maxResumes: DEFAULT_MAX_RESUMES,
            workerUrl: null,
        });
        const full = makeJob(4, {
            url: ADDRESS,
            file_name: 'a.csv',
            file_name_fallback: 'b.csv',
            mode: 'fetch',
            headers: {'X-Token': 't'},
            progress_interval: 40,
            max_resumes: 5,
        });
        assert.deepEqual(
            [
                full.fileName,
                full.fileNameFallback,
                full.mode,
                full.headers,
                full.interval,
                full.maxResumes,
            ],
            ['a.csv', 'b.csv', 'fetch', {'X-Token': 't'}, 40, 5]
        );
        assert.equal(makeJob(1, {url: ADDRESS, file_name_fallback: ''}).fileNameFallback, null);
        const stream = makeJob(5, {url: ADDRESS, mode: 'stream'}, 'http://app.test/w.js');
        assert.deepEqual([stream.mode, stream.workerUrl], ['stream', 'http://app.test/w.js']);
    });

    test('an unknown mode is native; a bad interval or resume count is 0', () => {
        assert.equal(makeJob(1, {url: ADDRESS, mode: 'bogus'}).mode, 'native');
        for (const bad of [-5, 'soon', null, NaN]) {
            assert.equal(makeJob(1, {url: ADDRESS, progress_interval: bad}).interval, 0);
            assert.equal(makeJob(1, {url: ADDRESS, max_resumes: bad}).maxResumes, 0);
        }
        assert.equal(makeJob(1, {url: ADDRESS, max_resumes: 2.7}).maxResumes, 2);
    });

    test('runnerFor picks the runner of the mode', () => {
        assert.equal(runnerFor(job({mode: 'fetch'})), runFetch);
        assert.equal(runnerFor(job({mode: 'stream'})), runStream);
        assert.equal(runnerFor(job()), runNative);
    });
});

test('downloadStatus fills every status field', () => {
    const j = job({file_name: 'a.csv'});
    assert.deepEqual(downloadStatus(j, {}), {
        state: 'started',
        http_code: null,
        file_name: 'a.csv',
        loaded: null,
        total: null,
        mode: 'native',
        url: ADDRESS,
        message: null,
        resumes: 0,
    });
    assert.equal(downloadStatus(j, {state: 'done', file_name: 'b.csv'}).file_name, 'b.csv');
});

describe('saveName', () => {
    const named = 'attachment; filename="server.csv"';
    const cases = [
        // [props, Content-Disposition, saved name]
        [{}, named, 'server.csv'],
        [{}, null, 'cached-data'],
        [{url: '/files/report.pdf'}, null, 'report.pdf'],
        [{file_name_fallback: 'fallback.csv'}, null, 'fallback.csv'],
        [{file_name_fallback: 'fallback.csv'}, 'attachment', 'fallback.csv'],
        [{file_name_fallback: 'fallback.csv'}, 'inline', 'fallback.csv'],
        [{file_name_fallback: 'fallback.csv'}, named, 'server.csv'],
        [{file_name: 'mine.csv', file_name_fallback: 'fallback.csv'}, named, 'mine.csv'],
        [{file_name: 'mine.csv', file_name_fallback: 'fallback.csv'}, null, 'mine.csv'],
    ];
    for (const [props, disposition, expected] of cases) {
        test(`${JSON.stringify(props)} with ${disposition} -> ${expected}`, () => {
            assert.equal(saveName(job(props), disposition), expected);
        });
    }
});

test('clickDownloadLink clicks a hidden, attached link, then removes it', () => {
    clickDownloadLink('http://app.test/x', 'x.bin');
    assert.deepEqual(page.clicks, [
        {
            tag: 'a',
            href: 'http://app.test/x',
            download: 'x.bin',
            rel: 'noopener',
            attached: true,
            hidden: true,
        },
    ]);
    assert.equal(page.attached.size, 0);
});

describe('runNative', () => {
    const alive = (headers = {}) => installFetch(() => new Response(null, {status: 200, headers}));

    test('checks with HEAD, then hands the address to the download manager', async () => {
        const calls = alive({
            'Content-Disposition': 'attachment; filename="a.txt"; filename*=UTF-8\'\'%C3%A4.txt',
            'Content-Length': '2048',
        });
        const {reports, report} = recorder();
        await runNative(job(), new AbortController().signal, report);
        assert.deepEqual(
            calls.map(c => [c.url, c.init.method]),
            [[DOWNLOAD, 'HEAD']]
        );
        assert.deepEqual(reports, [
            {},
            {state: 'done', http_code: 200, file_name: 'ä.txt', total: 2048},
        ]);
        assert.deepEqual(
            page.clicks.map(c => [c.href, c.download]),
            [[DOWNLOAD, 'ä.txt']]
        );
    });

    test('asks the service for the file_name override', async () => {
        const calls = alive({'Content-Disposition': 'attachment; filename="mine.csv"'});
        const {reports, report} = recorder();
        await runNative(job({file_name: 'mine.csv'}), new AbortController().signal, report);
        const url = new URL(calls[0].url);
        assert.equal(url.searchParams.get('file_name'), 'mine.csv');
        assert.equal(page.clicks[0].href, calls[0].url);
        assert.equal(reports.at(-1).file_name, 'mine.csv');
    });

    test('names the file from file_name, then the address, without Content-Disposition', async () => {
        alive();
        const first = recorder();
        await runNative(job({file_name: 'given.txt'}), new AbortController().signal, first.report);
        assert.equal(first.reports.at(-1).file_name, 'given.txt');
        assert.equal(first.reports.at(-1).total, null);
        const second = recorder();
        await runNative(
            job({url: '/files/report.pdf'}),
            new AbortController().signal,
            second.report
        );
        assert.equal(second.reports.at(-1).file_name, 'report.pdf');
    });

    test('file_name_fallback names the link only when the answer gives no name', async () => {
        const calls = alive();
        const first = recorder();
        await runNative(
            job({file_name_fallback: 'fallback.csv'}),
            new AbortController().signal,
            first.report
        );
        assert.equal(new URL(calls[0].url).searchParams.has('file_name'), false);
        assert.equal(first.reports.at(-1).file_name, 'fallback.csv');
        alive({'Content-Disposition': 'attachment; filename="server.csv"'});
        const second = recorder();
        await runNative(
            job({file_name_fallback: 'fallback.csv'}),
            new AbortController().signal,
            second.report
        );
        assert.equal(second.reports.at(-1).file_name, 'server.csv');
        assert.deepEqual(
            page.clicks.map(c => c.download),
            ['fallback.csv', 'server.csv']
        );
    });

    test('an error answer is reported and saves nothing', async () => {
        installFetch(() => new Response('{"error": "gone"}', {status: 404}));
        const {reports, report} = recorder();
        await runNative(job(), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: 404,
            message: 'HTTP 404: the address cannot be downloaded.',
        });
        assert.deepEqual(page.clicks, []);
    });

    test('a network failure is an error with http_code null', async () => {
        installFetch(() => {
            throw new TypeError('Failed to fetch');
        });
        const {reports, report} = recorder();
        await runNative(job(), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: null,
            message: 'Network error: the server could not be reached.',
        });
        assert.deepEqual(page.clicks, []);
    });

    test('an abort during the check reports nothing more and saves nothing', async () => {
        const controller = new AbortController();
        installFetch(() => {
            controller.abort();
            return new Promise(() => {});
        });
        const {reports, report} = recorder();
        await runNative(job(), controller.signal, report);
        assert.deepEqual(reports, [{}]);
        assert.deepEqual(page.clicks, []);
    });
});

describe('runFetch', () => {
    const serve = (chunks, headers = {}, onPull) =>
        installFetch(
            () =>
                new Response(chunkedBody(chunks, onPull), {
                    status: 200,
                    headers: {'Content-Type': 'text/csv', ...headers},
                })
        );

    test('downloads in the page with progress, then saves a Blob', async () => {
        const calls = serve(['ab', 'cde', 'f'], {
            'Content-Length': '6',
            'Content-Disposition': 'attachment; filename="data.csv"',
        });
        const controller = new AbortController();
        const {reports, report} = recorder();
        const done = runFetch(
            job({mode: 'fetch', headers: {'X-Token': 't'}}),
            controller.signal,
            report
        );
        // The runner waits for the object URL's revocation: stop it here.
        while (!reports.some(r => r.state === 'done')) {
            await new Promise(resolve => setImmediate(resolve));
        }
        controller.abort();
        await done;

        assert.equal(calls.length, 1);
        assert.equal(calls[0].url, DOWNLOAD);
        assert.equal(calls[0].init.method, 'GET');
        assert.deepEqual(calls[0].init.headers, {'X-Token': 't'});
        assert.equal(calls[0].init.cache, 'no-store');
        const progress = {http_code: 200, file_name: 'data.csv', total: 6};
        assert.deepEqual(reports, [
            {loaded: 0},
            {...progress, loaded: 2},
            {...progress, loaded: 5},
            {...progress, loaded: 6},
            {...progress, state: 'done', loaded: 6},
        ]);
        const [[objectUrl, blob]] = [...objectUrls.created];
        assert.equal(await blob.text(), 'abcdef');
        assert.equal(blob.type, 'text/csv');
        assert.deepEqual(
            page.clicks.map(c => [c.href, c.download]),
            [[objectUrl, 'data.csv']]
        );
        assert.deepEqual(objectUrls.revoked, [objectUrl], 'revoked on abort');
    });

    test('revokes the object URL after REVOKE_DELAY_MS', async t => {
        t.mock.timers.enable({apis: ['setTimeout']});
        serve(['x']);
        const {reports, report} = recorder();
        const done = runFetch(job({mode: 'fetch'}), new AbortController().signal, report);
        while (!reports.some(r => r.state === 'done')) {
            await new Promise(resolve => setImmediate(resolve));
        }
        const [objectUrl] = objectUrls.created.keys();
        t.mock.timers.tick(REVOKE_DELAY_MS - 1);
        assert.deepEqual(objectUrls.revoked, []);
        t.mock.timers.tick(1);
        await done;
        assert.deepEqual(objectUrls.revoked, [objectUrl]);
        assert.equal(reports.at(-1).total, 1, 'total is what arrived without Content-Length');
    });

    test('the file_name prop names the saved file; the address is not changed', async () => {
        const calls = serve(['x'], {'Content-Disposition': 'attachment; filename="server.csv"'});
        const controller = new AbortController();
        const {reports, report} = recorder();
        const done = runFetch(
            job({mode: 'fetch', file_name: 'mine.csv'}),
            controller.signal,
            report
        );
        while (!reports.some(r => r.state === 'done')) {
            await new Promise(resolve => setImmediate(resolve));
        }
        controller.abort();
        await done;
        assert.equal(new URL(calls[0].url).searchParams.has('file_name'), false);
        assert.equal(page.clicks[0].download, 'mine.csv');
        assert.equal(reports.at(-1).file_name, 'mine.csv');
    });

    for (const [headers, expected] of [
        [{}, 'fallback.csv'],
        [{'Content-Disposition': 'attachment; filename="server.csv"'}, 'server.csv'],
    ]) {
        test(`file_name_fallback: saved as ${expected}`, async () => {
            serve(['x'], headers);
            const controller = new AbortController();
            const {reports, report} = recorder();
            const done = runFetch(
                job({mode: 'fetch', file_name_fallback: 'fallback.csv'}),
                controller.signal,
                report
            );
            while (!reports.some(r => r.state === 'done')) {
                await new Promise(resolve => setImmediate(resolve));
            }
            controller.abort();
            await done;
            assert.equal(page.clicks[0].download, expected);
            assert.equal(reports.at(-1).file_name, expected);
        });
    }

    test('reports progress at most every progress_interval ms', async () => {
        serve(['a', 'b', 'c'], {'Content-Length': '3'});
        const controller = new AbortController();
        const {reports, report} = recorder();
        const done = runFetch(
            job({mode: 'fetch', progress_interval: 60_000}),
            controller.signal,
            report
        );
        while (!reports.some(r => r.state === 'done')) {
            await new Promise(resolve => setImmediate(resolve));
        }
        controller.abort();
        await done;
        assert.deepEqual(
            reports.map(r => r.state ?? 'started'),
            ['started', 'done']
        );
    });

    test("an error answer reports the server's JSON error and saves nothing", async () => {
        installFetch(
            () =>
                new Response(JSON.stringify({error: 'Unknown or expired address.'}), {
                    status: 404,
                    headers: {'Content-Type': 'application/json'},
                })
        );
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch'}), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: 404,
            message: 'Unknown or expired address.',
        });
        assert.deepEqual(page.clicks, []);
        assert.equal(objectUrls.created.size, 0);
    });

    test('a network failure is an error with http_code null', async () => {
        installFetch(() => {
            throw new TypeError('Failed to fetch');
        });
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch'}), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: null,
            message: 'Network error: Failed to fetch',
        });
    });

    test('a body shorter than Content-Length is an error (no ETag: no resume)', async () => {
        serve(['abc'], {'Content-Length': '10', 'Content-Disposition': 'attachment; filename=a'});
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch'}), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: 200,
            message: 'Transfer failed (cannot resume: no ETag): the body ended after 3 of 10 bytes',
            file_name: 'a',
            loaded: 3,
            total: 10,
        });
        assert.deepEqual(page.clicks, []);
    });

    test('a body that breaks off is an error (no ETag: no resume)', async () => {
        serve(['abc', new Error('connection reset')], {'Content-Length': '10'});
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch', url: '/f/x.bin'}), new AbortController().signal, report);
        assert.deepEqual(reports.at(-1), {
            state: 'error',
            http_code: 200,
            message: 'Transfer failed (cannot resume: no ETag): connection reset',
            file_name: 'x.bin',
            loaded: 3,
            total: 10,
        });
        assert.deepEqual(page.clicks, []);
    });

    test('an abort during the transfer reports no error and saves nothing', async () => {
        const controller = new AbortController();
        serve(['abc', 'def'], {'Content-Length': '6'}, i => {
            if (i === 1) {
                controller.abort();
            }
        });
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch'}), controller.signal, report);
        assert.equal(
            reports.some(r => r.state === 'error'),
            false,
            JSON.stringify(reports)
        );
        assert.deepEqual(page.clicks, []);
        assert.equal(objectUrls.created.size, 0);
    });

    test('an abort before the answer reports nothing more', async () => {
        const controller = new AbortController();
        installFetch(() => {
            controller.abort();
            return new Promise(() => {});
        });
        const {reports, report} = recorder();
        await runFetch(job({mode: 'fetch'}), controller.signal, report);
        assert.deepEqual(reports, [{loaded: 0}]);
    });
});
