/*
 * Loading state as core components report it.
 *
 * Dash >= 3 keeps loading state in its store and exposes it through
 * `window.dash_component_api.useDashContext().useLoading()`; Dash 2 passes a
 * `loading_state` prop. Either way the root element gets
 * `data-dash-is-loading`, which `dcc.Loading` and CSS can use.
 */

export function useIsLoading(loadingState) {
    const api = window.dash_component_api;
    let fromContext = false;
    // The API is there (or not) for the whole life of the page, so the hooks
    // below are called in the same order on every render.
    if (api && typeof api.useDashContext === 'function') {
        const ctx = api.useDashContext();
        if (ctx && typeof ctx.useLoading === 'function') {
            fromContext = ctx.useLoading();
        }
    }
    return Boolean(fromContext || (loadingState && loadingState.is_loading));
}

/** Props to spread on a component's root element. */
export function loadingAttributes(isLoading) {
    return isLoading ? {'data-dash-is-loading': true} : {};
}
