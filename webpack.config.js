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
 * - Ids, names and the minifier settings are fixed so that the same sources
 *   and lockfile always give byte-identical output (tests check that the
 *   committed bundle is up to date).
 */
const path = require('path');

const dashLibraryName = 'dash_file_cache';

module.exports = (env, argv) => {
    const mode = (argv && argv.mode) || 'production';
    return {
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
        module: {
            rules: [
                {
                    test: /\.jsx?$/,
                    include: path.resolve(__dirname, 'components'),
                    use: {loader: 'babel-loader', options: {cacheDirectory: false}},
                },
            ],
        },
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
};
