/*
 * Pure helpers of CachedUpload: the checks made before anything is sent,
 * what a file reports (`status`, `files`), and the bookkeeping that gives
 * `files` once per selection and never a file twice. No I/O here: the upload
 * manager (`./uploadmanager.js`) drives the tus client and uses these.
 */

/** Bytes as a short human string: "0 B", "1.5 kB", "12.3 MB" (powers of 1000). */
export function formatBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
        return '';
    }
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let value = n;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
        value /= 1000;
        unit += 1;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/**
 * Whether `file` ({name, type}) is one the `accept` attribute allows, as the
 * browser's file picker decides: comma-separated tokens, each a file
 * extension (".csv", case-insensitive), a MIME type ("image/png") or a
 * type family ("image/*"). An empty or missing `accept` allows everything.
 */
export function acceptMatches(file, accept) {
    const tokens = (Array.isArray(accept) ? accept.join(',') : accept || '')
        .split(',')
        .map(t => t.trim().toLowerCase())
        .filter(Boolean);
    if (!tokens.length) {
        return true;
    }
    const name = (file.name || '').toLowerCase();
    const type = (file.type || '').toLowerCase().split(';')[0].trim();
    return tokens.some(token => {
        if (token.startsWith('.')) {
            return name.endsWith(token);
        }
        if (token.endsWith('/*')) {
            return type.startsWith(token.slice(0, -1));
        }
        return type === token;
    });
}

/**
 * Sort a selection into what may be sent and what is refused, before
 * anything is sent. `items` are `{file, relativePath}`. A file larger than
 * `maxSize` or not matching `accept` is refused alone; a selection of more
 * than `maxFiles` files is refused whole (which files to drop is the
 * user's choice, not ours). Returns `{accepted, refused}`; each refused item
 * carries the `message` to show.
 */
export function precheck(items, {accept = null, maxSize = null, maxFiles = null} = {}) {
    if (typeof maxFiles === 'number' && maxFiles >= 0 && items.length > maxFiles) {
        const message = `Too many files: ${items.length} chosen, at most ${maxFiles} allowed.`;
        return {accepted: [], refused: items.map(item => ({...item, message}))};
    }
    const accepted = [];
    const refused = [];
    for (const item of items) {
        const {file} = item;
        if (typeof maxSize === 'number' && maxSize >= 0 && file.size > maxSize) {
            refused.push({
                ...item,
                message: `File too large: ${formatBytes(file.size)}, at most ${formatBytes(
                    maxSize
                )} allowed.`,
            });
        } else if (!acceptMatches(file, accept)) {
            refused.push({...item, message: `File type not accepted (allowed: ${accept}).`});
        } else {
            accepted.push(item);
        }
    }
    return {accepted, refused};
}

/**
 * The path of `file` inside a chosen folder ("photos/2024/a.png"), from the
 * walk of a dropped folder or the picker's `webkitRelativePath`; null for a
 * file chosen alone.
 */
export function relativePathOf(file, walked = null) {
    const path = walked || file.webkitRelativePath || '';
    return path ? path.replace(/^\/+/, '') : null;
}

/** The tus metadata sent with a file: `filename`, `filetype`, `relative_path`, then `extra`. */
export function uploadMetadata(file, relativePath, extra = null) {
    const metadata = {};
    for (const [key, value] of Object.entries(extra || {})) {
        if (value !== null && value !== undefined) {
            metadata[key] = String(value);
        }
    }
    metadata.filename = file.name;
    metadata.filetype = file.type || 'application/octet-stream';
    if (relativePath) {
        metadata.relative_path = relativePath;
    }
    return metadata;
}

/**
 * The key under which tus-js-client stores a file's upload URL for resuming:
 * the same file (path in its folder, type, size, modification time) to the
 * same endpoint gives the same key after a page reload.
 */
export function fingerprintOf(file, relativePath, endpoint) {
    return [
        'dfc-upload',
        relativePath || file.name,
        file.type,
        file.size,
        file.lastModified,
        endpoint,
    ].join('-');
}

