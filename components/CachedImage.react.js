/*
 * CachedImage: show an image from a dash-file-cache address. Use it instead of
 * `html.Img` when the address can expire (evicted, removed or one-time items)
 * or when callbacks need to know whether and how the image loaded.
 */
import React, {Suspense, lazy} from 'react';
import PropTypes from 'prop-types';

const RealCachedImage = lazy(
    () => import(/* webpackChunkName: "CachedImage" */ './fragments/CachedImage.react.js')
);

/**
 * An image shown from a dash-file-cache address: the browser streams it from the server, not through callback JSON. Use it instead of `html.Img` when the address may expire (evicted, removed or one-time items): it reports `status` (loading, loaded with the natural size, or error with the HTTP code found by a HEAD request) and shows `fallback` instead of a broken-image icon.
 */
export default function CachedImage(props) {
    return (
        <Suspense fallback={null}>
            <RealCachedImage {...props} />
        </Suspense>
    );
}

CachedImage.propTypes = {
    /** The ID used to identify this component in Dash callbacks. */
    id: PropTypes.string,

    /** Address of the image, as returned by `ServiceData.register` (or any URL). */
    src: PropTypes.string,

    /** Alternative text of the image (default empty), also shown when it fails and no `fallback` is given. */
    alt: PropTypes.string,

    /** Tooltip text of the image (the `title` attribute). */
    title: PropTypes.string,

    /** CSS classes of the image, or of the fallback box when the image failed. */
    className: PropTypes.string,

    /** Inline style of the image, or of the fallback box when the image failed. */
    style: PropTypes.object,

    /** What to show instead of the image when it cannot be loaded (text or components). */
    fallback: PropTypes.node,

    /** Read-only: `{state: "loading" | "loaded" | "error", http_code, natural_width, natural_height, src}` of the current `src`. */
    status: PropTypes.exact({
        /** "loading", "loaded" or "error". */
        state: PropTypes.oneOf(['loading', 'loaded', 'error']),
        /** HTTP status of the address (from a HEAD request on error), or None when unknown. */
        http_code: PropTypes.number,
        /** Natural width of the loaded image in pixels, else None. */
        natural_width: PropTypes.number,
        /** Natural height of the loaded image in pixels, else None. */
        natural_height: PropTypes.number,
        /** The `src` this status is about. */
        src: PropTypes.string,
    }),

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
