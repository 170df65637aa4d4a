/*
 * The three ways CachedDownload saves an address, as plain functions
 * `run(job, signal, report)` that know nothing of React:
 *
 * - `job` says what to download (see `makeJob`);
 * - `signal` (an AbortSignal) stops the job's requests; a request it stops
 *   is not reported as an error;
 * - `report(fields)` receives each step as status fields (`state`,
 *   `http_code`, `file_name`, `loaded`, `total`, `resumes`, `message`,
 *   `mode`); `downloadStatus` turns them into the component's `status` prop.
 *
 * native: HEAD the address (with `download=true`); if it is alive, click a
 *   hidden `<a download>` to it, so the browser's download manager streams
 *   the file to disk. "done" = handed over to the download manager.
 * fetch: GET the address in the page (resuming a cut transfer, see
 *   `transfer.js`), reporting progress, then save the collected Blob through
 *   an object URL, revoked after `REVOKE_DELAY_MS` or at once when `signal`
 *   aborts (its promise settles then). "done" = all bytes received and the
 *   save started.
 * stream: GET the address in the page like fetch, but hand the bytes, as the
 *   download manager asks for them, to the package's service worker, which
 *   answers a hidden iframe's navigation with them as an attachment (see
 *   `streamworker.js`). "done" = the worker's stream closed after the last
 *   byte. Without a secure context or a service worker it falls back to
 *   native and says so in `message`.
 */
import {contentLength, downloadAddress, fileNameFromAddress, probe} from './address.js';
import {fileNameFromDisposition} from './disposition.js';
import {OPEN, PING, STREAM_SEGMENT} from './streamworker.js';
import {DEFAULT_MAX_RESUMES, openTransfer} from './transfer.js';

/** How long an object URL outlives the click that saves it (ms). */
export const REVOKE_DELAY_MS = 1000;

/** Default minimum time between two progress reports in fetch mode (ms). */
export const DEFAULT_PROGRESS_INTERVAL = 250;

/** The modes of CachedDownload; anything else is native. */
export const MODES = ['native', 'fetch', 'stream'];

/**
 * The job for the `number`-th download, from the component's props;
 * `workerUrl` is the address of the stream mode's service worker script.
 */
export function makeJob(
    number,
    {
        url,
        file_name,
        file_name_fallback,
        mode,
        headers,
        progress_interval = DEFAULT_PROGRESS_INTERVAL,
        max_resumes = DEFAULT_MAX_RESUMES,
    },
    workerUrl = null
) {
    const resumes = Number(max_resumes);
    return {
        number,
        url,
        fileName: file_name || null,
        fileNameFallback: file_name_fallback || null,
        mode: MODES.includes(mode) ? mode : 'native',
        headers: headers || null,
        interval: Math.max(0, Number(progress_interval) || 0),
        maxResumes: Number.isFinite(resumes) ? Math.max(0, Math.floor(resumes)) : 0,
        workerUrl,
    };
}

/** The component's `status` value for `job` after a report of `fields`. */
export function downloadStatus(job, fields) {
    return {
        state: 'started',
        http_code: null,
        file_name: job.fileName,
        loaded: null,
        total: null,
        mode: job.mode,
        url: job.url,
        message: null,
        resumes: 0,
        ...fields,
    };
}

/**
 * The name to save `job` under, given the answer's `Content-Disposition`:
 * the `file_name` prop, else the answer's file name, else the
 * `file_name_fallback` prop, else the address's last path segment.
 */
export function saveName(job, disposition) {
    return (
        job.fileName ||
        fileNameFromDisposition(disposition) ||
        job.fileNameFallback ||
        fileNameFromAddress(job.url)
    );
}

/** Save `href` as `name` through a hidden `<a download>` click. */
export function clickDownloadLink(href, name) {
    const a = document.createElement('a');
    a.href = href;
    a.download = name || '';
    a.rel = 'noopener';
    a.style.display = 'none';
    document.body.appendChild(a);
    a.click();
    a.remove();
}

