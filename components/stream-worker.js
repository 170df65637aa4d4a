/*
 * The service worker of CachedDownload's stream mode, built into
 * `dash_file_cache/components/stream-worker.js` and served by Dash from the
 * component suite (same origin as the app). Its scope is that folder; it
 * answers only the synthetic download URLs the page opens there (see
 * `utils/streamworker.js`) and leaves every other request alone.
 */
import {PING, createStreamRegistry, reusesChunks} from './utils/streamworker.js';

const registry = createStreamRegistry(self.registration.scope, {reuseBuffer: reusesChunks()});

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', event => event.waitUntil(self.clients.claim()));

self.addEventListener('message', event => {
    if (event.data && event.data.type === PING) {
        return;
    }
    registry.open(event.data, event.ports && event.ports[0]);
});

self.addEventListener('fetch', event => {
    const response = registry.respond(event.request.url);
    if (response) {
        event.respondWith(response);
    }
});
