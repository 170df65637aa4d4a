/*
 * Implementation of CachedImage (loaded on demand as `async-CachedImage.js`).
 *
 * The `<img>` loads the address itself, so the browser streams, caches and
 * revalidates it (ETag) as for any image, and no copy is made in page memory
 * and no object URL is created. `<img>` error events carry no HTTP status,
 * so on error one HEAD request finds it out (404 for an expired address).
 */
import React, {useEffect, useLayoutEffect, useRef, useState} from 'react';
import {probe} from '../utils/address.js';
import {loadingAttributes, useIsLoading} from '../utils/loading.js';

function statusOf(state, src, extra = {}) {
    return {
        state,
        http_code: null,
        natural_width: null,
        natural_height: null,
        src,
        ...extra,
    };
}

/** HTTP status of a finished image load, when the browser tells it. */
function loadedHttpCode(img) {
    const perf = window.performance;
    if (perf && typeof perf.getEntriesByName === 'function') {
        const entries = perf.getEntriesByName(img.currentSrc || img.src, 'resource');
        const last = entries[entries.length - 1];
        if (last && typeof last.responseStatus === 'number' && last.responseStatus > 0) {
            // 304 revalidations are served from cache: report what was shown.
            return last.responseStatus === 304 ? 200 : last.responseStatus;
        }
    }
    return 200;
}

export default function CachedImage(props) {
    const {
        id,
        src = null,
        alt = '',
        title,
        className,
        style,
        fallback = null,
        loading_state,
        setProps,
    } = props;
    const isLoading = useIsLoading(loading_state);
    // `failedSrc` is the src whose load failed; any other src is shown.
    const [failedSrc, setFailedSrc] = useState(null);
    const current = useRef({src: null, settled: false});
    const mounted = useRef(true);
    const aborter = useRef(null);

    useEffect(() => {
        mounted.current = true;
        return () => {
            mounted.current = false;
            if (aborter.current) {
                aborter.current.abort();
            }
        };
    }, []);

    const report = (forSrc, status) => {
        if (mounted.current && current.current.src === forSrc && setProps) {
            setProps({status});
        }
    };

    // A layout effect runs before the browser can fire load/error for the new
    // element, so "loading" is always reported before the outcome.
    useLayoutEffect(() => {
        current.current = {src, settled: false};
        if (aborter.current) {
            aborter.current.abort();
            aborter.current = null;
        }
        if (src) {
            report(src, statusOf('loading', src));
        }
        // Once per src: `report` changes every render but only reads refs
        // and `setProps`.
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [src]);

    const onLoad = event => {
        const img = event.currentTarget;
        if (current.current.src !== src || current.current.settled) {
            return;
        }
        current.current.settled = true;
        report(
            src,
            statusOf('loaded', src, {
                http_code: loadedHttpCode(img),
                natural_width: img.naturalWidth,
                natural_height: img.naturalHeight,
            })
        );
    };

    const onError = () => {
        if (current.current.src !== src || current.current.settled) {
            return;
        }
        current.current.settled = true;
        setFailedSrc(src);
        const controller = new AbortController();
        aborter.current = controller;
        probe(src, {signal: controller.signal}).then(result => {
            if (controller.signal.aborted) {
                return;
            }
            // A 2xx answer means the bytes are there but are no image.
            report(src, statusOf('error', src, {http_code: result.status}));
        });
    };

    const common = {
        id,
        className,
        style,
        title,
        ...loadingAttributes(isLoading),
    };

    if (src && failedSrc === src) {
        const shown = fallback === null || fallback === undefined ? alt || null : fallback;
        return (
            <div {...common} role="img" aria-label={alt || undefined} data-state="error">
                {shown}
            </div>
        );
    }

    return (
        <img
            key={src || ''}
            {...common}
            src={src || undefined}
            alt={alt}
            data-state={src ? undefined : 'empty'}
            onLoad={onLoad}
            onError={onError}
        />
    );
}
