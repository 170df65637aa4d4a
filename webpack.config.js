/*
 * Bundles components/ into dash_file_cache/components/ for Dash.
 *
 * - The main bundle exposes `window.dash_file_cache` (Dash looks components up
 *   by namespace on `window`). React, ReactDOM and PropTypes come from Dash.
 * - Each component's implementation is a lazily loaded chunk
 *   (`async-<Name>.js`). `publicPath: 'auto'` makes webpack load the chunks
 *   from the folder the main bundle was served from, i.e.
 *   `<prefix>/_dash-component-suites/dash_file_cache/components/`, whatever
 *   the app's `requests_pathname_prefix` and Dash's fingerprinting.
 * - A second build makes `stream-worker.js`, the service worker of
 *   CachedDownload's stream mode: one self-contained classic script (no
 *   chunks, no library export), served next to the bundle so that its scope
 *   is that folder.
 * - Ids, names and the minifier settings are fixed so that the same sources
 *   and lockfile always give byte-identical output (tests check that the
 *   committed bundle is up to date).
 */
const path = require('path');

const dashLibraryName = 'dash_file_cache';

const babelRules = [
    {
        test: /\.jsx?$/,
        include: path.resolve(__dirname, 'components'),
        use: {loader: 'babel-loader', options: {cacheDirectory: false}},
    },
];

/** The stream mode's service worker script. */
const workerConfig = mode => ({
    name: 'stream-worker',
    mode,
    target: 'webworker',
    entry: {'stream-worker': './components/stream-worker.js'},
    output: {
        path: path.resolve(__dirname, dashLibraryName, 'components'),
        filename: 'stream-worker.js',
        publicPath: '',
        uniqueName: `${dashLibraryName}_stream_worker`,
        hashFunction: 'xxhash64',
        clean: false,
    },
    module: {rules: babelRules},
    resolve: {extensions: ['.js'], symlinks: false},
    resolveLoader: {symlinks: false},
    devtool: false,
    optimization: {moduleIds: 'deterministic', minimize: mode === 'production'},
    performance: {hints: false},
    stats: 'errors-warnings',
});

module.exports = (env, argv) => {
    const mode = (argv && argv.mode) || 'production';
    const main = {
        name: 'main',
        mode,
        entry: {main: './components/index.js'},
        output: {
            path: path.resolve(__dirname, dashLibraryName, 'components'),
            filename: `${dashLibraryName}.min.js`,
            chunkFilename: 'async-[name].js',
            publicPath: 'auto',
            uniqueName: dashLibraryName,
            library: {name: dashLibraryName, type: 'window'},
            hashFunction: 'xxhash64',
            clean: false,
        },
        externals: {
            react: 'React',
            'react-dom': 'ReactDOM',
            'prop-types': 'PropTypes',
        },
        module: {rules: babelRules},
        // Keep symlinked node_modules paths as they are: module ids hash
        // request paths (loaders included), so a build in a scratch copy with
        // node_modules linked in must see the same relative paths.
        resolve: {extensions: ['.js', '.jsx'], symlinks: false},
        resolveLoader: {symlinks: false},
        devtool: 'source-map',
        optimization: {
            moduleIds: 'deterministic',
            chunkIds: 'named',
            splitChunks: false,
            minimize: mode === 'production',
        },
        performance: {hints: false},
        stats: 'errors-warnings',
    };
    return [main, workerConfig(mode)];
};
