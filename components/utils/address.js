/*
 * Helpers for dash-file-cache addresses (`/cached-data?uid=...`): the
 * `download` flag, probing with HEAD, and reading the file name the server
 * will give a download.
 */

/**
 * Absolute URL of `address`, with `download=true` set or removed, and with
 * the service's `file_name` override when `fileName` is given.
 */
export function withDownloadFlag(address, download, fileName) {
    const url = new URL(address, window.location.href);
    // The service answers 400 to a repeated parameter: replace, never append.
    url.searchParams.delete('download');
    if (download) {
        url.searchParams.set('download', 'true');
    }
    if (fileName) {
        url.searchParams.set('file_name', fileName);
    }
    return url.href;
}

/** Decode an RFC 5987 `ext-value` (`UTF-8''na%C3%AFve.txt`). */
function decodeExtValue(value) {
    const match = /^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/.exec(value);
    if (!match) {
        return null;
    }
    const charset = match[1].toLowerCase();
    const encoded = match[2];
    try {
        if (charset === 'utf-8') {
            return decodeURIComponent(encoded);
        }
        if (charset === 'iso-8859-1') {
            return encoded.replace(/%([0-9a-f]{2})/gi, (_, hex) =>
                String.fromCharCode(parseInt(hex, 16))
            );
        }
    } catch (e) {
        return null;
    }
    return null;
}

/**
 * The file name in a `Content-Disposition` header value, or null.
 * `filename*` (RFC 5987/6266) wins over `filename`.
 */
export function fileNameFromDisposition(header) {
    if (!header) {
        return null;
    }
    const params = {};
    // parameter = token "=" ( token / quoted-string )
    const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
    let m;
    while ((m = re.exec(header)) !== null) {
        const key = m[1].toLowerCase();
        let value = m[2].trim();
        if (value.startsWith('"')) {
            value = value.slice(1, -1).replace(/\\(.)/g, '$1');
        }
        if (!(key in params)) {
            params[key] = value;
        }
    }
    if (params['filename*']) {
        const decoded = decodeExtValue(params['filename*']);
        if (decoded) {
            return decoded;
        }
    }
    return params.filename || null;
}

/** A last-resort file name: the last path segment of the address. */
export function fileNameFromAddress(address) {
    try {
        const url = new URL(address, window.location.href);
        const last = url.pathname.split('/').filter(Boolean).pop();
        return last ? decodeURIComponent(last) : 'download';
    } catch (e) {
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
    } catch (e) {
        // not JSON after all: keep the generic message
    }
    return fallback;
}
