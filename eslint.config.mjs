// ESLint flat config for the components' sources, their tests and the build
// config. Formatting is prettier's job (`npm run lint` runs both).
import js from '@eslint/js';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default [
    // `npm run lint` names what to lint; these only guard a bare `npx eslint .`.
    {
        ignores: ['dash_file_cache/**', '.venv/**', 'build/**', 'dist/**', '.cache-*/**'],
    },
    js.configs.recommended,
    {
        files: ['components/**/*.js'],
        ...react.configs.flat.recommended,
        languageOptions: {
            ...react.configs.flat.recommended.languageOptions,
            ecmaVersion: 2022,
            sourceType: 'module',
            globals: globals.browser,
        },
        plugins: {react, 'react-hooks': reactHooks},
        settings: {react: {version: '18'}},
        rules: {
            ...react.configs.flat.recommended.rules,
            ...reactHooks.configs.recommended.rules,
            // Props are checked by the PropTypes of the wrappers in components/.
            'react/prop-types': 'off',
        },
    },
    {
        // The stream mode's service worker runs in a worker, not a page.
        files: ['components/stream-worker.js'],
        languageOptions: {globals: globals.serviceworker},
    },
    {
        files: ['tests/js/**/*.mjs', 'eslint.config.mjs'],
        languageOptions: {ecmaVersion: 2022, sourceType: 'module', globals: globals.node},
    },
    {
        files: ['webpack.config.js'],
        languageOptions: {ecmaVersion: 2022, sourceType: 'commonjs', globals: globals.node},
    },
];
