/*
 * CachedUpload's pure helpers (components/utils/upload.js, dropped.js) and
 * its upload manager (components/utils/uploadmanager.js) driven with a fake
 * tus-js-client `Upload` class and a hand-turned clock.
 */
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';

import {droppedItems} from '../../components/utils/dropped.js';
import {
    SelectionLedger,
    acceptMatches,
    addSample,
    aggregateStatus,
    errorInfo,
    fingerprintOf,
    formatBytes,
    overallState,
    precheck,
    relativePathOf,
    retryable,
    speedOf,
    TERMINATION_RETRY_DELAYS,
    terminationDelays,
    throttleDelay,
    uidFromAddress,
    uploadMetadata,
} from '../../components/utils/upload.js';
import {DEFAULT_RETRY_DELAYS, UploadManager} from '../../components/utils/uploadmanager.js';

/** A File-like object (the helpers only read these fields). */
function file(name, size, type = '', extra = {}) {
    return {name, size, type, lastModified: 1700000000000, webkitRelativePath: '', ...extra};
}

function items(...files) {
    return files.map(f => ({file: f, relativePath: null}));
}

describe('formatBytes', () => {
    test('powers of 1000 with a short unit', () => {
        assert.equal(formatBytes(0), '0 B');
        assert.equal(formatBytes(999), '999 B');
        assert.equal(formatBytes(1500), '1.50 kB');
        assert.equal(formatBytes(12_300_000), '12.3 MB');
        assert.equal(formatBytes(-1), '');
        assert.equal(formatBytes(null), '');
    });
});

describe('acceptMatches', () => {
    test('no accept allows everything', () => {
        assert.ok(acceptMatches(file('a.bin', 1), null));
        assert.ok(acceptMatches(file('a.bin', 1), ''));
    });
    test('extensions, case-insensitive', () => {
        assert.ok(acceptMatches(file('Data.CSV', 1), '.csv'));
        assert.ok(acceptMatches(file('a.tar.gz', 1), '.gz, .zip'));
        assert.ok(!acceptMatches(file('a.csv.txt', 1), '.csv'));
    });
    test('MIME types and families', () => {
        assert.ok(acceptMatches(file('x', 1, 'image/png'), 'image/*'));
        assert.ok(acceptMatches(file('x', 1, 'IMAGE/PNG'), 'image/png'));
        assert.ok(!acceptMatches(file('x', 1, 'image/png'), 'image/jpeg'));
        assert.ok(!acceptMatches(file('x', 1, 'video/mp4'), 'image/*'));
        assert.ok(!acceptMatches(file('x', 1, ''), 'image/*'));
        assert.ok(acceptMatches(file('x', 1, 'text/csv; charset=utf-8'), 'text/csv'));
    });
    test('a list works like a comma-separated string', () => {
        assert.ok(acceptMatches(file('a.csv', 1), ['.txt', '.csv']));
        assert.ok(!acceptMatches(file('a.png', 1), ['.txt', '.csv']));
    });
});

describe('precheck', () => {
    test('too large and not accepted files are refused alone', () => {
        const chosen = items(file('a.csv', 10), file('b.csv', 11), file('c.png', 5, 'image/png'));
        const {accepted, refused} = precheck(chosen, {maxSize: 10, accept: '.csv'});
        assert.deepEqual(
            accepted.map(i => i.file.name),
            ['a.csv']
        );
        assert.deepEqual(
            refused.map(i => i.file.name),
            ['b.csv', 'c.png']
        );
        assert.match(refused[0].message, /too large: 11 B, at most 10 B/);
        assert.match(refused[1].message, /not accepted/);
    });
    test('more than max_files refuses the whole selection', () => {
        const chosen = items(file('a', 1), file('b', 1), file('c', 1));
        const {accepted, refused} = precheck(chosen, {maxFiles: 2});
        assert.equal(accepted.length, 0);
        assert.equal(refused.length, 3);
        assert.match(refused[0].message, /3 chosen, at most 2/);
        assert.equal(precheck(chosen, {maxFiles: 3}).accepted.length, 3);
    });
    test('no limits accept everything, a file of exactly max_size too', () => {
        assert.equal(precheck(items(file('a', 10)), {maxSize: 10}).accepted.length, 1);
        assert.equal(precheck(items(file('a', 1e12))).accepted.length, 1);
    });
});

