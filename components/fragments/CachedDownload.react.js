/*
 * Implementation of CachedDownload (loaded on demand as
 * `async-CachedDownload.js`).
 *
 * Each new `url` starts one job and is then consumed (`url` reset to None), so
 * a callback that sets the same address again starts another job.
 *
 * native: HEAD the address (with `download=true`); if it is alive, click a
 *   hidden `<a download>` to it, so the browser's download manager streams
 *   the file to disk. "done" = handed over to the download manager.
 * fetch: GET the address in the page, reporting progress, then save the
 *   collected Blob through an object URL (revoked right after). "done" = all
 *   bytes received and the save started.
 */
import React, {useEffect, useRef} from 'react';
import {
    contentLength,
    errorMessage,
    fileNameFromAddress,
    fileNameFromDisposition,
    probe,
    withDownloadFlag,
} from '../utils/address';
import {loadingAttributes, useIsLoading} from '../utils/loading';

const REVOKE_DELAY_MS = 1000;

function clickDownloadLink(href, name) {
    const a = document.createElement('a');
    a.href = href;
    a.download = name || '';
    a.rel = 'noopener';
    a.style.display = 'none';
    document.body.appendChild(a);
    a.click();
    a.remove();
}

export default function CachedDownload(props) {
    const {
        id,
        url,
        file_name,
        mode,
        headers,
        progress_interval,
        n_downloads,
        className,
        style,
        loading_state,
        setProps,
    } = props;
    const isLoading = useIsLoading(loading_state);

    const latestProps = useRef(props);
    latestProps.current = props;
    const doneCount = useRef(n_downloads || 0);
    const lastJob = useRef(0);
    const controllers = useRef(new Set());
    const objectUrls = useRef(new Map());

    useEffect(() => {
        doneCount.current = n_downloads || 0;
    }, [n_downloads]);

    useEffect(
        () => () => {
            // Unmount: stop transfers in flight and free pending object URLs.
            controllers.current.forEach(c => c.abort());
            controllers.current.clear();
            objectUrls.current.forEach((timer, objectUrl) => {
                clearTimeout(timer);
                URL.revokeObjectURL(objectUrl);
            });
            objectUrls.current.clear();
        },
        []
    );

    useEffect(() => {
        if (!url) {
            return;
        }
        const job = {
            number: ++lastJob.current,
            url,
            fileName: file_name || null,
            mode: mode === 'fetch' ? 'fetch' : 'native',
            headers: headers || null,
            interval: Math.max(0, Number(progress_interval) || 0),
        };
        const send = latestProps.current.setProps;
        if (send) {
            // Consume the address: the same value set again is a new request.
            send({url: null});
        }
        const controller = new AbortController();
        controllers.current.add(controller);
        const run = job.mode === 'fetch' ? runFetch : runNative;
        run(job, controller.signal).finally(() => controllers.current.delete(controller));
    }, [url]);

    function report(job, fields, finished = false) {
        const send = latestProps.current.setProps;
        if (!send) {
            return;
        }
        const update = {};
        if (job.number === lastJob.current) {
            update.status = {
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
        if (finished) {
            doneCount.current += 1;
            update.n_downloads = doneCount.current;
        }
        if (Object.keys(update).length) {
            send(update);
        }
    }

    function fail(job, http_code, message, extra = {}) {
        report(job, {state: 'error', http_code, message, ...extra});
    }

    async function runNative(job, signal) {
        // The service names the file after `file_name` in the query when given.
        const href = withDownloadFlag(job.url, true, job.fileName);
        report(job, {});
        const answer = await probe(href, {signal});
        if (signal.aborted) {
            return;
        }
        if (!answer.ok) {
            fail(
                job,
                answer.status,
                answer.status === null
                    ? 'Network error: the server could not be reached.'
                    : `HTTP ${answer.status}: the address cannot be downloaded.`
            );
            return;
        }
        const name =
            fileNameFromDisposition(answer.headers.get('Content-Disposition')) ||
            job.fileName ||
            fileNameFromAddress(job.url);
        // Content-Disposition names the file in the download manager; the
        // `download` attribute only names it when the server gives no name.
        clickDownloadLink(href, name);
        report(
            job,
            {
                state: 'done',
                http_code: answer.status,
                file_name: name,
                total: contentLength(answer.headers),
            },
            true
        );
    }

    async function runFetch(job, signal) {
        const href = withDownloadFlag(job.url, true);
        report(job, {loaded: 0});
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
                fail(job, null, `Network error: ${e.message || e}`);
            }
            return;
        }
        if (!res.ok) {
            fail(job, res.status, await errorMessage(res));
            return;
        }
        const name =
            job.fileName ||
            fileNameFromDisposition(res.headers.get('Content-Disposition')) ||
            fileNameFromAddress(job.url);
        const total = contentLength(res.headers);
        const type = res.headers.get('Content-Type') || 'application/octet-stream';
        let chunks = [];
        let loaded = 0;
        let lastReport = performance.now();
        try {
            const reader = res.body.getReader();
            for (;;) {
                const {done, value} = await reader.read();
                if (done) {
                    break;
                }
                chunks.push(value);
                loaded += value.byteLength;
                const now = performance.now();
                if (now - lastReport >= job.interval) {
                    lastReport = now;
                    report(job, {http_code: res.status, file_name: name, loaded, total});
                }
            }
        } catch (e) {
            if (!signal.aborted) {
                fail(job, res.status, `Transfer failed: ${e.message || e}`, {
                    file_name: name,
                    loaded,
                    total,
                });
            }
            return;
        }
        if (total !== null && loaded !== total) {
            fail(job, res.status, `Transfer ended after ${loaded} of ${total} bytes.`, {
                file_name: name,
                loaded,
                total,
            });
            return;
        }
        const blob = new Blob(chunks, {type});
        chunks = null;
        const objectUrl = URL.createObjectURL(blob);
        clickDownloadLink(objectUrl, name);
        const timer = setTimeout(() => {
            objectUrls.current.delete(objectUrl);
            URL.revokeObjectURL(objectUrl);
        }, REVOKE_DELAY_MS);
        objectUrls.current.set(objectUrl, timer);
        report(
            job,
            {
                state: 'done',
                http_code: res.status,
                file_name: name,
                loaded,
                total: total === null ? loaded : total,
            },
            true
        );
    }

    return (
        <div
            id={id}
            className={className}
            style={{display: 'none', ...(style || {})}}
            data-dash-file-cache="download"
            {...loadingAttributes(isLoading)}
        />
    );
}
