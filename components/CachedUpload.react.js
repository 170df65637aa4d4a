/*
 * CachedUpload: let the user send files to the server, resumably, with the
 * tus protocol. Use it instead of `dcc.Upload` when files can be large (more
 * than a few MB) or many: the bytes go from the browser to the server in
 * slices, never whole in page memory and never through callback JSON, and a
 * callback gets each file's address in the cache instead of its content.
 */
import React, {Suspense, lazy} from 'react';
import PropTypes from 'prop-types';

const RealCachedUpload = lazy(
    () => import(/* webpackChunkName: "CachedUpload" */ './fragments/CachedUpload.react.js')
);

/**
 * A drop zone (which also opens the file picker, by click or keyboard) that uploads the chosen files to a tus 1.0 `endpoint` with tus-js-client, and lists them with their progress, speed and pause / resume / cancel buttons. Use it instead of `dcc.Upload` for large or many files: they are sent in slices, resumably (retries with back-off after a network failure, and after a page reload the same file chosen again resumes from what the server already has), never read whole into the page, never through callback JSON. `max_size`, `max_files` and `accept` are checked before anything is sent. `status` reports the progress (at most once per `progress_interval`); when every file of a selection has finished, `files` lists the completed uploads once, each with the `address` of the cache item it became.
 */
export default function CachedUpload(props) {
    return (
        <Suspense fallback={null}>
            <RealCachedUpload {...props} />
        </Suspense>
    );
}

CachedUpload.propTypes = {
    /** The ID used to identify this component in Dash callbacks. */
    id: PropTypes.string,

    /** The tus upload address files are created at (the service's `upload_address`; any tus 1.0 server works); relative addresses resolve against the page. */
    endpoint: PropTypes.string,

    /** Content of the drop zone (text or components), like `dcc.Upload`'s; default: "Drag and drop files here, or choose files". */
    children: PropTypes.node,

    /** Allow choosing or dropping several files at once (default False: one file per selection). */
    multiple: PropTypes.bool,

    /** Choose a whole folder (the picker's `webkitdirectory`; dropped folders are walked); each file keeps its path inside the folder as `relative_path`. */
    directory: PropTypes.bool,

    /** File types allowed, as the `accept` attribute of a file input: extensions (".csv"), MIME types ("image/png") or families ("image/*"), comma-separated or as a list; also checked on dropped files. */
    accept: PropTypes.oneOfType([PropTypes.string, PropTypes.arrayOf(PropTypes.string)]),

    /** Largest file size in bytes: larger files are refused before anything is sent (shown as errors). */
    max_size: PropTypes.number,

    /** Most files in one selection: a larger selection is refused whole before anything is sent (shown as errors). */
    max_files: PropTypes.number,

    /** Bytes sent per PATCH request (default: the whole file in one request, read in slices; set it below a proxy's body size limit). */
    chunk_size: PropTypes.number,

    /** Send each file in this many parts at once, joined on the server (tus concatenation; tus-js-client's `parallelUploads`; default 1). */
    parallel_uploads: PropTypes.number,

    /** Extra request headers sent with every tus request (e.g. an authorization token). */
    headers: PropTypes.objectOf(PropTypes.string),

    /** Extra tus metadata sent with every file, next to `filename`, `filetype` and `relative_path`. */
    metadata: PropTypes.objectOf(PropTypes.string),

    /** Refuse new files (the drop zone and picker are off); uploads in flight go on. */
    disabled: PropTypes.bool,

    /** CSS classes of the root element (which holds the drop zone `.dfc-upload-zone` and the file list `.dfc-upload-list`). */
    className: PropTypes.string,

    /** Inline style of the root element. */
    style: PropTypes.object,

    /** Minimum milliseconds between two `status` reports (default 250). */
    progress_interval: PropTypes.number,

    /** Milliseconds to wait before each retry of a failed request, the length being the number of retries (default [0, 1000, 3000, 5000, 10000]); an empty list disables retrying. */
    retry_delays: PropTypes.arrayOf(PropTypes.number),

    /** Read-only: `{state, loaded, total, n_files, n_done, n_errors, files}` of the files listed; `state` is "uploading", "paused", "error", "done" or "cancelled"; `files` has one entry per file. */
    status: PropTypes.exact({
        /** "uploading" while any file is sent, else "paused" while any is paused, else "error" if any failed, else "done" (or "cancelled" when every file was cancelled). */
        state: PropTypes.oneOf(['uploading', 'paused', 'error', 'done', 'cancelled']),
        /** Bytes sent so far, over the files not cancelled or refused. */
        loaded: PropTypes.number,
        /** Bytes to send in all, over the files not cancelled or refused. */
        total: PropTypes.number,
        /** Number of files listed. */
        n_files: PropTypes.number,
        /** Number of files uploaded. */
        n_done: PropTypes.number,
        /** Number of files that failed or were refused. */
        n_errors: PropTypes.number,
        /** One entry per file listed. */
        files: PropTypes.arrayOf(
            PropTypes.exact({
                /** File name. */
                name: PropTypes.string,
                /** Path inside the chosen folder (`directory`), else None. */
                relative_path: PropTypes.string,
                /** File size in bytes. */
                size: PropTypes.number,
                /** MIME type the browser gave, else None. */
                type: PropTypes.string,
                /** "uploading", "paused", "done", "error" or "cancelled". */
                state: PropTypes.oneOf(['uploading', 'paused', 'done', 'error', 'cancelled']),
                /** Bytes sent so far (on resume, from the offset the server has). */
                loaded: PropTypes.number,
                /** Bytes to send (the file size). */
                total: PropTypes.number,
                /** Bytes per second over the last seconds while uploading, else None. */
                speed: PropTypes.number,
                /** HTTP status of the answer that failed, else None (refused before sending, or a network failure). */
                http_code: PropTypes.number,
                /** Why the file failed or was refused (the server's JSON `error` when it sent one), else None. */
                message: PropTypes.string,
                /** Address of the cache item the upload became (the `Cached-Address` header), else None. */
                address: PropTypes.string,
            })
        ),
    }),

    /** Read-only: set once when every file of a selection has finished, to its completed uploads, each `{uid, address, name, size, type, relative_path, last_modified}` (never a file twice; not set when none completed). */
    files: PropTypes.arrayOf(
        PropTypes.exact({
            /** Uid of the cache item, from `address`; None when the server sent no address. */
            uid: PropTypes.string,
            /** Address of the cache item (the `Cached-Address` header of the server); None when the server sent none. */
            address: PropTypes.string,
            /** File name. */
            name: PropTypes.string,
            /** File size in bytes. */
            size: PropTypes.number,
            /** MIME type the browser gave, else None. */
            type: PropTypes.string,
            /** Path inside the chosen folder (`directory`), else None. */
            relative_path: PropTypes.string,
            /** Modification time of the file, in milliseconds since the epoch. */
            last_modified: PropTypes.number,
        })
    ),

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