describe('metadata and fingerprints', () => {
    test('filename, filetype and relative_path, after the extra metadata', () => {
        assert.deepEqual(uploadMetadata(file('a.csv', 1, 'text/csv'), 'd/a.csv', {x: 1}), {
            x: '1',
            filename: 'a.csv',
            filetype: 'text/csv',
            relative_path: 'd/a.csv',
        });
        // The file's own names win over extra metadata of the same key.
        assert.deepEqual(uploadMetadata(file('a', 1), null, {filename: 'evil', y: null}), {
            filename: 'a',
            filetype: 'application/octet-stream',
        });
    });
    test('relative paths from the picker or a walked drop', () => {
        assert.equal(relativePathOf(file('a', 1, '', {webkitRelativePath: 'd/a'})), 'd/a');
        assert.equal(relativePathOf(file('a', 1), '/d/e/a'), 'd/e/a');
        assert.equal(relativePathOf(file('a', 1)), null);
    });
    test('the fingerprint tells files and endpoints apart', () => {
        const a = fingerprintOf(file('a', 1), 'x/a', 'http://h/up');
        assert.equal(a, fingerprintOf(file('a', 1), 'x/a', 'http://h/up'));
        assert.notEqual(a, fingerprintOf(file('a', 1), 'y/a', 'http://h/up'));
        assert.notEqual(a, fingerprintOf(file('a', 2), 'x/a', 'http://h/up'));
        assert.notEqual(a, fingerprintOf(file('a', 1), 'x/a', 'http://other/up'));
    });
});

describe('uidFromAddress', () => {
    test('the uid query parameter of relative or absolute addresses', () => {
        assert.equal(uidFromAddress('/cached-data?uid=abc123'), 'abc123');
        assert.equal(uidFromAddress('http://h/p/cached-data?x=1&uid=u-1'), 'u-1');
        assert.equal(uidFromAddress('/cached-data'), null);
        assert.equal(uidFromAddress(null), null);
    });
});

/** A tus-js-client DetailedError's shape: `originalResponse` with status and body. */
function httpError(status, body) {
    const err = new Error(`tus: unexpected response, originated from request (...)`);
    err.originalResponse = {getStatus: () => status, getBody: () => body};
    return err;
}

describe('errorInfo', () => {
    test("the server's JSON error and the HTTP code", () => {
        assert.deepEqual(errorInfo(httpError(413, '{"error": "Upload too large."}')), {
            http_code: 413,
            message: 'Upload too large.',
        });
        assert.deepEqual(errorInfo(httpError(422, '{"detail": "Not a PNG."}')), {
            http_code: 422,
            message: 'Not a PNG.',
        });
    });
    test('a short text body, else a generic message', () => {
        assert.equal(errorInfo(httpError(403, 'Forbidden')).message, 'Forbidden');
        assert.equal(
            errorInfo(httpError(500, '<html>oops</html>')).message,
            'The server answered 500.'
        );
        assert.equal(errorInfo(httpError(500, '')).message, 'The server answered 500.');
    });
    test('a network failure has no code and keeps the first part of the text', () => {
        const err = new Error('tus: failed to upload chunk, caused by [object ProgressEvent]');
        assert.deepEqual(errorInfo(err), {http_code: null, message: 'failed to upload chunk'});
        assert.deepEqual(errorInfo(httpError(0, '')), {
            http_code: null,
            message: 'unexpected response',
        });
    });
});

describe('retryable', () => {
    test('network failures, 5xx, 409 and 423 are retried; other 4xx are not', () => {
        assert.ok(retryable(new Error('tus: failed to upload chunk')));
        assert.ok(retryable(httpError(0, '')));
        assert.ok(retryable(httpError(500, '')));
        assert.ok(retryable(httpError(503, '')));
        assert.ok(retryable(httpError(409, '')));
        assert.ok(retryable(httpError(423, '')));
        for (const status of [400, 403, 404, 410, 413, 415, 422, 460]) {
            assert.ok(!retryable(httpError(status, '')), status);
        }
    });
});

describe('throttle and speed', () => {
    test('throttleDelay', () => {
        assert.equal(throttleDelay(null, 1000, 250), 0);
        assert.equal(throttleDelay(1000, 1100, 250), 150);
        assert.equal(throttleDelay(1000, 1250, 250), 0);
        assert.equal(throttleDelay(1000, 1001, 0), 0);
    });
    test('speed over the sample window', () => {
        let s = [];
        s = addSample(s, 0, 0);
        assert.equal(speedOf(s), null);
        s = addSample(s, 100, 100);
        assert.equal(speedOf(s), null, 'too short to tell');
        s = addSample(s, 1000, 1000);
        assert.equal(speedOf(s), 1000);
        s = addSample(s, 5000, 9000, 3000);
        // Samples older than the window go, one older sample stays as base.
        assert.deepEqual(s[0], [1000, 1000]);
        assert.equal(speedOf(s), 2000);
    });
});

