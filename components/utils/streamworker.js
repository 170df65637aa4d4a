/*
 * The service worker side of CachedDownload's stream mode (the worker script
 * is `components/stream-worker.js`; this module holds its logic so that it
 * can be tested without a browser).
 *
 * The worker itself downloads the address (with the page's headers, resuming
 * a cut transfer as `transfer.js` does) and hands the body to the browser's
 * download manager as it reads it: the bytes never cross a MessagePort, and
 * neither the page nor the worker holds more than the chunk being passed on
 * (in Chromium, one buffer read into again and again).
 *
 * Protocol, over the MessagePort the page sends with the `open` message:
 *
 *   page -> worker (ServiceWorker.postMessage, the port transferred):
 *       {type: OPEN, id, href, headers, maxResumes, interval, fileName,
 *        fallbackName}
 *   worker -> page: {type: 'opened'} at once, then the answer to its GET:
 *       {type: 'error', http_code, message} for an error answer (nothing is
 *       saved), or {type: 'ready', http_code, file_name, total}; the page
 *       then navigates a hidden iframe to `<scope>dfc-stream/<id>`, which the
 *       worker answers with the body as a `Content-Disposition: attachment`
 *       response, so the download manager writes it to disk; then
 *       {type: 'started'}. A ready stream the iframe does not claim within
 *       `STREAM_CLAIM_MS` is dropped (request stopped, {type: 'error'}).
 *   worker -> page, while the download manager reads (each read pulls one
 *       chunk from the network: the response body has no queue,
 *       `highWaterMark` 0): {type: 'progress', loaded, resumes} at most every
 *       `interval` ms; then {type: 'closed', loaded, resumes} once the body is
 *       closed after the last byte, or {type: 'error', http_code, message,
 *       loaded, resumes} when the transfer failed, or {type: 'cancelled'}
 *       when the download manager cancelled the body.
 *   page -> worker: {type: 'abort', message} at any time: the worker stops
 *       its request and errors the body, so the download stays incomplete.
 */
import {fileNameFromDisposition} from './disposition.js';
import {openTransfer} from './transfer.js';

/** Message type of the page's request to open a stream. */
export const OPEN = 'dfc-stream-open';

/** Message type of the page's keep-alive pings (they keep the worker running). */
export const PING = 'dfc-stream-ping';

/** Size of the one buffer the worker reads the network into (bytes). */
export const STREAM_BUFFER_BYTES = 1 << 20;

/**
 * How long a ready stream waits for the page's iframe to claim it (ms); past
 * that (the page was closed, or its navigation failed) the worker stops the
 * request and forgets the stream.
 */
export const STREAM_CLAIM_MS = 60000;

/** Path segment, under the worker's scope, of the synthetic download URLs. */
export const STREAM_SEGMENT = 'dfc-stream/';

