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
 * stream: the package's service worker GETs the address (headers, resumes
 *   as in fetch mode) and answers a hidden iframe's navigation with the body
 *   as an attachment, one network chunk per read of the download manager;
 *   the page only relays the worker's progress (see `streamworker.js`).
 *   "done" = the worker's stream closed after the last byte. Without a
 *   secure context or a service worker it falls back to native and says so
 *   in `message`.
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

/**
 * How long the worker may take to install, to acknowledge a stream, or the
 * download manager to open it (ms); the server's answer may take longer.
 */
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
    // A worker being installed (a first visit, or a new version of the
    // package replacing an old worker) is the one to talk to once active.
    const pending = registration.installing || registration.waiting;
    if (!pending) {
        if (registration.active) {
            return registration.active;
        }
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

/** The next message of `inbox`; a `cancelled` one rejects as a TransferError. */
async function expectFrom(inbox) {
    const message = await inbox.next();
    if (message.type === 'cancelled') {
        const e = new Error('The download was cancelled in the browser.');
        e.name = 'TransferError';
        throw e;
    }
    return message;
}

/** An error for a message the protocol does not allow at this point. */
function unexpected(message) {
    return new Error(`unexpected message from the stream worker: ${message.type}`);
}

/**
 * Download the address through the package's service worker, which fetches
 * it and streams it to disk (see the file's header and `streamworker.js`);
 * falls back to native when the worker cannot run.
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
    const {port1: port, port2} = new MessageChannel();
    const inbox = portInbox(port, signal);
    const id = streamToken();
    const stop = reason => port.postMessage({type: 'abort', message: reason});
    let frame = null;
    let progress = null;
    const ping = setInterval(() => worker.postMessage({type: PING}), STREAM_PING_MS);
    const onAbort = () => stop('The page stopped the download.');
    signal.addEventListener('abort', onAbort);
    try {
        worker.postMessage(
            {
                type: OPEN,
                id,
                href: downloadAddress(job.url),
                headers: job.headers,
                maxResumes: job.maxResumes,
                interval: job.interval,
                fileName: job.fileName,
                fallbackName: job.fileNameFallback || fileNameFromAddress(job.url),
            },
            [port2]
        );
        const opened = await withTimeout(
            inbox.next(),
            STREAM_START_TIMEOUT_MS,
            'the service worker did not answer'
        );
        if (opened.type !== 'opened') {
            throw unexpected(opened);
        }
        // The worker's GET: an error answer (an expired address) saves nothing.
        const answer = await inbox.next();
        if (answer.type === 'error') {
            report({state: 'error', http_code: answer.http_code, message: answer.message});
            return;
        }
        if (answer.type !== 'ready') {
            throw unexpected(answer);
        }
        progress = {
            http_code: answer.http_code,
            file_name: answer.file_name,
            loaded: 0,
            total: answer.total,
        };
        frame = openDownloadFrame(new URL(`${STREAM_SEGMENT}${id}`, worker.scriptURL).href);
        const started = await withTimeout(
            expectFrom(inbox),
            STREAM_START_TIMEOUT_MS,
            'the browser did not start the download'
        );
        if (started.type !== 'started') {
            throw unexpected(started);
        }
        for (;;) {
            const message = await expectFrom(inbox);
            const {loaded, resumes} = message;
            const counters = {loaded, ...(resumes ? {resumes} : {})};
            if (message.type === 'progress') {
                report({...progress, ...counters});
            } else if (message.type === 'closed') {
                report({
                    ...progress,
                    ...counters,
                    state: 'done',
                    total: progress.total === null ? loaded : progress.total,
                });
                return;
            } else if (message.type === 'error') {
                report({
                    ...progress,
                    ...counters,
                    state: 'error',
                    http_code: message.http_code,
                    message: message.message,
                });
                return;
            } else {
                throw unexpected(message);
            }
        }
    } catch (e) {
        if (!signal.aborted) {
            stop(e.message || String(e));
            report({
                ...(progress || {}),
                state: 'error',
                message:
                    e && e.name === 'TransferError'
                        ? e.message
                        : `Transfer failed: ${e.message || e}`,
            });
        }
    } finally {
        clearInterval(ping);
        signal.removeEventListener('abort', onAbort);
        port.onmessage = null;
        port.close();
        if (frame) {
            frame.remove();
        }
    }
}

/** The runner for `job.mode`. */
export function runnerFor(job) {
    return {fetch: runFetch, stream: runStream}[job.mode] || runNative;
}