function row(state, extra = {}) {
    return {
        file: file(extra.name || 'f', extra.size === undefined ? 10 : extra.size),
        relativePath: null,
        state,
        loaded: 0,
        speed: null,
        httpCode: null,
        message: null,
        address: null,
        refused: false,
        ...extra,
    };
}

describe('status aggregation', () => {
    test('overall state by priority', () => {
        assert.equal(overallState(['done', 'uploading', 'error']), 'uploading');
        assert.equal(overallState(['done', 'paused', 'error']), 'paused');
        assert.equal(overallState(['done', 'error', 'cancelled']), 'error');
        assert.equal(overallState(['done', 'cancelled']), 'done');
        assert.equal(overallState(['cancelled']), 'cancelled');
        assert.equal(overallState([]), null);
    });
    test('bytes leave out cancelled and refused files', () => {
        const status = aggregateStatus([
            row('uploading', {loaded: 4, size: 10}),
            row('done', {loaded: 20, size: 20}),
            row('cancelled', {loaded: 5, size: 50}),
            row('error', {refused: true, size: 70, message: 'too large'}),
        ]);
        assert.equal(status.state, 'uploading');
        assert.equal(status.loaded, 24);
        assert.equal(status.total, 30);
        assert.equal(status.n_files, 4);
        assert.equal(status.n_done, 1);
        assert.equal(status.n_errors, 1);
        assert.equal(status.files[3].message, 'too large');
        assert.deepEqual(Object.keys(status.files[0]).sort(), [
            'address',
            'http_code',
            'loaded',
            'message',
            'name',
            'relative_path',
            'size',
            'speed',
            'state',
            'total',
            'type',
        ]);
    });
});

describe('SelectionLedger', () => {
    test('files once, when every file of the selection has settled', () => {
        const rows = [
            row('done', {name: 'a', address: '/c?uid=1'}),
            row('uploading', {name: 'b'}),
            row('error', {name: 'c'}),
        ];
        const ledger = new SelectionLedger();
        ledger.open(rows);
        assert.equal(ledger.settle(rows[0]), null);
        rows[1].state = 'done';
        rows[1].address = '/c?uid=2';
        const files = ledger.settle(rows[1]);
        assert.deepEqual(
            files.map(f => [f.name, f.uid, f.address]),
            [
                ['a', '1', '/c?uid=1'],
                ['b', '2', '/c?uid=2'],
            ]
        );
        assert.deepEqual(Object.keys(files[0]).sort(), [
            'address',
            'last_modified',
            'name',
            'relative_path',
            'size',
            'type',
            'uid',
        ]);
        // Reported again: nothing more.
        assert.equal(ledger.settle(rows[1]), null);
        assert.equal(ledger.settle(rows[2]), null);
    });
    test('selections are independent; a uid is never given twice', () => {
        const rows = [
            row('done', {address: '/c?uid=1'}),
            row('done', {address: '/c?uid=1'}),
            row('done', {address: null}),
        ];
        const ledger = new SelectionLedger();
        ledger.open([rows[0]]);
        ledger.open([rows[1], rows[2]]);
        assert.equal(ledger.settle(rows[0]).length, 1);
        const second = ledger.settle(rows[2]);
        assert.deepEqual(
            second.map(f => f.uid),
            [null]
        );
    });
    test('a selection with nothing completed gives no files', () => {
        const rows = [row('cancelled'), row('error')];
        const ledger = new SelectionLedger();
        ledger.open(rows);
        assert.equal(ledger.settle(rows[1]), null);
        assert.equal(ledger.settle(row('done')), null, 'a row of no selection');
    });
});