/** The uid in a dash-file-cache address (`...?uid=<uid>`), or null. */
export function uidFromAddress(address) {
    if (!address) {
        return null;
    }
    try {
        const url = new URL(address, 'http://relative.invalid/');
        return url.searchParams.get('uid') || null;
    } catch {
        return null;
    }
}

/** `endpoint` as an absolute URL, resolved against `base` (the page). */
export function absoluteEndpoint(endpoint, base) {
    return new URL(endpoint, base).href;
}

/**
 * `{http_code, message}` of a tus-js-client error: the HTTP status of the
 * answer that failed, and the server's message (`{"error": ...}` in a JSON
 * body, else a short text body), else the error's own text.
 */
export function errorInfo(error) {
    const res = error && error.originalResponse;
    const status = res && typeof res.getStatus === 'function' ? res.getStatus() : null;
    const httpCode = typeof status === 'number' && status > 0 ? status : null;
    let body = res && typeof res.getBody === 'function' ? res.getBody() : null;
    let message = null;
    if (typeof body === 'string' && body.trim()) {
        body = body.trim();
        try {
            const parsed = JSON.parse(body);
            if (parsed && typeof parsed.error === 'string') {
                message = parsed.error;
            } else if (parsed && typeof parsed.detail === 'string') {
                message = parsed.detail;
            }
        } catch {
            if (body.length <= 200 && !body.startsWith('<')) {
                message = body;
            }
        }
    }
    if (!message) {
        if (httpCode !== null) {
            message = `The server answered ${httpCode}.`;
        } else {
            const text = error && error.message ? String(error.message) : 'Upload failed.';
            // tus-js-client appends the cause and the request after commas.
            message = text.replace(/^tus: /, '').split(/, (?:caused by|originated from) /)[0];
        }
    }
    return {http_code: httpCode, message};
}

/**
 * Whether a failed tus request is worth retrying: network failures, 5xx,
 * 409 (offset mismatch: the retry asks the server's offset first) and 423
 * (locked), not the other 4xx (refused: retrying cannot help). Unlike
 * tus-js-client's default, a browser that says it is offline is retried too:
 * the retry delays give the network time to come back.
 */
export function retryable(error) {
    const res = error && error.originalResponse;
    const status = res && typeof res.getStatus === 'function' ? res.getStatus() : 0;
    return !(status >= 400 && status < 500) || status === 409 || status === 423;
}

/** Delays (ms) of the retries of a cancel's termination, at the least. */
export const TERMINATION_RETRY_DELAYS = [0, 500, 1000, 2000, 5000];

/**
 * The retry delays of a cancel's termination (tus DELETE): the upload's own
 * `retryDelays`, or `TERMINATION_RETRY_DELAYS` when those are fewer. The first
 * DELETE often meets the server still finishing the PATCH just aborted (423,
 * locked), and a cancel must remove the partial data even when retrying the
 * upload itself is turned off.
 */
export function terminationDelays(retryDelays) {
    return Array.isArray(retryDelays) && retryDelays.length >= TERMINATION_RETRY_DELAYS.length
        ? retryDelays
        : TERMINATION_RETRY_DELAYS;
}

/**
 * Milliseconds to wait before the next report, when the last one was sent at
 * `lastSent` (null: never) and reports are at most one per `interval`: 0 means
 * "send now".
 */
export function throttleDelay(lastSent, now, interval) {
    if (lastSent === null || lastSent === undefined || !(interval > 0)) {
        return 0;
    }
    return Math.max(0, lastSent + interval - now);
}

/** Speed samples are kept this long (ms): speed is the average over it. */
export const SPEED_WINDOW_MS = 3000;

/**
 * `samples` (`[time, bytes]`, oldest first) with `[now, bytes]` added and
 * those older than `window` dropped, keeping one older sample as the base.
 */
