/*
 * The service worker side of CachedDownload's stream mode (the worker script
 * is `components/stream-worker.js`; this module holds its logic so that it
 * can be tested without a browser).
 *
 * Protocol, over the MessagePort the page sends with the `open` message:
 *
 *   page -> worker (ServiceWorker.postMessage, the port transferred):
 *       {type: OPEN, id, fileName, contentType, size}
 *   worker -> page: {type: 'ready'}; the page then navigates a hidden iframe
 *       to `<scope>dfc-stream/<id>`, which the worker answers with a
 *       streamed `Content-Disposition: attachment` response, so the
 *       browser's download manager writes it to disk; then {type: 'started'}.
 *   worker -> page: {type: 'pull'} each time the download manager wants
 *       more bytes (the response body has no queue: `highWaterMark` 0);
 *   page -> worker: {type: 'chunk', chunks: [Uint8Array, ...]} answering a
 *       pull, {type: 'end'} (answering a pull: everything before it has been
 *       taken), or {type: 'abort', message} at any time;
 *   worker -> page: {type: 'closed'} once the body is closed after 'end',
 *       {type: 'cancelled'} when the download manager cancelled the body.
 *
 * So the page sends only what the download manager asked for: page and
 * worker memory stay bounded by one batch, whatever the file size.
 */

/** Message type of the page's request to open a stream. */
export const OPEN = 'dfc-stream-open';

/** Message type of the page's keep-alive pings (they keep the worker running). */
export const PING = 'dfc-stream-ping';

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

/**
 * The worker's open streams: `open(data, port)` handles an OPEN message,
 * `respond(url)` gives the Response for a synthetic download URL (null for
 * any other URL, which the worker leaves to the network), `size()` counts
 * the streams still held.
 */
export function createStreamRegistry(scope) {
    const streams = new Map();

    function open(data, port) {
        if (!data || data.type !== OPEN || !port || typeof data.id !== 'string') {
            return false;
        }
        const entry = {data, port, controller: null, pulling: null, used: false};
        streams.set(data.id, entry);
        port.onmessage = event => onPageMessage(entry, event.data || {});
        port.postMessage({type: 'ready'});
        return true;
    }

    function release(entry) {
        streams.delete(entry.data.id);
        entry.port.onmessage = null;
        entry.port.close();
    }

    function onPageMessage(entry, message) {
        const {controller} = entry;
        if (message.type === 'chunk' && controller) {
            for (const chunk of message.chunks || []) {
                controller.enqueue(chunk);
            }
            if (entry.pulling) {
                const resolve = entry.pulling;
                entry.pulling = null;
                resolve();
            }
        } else if (message.type === 'end' && controller) {
            controller.close();
            if (entry.pulling) {
                entry.pulling();
                entry.pulling = null;
            }
            entry.port.postMessage({type: 'closed'});
            release(entry);
        } else if (message.type === 'abort') {
            if (controller) {
                controller.error(new Error(message.message || 'Download aborted by the page.'));
            }
            if (entry.pulling) {
                entry.pulling();
                entry.pulling = null;
            }
            release(entry);
        }
    }

    function respond(url) {
        const id = streamId(url, scope);
        if (id === null) {
            return null;
        }
        const entry = streams.get(id);
        if (!entry || entry.used) {
            return new Response('This download is no longer available.', {
                status: 404,
                headers: {'Content-Type': 'text/plain; charset=utf-8'},
            });
        }
        entry.used = true;
        const body = new ReadableStream(
            {
                start(controller) {
                    entry.controller = controller;
                },
                pull() {
                    return new Promise(resolve => {
                        entry.pulling = resolve;
                        entry.port.postMessage({type: 'pull'});
                    });
                },
                cancel() {
                    entry.port.postMessage({type: 'cancelled'});
                    if (entry.pulling) {
                        entry.pulling();
                        entry.pulling = null;
                    }
                    release(entry);
                },
            },
            {highWaterMark: 0}
        );
        const {fileName, contentType, size} = entry.data;
        const headers = {
            'Content-Type': contentType || 'application/octet-stream',
            'Content-Disposition': attachmentHeader(fileName),
            'X-Content-Type-Options': 'nosniff',
            'Cache-Control': 'no-store',
        };
        if (Number.isFinite(size) && size >= 0) {
            headers['Content-Length'] = String(size);
        }
        entry.port.postMessage({type: 'started'});
        return new Response(body, {status: 200, headers});
    }

    return {open, respond, size: () => streams.size};
}
