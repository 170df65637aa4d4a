// Uppy (core + its tus plugin) for tests/browser/test_uppy.py: an independent tus client
// in the page, bundled by tests/js/uppy.webpack.config.mjs when that test runs.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

globalThis.Uppy = Uppy;
globalThis.UppyTus = Tus;
