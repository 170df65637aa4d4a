/*
 * Helpers for dash-file-cache addresses (`/cached-data?uid=...`): the address
 * that asks for a download, probing with HEAD, file names and sizes.
 */
/**
 * Absolute URL of `address` that asks the service for a download:
 * `download=true`, and the service's `file_name` override when `fileName` is
 * given (the service sanitises it). Relative addresses resolve against the
 * page.
 */
export function downloadAddress(address, fileName = null) {
    const url = new URL(address, window.location.href);
    // The service answers 400 to a repeated parameter: replace, never append.
    url.searchParams.set('download', 'true');
    if (fileName) {
        url.searchParams.set('file_name', fileName);
    }
    return url.href;
}

/** A last-resort file name: the last path segment of the address. */
export function fileNameFromAddress(address) {
    try {
        const url = new URL(address, window.location.href);
        const last = url.pathname.split('/').filter(Boolean).pop();
        return last ? decodeURIComponent(last) : 'download';
    } catch {
        return 'download';
    }
}

/** `Content-Length` as a number, or null. */
export function contentLength(headers) {
    const raw = headers.get('Content-Length');
    if (raw === null || raw === '') {
        return null;
    }
    const n = Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * Ask the server about `href` without taking its body.
 *
 * HEAD first; a server that refuses HEAD (405/501) gets a one-byte ranged
 * GET whose body is dropped at once. Never throws: a network failure gives
 * `{ok: false, status: null}`.
 */
export async function probe(href, {signal, headers} = {}) {
    const base = {
        cache: 'no-store',
        credentials: 'same-origin',
        redirect: 'follow',
        signal,
        headers: headers || undefined,
    };
    try {
        let res = await fetch(href, {...base, method: 'HEAD'});
        if (res.status === 405 || res.status === 501) {
            res = await fetch(href, {
                ...base,
                method: 'GET',
                headers: {...(headers || {}), Range: 'bytes=0-0'},
            });
            if (res.body) {
                res.body.cancel().catch(() => {});
            }
        }
        return {ok: res.ok, status: res.status, headers: res.headers};
    } catch (e) {
        return {ok: false, status: null, headers: null, error: e};
    }
}

/** The `error` text of a JSON error answer, or a generic message. */
export async function errorMessage(res) {
    const fallback = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
    try {
        const type = res.headers.get('Content-Type') || '';
        if (type.includes('json')) {
            const body = await res.json();
            if (body && typeof body.error === 'string') {
                return body.error;
            }
        }
    } catch {
        // not JSON after all: keep the generic message
    }
    return fallback;
}