describe('droppedItems', () => {
    function fileEntry(path, f) {
        return {isFile: true, isDirectory: false, fullPath: path, file: ok => ok(f)};
    }
    function dirEntry(path, children) {
        return {
            isFile: false,
            isDirectory: true,
            fullPath: path,
            createReader() {
                // Two batches, then empty, as readEntries gives them.
                const batches = [children.slice(0, 1), children.slice(1), []];
                return {readEntries: ok => ok(batches.shift())};
            },
        };
    }
    const a = file('a.txt', 1);
    const b = file('b.txt', 2);
    const c = file('c.txt', 3);
    const transfer = {
        items: [
            {kind: 'string'},
            {kind: 'file', webkitGetAsEntry: () => fileEntry('/a.txt', a)},
            {
                kind: 'file',
                webkitGetAsEntry: () =>
                    dirEntry('/d', [
                        fileEntry('/d/b.txt', b),
                        dirEntry('/d/e', [fileEntry('/d/e/c.txt', c)]),
                    ]),
            },
        ],
        files: [a, file('d', 0)],
    };

    test('folders are walked with their relative paths', async () => {
        const got = await droppedItems(transfer, {directory: true});
        assert.deepEqual(
            got.map(i => [i.file.name, i.relativePath]),
            [
                ['a.txt', 'a.txt'],
                ['b.txt', 'd/b.txt'],
                ['c.txt', 'd/e/c.txt'],
            ]
        );
    });
    test('without directory, folders are left out', async () => {
        const got = await droppedItems(transfer, {directory: false});
        assert.deepEqual(
            got.map(i => [i.file.name, i.relativePath]),
            [['a.txt', null]]
        );
    });
    test('without the entries API, the files as they are', async () => {
        const got = await droppedItems({files: [a, b]});
        assert.deepEqual(
            got.map(i => i.file.name),
            ['a.txt', 'b.txt']
        );
    });
});

// -- the upload manager with a fake tus-js-client ------------------------------

/** Stand-in for tus-js-client's Upload: records calls; the test plays the server. */
class FakeUpload {
    static made = [];
    static previous = [];

    constructor(f, options) {
        this.file = f;
        this.options = options;
        this.calls = [];
        FakeUpload.made.push(this);
    }
    findPreviousUploads() {
        this.calls.push('find');
        return Promise.resolve(FakeUpload.previous);
    }
    resumeFromPreviousUpload(prev) {
        this.calls.push(['resumeFrom', prev.uploadUrl]);
    }
    start() {
        this.calls.push('start');
    }
    abort(terminate) {
        this.calls.push(['abort', terminate]);
        return Promise.resolve();
    }
    // What the server and tus-js-client would make happen:
    progress(n) {
        this.options.onProgress(n, this.file.size);
    }
    succeed(address = null) {
        const res = {getHeader: name => (name === 'Cached-Address' ? address : null)};
        this.options.onAfterResponse({}, res);
        this.options.onSuccess({lastResponse: res});
    }
    fail(status, body) {
        this.options.onError(httpError(status, body));
    }
}

function harness(props = {}) {
    FakeUpload.made = [];
    FakeUpload.previous = [];
    let time = 0;
    const timers = [];
    const reports = [];
    const views = [];
    const manager = new UploadManager({
        Upload: FakeUpload,
        base: 'http://app.test/dash/page',
        onView: rows => views.push(rows),
        now: () => time,
        setTimer: (fn, ms) => {
            const t = {at: time + ms, fn};
            timers.push(t);
            return t;
        },
        clearTimer: t => {
            const i = timers.indexOf(t);
            if (i >= 0) {
                timers.splice(i, 1);
            }
        },
    });
    manager.configure({
        endpoint: '/files/',
        progress_interval: 250,
        setProps: update => reports.push({at: time, ...update}),
        ...props,
    });
    const advance = ms => {
        time += ms;
        for (const t of timers.slice().sort((x, y) => x.at - y.at)) {
            if (t.at <= time && timers.includes(t)) {
                timers.splice(timers.indexOf(t), 1);
                t.fn();
            }
        }
    };
    const settle = () => new Promise(resolve => setTimeout(resolve, 0));
    const statuses = () => reports.filter(r => r.status);
    const filesReports = () => reports.filter(r => r.files);
    return {manager, advance, settle, reports, statuses, filesReports, views};
}

describe('terminationDelays', () => {
    test("at least the termination schedule, else the upload's own", () => {
        assert.deepEqual(terminationDelays([]), TERMINATION_RETRY_DELAYS);
        assert.deepEqual(terminationDelays(null), TERMINATION_RETRY_DELAYS);
        assert.deepEqual(terminationDelays([100]), TERMINATION_RETRY_DELAYS);
        const long = [0, 1000, 3000, 5000, 10000, 20000];
        assert.equal(terminationDelays(long), long);
    });
});

