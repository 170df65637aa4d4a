/*
 * PlainDownloader: dash-file-cache 0.2.0's plain download component, kept for
 * apps written for 0.2.0. It runs on CachedDownload in "native" mode: the
 * browser's download manager saves the address.
 */
import React, {useCallback} from 'react';
import PropTypes from 'prop-types';
import CachedDownload from './CachedDownload.react.js';
import {legacyUpdate} from './utils/legacy.js';

/**
 * Deprecated (kept from dash-file-cache 0.2.0): use `CachedDownload` (its default "native" mode). Saves the address set in `url` with the browser's download manager; each new value starts one download, then `url` is reset to "".
 */
export default function PlainDownloader(props) {
    const {id, url, setProps, loading_state} = props;
    const forward = useCallback(
        update => {
            const translated = legacyUpdate(update);
            delete translated.status; // 0.2.0's PlainDownloader has no status
            if (setProps && Object.keys(translated).length) {
                setProps(translated);
            }
        },
        [setProps]
    );
    return (
        <CachedDownload
            id={id}
            url={typeof url === 'string' && url ? url : null}
            mode="native"
            setProps={forward}
            loading_state={loading_state}
        />
    );
}

PlainDownloader.propTypes = {
    /** The address to download. Each new value starts one download; it is then reset to "". */
    url: PropTypes.string,

    /** The ID used to identify this component in Dash callbacks. */
    id: PropTypes.string,

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
