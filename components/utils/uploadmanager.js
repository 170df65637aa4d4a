/*
 * The uploads of one CachedUpload: one tus-js-client `Upload` per file, their
 * pause / resume / cancel, and what they report.
 *
 * The tus client class is given (`Upload`), so tests drive the manager with a
 * fake one. `configure(props)` gives it the component's latest props. Each
 * row (one file) moves through "uploading" -> "done" | "error", with
 * "paused" and "cancelled" in between by the user's hand. Reports:
 *
 * - `onView(rows)` after every change, for the component to re-render (progress
 *   at most once per `progress_interval`, state changes at once);
 * - `setProps({status})` at most once per `progress_interval` (a trailing
 *   report always follows the last change);
 * - `setProps({files})` once when a selection has finished (`SelectionLedger`).
 */
import {
    SelectionLedger,
    absoluteEndpoint,
    addSample,
    aggregateStatus,
    errorInfo,
    fingerprintOf,
    precheck,
    retryable,
    speedOf,
    terminationDelays,
    throttleDelay,
    uploadMetadata,
} from './upload.js';

/** Default milliseconds between two `status` reports. */
export const DEFAULT_PROGRESS_INTERVAL = 250;

/** Default delays (ms) before the retries of a failed request. */
export const DEFAULT_RETRY_DELAYS = [0, 1000, 3000, 5000, 10000];

/** The header in which the server names the cache item an upload became. */
export const ADDRESS_HEADER = 'Cached-Address';

export class UploadManager {
    /**
     * `Upload`: tus-js-client's class (or a stand-in); `onView(rows)`:
     * re-render; `base`: the page's URL (relative endpoints resolve against
     * it); `now`, `setTimer`, `clearTimer`: the clock.
     */
    constructor({
        Upload,
        onView,
        base,
        now = () => Date.now(),
        setTimer = (fn, ms) => setTimeout(fn, ms),
        clearTimer = t => clearTimeout(t),
    }) {
        this.Upload = Upload;
        this.onView = onView;
        this.props = {};
        this.base = base;
        this.now = now;
        this.setTimer = setTimer;
        this.clearTimer = clearTimer;
        this.rows = [];
        this.nextKey = 1;
        this.ledger = new SelectionLedger();
        // Per report kind ("view", "status"): when it was last sent, its pending timer.
        this.last = {view: null, status: null};
        this.timers = {view: null, status: null};
        this.closed = false;
    }

    /** The component's latest props: options of new uploads, `setProps`. */
    configure(props) {
        this.props = props || {};
    }

    options() {
        return this.props;
    }

    report(update) {
        if (typeof this.props.setProps === 'function') {
            this.props.setProps(update);
        }
    }

    rowOf(key) {
        return this.rows.find(r => r.key === key) || null;
    }

    /**
     * Take a selection (`[{file, relativePath}]`): refused files become error
     * rows at once, the others start uploading. Finished rows of earlier
     * selections are dropped from the list first.
     */
    add(items) {
        if (this.closed || !items.length) {
            return;
        }
        const opts = this.options();
        this.rows = this.rows.filter(r => r.state === 'uploading' || r.state === 'paused');
        const numbered = items.map((item, index) => ({...item, index}));
        const {accepted, refused} = precheck(numbered, {
            accept: opts.accept,
            maxSize: opts.max_size,
            maxFiles: opts.max_files,
        });
        const fresh = [];
        for (const item of refused) {
            fresh.push(this.newRow(item, {state: 'error', refused: true, message: item.message}));
        }
        for (const item of accepted) {
            fresh.push(this.newRow(item, {state: 'uploading'}));
        }
        // Rows in the order chosen, whatever was refused.
        fresh.sort((a, b) => a.item.index - b.item.index);
        this.rows = this.rows.concat(fresh);
        this.ledger.open(fresh);
        for (const row of fresh) {
            if (row.state === 'uploading') {
                this.begin(row, opts);
            }
        }
        // Refused rows, and rows that could not start, end at once.
        for (const row of fresh) {
            if (row.state === 'error') {
                this.settled(row);
            }
        }
        this.changed(true);
    }

    newRow(item, fields) {
        return {
            key: this.nextKey++,
            item,
            file: item.file,
            relativePath: item.relativePath || null,
            loaded: 0,
            speed: null,
            samples: [],
            httpCode: null,
            message: null,
            address: null,
            refused: false,
            upload: null,
            launching: false,
            started: false,
            ...fields,
        };
    }

    /** Create the row's tus upload, look for a previous one to resume, start it. */
    begin(row, opts) {
        if (!opts.endpoint) {
            Object.assign(row, {state: 'error', message: 'No upload endpoint is set.'});
            return;
        }
        const endpoint = absoluteEndpoint(opts.endpoint, this.base);
        const options = {
            endpoint,
            metadata: uploadMetadata(row.file, row.relativePath, opts.metadata),
            headers: {...(opts.headers || {})},
            retryDelays: Array.isArray(opts.retry_delays)
                ? opts.retry_delays
                : DEFAULT_RETRY_DELAYS,
            onShouldRetry: retryable,
            removeFingerprintOnSuccess: true,
            fingerprint: file => Promise.resolve(fingerprintOf(file, row.relativePath, endpoint)),
            onProgress: loaded => this.progressed(row, loaded),
            onAfterResponse: (req, res) => {
                const address = res && res.getHeader ? res.getHeader(ADDRESS_HEADER) : null;
                if (address) {
                    row.address = address;
                }
            },
            onSuccess: () => this.finish(row, {state: 'done', loaded: row.file.size}),
            onError: error => {
                const {http_code, message} = errorInfo(error);
                this.finish(row, {state: 'error', httpCode: http_code, message});
            },
        };
        if (opts.chunk_size > 0) {
            options.chunkSize = opts.chunk_size;
        }
        if (opts.parallel_uploads > 1) {
            options.parallelUploads = opts.parallel_uploads;
        }
        row.upload = new this.Upload(row.file, options);
        this.launch(row);
    }

