/*
 * The two ways CachedDownload saves an address, as plain functions
 * `run(job, signal, report)` that know nothing of React:
 *
 * - `job` says what to download (see `makeJob`);
 * - `signal` (an AbortSignal) stops the job's requests; a request it stops
 *   is not reported as an error;
 * - `report(fields)` receives each step as status fields (`state`,
 *   `http_code`, `file_name`, `loaded`, `total`, `message`); `downloadStatus`
 *   turns them into the component's `status` prop.
 *
 * native: HEAD the address (with `download=true`); if it is alive, click a
 *   hidden `<a download>` to it, so the browser's download manager streams
 *   the file to disk. "done" = handed over to the download manager.
 * fetch: GET the address in the page, reporting progress, then save the
 *   collected Blob through an object URL, revoked after `REVOKE_DELAY_MS` or
 *   at once when `signal` aborts (its promise settles then). "done" = all
 *   bytes received and the save started.
 */
import {
    contentLength,
    downloadAddress,
    errorMessage,
    fileNameFromAddress,
    probe,
} from './address.js';
import {fileNameFromDisposition} from './disposition.js';

/** How long an object URL outlives the click that saves it (ms). */
export const REVOKE_DELAY_MS = 1000;

/** Default minimum time between two progress reports in fetch mode (ms). */
export const DEFAULT_PROGRESS_INTERVAL = 250;

/** The job for the `number`-th download, from the component's props. */
export function makeJob(
    number,
    {url, file_name, mode, headers, progress_interval = DEFAULT_PROGRESS_INTERVAL}
) {
    return {
        number,
        url,
        fileName: file_name || null,
        mode: mode === 'fetch' ? 'fetch' : 'native',
        headers: headers || null,
        interval: Math.max(0, Number(progress_interval) || 0),
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
        ...fields,
    };
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
    const name =
        fileNameFromDisposition(answer.headers.get('Content-Disposition')) ||
        job.fileName ||
        fileNameFromAddress(job.url);
    // Content-Disposition names the file in the download manager; the
    // `download` attribute only names it when the server gives no name.
    clickDownloadLink(href, name);
    report({
        state: 'done',
        http_code: answer.status,
        file_name: name,
        total: contentLength(answer.headers),
    });
}

/** Read the body, reporting progress at most every `job.interval` ms. */
async function readBody(res, job, report, progress) {
    const chunks = [];
    let lastReport = performance.now();
    const reader = res.body.getReader();
    for (;;) {
        const {done, value} = await reader.read();
        if (done) {
            return chunks;
        }
        chunks.push(value);
        progress.loaded += value.byteLength;
        const now = performance.now();
        if (now - lastReport >= job.interval) {
            lastReport = now;
            report({http_code: res.status, ...progress});
        }
    }
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
    const href = downloadAddress(job.url);
    report({loaded: 0});
    let res;
    try {
        res = await fetch(href, {
            method: 'GET',
            headers: job.headers || undefined,
            cache: 'no-store',
            credentials: 'same-origin',
            signal,
        });
    } catch (e) {
        if (!signal.aborted) {
            report({state: 'error', http_code: null, message: `Network error: ${e.message || e}`});
        }
        return;
    }
    if (!res.ok) {
        report({state: 'error', http_code: res.status, message: await errorMessage(res)});
        return;
    }
    const progress = {
        file_name:
            job.fileName ||
            fileNameFromDisposition(res.headers.get('Content-Disposition')) ||
            fileNameFromAddress(job.url),
        loaded: 0,
        total: contentLength(res.headers),
    };
    let chunks;
    try {
        chunks = await readBody(res, job, report, progress);
    } catch (e) {
        if (!signal.aborted) {
            report({
                state: 'error',
                http_code: res.status,
                message: `Transfer failed: ${e.message || e}`,
                ...progress,
            });
        }
        return;
    }
    const {file_name, loaded, total} = progress;
    if (total !== null && loaded !== total) {
        report({
            state: 'error',
            http_code: res.status,
            message: `Transfer ended after ${loaded} of ${total} bytes.`,
            ...progress,
        });
        return;
    }
    const type = res.headers.get('Content-Type') || 'application/octet-stream';
    const objectUrl = URL.createObjectURL(new Blob(chunks, {type}));
    chunks = null;
    clickDownloadLink(objectUrl, file_name);
    report({
        state: 'done',
        http_code: res.status,
        file_name,
        loaded,
        total: total === null ? loaded : total,
    });
    await revokeLater(objectUrl, signal);
}

/** The runner for `job.mode`. */
export function runnerFor(job) {
    return job.mode === 'fetch' ? runFetch : runNative;
}
