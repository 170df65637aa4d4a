/*
 * dash-file-cache 0.2.0's Downloader props, translated to and from
 * CachedDownload's (pure functions, tested in tests/js/legacy.test.mjs).
 */

/** The 0.2.0 `url` prop (a string or `{url, file_name_fallback}`) as `{url, fallback}`. */
export function legacyUrl(value) {
    if (typeof value === 'string') {
        return {url: value, fallback: null, valid: true};
    }
    if (value && typeof value === 'object' && typeof value.url === 'string') {
        const fallback =
            typeof value.file_name_fallback === 'string' && value.file_name_fallback
                ? value.file_name_fallback
                : null;
        return {url: value.url, fallback, valid: true};
    }
    return {url: null, fallback: null, valid: value === null || value === undefined};
}

/**
 * The 0.2.0 `status` for a CachedDownload status, or null while the download
 * runs (0.2.0 reported only the end). `code`: "success"; "error-connect" when
 * there was no answer or an HTTP error; "error-io" when the bytes broke off.
 */
export function legacyStatus(status) {
    if (!status || status.state === 'started') {
        return null;
    }
    const httpCode = typeof status.http_code === 'number' ? status.http_code : 0;
    if (status.state === 'done') {
        return {code: 'success', http_code: httpCode};
    }
    if (status.state === 'error') {
        const answered = httpCode >= 200 && httpCode < 300;
        return {code: answered ? 'error-io' : 'error-connect', http_code: httpCode};
    }
    return {code: 'error-unknown', http_code: httpCode};
}

/**
 * CachedDownload's `setProps` reports, as the 0.2.0 component's: `url` is
 * consumed to "" (0.2.0's reset value), `status` is translated, and the new
 * props (`n_downloads`) are dropped.
 */
export function legacyUpdate(update) {
    const out = {};
    if ('url' in update) {
        out.url = '';
    }
    if ('status' in update) {
        const status = legacyStatus(update.status);
        if (status) {
            out.status = status;
        }
    }
    return out;
}
