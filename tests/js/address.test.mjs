/* Unit tests of components/utils/address.js (no browser: see fakes.mjs). */
import assert from 'node:assert/strict';
import {beforeEach, describe, test} from 'node:test';

import {
    contentLength,
    downloadAddress,
    errorMessage,
    fileNameFromAddress,
    probe,
} from '../../components/utils/address.js';
import {installFetch, installPage} from './fakes.mjs';

beforeEach(() => {
    installPage();
});

describe('downloadAddress', () => {
    test('resolves against the page and asks for a download', () => {
        const href = downloadAddress('/cached-data?uid=abc');
        const url = new URL(href);
        assert.equal(url.origin + url.pathname, 'http://app.test/cached-data');
        assert.equal(url.searchParams.get('uid'), 'abc');
        assert.deepEqual(url.searchParams.getAll('download'), ['true']);
        assert.equal(url.searchParams.has('file_name'), false);
    });

    test('replaces a download flag already there instead of repeating it', () => {
        for (const flag of ['download=true', 'download=false', 'download=1&download=0']) {
            const url = new URL(downloadAddress(`/cached-data?uid=abc&${flag}`));
            assert.deepEqual(url.searchParams.getAll('download'), ['true'], flag);
            assert.equal(url.searchParams.get('uid'), 'abc');
        }
    });

    test('sets the file_name override once, encoded', () => {
        const url = new URL(
            downloadAddress('/cached-data?uid=abc&file_name=old.txt', 'naïve report&.txt')
        );
        assert.deepEqual(url.searchParams.getAll('file_name'), ['naïve report&.txt']);
    });

    test('keeps an existing file_name when no override is given', () => {
        const url = new URL(downloadAddress('/cached-data?uid=abc&file_name=a.txt', null));
        assert.equal(url.searchParams.get('file_name'), 'a.txt');
    });

    test('keeps absolute addresses on their own origin', () => {
        const url = new URL(downloadAddress('https://files.test/x/cached-data?uid=1'));
        assert.equal(url.origin, 'https://files.test');
        assert.equal(url.pathname, '/x/cached-data');
    });
});

describe('fileNameFromAddress', () => {
    test('is the last path segment, decoded', () => {
        assert.equal(fileNameFromAddress('/files/na%C3%AFve%20report.txt?x=1'), 'naïve report.txt');
        assert.equal(fileNameFromAddress('/cached-data/?uid=1'), 'cached-data');
    });

    test('falls back to "download"', () => {
        assert.equal(fileNameFromAddress('/?uid=1'), 'download');
        assert.equal(fileNameFromAddress('http://[bad'), 'download');
        assert.equal(fileNameFromAddress('/bad%E0%A4%A'), 'download');
    });
});

describe('contentLength', () => {
    const of = value => contentLength(new Headers(value === null ? {} : {'Content-Length': value}));

    test('is the header as a number', () => {
        assert.equal(of('0'), 0);
        assert.equal(of('1048576'), 1048576);
    });

    test('is null when missing or not a size', () => {
        for (const value of [null, '', 'abc', '-1', 'Infinity']) {
            assert.equal(of(value), null, String(value));
        }
    });
});

describe('probe', () => {
    test('asks with HEAD and gives the answer', async () => {
        const calls = installFetch(
            () => new Response(null, {status: 200, headers: {'Content-Length': '5'}})
        );
        const controller = new AbortController();
        const answer = await probe('http://app.test/a', {signal: controller.signal});
        assert.equal(answer.ok, true);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.get('Content-Length'), '5');
        assert.equal(calls.length, 1);
        const {init} = calls[0];
        assert.equal(init.method, 'HEAD');
        assert.equal(init.cache, 'no-store');
        assert.equal(init.credentials, 'same-origin');
        assert.equal(init.signal, controller.signal);
    });

    test('reports an error status without throwing', async () => {
        installFetch(() => new Response('{"error": "gone"}', {status: 404}));
        const answer = await probe('http://app.test/a');
        assert.deepEqual([answer.ok, answer.status], [false, 404]);
    });

    for (const refused of [405, 501]) {
        test(`falls back to a one-byte GET when HEAD gets ${refused}`, async () => {
            let cancelled = false;
            const body = new ReadableStream({
                pull: c => c.enqueue(new Uint8Array([1])),
                cancel: () => {
                    cancelled = true;
                },
            });
            const calls = installFetch((url, init) =>
                init.method === 'HEAD'
                    ? new Response(null, {status: refused})
                    : new Response(body, {status: 206})
            );
            const answer = await probe('http://app.test/a', {headers: {'X-Token': 't'}});
            assert.deepEqual([answer.ok, answer.status], [true, 206]);
            assert.equal(calls.length, 2);
            assert.equal(calls[1].init.method, 'GET');
            assert.deepEqual(calls[1].init.headers, {'X-Token': 't', Range: 'bytes=0-0'});
            await new Promise(resolve => setImmediate(resolve));
            assert.equal(cancelled, true, 'the GET body is dropped');
        });
    }

    test('a network failure gives status null', async () => {
        installFetch(() => {
            throw new TypeError('Failed to fetch');
        });
        const answer = await probe('http://app.test/a');
        assert.equal(answer.ok, false);
        assert.equal(answer.status, null);
        assert.equal(answer.headers, null);
        assert.equal(answer.error.message, 'Failed to fetch');
    });
});

describe('errorMessage', () => {
    test("is the JSON answer's error", async () => {
        const res = new Response(JSON.stringify({error: 'Unknown or expired address.'}), {
            status: 404,
            headers: {'Content-Type': 'application/json'},
        });
        assert.equal(await errorMessage(res), 'Unknown or expired address.');
    });

    test('is the status otherwise', async () => {
        const plain = new Response('oops', {status: 500, statusText: 'Internal Server Error'});
        assert.equal(await errorMessage(plain), 'HTTP 500 Internal Server Error');
        const badJson = new Response('{not json', {
            status: 502,
            headers: {'Content-Type': 'application/json'},
        });
        assert.equal(await errorMessage(badJson), 'HTTP 502');
        const noError = new Response('{"detail": 1}', {
            status: 400,
            headers: {'Content-Type': 'application/json'},
        });
        assert.equal(await errorMessage(noError), 'HTTP 400');
    });
});