/** Let the browser's download manager fetch the address, after a HEAD check. */
export async function runNative(job, signal, report) {
    // The service names the file after `file_name` in the query when given.
    const href = downloadAddress(job.url, job.fileName);
    report({});
    const answer = await probe(href, {signal});
    if (signal.aborted) {
        return;
    }
    if (!answer.ok) {
        report({
            state: 'error',
            http_code: answer.status,
            message:
                answer.status === null
                    ? 'Network error: the server could not be reached.'
                    : `HTTP ${answer.status}: the address cannot be downloaded.`,
        });
        return;
    }
    // The browser prefers the answer's Content-Disposition name to the
    // `download` attribute, which only names the file when the answer has none.
    const disposition = answer.headers.get('Content-Disposition');
    const name = fileNameFromDisposition(disposition) || saveName(job, disposition);
    clickDownloadLink(href, name);
    report({
        state: 'done',
        http_code: answer.status,
        file_name: name,
        total: contentLength(answer.headers),
    });
}

/** `report` of progress fields, at most every `job.interval` ms. */
function throttled(job, report) {
    let last = performance.now();
    return fields => {
        const now = performance.now();
        if (now - last >= job.interval) {
            last = now;
            report(fields);
        }
    };
}

/** Open `job`'s address for an in-page download; reports an error answer. */
async function openFor(job, signal, report) {
    const transfer = await openTransfer(downloadAddress(job.url), {
        headers: job.headers,
        signal,
        maxResumes: job.maxResumes,
    });
    if (signal.aborted) {
        return null;
    }
    if (!transfer.ok) {
        report({state: 'error', http_code: transfer.status, message: transfer.message});
        return null;
    }
    const {response, total} = transfer;
    transfer.progress = {
        http_code: response.status,
        file_name: saveName(job, response.headers.get('Content-Disposition')),
        loaded: 0,
        total,
    };
    return transfer;
}

/** The progress fields of `transfer` now (`resumes` only once there was one). */
function progressOf(transfer) {
    const {resumes, loaded} = transfer.state;
    return {...transfer.progress, loaded, ...(resumes ? {resumes} : {})};
}

/** The error report of a failed transfer. */
function failure(transfer, e) {
    return {
        ...progressOf(transfer),
        state: 'error',
        http_code: e && e.status ? e.status : transfer.progress.http_code,
        message: e && e.name === 'TransferError' ? e.message : `Transfer failed: ${e.message || e}`,
    };
}

/** Revoke `objectUrl` after `REVOKE_DELAY_MS`, or at once when `signal` aborts. */
function revokeLater(objectUrl, signal) {
    return new Promise(resolve => {
        const revoke = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', revoke);
            URL.revokeObjectURL(objectUrl);
            resolve();
        };
        const timer = setTimeout(revoke, REVOKE_DELAY_MS);
        if (signal.aborted) {
            revoke();
        } else {
            signal.addEventListener('abort', revoke);
        }
    });
}

/** Download the address in the page, with progress, then save it as a Blob. */
export async function runFetch(job, signal, report) {
    report({loaded: 0});
    const transfer = await openFor(job, signal, report);
    if (!transfer) {
        return;
    }
    const tick = throttled(job, report);
    let chunks = [];
    try {
        for await (const chunk of transfer.chunks()) {
            chunks.push(chunk);
            tick(progressOf(transfer));
        }
    } catch (e) {
        if (!signal.aborted) {
            report(failure(transfer, e));
        }
        return;
    }
    const fields = progressOf(transfer);
    const type = transfer.response.headers.get('Content-Type') || 'application/octet-stream';
    const objectUrl = URL.createObjectURL(new Blob(chunks, {type}));
    chunks = null;
    clickDownloadLink(objectUrl, fields.file_name);
    report({
        ...fields,
        state: 'done',
        total: fields.total === null ? fields.loaded : fields.total,
    });
    await revokeLater(objectUrl, signal);
}

/** Bytes the page gathers before handing them to the worker in one message. */
export const STREAM_BATCH_BYTES = 1 << 20;

/** How long the worker may take to install, or the download to start (ms). */
export const STREAM_START_TIMEOUT_MS = 15000;

/** Interval of the keep-alive pings to the worker while a stream runs (ms). */
export const STREAM_PING_MS = 10000;

