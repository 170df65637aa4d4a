/*
 * Where the bundle was served from, and so the stream mode's service worker:
 * webpack's public path is `auto`, i.e. the folder of the main bundle
 * (`<prefix>/_dash-component-suites/dash_file_cache/components/`), whatever
 * the app's path prefix. Only meaningful inside the webpack bundle.
 */
/* global __webpack_public_path__ */

/** File name of the stream worker, next to the bundle (see webpack.config.js). */
export const STREAM_WORKER_FILE = 'stream-worker.js';

/** Absolute URL of the stream mode's service worker script. */
export function streamWorkerUrl() {
    return new URL(STREAM_WORKER_FILE, new URL(__webpack_public_path__, window.location.href)).href;
}