export function addSample(samples, now, bytes, window = SPEED_WINDOW_MS) {
    const kept = samples.concat([[now, bytes]]);
    let first = 0;
    while (first < kept.length - 2 && kept[first + 1][0] <= now - window) {
        first += 1;
    }
    return kept.slice(first);
}

/** Bytes per second over `samples`, or null while there is too little to tell. */
export function speedOf(samples) {
    if (samples.length < 2) {
        return null;
    }
    const [t0, b0] = samples[0];
    const [t1, b1] = samples[samples.length - 1];
    if (t1 - t0 < 200) {
        return null;
    }
    return Math.max(0, ((b1 - b0) * 1000) / (t1 - t0));
}

/** What `status.files[i]` says about one file row of the manager. */
export function fileStatus(row) {
    return {
        name: row.file.name,
        relative_path: row.relativePath,
        size: row.file.size,
        type: row.file.type || null,
        state: row.state,
        loaded: row.loaded,
        total: row.file.size,
        speed: row.speed === null || row.speed === undefined ? null : Math.round(row.speed),
        http_code: row.httpCode === undefined ? null : row.httpCode,
        message: row.message || null,
        address: row.address || null,
    };
}

/**
 * The overall state of some files: "uploading" while any is sent, else
 * "paused" while any waits for resume, else "error" if any failed, else
 * "done" if any finished, else "cancelled" (every file was cancelled).
 */
export function overallState(states) {
    for (const state of ['uploading', 'paused', 'error', 'done', 'cancelled']) {
        if (states.includes(state)) {
            return state;
        }
    }
    return null;
}

/**
 * The `status` prop for the file rows shown: the overall state, bytes sent
 * and total (cancelled and refused files not counted) and one entry per file.
 */
export function aggregateStatus(rows) {
    const files = rows.map(fileStatus);
    const counted = rows.filter(r => r.state !== 'cancelled' && !r.refused);
    return {
        state: overallState(files.map(f => f.state)),
        loaded: counted.reduce((sum, r) => sum + r.loaded, 0),
        total: counted.reduce((sum, r) => sum + r.file.size, 0),
        n_files: files.length,
        n_done: files.filter(f => f.state === 'done').length,
        n_errors: files.filter(f => f.state === 'error').length,
        files,
    };
}

/** What `files[i]` says about a completed upload. */
export function completedRecord(row) {
    return {
        uid: uidFromAddress(row.address),
        address: row.address || null,
        name: row.file.name,
        size: row.file.size,
        type: row.file.type || null,
        relative_path: row.relativePath,
        last_modified: typeof row.file.lastModified === 'number' ? row.file.lastModified : null,
    };
}

const SETTLED = new Set(['done', 'error', 'cancelled']);

/**
 * Which selections have finished, so that `files` is set once per selection
 * and never lists a file twice.
 *
 * `open(rows)` starts a selection of file rows (objects whose `state` changes
 * as they upload; the ledger keeps them, even once they leave the list);
 * `settle(row)` is called when a row reaches "done", "error" or "cancelled".
 * It returns the `files` list of that row's selection when the selection has
 * just finished with at least one completed upload, else null. A row
 * reported again, or a uid already given (the same item reached twice), is
 * never listed again.
 */
export class SelectionLedger {
    constructor() {
        this.selections = [];
        this.given = new Set();
        this.givenUids = new Set();
    }

    open(rows) {
        this.selections.push(rows.slice());
    }

    settle(row) {
        const selection = this.selections.find(rows => rows.includes(row));
        if (!selection || !selection.every(r => SETTLED.has(r.state))) {
            return null;
        }
        this.selections = this.selections.filter(rows => rows !== selection);
        const files = [];
        for (const r of selection) {
            if (r.state !== 'done' || this.given.has(r)) {
                continue;
            }
            const record = completedRecord(r);
            if (record.uid && this.givenUids.has(record.uid)) {
                continue;
            }
            this.given.add(r);
            if (record.uid) {
                this.givenUids.add(record.uid);
            }
            files.push(record);
        }
        return files.length ? files : null;
    }
}
