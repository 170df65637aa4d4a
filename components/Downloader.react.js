/*
 * Downloader: dash-file-cache 0.2.0's streamed download component, kept for
 * apps written for 0.2.0. It runs on CachedDownload in "stream" mode (custom
 * headers, bytes streamed to disk); no third-party page or script is used.
 */
import React, {useCallback, useEffect} from 'react';
import PropTypes from 'prop-types';
import CachedDownload from './CachedDownload.react.js';
import {legacyUpdate, legacyUrl} from './utils/legacy.js';

/**
 * Deprecated (kept from dash-file-cache 0.2.0): use `CachedDownload(mode="stream")`. Downloads the address set in `url` (a string, or `{url, file_name_fallback}`: the name used when the answer gives none), sending `headers`, and reports how it ended in `status` (`{code, http_code}`). Runs on `CachedDownload` in stream mode; `mitm` and `allow_cross_origin` are accepted and not needed (cross-origin addresses work when their server allows CORS).
 */
export default function Downloader(props) {
    const {id, url, headers, setProps, loading_state} = props;
    const parsed = legacyUrl(url);
    const forward = useCallback(
        update => {
            const translated = legacyUpdate(update);
            if (setProps && Object.keys(translated).length) {
                setProps(translated);
            }
        },
        [setProps]
    );
    const malformed = !parsed.valid;
    useEffect(() => {
        if (malformed && setProps) {
            setProps({url: '', status: {code: 'error-config', http_code: 0}});
        }
    }, [url, malformed, setProps]);
    return (
        <CachedDownload
            id={id}
            url={parsed.url || null}
            file_name_fallback={parsed.fallback || undefined}
            mode="stream"
            headers={headers || undefined}
            setProps={forward}
            loading_state={loading_state}
        />
    );
}

Downloader.propTypes = {
    /** The ID used to identify this component in Dash callbacks. */
    id: PropTypes.string,

    /** The address to download: a string, or `{url, file_name_fallback}`. Each new value starts one download; it is then reset to "". */
    url: PropTypes.oneOfType([
        PropTypes.string,
        PropTypes.exact({
            /** The address to download. */
            url: PropTypes.string.isRequired,
            /** Name for the saved file when the answer gives none (no `Content-Disposition` file name); else the answer's name is kept. */
            file_name_fallback: PropTypes.string,
        }),
    ]),

    /** Extra request headers (e.g. authentication) sent with the download. */
    headers: PropTypes.objectOf(PropTypes.string),

    /** Accepted for 0.2.0 apps; not needed: a cross-origin address downloads when its server allows CORS. */
    allow_cross_origin: PropTypes.bool,

    /** Accepted for 0.2.0 apps and ignored: no man-in-the-middle page is used any more. */
    mitm: PropTypes.string,

    /** Read-only: how the latest download ended, `{code, http_code}`; `code` is "success", "error-connect" (no answer or an HTTP error), "error-config" (a malformed `url`), "error-io" (the transfer broke off) or "error-unknown". */
    status: PropTypes.exact({
        /** "success", "error-connect", "error-config", "error-io" or "error-unknown". */
        code: PropTypes.oneOf([
            'success',
            'error-connect',
            'error-config',
            'error-io',
            'error-unknown',
        ]),
        /** The HTTP status of the answer, 0 when there was none. */
        http_code: PropTypes.number,
    }),

    /** Object that holds the loading state object coming from dash-renderer. */
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