/**
 * Why stream mode cannot run in this page, or null when it can: it needs a
 * secure context (https, localhost) and service workers.
 */
export function streamUnavailable(workerUrl) {
    if (!window.isSecureContext) {
        return 'the page is not a secure context (https or localhost)';
    }
    if (typeof navigator === 'undefined' || !navigator.serviceWorker) {
        return 'this browser has no service workers';
    }
    if (!workerUrl) {
        return 'the service worker address is unknown';
    }
    return null;
}

/** Reject after `ms` with `message` (the timer ends when `promise` settles). */
function withTimeout(promise, ms, message) {
    let timer;
    const timeout = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Register the stream worker (its scope is its folder) and resolve to its
 * activated ServiceWorker. Rejects when registration is refused or the
 * worker does not activate within `STREAM_START_TIMEOUT_MS`.
 */
export async function activeStreamWorker(workerUrl) {
    const scope = new URL('./', workerUrl).href;
    const registration = await navigator.serviceWorker.register(workerUrl, {scope});
    const activated = worker =>
        new Promise((resolve, reject) => {
            const check = () => {
                if (worker.state === 'activated') {
                    worker.removeEventListener('statechange', check);
                    resolve(worker);
                } else if (worker.state === 'redundant') {
                    worker.removeEventListener('statechange', check);
                    reject(new Error('the service worker was discarded'));
                }
            };
            worker.addEventListener('statechange', check);
            check();
        });
    if (registration.active) {
        return registration.active;
    }
    const pending = registration.installing || registration.waiting;
    if (!pending) {
        throw new Error('the service worker did not install');
    }
    return withTimeout(
        activated(pending),
        STREAM_START_TIMEOUT_MS,
        'the service worker did not activate in time'
    );
}

/**
 * The messages of `port` as a queue: `next()` resolves to the next one, or
 * rejects with an AbortError once `signal` aborts (nothing more will come).
 */
function portInbox(port, signal) {
    const queue = [];
    const waiting = [];
    const aborted = () => new DOMException('The operation was aborted.', 'AbortError');
    port.onmessage = event => {
        const message = event.data || {};
        if (waiting.length) {
            waiting.shift().resolve(message);
        } else {
            queue.push(message);
        }
    };
    signal.addEventListener('abort', () => waiting.splice(0).forEach(w => w.reject(aborted())));
    return {
        next() {
            if (queue.length) {
                return Promise.resolve(queue.shift());
            }
            if (signal.aborted) {
                return Promise.reject(aborted());
            }
            return new Promise((resolve, reject) => waiting.push({resolve, reject}));
        },
    };
}

/** A random id for a synthetic download URL. */
function streamToken() {
    if (globalThis.crypto && crypto.randomUUID) {
        return crypto.randomUUID();
    }
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** Add a hidden iframe that navigates to `src`; returns it. */
export function openDownloadFrame(src) {
    const frame = document.createElement('iframe');
    frame.style.display = 'none';
    frame.setAttribute('aria-hidden', 'true');
    frame.src = src;
    document.body.appendChild(frame);
    return frame;
}

/**
 * Native download instead of stream, saying why in every report's
 * `message` (and `mode: "native"`).
 */
async function fallBackToNative(job, signal, report, reason) {
    const note = `Stream mode unavailable (${reason}): downloaded in native mode.`;
    await runNative({...job, mode: 'native'}, signal, fields =>
        report({
            ...fields,
            mode: 'native',
            message: fields.message ? `${note} ${fields.message}` : note,
        })
    );
}

/** `chunks` (Uint8Arrays) as one Uint8Array of its own buffer. */
export function joinChunks(chunks) {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
    }
    return out;
}

/**
 * Feed `transfer`'s chunks to the worker over `inbox`/`port`, one batch per
 * pull, then end the stream; resolves once the worker closed it. Rejects
 * (TransferError, AbortError) when the transfer fails; rejects with a
 * `cancelled` error when the download manager cancelled the download.
 */
async function pump(transfer, port, inbox, tick) {
    const expect = async () => {
        const message = await inbox.next();
        if (message.type === 'cancelled') {
            const e = new Error('The download was cancelled in the browser.');
            e.name = 'TransferError';
            throw e;
        }
        return message;
    };
    const send = async chunks => {
        const message = await expect();
        if (message.type !== 'pull') {
            throw new Error(`unexpected message from the stream worker: ${message.type}`);
        }
        // One buffer per batch, handed over (not copied) to the worker.
        const joined = joinChunks(chunks);
        port.postMessage({type: 'chunk', chunks: [joined]}, [joined.buffer]);
    };
    let batch = [];
    let size = 0;
    for await (const chunk of transfer.chunks()) {
        batch.push(chunk);
        size += chunk.byteLength;
        if (size >= STREAM_BATCH_BYTES) {
            await send(batch);
            batch = [];
            size = 0;
        }
        tick(progressOf(transfer));
    }
    if (batch.length) {
        await send(batch);
    }
    batch = null;
    const last = await expect();
    if (last.type !== 'pull') {
        throw new Error(`unexpected message from the stream worker: ${last.type}`);
    }
    port.postMessage({type: 'end'});
    const closed = await expect();
    if (closed.type !== 'closed') {
        throw new Error(`unexpected message from the stream worker: ${closed.type}`);
    }
}

/**
 * Download the address in the page and stream it to disk through the
 * package's service worker (see the file's header); falls back to native
 * when the worker cannot run.
 */
export async function runStream(job, signal, report) {
    const unavailable = streamUnavailable(job.workerUrl);
    if (unavailable) {
        await fallBackToNative(job, signal, report, unavailable);
        return;
    }
    report({loaded: 0});
    let worker;
    try {
        worker = await activeStreamWorker(job.workerUrl);
    } catch (e) {
        if (!signal.aborted) {
            await fallBackToNative(
                job,
                signal,
                report,
                `the service worker could not be installed: ${e.message || e}`
            );
        }
        return;
    }
    if (signal.aborted) {
        return;
    }
    // Fetch first: an error answer (an expired address) saves nothing.
    const transfer = await openFor(job, signal, report);
    if (!transfer) {
        return;
    }
    const {port1: port, port2} = new MessageChannel();
    const inbox = portInbox(port, signal);
    const id = streamToken();
    const stop = reason => {
        port.postMessage({type: 'abort', message: reason});
    };
    let frame = null;
    const ping = setInterval(() => worker.postMessage({type: PING}), STREAM_PING_MS);
    const onAbort = () => stop('The page stopped the download.');
    signal.addEventListener('abort', onAbort);
    try {
        worker.postMessage(
            {
                type: OPEN,
                id,
                fileName: transfer.progress.file_name,
                contentType: transfer.response.headers.get('Content-Type'),
                size: transfer.total,
            },
            [port2]
        );
        const ready = await withTimeout(
            inbox.next(),
            STREAM_START_TIMEOUT_MS,
            'the service worker did not answer'
        );
        if (ready.type !== 'ready') {
            throw new Error(`unexpected message from the stream worker: ${ready.type}`);
        }
        frame = openDownloadFrame(new URL(`${STREAM_SEGMENT}${id}`, worker.scriptURL).href);
        const started = await withTimeout(
            inbox.next(),
            STREAM_START_TIMEOUT_MS,
            'the browser did not start the download'
        );
        if (started.type !== 'started') {
            throw new Error(`unexpected message from the stream worker: ${started.type}`);
        }
        await pump(transfer, port, inbox, throttled(job, report));
    } catch (e) {
        if (!signal.aborted) {
            stop(e.message || String(e));
            report(failure(transfer, e));
        }
        return;
    } finally {
        clearInterval(ping);
        signal.removeEventListener('abort', onAbort);
        port.onmessage = null;
        port.close();
        if (frame) {
            frame.remove();
        }
    }
    const fields = progressOf(transfer);
    report({
        ...fields,
        state: 'done',
        total: fields.total === null ? fields.loaded : fields.total,
    });
}

/** The runner for `job.mode`. */
export function runnerFor(job) {
    return {fetch: runFetch, stream: runStream}[job.mode] || runNative;
}
