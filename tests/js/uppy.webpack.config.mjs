// Bundles tests/js/uppy-entry.mjs into one script for a plain test page (see that file).
// The output folder is given on the command line (--output-path).
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export default {
    mode: 'development',
    devtool: false,
    entry: path.join(here, 'uppy-entry.mjs'),
    output: {filename: 'uppy.js'},
    performance: {hints: false},
};