describe('UploadManager', () => {
    test('two files upload; files once with addresses; status throttled', async () => {
        const h = harness();
        h.manager.add(items(file('a.csv', 100, 'text/csv'), file('b.bin', 50)));
        await h.settle();
        const [ua, ub] = FakeUpload.made;
        assert.deepEqual(ua.calls, ['find', 'start']);
        assert.equal(ua.options.endpoint, 'http://app.test/files/');
        assert.deepEqual(ua.options.metadata, {filename: 'a.csv', filetype: 'text/csv'});
        assert.equal(ua.options.removeFingerprintOnSuccess, true);
        assert.equal(ua.options.onShouldRetry, retryable);
        assert.deepEqual(ua.options.retryDelays, DEFAULT_RETRY_DELAYS);
        assert.equal(ua.options.chunkSize, undefined);
        assert.match(await ua.options.fingerprint(ua.file), /^dfc-upload-a\.csv-text\/csv-100-/);

        // Many progress events within one interval: one status report.
        const before = h.statuses().length;
        for (let n = 1; n <= 10; n++) {
            ua.progress(n * 5);
        }
        assert.equal(h.statuses().length, before);
        h.advance(250);
        assert.equal(h.statuses().length, before + 1);
        const last = h.statuses().at(-1).status;
        assert.equal(last.state, 'uploading');
        assert.equal(last.loaded, 50);
        assert.equal(last.total, 150);

        ua.succeed('/cached-data?uid=u1');
        assert.equal(h.filesReports().length, 0, 'b is still uploading');
        h.advance(100);
        ub.succeed('/cached-data?uid=u2');
        assert.equal(h.filesReports().length, 1);
        assert.deepEqual(
            h.filesReports()[0].files.map(f => [f.name, f.uid, f.size, f.type]),
            [
                ['a.csv', 'u1', 100, 'text/csv'],
                ['b.bin', 'u2', 50, null],
            ]
        );
        // The trailing status report says done, at most one per interval.
        h.advance(1000);
        const done = h.statuses().at(-1).status;
        assert.equal(done.state, 'done');
        assert.equal(done.loaded, 150);
        const times = h.statuses().map(r => r.at);
        for (let i = 1; i < times.length; i++) {
            assert.ok(times[i] - times[i - 1] >= 250, `reports at ${times}`);
        }
        // A late duplicate success changes nothing.
        ua.succeed('/cached-data?uid=u1');
        assert.equal(h.filesReports().length, 1);
    });

    test('options reach tus-js-client', async () => {
        const h = harness({
            chunk_size: 1024,
            parallel_uploads: 3,
            headers: {Authorization: 'Bearer t'},
            metadata: {project: 'p'},
            retry_delays: [],
        });
        h.manager.add([{file: file('a', 10), relativePath: 'd/a'}]);
        await h.settle();
        const {options} = FakeUpload.made[0];
        assert.equal(options.chunkSize, 1024);
        assert.equal(options.parallelUploads, 3);
        assert.deepEqual(options.headers, {Authorization: 'Bearer t'});
        assert.deepEqual(options.retryDelays, []);
        assert.deepEqual(options.metadata, {
            project: 'p',
            filename: 'a',
            filetype: 'application/octet-stream',
            relative_path: 'd/a',
        });
    });

    test('refused files are errors and nothing is sent', async () => {
        const h = harness({max_size: 10});
        h.manager.add(items(file('big', 11)));
        await h.settle();
        assert.equal(FakeUpload.made.length, 0);
        h.advance(250);
        const status = h.statuses().at(-1).status;
        assert.equal(status.state, 'error');
        assert.match(status.files[0].message, /too large/);
        assert.equal(status.files[0].http_code, null);
        assert.equal(h.filesReports().length, 0);
    });

    test('a previous upload of the same file is resumed', async () => {
        const h = harness();
        FakeUpload.previous = [
            {uploadUrl: 'http://app.test/files/old', creationTime: '2026-01-01T00:00:00Z'},
            {uploadUrl: 'http://app.test/files/new', creationTime: '2026-02-01T00:00:00Z'},
        ];
        h.manager.add(items(file('a', 10)));
        await h.settle();
        assert.deepEqual(FakeUpload.made[0].calls, [
            'find',
            ['resumeFrom', 'http://app.test/files/new'],
            'start',
        ]);
    });

    test('pause, resume, cancel; a server error with its message', async () => {
        const h = harness();
        h.manager.add(items(file('a', 10), file('b', 10), file('c', 10)));
        await h.settle();
        const [ua, ub, uc] = FakeUpload.made;
        const [ra, rb, rc] = h.manager.rows;
        h.manager.pause(ra.key);
        assert.deepEqual(ua.calls.at(-1), ['abort', false]);
        assert.equal(h.views.at(-1)[0].state, 'paused');
        h.manager.resume(ra.key);
        assert.equal(ua.calls.at(-1), 'start');
        h.manager.cancel(rb.key);
        await h.settle();
        assert.deepEqual(ub.calls.at(-1), ['abort', true]);
        uc.fail(422, '{"error": "Not a PNG file."}');
        ua.succeed('/cached-data?uid=ua');
        h.advance(1000);
        const status = h.statuses().at(-1).status;
        assert.deepEqual(
            status.files.map(f => f.state),
            ['done', 'cancelled', 'error']
        );
        assert.equal(status.state, 'error');
        assert.equal(status.files[2].http_code, 422);
        assert.equal(status.files[2].message, 'Not a PNG file.');
        assert.equal(rc.state, 'error');
        assert.deepEqual(
            h.filesReports()[0].files.map(f => f.uid),
            ['ua']
        );
        // Done rows have no buttons' actions left.
        h.manager.pause(ra.key);
        h.manager.cancel(ra.key);
        assert.equal(ra.state, 'done');
    });

    test('cancel retries its termination even with retrying turned off', async () => {
        const h = harness({retry_delays: []});
        h.manager.add(items(file('a', 10), file('b', 10)));
        await h.settle();
        const [ua, ub] = FakeUpload.made;
        assert.deepEqual(ua.options.retryDelays, []);
        // A parallel upload's parts terminate with their own options.
        const part = {options: {retryDelays: []}};
        ua._parallelUploads = [part];
        h.manager.cancel(h.manager.rows[0].key);
        await h.settle();
        assert.deepEqual(ua.calls.at(-1), ['abort', true]);
        assert.deepEqual(ua.options.retryDelays, TERMINATION_RETRY_DELAYS);
        assert.deepEqual(part.options.retryDelays, TERMINATION_RETRY_DELAYS);
        // Sending is not retried: the other upload keeps its (empty) delays.
        assert.deepEqual(ub.options.retryDelays, []);
    });

    test('a new selection drops finished rows and keeps running ones', async () => {
        const h = harness();
        h.manager.add(items(file('a', 10), file('b', 10)));
        await h.settle();
        FakeUpload.made[0].succeed(null);
        h.manager.add(items(file('c', 10)));
        await h.settle();
        assert.deepEqual(
            h.manager.rows.map(r => r.file.name),
            ['b', 'c']
        );
        FakeUpload.made[2].succeed('/x?uid=c');
        assert.deepEqual(
            h.filesReports()[0].files.map(f => f.name),
            ['c']
        );
        FakeUpload.made[1].succeed(null);
        // The first selection finished last: its files, with a null address.
        assert.deepEqual(
            h.filesReports()[1].files.map(f => [f.name, f.address]),
            [
                ['a', null],
                ['b', null],
            ]
        );
    });

    test('paused before it started, then resumed: started once, from the stored upload', async () => {
        const h = harness();
        FakeUpload.previous = [{uploadUrl: 'http://app.test/files/old'}];
        h.manager.add(items(file('a', 10)));
        const [row] = h.manager.rows;
        h.manager.pause(row.key);
        await h.settle();
        const upload = FakeUpload.made[0];
        assert.deepEqual(upload.calls, [['abort', false], 'find']);
        h.manager.resume(row.key);
        await h.settle();
        assert.deepEqual(upload.calls.slice(2), [
            'find',
            ['resumeFrom', 'http://app.test/files/old'],
            'start',
        ]);
        // A later pause and resume goes on with the same upload.
        h.manager.pause(row.key);
        h.manager.resume(row.key);
        assert.equal(upload.calls.at(-1), 'start');
        assert.equal(upload.calls.filter(c => c === 'find').length, 2);
    });

    test('closed while looking for a previous upload: never started', async () => {
        const h = harness();
        h.manager.add(items(file('a', 10)));
        h.manager.close();
        await h.settle();
        assert.ok(!FakeUpload.made[0].calls.includes('start'));
    });

    test('close stops uploads without terminating them and reports nothing more', async () => {
        const h = harness();
        h.manager.add(items(file('a', 10)));
        await h.settle();
        const count = h.reports.length;
        h.manager.close();
        assert.deepEqual(FakeUpload.made[0].calls.at(-1), ['abort', false]);
        FakeUpload.made[0].progress(5);
        h.advance(1000);
        assert.equal(h.reports.length, count);
    });
});
