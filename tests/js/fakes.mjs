/*
 * Stand-ins for the browser globals the components' utils use, so that
 * `node --test` can run them: `window.location`, a `document` that records
 * download-link clicks, a scripted `fetch`, and object URLs that can be read
 * back. Node's own `Response`, `Headers`, `Blob`, `ReadableStream` and
 * `AbortController` are used as they are.
 */

export const PAGE = 'http://app.test/dash/page';

/** Install `window` and a `document` whose `<a>` clicks land in `clicks`. */
export function installPage() {
    const clicks = [];
    const attached = new Set();
    globalThis.window = {location: {href: PAGE}};
    globalThis.document = {
        body: {appendChild: el => attached.add(el)},
        createElement(tag) {
            const el = {
                tag,
                style: {},
                click() {
                    clicks.push({
                        tag,
                        href: el.href,
                        download: el.download,
                        rel: el.rel,
                        attached: attached.has(el),
                        hidden: el.style.display === 'none',
                    });
                },
                remove: () => attached.delete(el),
            };
            return el;
        },
    };
    return {clicks, attached};
}

/** The DOMException a real fetch rejects with when its signal aborts. */
function abortError() {
    return new DOMException('The operation was aborted.', 'AbortError');
}

/**
 * `res` with a body that fails with an AbortError once `signal` aborts; a
 * byte stream, as a real fetch body is (it can be read with a BYOB reader).
 */
function abortableBody(res, signal) {
    if (!res.body) {
        return res;
    }
    const reader = res.body.getReader();
    const body = new ReadableStream({
        type: 'bytes',
        start(controller) {
            signal.addEventListener('abort', () => {
                controller.error(abortError());
                reader.cancel().catch(() => {});
            });
        },
        async pull(controller) {
            const {done, value} = await reader.read();
            if (signal.aborted) {
                return;
            }
            if (done) {
                controller.close();
                // A pending BYOB read learns of the end through its request.
                controller.byobRequest?.respond(0);
            } else {
                controller.enqueue(value);
            }
        },
        cancel: reason => reader.cancel(reason),
    });
    const {status, statusText, headers} = res;
    return new Response(body, {status, statusText, headers});
}

/**
 * Replace `fetch` by `handler(url, init)`, which returns a Response (or a
 * promise of one) or throws. Every call is recorded in `calls`. As with a
 * real fetch, an aborted signal rejects the call, also while `handler`
 * waits, and makes the body fail while it is read.
 */
export function installFetch(handler) {
    const calls = [];
    globalThis.fetch = (url, init = {}) => {
        calls.push({url: String(url), init});
        const {signal} = init;
        if (signal && signal.aborted) {
            return Promise.reject(abortError());
        }
        return new Promise((resolve, reject) => {
            if (signal) {
                signal.addEventListener('abort', () => reject(abortError()));
            }
            Promise.resolve()
                .then(() => handler(String(url), init))
                .then(res => (signal ? abortableBody(res, signal) : res))
                .then(resolve, reject);
        });
    };
    return calls;
}

/**
 * A body that yields `chunks` (strings or byte arrays) one by one; an Error
 * among them makes the read fail there. `onPull(i)` runs before chunk `i`.
 */
export function chunkedBody(chunks, onPull = () => {}) {
    let i = 0;
    const encoder = new TextEncoder();
    return new ReadableStream({
        async pull(controller) {
            await onPull(i);
            if (i >= chunks.length) {
                controller.close();
                return;
            }
            const chunk = chunks[i++];
            if (chunk instanceof Error) {
                controller.error(chunk);
                return;
            }
            controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
        },
    });
}

/**
 * Record object URLs: `created` maps each URL to its Blob, `revoked` lists
 * the revoked ones.
 */
export function installObjectUrls() {
    const created = new Map();
    const revoked = [];
    const realCreate = URL.createObjectURL;
    const realRevoke = URL.revokeObjectURL;
    URL.createObjectURL = blob => {
        const url = `blob:${PAGE}/${created.size + 1}`;
        created.set(url, blob);
        return url;
    };
    URL.revokeObjectURL = url => revoked.push(url);
    const restore = () => {
        URL.createObjectURL = realCreate;
        URL.revokeObjectURL = realRevoke;
    };
    return {created, revoked, restore};
}

/** A `report` that collects what it is given. */
export function recorder() {
    const reports = [];
    const report = fields => reports.push(fields);
    return {reports, report};
}
