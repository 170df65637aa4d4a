/*
 * Implementation of CachedDownload (loaded on demand as
 * `async-CachedDownload.js`).
 *
 * Each new `url` starts one job and is then consumed (`url` reset to None), so
 * a callback that sets the same address again starts another job. The jobs
 * themselves are `runNative`/`runFetch`/`runStream` in `../utils/download.js`; this
 * component only starts them, turns their reports into `status` and
 * `n_downloads`, and stops them on unmount.
 */
import React, {useEffect, useLayoutEffect, useRef} from 'react';
import {downloadStatus, makeJob, runnerFor} from '../utils/download.js';
import {loadingAttributes, useIsLoading} from '../utils/loading.js';
import {streamWorkerUrl} from '../utils/publicpath.js';

export default function CachedDownload(props) {
    const {id, url, n_downloads, className, style, loading_state} = props;
    const isLoading = useIsLoading(loading_state);

    // The props of the latest render, for reports that arrive later.
    const latestProps = useRef(props);
    useLayoutEffect(() => {
        latestProps.current = props;
    });
    const doneCount = useRef(n_downloads || 0);
    const lastJob = useRef(0);
    const controllers = useRef(new Set());

    useEffect(() => {
        doneCount.current = n_downloads || 0;
    }, [n_downloads]);

    useEffect(() => {
        const running = controllers.current;
        // Unmount: stop transfers in flight and free pending object URLs.
        return () => {
            running.forEach(c => c.abort());
            running.clear();
        };
    }, []);

    /** `report` for `job`: its status if it is the latest job, and the count. */
    function reporterFor(job) {
        return fields => {
            const send = latestProps.current.setProps;
            if (!send) {
                return;
            }
            const update = {};
            if (job.number === lastJob.current) {
                update.status = downloadStatus(job, fields);
            }
            if (fields.state === 'done') {
                doneCount.current += 1;
                update.n_downloads = doneCount.current;
            }
            if (Object.keys(update).length) {
                send(update);
            }
        };
    }

    useEffect(() => {
        if (!url) {
            return;
        }
        const job = makeJob(++lastJob.current, latestProps.current, streamWorkerUrl());
        const send = latestProps.current.setProps;
        if (send) {
            // Consume the address: the same value set again is a new request.
            send({url: null});
        }
        const controller = new AbortController();
        controllers.current.add(controller);
        runnerFor(job)(job, controller.signal, reporterFor(job)).finally(() =>
            controllers.current.delete(controller)
        );
    }, [url]);

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
