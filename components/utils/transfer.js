/*
 * A resumable GET for the in-page download modes (fetch and stream).
 *
 * `openTransfer` sends the first request and, when it is answered with a
 * success, gives its body as an async iterator of byte chunks. When the body
 * breaks off (a read error, or fewer bytes than `Content-Length`), the
 * iterator asks for the rest with `Range: bytes=<received>-` and
 * `If-Range: <ETag>`, at most `resumes` times, so a cut connection costs
 * only the bytes not yet received.
 *
 * A resume answered with 206 and the expected `Content-Range` continues the
 * body. A resume answered with 200 means the item changed on the server (or
 * the server ignores ranges): the transfer fails with a `TransferError`
 * saying so, never mixes two versions of the file. Without a strong ETag
 * there is no resume (nothing proves that the rest belongs to the same
 * file).
 */
import {contentLength, errorMessage} from './address.js';

/** Default number of resumes of one transfer (the `max_resumes` prop). */
export const DEFAULT_MAX_RESUMES = 3;

/** Wait before resume attempt n (1-based): n times this many ms. */
export const RESUME_DELAY_MS = 200;

/** A transfer failure to report: `message`, and `status` (HTTP) when known. */
export class TransferError extends Error {
    constructor(message, status = null) {
        super(message);
        this.name = 'TransferError';
        this.status = status;
    }
}

/** The strong ETag of `headers` (with its quotes), or null. */
export function strongEtag(headers) {
    const tag = headers.get('ETag');
    return tag && /^"[^"]*"$/.test(tag.trim()) ? tag.trim() : null;
}

/** `[first, last, size]` of a `Content-Range: bytes a-b/n` value, or null. */
export function parseContentRange(value) {
    const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value || '');
    if (!m) {
        return null;
    }
    return [Number(m[1]), Number(m[2]), m[3] === '*' ? null : Number(m[3])];
}

function sleep(ms, signal) {
    return new Promise(resolve => {
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done);
    });
}

/** A BYOB reader of `body`, or null when it is not a byte stream. */
function byobReader(body) {
    try {
        return body.getReader({mode: 'byob'});
    } catch {
        return null;
    }
}

/**
 * GET `href`; resolves to `{ok: false, status, message}` for an error answer
 * or a network failure (`status` null), else to
 * `{ok: true, response, total, chunks(), state}`:
 * `response` is the first answer, `total` its `Content-Length` (or null),
 * `chunks(reuseBytes)` an async iterator of the whole body's chunks (resuming
 * as above; it throws a `TransferError` when the body cannot be completed),
 * `state` live counters `{loaded, resumes}`.
 *
 * Aborting `signal` stops everything; the iterator then throws the
 * AbortError of fetch, which callers do not report.
 *
 * By default each chunk has a buffer of its own. With `reuseBytes`, a body
 * that is a byte stream (fetch's is) is read into one buffer of that size,
 * again and again: a chunk's bytes are only valid until the next one is
 * asked for (its buffer is then detached), and no buffer is allocated per
 * chunk, so memory does not wait for the garbage collector.
 */
export async function openTransfer(href, {headers = null, signal, maxResumes = 0} = {}) {
    const init = {
        method: 'GET',
        cache: 'no-store',
        credentials: 'same-origin',
        signal,
    };
    let response;
    try {
        response = await fetch(href, {...init, headers: headers || undefined});
    } catch (e) {
        return {ok: false, status: null, message: `Network error: ${e.message || e}`};
    }
    if (!response.ok) {
        return {ok: false, status: response.status, message: await errorMessage(response)};
    }
    const total = contentLength(response.headers);
    const etag = strongEtag(response.headers);
    const state = {loaded: 0, resumes: 0};

    /** The answer to a resume from `state.loaded`: a 206 for that offset. */
    async function resume(cause) {
        if (!etag) {
            throw new TransferError(`Transfer failed (cannot resume: no ETag): ${cause}`);
        }
        let lastCause = cause;
        while (state.resumes < maxResumes) {
            state.resumes += 1;
            await sleep(RESUME_DELAY_MS * state.resumes, signal);
            if (signal.aborted) {
                break;
            }
            let res;
            try {
                res = await fetch(href, {
                    ...init,
                    headers: {
                        ...(headers || {}),
                        Range: `bytes=${state.loaded}-`,
                        'If-Range': etag,
                    },
                });
            } catch (e) {
                if (signal.aborted) {
                    throw e;
                }
                lastCause = `Network error: ${e.message || e}`;
                continue;
            }
            if (res.status === 200) {
                res.body?.cancel().catch(() => {});
                throw new TransferError(
                    'The file changed on the server during the download (the resume ' +
                        'was answered with the whole new file); nothing more was saved.',
                    200
                );
            }
            if (res.status !== 206) {
                throw new TransferError(`Resume failed: ${await errorMessage(res)}`, res.status);
            }
            const range = parseContentRange(res.headers.get('Content-Range'));
            if (!range || range[0] !== state.loaded || (total !== null && range[2] !== total)) {
                res.body?.cancel().catch(() => {});
                throw new TransferError(
                    `Resume failed: unexpected Content-Range ${res.headers.get('Content-Range')}`,
                    206
                );
            }
            return res;
        }
        if (signal.aborted) {
            throw new DOMException('The operation was aborted.', 'AbortError');
        }
        throw new TransferError(
            `Transfer failed after ${state.resumes} resume(s) at ${state.loaded} bytes: ${lastCause}`
        );
    }

    async function* chunks(reuseBytes = 0) {
        let res = response;
        let buffer = null;
        for (;;) {
            if (reuseBytes && !(buffer && buffer.byteLength)) {
                buffer = new ArrayBuffer(reuseBytes);
            }
            const byob = buffer ? byobReader(res.body) : null;
            const reader = byob || res.body.getReader();
            let cause = null;
            let ended = false;
            try {
                for (;;) {
                    const {done, value} = byob
                        ? await reader.read(new Uint8Array(buffer))
                        : await reader.read();
                    if (byob && value) {
                        buffer = value.buffer;
                    }
                    if (done) {
                        break;
                    }
                    state.loaded += value.byteLength;
                    yield value;
                }
                ended = true;
            } catch (e) {
                ended = true;
                if (signal.aborted) {
                    throw e;
                }
                cause = e.message || String(e);
            } finally {
                if (!ended) {
                    // The consumer stopped early: drop the rest of the body.
                    reader.cancel().catch(() => {});
                }
                reader.releaseLock();
            }
            if (cause === null) {
                if (total === null || state.loaded === total) {
                    return;
                }
                if (state.loaded > total) {
                    throw new TransferError(
                        `Received ${state.loaded} bytes, more than the ${total} announced.`
                    );
                }
                cause = `the body ended after ${state.loaded} of ${total} bytes`;
            }
            res = await resume(cause);
        }
    }

    return {ok: true, response, total, state, chunks};
}
