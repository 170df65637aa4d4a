/* Unit tests of components/utils/legacy.js: 0.2.0's Downloader props on CachedDownload's. */
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';

import {legacyStatus, legacyUpdate, legacyUrl} from '../../components/utils/legacy.js';

describe('legacyUrl', () => {
    test('a string is the address', () => {
        assert.deepEqual(legacyUrl('/cached-data?uid=a'), {
            url: '/cached-data?uid=a',
            fallback: null,
            valid: true,
        });
    });

    test('a {url, file_name_fallback} object', () => {
        const parsed = legacyUrl({url: '/x', file_name_fallback: 'f.bin'});
        assert.deepEqual(parsed, {url: '/x', fallback: 'f.bin', valid: true});
        assert.equal(legacyUrl({url: '/x', file_name_fallback: ''}).fallback, null);
    });

    test('nothing is no download; anything else is malformed', () => {
        assert.equal(legacyUrl(null).valid, true);
        assert.equal(legacyUrl(undefined).url, null);
        for (const bad of [3, {file_name_fallback: 'x'}, {url: 5}, ['/x']]) {
            assert.deepEqual(legacyUrl(bad), {url: null, fallback: null, valid: false});
        }
    });
});

describe('legacyStatus', () => {
    test('reports only the end', () => {
        assert.equal(legacyStatus({state: 'started', http_code: null}), null);
        assert.equal(legacyStatus(null), null);
    });

    test('maps outcomes to 0.2.0 codes', () => {
        assert.deepEqual(legacyStatus({state: 'done', http_code: 200}), {
            code: 'success',
            http_code: 200,
        });
        assert.deepEqual(legacyStatus({state: 'error', http_code: 404}), {
            code: 'error-connect',
            http_code: 404,
        });
        assert.deepEqual(legacyStatus({state: 'error', http_code: null}), {
            code: 'error-connect',
            http_code: 0,
        });
        assert.deepEqual(legacyStatus({state: 'error', http_code: 200}), {
            code: 'error-io',
            http_code: 200,
        });
        assert.equal(legacyStatus({state: 'weird'}).code, 'error-unknown');
    });
});

describe('legacyUpdate', () => {
    test('consumes url to "" and drops new props', () => {
        assert.deepEqual(legacyUpdate({url: null}), {url: ''});
        assert.deepEqual(legacyUpdate({n_downloads: 3}), {});
        assert.deepEqual(legacyUpdate({status: {state: 'started'}}), {});
        assert.deepEqual(legacyUpdate({status: {state: 'done', http_code: 206}, n_downloads: 1}), {
            status: {code: 'success', http_code: 206},
        });
    });
});