/** `attachment` with the file name, as RFC 6266 (`filename*` for non-ASCII). */
export function attachmentHeader(fileName) {
    const name = String(fileName || 'download').replace(/[\r\n]/g, ' ');
    const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
    const encoded = encodeURIComponent(name).replace(
        /['()*]/g,
        c => '%' + c.charCodeAt(0).toString(16).toUpperCase()
    );
    return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The id in a synthetic download URL under `scope`, or null. */
export function streamId(url, scope) {
    const prefix = new URL(STREAM_SEGMENT, scope).href;
    const href = String(url);
    if (!href.startsWith(prefix)) {
        return null;
    }
    const id = href.slice(prefix.length).split(/[/?#]/)[0];
    return id ? decodeURIComponent(id) : null;
}

/** The status fields of a failed transfer `e` (a TransferError, a network error). */
function failureOf(e, httpCode) {
    return {
        http_code: e && e.status ? e.status : httpCode,
        message: e && e.name === 'TransferError' ? e.message : `Transfer failed: ${e.message || e}`,
    };
}

/** Whether `data` is a well-formed OPEN message. */
function isOpen(data) {
    return (
        Boolean(data) &&
        data.type === OPEN &&
        typeof data.id === 'string' &&
        typeof data.href === 'string'
    );
}

/**
 * Whether this browser's download manager is known to be done with a chunk
 * of a response body when it reads the next one (Chromium: checked by the
 * browser tests, byte for byte), so that the worker may read the network
 * into the same buffer again.
 */
export function reusesChunks(nav = globalThis.navigator) {
    const brands = (nav && nav.userAgentData && nav.userAgentData.brands) || [];
    return brands.some(b => b && b.brand === 'Chromium');
}

/**
 * The worker's open streams: `open(data, port)` handles an OPEN message
 * (false when it is not one), `respond(url)` gives the Response for a
 * synthetic download URL (null for any other URL, which the worker leaves to
 * the network), `size()` counts the streams still held.
 *
 * With `reuseBuffer` (see `reusesChunks`) the worker reads the network into
 * one buffer of `STREAM_BUFFER_BYTES`, again and again, so that memory does
 * not wait for the garbage collector; else each chunk has a buffer of its
 * own.
 */
export function createStreamRegistry(
    scope,
    {reuseBuffer = false, claimTimeout = STREAM_CLAIM_MS} = {}
) {
    const streams = new Map();

    function release(entry) {
        if (entry.released) {
            return;
        }
        entry.released = true;
        clearTimeout(entry.unclaimed);
        streams.delete(entry.data.id);
        entry.port.onmessage = null;
        entry.port.close();
    }

    function post(entry, message) {
        if (!entry.released) {
            entry.port.postMessage(message);
        }
    }

    /** Stop the request and error the body (page abort, timeout, unmount). */
    function abort(entry, message) {
        entry.abort.abort();
        if (entry.controller && !entry.closed) {
            entry.closed = true;
            entry.controller.error(new Error(message || 'Download aborted by the page.'));
        }
        release(entry);
    }

    async function start(entry) {
        const {data} = entry;
        const transfer = await openTransfer(data.href, {
            headers: data.headers || null,
            signal: entry.abort.signal,
            maxResumes: Math.max(0, Number(data.maxResumes) || 0),
        });
        if (entry.released) {
            return;
        }
        if (!transfer.ok) {
            post(entry, {type: 'error', http_code: transfer.status, message: transfer.message});
            release(entry);
            return;
        }
        const {response, total} = transfer;
        entry.transfer = transfer;
        entry.fileName =
            data.fileName ||
            fileNameFromDisposition(response.headers.get('Content-Disposition')) ||
            data.fallbackName ||
            'download';
        post(entry, {type: 'ready', http_code: response.status, file_name: entry.fileName, total});
        entry.unclaimed = setTimeout(() => {
            if (!entry.used) {
                post(entry, {
                    type: 'error',
                    http_code: 0,
                    message: 'The download was not started.',
                });
                abort(entry, 'The download was not started.');
            }
        }, claimTimeout);
    }

    function open(data, port) {
        if (!isOpen(data) || !port) {
            return false;
        }
        const entry = {
            data,
            port,
            abort: new AbortController(),
            transfer: null,
            fileName: null,
            controller: null,
            closed: false,
            used: false,
            released: false,
            unclaimed: null,
        };
        streams.set(data.id, entry);
        port.onmessage = event => {
            const message = event.data || {};
            if (message.type === 'abort') {
                abort(entry, message.message);
            }
        };
        port.postMessage({type: 'opened'});
        start(entry).catch(e => {
            post(entry, {type: 'error', ...failureOf(e, null)});
            abort(entry, e.message);
        });
        return true;
    }

    /** The body of `entry`'s download: one network chunk per read. */
    function body(entry) {
        const {transfer} = entry;
        const chunks = transfer.chunks(reuseBuffer ? STREAM_BUFFER_BYTES : 0);
        const interval = Math.max(0, Number(entry.data.interval) || 0);
        let last = Date.now();
        const counters = () => ({loaded: transfer.state.loaded, resumes: transfer.state.resumes});
        return new ReadableStream(
            {
                start(controller) {
                    entry.controller = controller;
                },
                async pull(controller) {
                    let next;
                    try {
                        next = await chunks.next();
                    } catch (e) {
                        if (!entry.closed) {
                            entry.closed = true;
                            post(entry, {
                                type: 'error',
                                ...failureOf(e, transfer.response.status),
                                ...counters(),
                            });
                            controller.error(e);
                            entry.abort.abort();
                            release(entry);
                        }
                        return;
                    }
                    if (entry.closed) {
                        return;
                    }
                    if (next.done) {
                        entry.closed = true;
                        controller.close();
                        post(entry, {type: 'closed', ...counters()});
                        release(entry);
                        return;
                    }
                    controller.enqueue(next.value);
                    const now = Date.now();
                    if (now - last >= interval) {
                        last = now;
                        post(entry, {type: 'progress', ...counters()});
                    }
                },
                cancel() {
                    entry.closed = true;
                    entry.abort.abort();
                    post(entry, {type: 'cancelled'});
                    release(entry);
                },
            },
            {highWaterMark: 0}
        );
    }

    function respond(url) {
        const id = streamId(url, scope);
        if (id === null) {
            return null;
        }
        const entry = streams.get(id);
        if (!entry || entry.used || !entry.transfer) {
            return new Response('This download is no longer available.', {
                status: 404,
                headers: {'Content-Type': 'text/plain; charset=utf-8'},
            });
        }
        entry.used = true;
        clearTimeout(entry.unclaimed);
        const {response, total} = entry.transfer;
        const headers = {
            'Content-Type': response.headers.get('Content-Type') || 'application/octet-stream',
            'Content-Disposition': attachmentHeader(entry.fileName),
            'X-Content-Type-Options': 'nosniff',
            'Cache-Control': 'no-store',
        };
        if (Number.isFinite(total) && total >= 0) {
            headers['Content-Length'] = String(total);
        }
        const answer = new Response(body(entry), {status: 200, headers});
        post(entry, {type: 'started'});
        return answer;
    }

    return {open, respond, size: () => streams.size};
}
