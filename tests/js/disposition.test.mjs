/*
 * fileNameFromDisposition against RFC 6266 (Content-Disposition) and RFC
 * 5987/8187 (ext-value) cases, including the headers dash-file-cache's own
 * service sends (dash_file_cache/services/http.py).
 */
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';

import {fileNameFromDisposition} from '../../components/utils/disposition.js';

const CASES = [
    // [header, expected file name, what the RFC says]
    ['attachment; filename="foo.html"', 'foo.html', 'quoted-string'],
    ['attachment; filename=foo.html', 'foo.html', 'token'],
    ['inline; filename="foo.html"', 'foo.html', 'inline keeps the name'],
    ['attachment; FILENAME="foo.html"', 'foo.html', 'parameter names are case-insensitive'],
    ['ATTACHMENT; filename=foo.html', 'foo.html', 'disposition type is case-insensitive'],
    ['attachment;filename=foo.html', 'foo.html', 'no space after ;'],
    ['attachment; filename = "foo.html"', 'foo.html', 'whitespace around ='],
    ['attachment; foo="bar"; filename="foo.html"', 'foo.html', 'other parameters first'],
    ['attachment; filename="foo.html"; size=42', 'foo.html', 'other parameters after'],
    ['attachment; filename="f\\oo.html"', 'foo.html', 'quoted-pair: \\o is o'],
    ['attachment; filename="\\"quoting\\" tested.html"', '"quoting" tested.html', 'escaped quotes'],
    ['attachment; filename="a\\\\b.txt"', 'a\\b.txt', 'escaped backslash'],
    [
        'attachment; filename="Here\'s a semicolon;.html"',
        "Here's a semicolon;.html",
        '; inside quotes',
    ],
    ['attachment; filename="foo-%41.html"', 'foo-%41.html', 'no percent-decoding in filename'],
    ['attachment; filename="foo-ä.html"', 'foo-ä.html', 'ISO-8859-1 text in a quoted-string'],
    [
        "attachment; filename*=UTF-8''foo-%c3%a4-%e2%82%ac.html",
        'foo-ä-€.html',
        'filename* in UTF-8',
    ],
    ["attachment; filename*=utf-8''foo-%C3%A4.html", 'foo-ä.html', 'charset is case-insensitive'],
    ["attachment; filename*=iso-8859-1''foo-%E4.html", 'foo-ä.html', 'filename* in ISO-8859-1'],
    ["attachment; filename*=UTF-8'en'%E2%82%AC%20rates.txt", '€ rates.txt', 'with a language tag'],
    [
        'attachment; filename="foo-ae.html"; filename*=UTF-8\'\'foo-%c3%a4.html',
        'foo-ä.html',
        'filename* wins over filename',
    ],
    [
        'attachment; filename*=UTF-8\'\'foo-%c3%a4.html; filename="foo-ae.html"',
        'foo-ä.html',
        'filename* wins whatever the order',
    ],
    [
        'attachment; filename*=UTF-8\'\'foo-%c3.html; filename="fallback.html"',
        'fallback.html',
        'invalid UTF-8 in filename*: filename is used',
    ],
    [
        'attachment; filename="fallback.html"; filename*=UTF-8\'\'%E2%82',
        'fallback.html',
        'truncated UTF-8 sequence',
    ],
    [
        'attachment; filename="fallback.html"; filename*=UTF-8\'\'%zz.html',
        'fallback.html',
        'malformed percent-escape',
    ],
    [
        'attachment; filename="fallback.html"; filename*=x-unknown\'\'foo.html',
        'fallback.html',
        'unsupported charset',
    ],
    [
        'attachment; filename="fallback.html"; filename*=foo.html',
        'fallback.html',
        'filename* without charset and language',
    ],
    [
        'attachment; filename="a.html"; filename*="UTF-8\'\'b.html"',
        'a.html',
        'a quoted ext-value is invalid: filename is used',
    ],
    ["attachment; filename*=UTF-8''foo-%c3.html", null, 'only an invalid filename*'],
    ['attachment; filename="foo.html', null, 'unterminated quoted-string'],
    ['attachment', null, 'no parameters'],
    ['inline', null, 'inline without a name'],
    ['attachment; size=42', null, 'no file name parameter'],
    ['attachment; filename=""', null, 'empty name'],
    // What dash_file_cache.services.http.content_disposition sends:
    ['attachment; filename=plain.csv', 'plain.csv', 'service: ASCII token'],
    ['attachment; filename="quo\\"te;semi.txt"', 'quo"te;semi.txt', 'service: quoted with escape'],
    [
        'attachment; filename="naive report.txt"; filename*=UTF-8\'\'na%C3%AFve%20report.txt',
        'naïve report.txt',
        'service: non-ASCII name',
    ],
    [
        'attachment; filename="rates %41.txt"; filename*=UTF-8\'\'%E2%82%AC%20rates%20%2541.txt',
        '€ rates %41.txt',
        'service: a literal % in the name',
    ],
];

describe('fileNameFromDisposition', () => {
    for (const [header, expected, why] of CASES) {
        test(`${why}: ${header}`, () => {
            assert.equal(fileNameFromDisposition(header), expected);
        });
    }

    test('no header gives null', () => {
        assert.equal(fileNameFromDisposition(null), null);
        assert.equal(fileNameFromDisposition(undefined), null);
        assert.equal(fileNameFromDisposition(''), null);
    });
});
