/*
 * CachedDownload: save a file from a dash-file-cache address to the user's
 * disk when a callback sets `url`. Use it instead of `dcc.Download` when the
 * file is large or made on the server: the bytes go from the server to the
 * browser's download manager, never through callback JSON.
 */
import React, {Suspense, lazy} from 'react';
import PropTypes from 'prop-types';

const RealCachedDownload = lazy(
    () => import(/* webpackChunkName: "CachedDownload" */ './fragments/CachedDownload.react.js')
);

/**
 * Saves a file from a dash-file-cache address when a callback sets `url`; renders nothing visible. Use it instead of `dcc.Download` for large or server-made files. Three modes: `mode="native"` (default): the browser's download manager streams the file to disk (no copy in page memory), after a HEAD request has checked that the address is alive, so an expired address gives `status.state == "error"` (`http_code` 404) and saves nothing; no progress, no custom headers. `mode="fetch"` downloads in the page, with progress (`loaded`/`total`) and custom `headers`, holding the whole file in page memory (for small files). `mode="stream"` has the progress and headers of fetch, but a service worker served by the app itself (from the component suite) makes the request and streams the body to disk through the download manager, reading it into one reused buffer: memory stays flat whatever the size. Stream mode needs a secure context (https, localhost); elsewhere, or when the service worker cannot be installed, it falls back to native mode and says so in `status.message`. In fetch and stream modes a transfer cut mid-way resumes from the received offset (`Range` with `If-Range` and the ETag), at most `max_resumes` times; if the item changed meanwhile the download fails with a clear message. Every download is triggered by a new value of `url`: the component consumes the address (resets `url` to None once the download is handed over or failed), so setting the same address again downloads it again; unmounting the component stops a download in flight.
 */
export default function CachedDownload(props) {
    return (
        <Suspense fallback={null}>
            <RealCachedDownload {...props} />
        </Suspense>
    );
}

CachedDownload.propTypes = {
    /** The ID used to identify this component in Dash callbacks. */
    id: PropTypes.string,

    /** Address to download, as returned by `ServiceData.register` (download flag or not); each new value starts one download, then it is reset to None. */
    url: PropTypes.string,

    /** Name for the saved file instead of the registered one (native mode asks the service for it via the `file_name` query parameter). */
    file_name: PropTypes.string,

    /** Name for the saved file when the answer gives none (no `Content-Disposition` file name), instead of the address's last path segment; `file_name` and the answer's name win over it. */
    file_name_fallback: PropTypes.string,

    /** "native" (default): the browser's download manager streams to disk; "fetch": download in the page, with progress and custom headers, holding the whole file in memory; "stream": with progress and custom headers, downloaded by the package's service worker and streamed to disk (secure contexts; else falls back to "native"). */
    mode: PropTypes.oneOf(['native', 'fetch', 'stream']),

    /** Extra request headers sent in "fetch" and "stream" modes (ignored in "native" mode, where the browser makes the request). */
    headers: PropTypes.objectOf(PropTypes.string),

    /** Minimum milliseconds between two progress reports in "fetch" and "stream" modes (default 250). */
    progress_interval: PropTypes.number,

    /** How many times a cut transfer is resumed (`Range` from the received offset) in "fetch" and "stream" modes before it fails (default 3; 0 disables resuming). */
    max_resumes: PropTypes.number,

    /** Read-only: `{state: "started" | "done" | "error", http_code, file_name, loaded, total, mode, url, message}` of the latest download. */
    status: PropTypes.exact({
        /** "started", "done" or "error". */
        state: PropTypes.oneOf(['started', 'done', 'error']),
        /** HTTP status of the check (native) or of the download (fetch); None before an answer or on a network failure. */
        http_code: PropTypes.number,
        /** Name of the file being saved. */
        file_name: PropTypes.string,
        /** Bytes received so far ("fetch" and "stream" modes), else None. */
        loaded: PropTypes.number,
        /** Size of the file from `Content-Length`, else None. */
        total: PropTypes.number,
        /** The mode of this download: "native", "fetch" or "stream" ("native" when stream mode fell back, with the reason in `message`). */
        mode: PropTypes.oneOf(['native', 'fetch', 'stream']),
        /** The address this status is about. */
        url: PropTypes.string,
        /** Error text (the server's JSON `error` when there is one), or why stream mode fell back to native, else None. */
        message: PropTypes.string,
        /** How many times the transfer was resumed after a cut ("fetch" and "stream" modes). */
        resumes: PropTypes.number,
    }),

    /** Read-only: number of downloads completed ("done") since the component was created. */
    n_downloads: PropTypes.number,

    /** Inline style of the (empty, hidden) root element. */
    style: PropTypes.object,

    /** CSS classes of the (empty, hidden) root element. */
    className: PropTypes.string,

    /** Object that holds the loading state object coming from dash-renderer (Dash 2). */
    loading_state: PropTypes.shape({
        /** Determines if the component is loading or not. */
        is_loading: PropTypes.bool,
        /** Holds which property is loading. */
        prop_name: PropTypes.string,
        /** Holds the name of the component that is loading. */
        component_name: PropTypes.string,
    }),

    /** Dash-assigned callback that reports property changes to Dash. */
    setProps: PropTypes.func,
};