    /**
     * Start the row's upload: from the latest upload stored for the same file
     * (a page reload), else a new one. Skipped if the row was paused,
     * cancelled or closed meanwhile (`resume` launches a paused row again).
     */
    launch(row) {
        const {upload} = row;
        row.launching = true;
        Promise.resolve()
            .then(() => upload.findPreviousUploads())
            .catch(() => [])
            .then(previous => {
                row.launching = false;
                if (row.state !== 'uploading' || this.closed) {
                    return;
                }
                if (previous && previous.length) {
                    const latest = previous
                        .slice()
                        .sort((a, b) =>
                            String(b.creationTime || '').localeCompare(String(a.creationTime || ''))
                        )[0];
                    upload.resumeFromPreviousUpload(latest);
                }
                row.started = true;
                upload.start();
            });
    }

    progressed(row, loaded) {
        if (row.state !== 'uploading') {
            return;
        }
        row.loaded = loaded;
        row.samples = addSample(row.samples, this.now(), loaded);
        row.speed = speedOf(row.samples);
        this.changed(false);
    }

    finish(row, fields) {
        if (row.state !== 'uploading') {
            return;
        }
        Object.assign(row, fields, {speed: null, samples: []});
        this.settled(row);
        this.changed(true);
    }

    /** A row reached an end state: `files` when its selection has finished. */
    settled(row) {
        const files = this.ledger.settle(row);
        if (files) {
            this.report({files});
        }
    }

    pause(key) {
        const row = this.rowOf(key);
        if (!row || row.state !== 'uploading') {
            return;
        }
        row.state = 'paused';
        row.speed = null;
        row.samples = [];
        row.upload.abort(false);
        this.changed(true);
    }

    resume(key) {
        const row = this.rowOf(key);
        if (!row || row.state !== 'paused' || this.closed) {
            return;
        }
        row.state = 'uploading';
        if (row.started) {
            // tus-js-client asks the server for its offset (HEAD) and goes on.
            row.upload.start();
        } else if (!row.launching) {
            // Paused before it started: start it as `add` would have.
            this.launch(row);
        }
        this.changed(true);
    }

    /** Stop a row's upload and remove its partial data from the server (tus termination). */
    cancel(key) {
        const row = this.rowOf(key);
        if (!row || (row.state !== 'uploading' && row.state !== 'paused')) {
            return;
        }
        row.state = 'cancelled';
        row.speed = null;
        row.samples = [];
        // tus-js-client retries the termination with the upload's options (and
        // keeps the parts of a parallel upload, each with its own, there).
        for (const upload of [row.upload, ...(row.upload._parallelUploads || [])]) {
            upload.options.retryDelays = terminationDelays(upload.options.retryDelays);
        }
        Promise.resolve()
            .then(() => row.upload.abort(true))
            .catch(() => {
                // The server may already have dropped it; nothing left to do.
            });
        this.settled(row);
        this.changed(true);
    }

    /** Unmount: stop every upload, keeping server-side data for a later resume. */
    close() {
        this.closed = true;
        for (const row of this.rows) {
            if (row.state === 'uploading' && row.upload) {
                row.upload.abort(false);
            }
        }
        for (const kind of Object.keys(this.timers)) {
            this.clearTimer(this.timers[kind]);
            this.timers[kind] = null;
        }
    }

    /** Something changed: re-render (at once when `immediate`) and report `status`. */
    changed(immediate) {
        if (this.closed) {
            return;
        }
        if (immediate) {
            this.clearTimer(this.timers.view);
            this.timers.view = null;
            this.view();
        } else {
            this.throttled('view', () => this.view());
        }
        this.throttled('status', () => this.sendStatus());
    }

    /**
     * Run `send` now if a `progress_interval` has passed since the last `kind`
     * report, else once when it has (at most one pending timer per kind).
     */
    throttled(kind, send) {
        if (this.timers[kind] !== null) {
            return;
        }
        const delay = throttleDelay(this.last[kind], this.now(), this.interval());
        if (delay === 0) {
            send();
            return;
        }
        this.timers[kind] = this.setTimer(() => {
            this.timers[kind] = null;
            send();
        }, delay);
    }

    interval() {
        const value = this.options().progress_interval;
        return typeof value === 'number' && value >= 0 ? value : DEFAULT_PROGRESS_INTERVAL;
    }

    view() {
        if (!this.closed) {
            this.last.view = this.now();
            this.onView(this.rows.slice());
        }
    }

    sendStatus() {
        if (!this.closed) {
            this.last.status = this.now();
            this.report({status: aggregateStatus(this.rows)});
        }
    }
}
