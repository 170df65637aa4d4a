/*
 * Implementation of CachedUpload (loaded on demand as `async-CachedUpload.js`,
 * with tus-js-client in the same chunk).
 *
 * The uploads themselves are `UploadManager`'s (`../utils/uploadmanager.js`);
 * this component takes files from the picker or a drop, shows one row per
 * file with its progress and buttons, and hands the manager's reports to
 * Dash. tus-js-client reads each File in slices (`chunk_size`), so a large
 * file never sits whole in page memory.
 */
import React, {useEffect, useLayoutEffect, useRef, useState} from 'react';
import {Upload} from 'tus-js-client';
import {droppedItems} from '../utils/dropped.js';
import {loadingAttributes, useIsLoading} from '../utils/loading.js';
import {formatBytes, relativePathOf} from '../utils/upload.js';
import {UploadManager} from '../utils/uploadmanager.js';

const STYLE_ID = 'dfc-upload-styles';

// Default look, with zero specificity (`:where`): any CSS of the app wins.
// In a narrow container (a half-width panel, a phone) a row takes two lines: the bar under
// the name. The media query is for browsers without container queries.
const CSS = `
:where(.dfc-upload-zone){display:flex;align-items:center;justify-content:center;min-height:72px;padding:16px;box-sizing:border-box;border:2px dashed #b4bac4;border-radius:8px;background:#fafbfc;color:#3c4350;text-align:center;cursor:pointer;transition:border-color .15s,background .15s}
:where(.dfc-upload-zone:hover),:where(.dfc-upload-zone[data-dragging="true"]){border-color:#2f6fde;background:#f0f5ff}
:where(.dfc-upload-zone:focus-visible){outline:2px solid #2f6fde;outline-offset:2px}
:where(.dfc-upload-zone[aria-disabled="true"]){cursor:not-allowed;opacity:.55}
:where(.dfc-upload-input){position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
:where(.dfc-upload-list){list-style:none;margin:8px 0 0;padding:0;container-type:inline-size}
:where(.dfc-upload-file){display:grid;grid-template-columns:minmax(0,1fr) 5.5em minmax(80px,180px) 11em 12em;align-items:center;gap:12px;padding:6px 4px;border-bottom:1px solid #eceef1;font-size:14px}
:where(.dfc-upload-name){overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
:where(.dfc-upload-size),:where(.dfc-upload-info){color:#5f6672;font-size:13px;font-variant-numeric:tabular-nums;white-space:nowrap}
:where(.dfc-upload-size){text-align:right}
:where(.dfc-upload-file[data-state="error"]) .dfc-upload-info{grid-column:span 2;color:#b42318;white-space:normal}
:where(.dfc-upload-file[data-state="done"]) .dfc-upload-info{color:#1a7f37}
:where(.dfc-upload-bar){width:100%;height:8px;accent-color:#2f6fde}
:where(.dfc-upload-file[data-state="done"]) .dfc-upload-bar{accent-color:#1a7f37}
:where(.dfc-upload-actions){display:flex;gap:4px;justify-content:flex-end}
:where(.dfc-upload-file[data-state="error"]) .dfc-upload-actions:empty{display:none}
:where(.dfc-upload-actions button){padding:2px 8px;font:inherit;font-size:12px;color:#3c4350;border:1px solid #c6cbd3;border-radius:4px;background:#fff;cursor:pointer}
:where(.dfc-upload-actions button:hover){background:#f2f4f7}
@media (max-width: 600px){:where(.dfc-upload-file){grid-template-columns:minmax(0,1fr) auto;gap:4px 12px}:where(.dfc-upload-bar){grid-column:1 / -1}}
@container (max-width: 680px){:where(.dfc-upload-file){grid-template-columns:minmax(0,1fr) auto;gap:4px 12px}:where(.dfc-upload-bar){grid-column:1 / -1}}
`;

/** Add the default stylesheet to the page once. */
function ensureStyles() {
    if (typeof document === 'undefined' || document.getElementById(STYLE_ID)) {
        return;
    }
    const style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
}

const STATE_TEXT = {cancelled: 'Cancelled', done: 'Done'};

// The buttons of a row, by its state: each calls the manager's method of that name.
const ACTIONS = {uploading: ['pause', 'cancel'], paused: ['resume', 'cancel']};
const ACTION_TEXT = {pause: 'Pause', resume: 'Resume', cancel: 'Cancel'};

function infoText(row) {
    const size = row.file.size;
    const percent = size > 0 ? Math.floor((row.loaded * 100) / size) : 0;
    if (row.state === 'uploading') {
        const speed = row.speed === null ? '' : ` · ${formatBytes(row.speed)}/s`;
        return `${percent}%${speed}`;
    }
    if (row.state === 'paused') {
        return `Paused at ${percent}%`;
    }
    if (row.state === 'error') {
        return row.httpCode ? `${row.message} (HTTP ${row.httpCode})` : row.message;
    }
    return STATE_TEXT[row.state] || row.state;
}

function FileRow({row, manager}) {
    const label = row.relativePath || row.file.name;
    const size = row.file.size;
    return (
        <li className="dfc-upload-file" data-state={row.state}>
            <span className="dfc-upload-name" title={label}>
                {label}
            </span>
            <span className="dfc-upload-size">{formatBytes(size)}</span>
            <progress
                className="dfc-upload-bar"
                max={size > 0 ? size : 1}
                value={size > 0 ? row.loaded : Number(row.state === 'done')}
                aria-label={`Upload of ${label}`}
            />
            <span className="dfc-upload-info" role={row.state === 'error' ? 'alert' : undefined}>
                {infoText(row)}
            </span>
            <span className="dfc-upload-actions">
                {(ACTIONS[row.state] || []).map(action => (
                    <button
                        key={action}
                        type="button"
                        className={`dfc-upload-${action}`}
                        aria-label={`${ACTION_TEXT[action]} ${label}`}
                        onClick={() => manager[action](row.key)}
                    >
                        {ACTION_TEXT[action]}
                    </button>
                ))}
            </span>
        </li>
    );
}

const DEFAULT_CHILDREN = (
    <span>
        Drag and drop files here, or <u>choose files</u>
    </span>
);

export default function CachedUpload(props) {
    const {
        id,
        children,
        multiple = false,
        directory = false,
        accept,
        disabled = false,
        className,
        style,
        loading_state,
    } = props;
    const isLoading = useIsLoading(loading_state);
    const [rows, setRows] = useState([]);
    const [dragging, setDragging] = useState(false);
    const input = useRef(null);

    const [manager] = useState(
        () => new UploadManager({Upload, base: window.location.href, onView: setRows})
    );
    // The latest props: options of the next uploads, and `setProps` for reports.
    useLayoutEffect(() => {
        manager.configure(props);
    });

    useEffect(() => {
        ensureStyles();
        // Unmount: stop sending; the server keeps the partial data for a resume.
        return () => manager.close();
    }, [manager]);

    // `webkitdirectory` is no React attribute: set it on the element.
    useEffect(() => {
        if (input.current) {
            input.current.webkitdirectory = Boolean(directory);
        }
    }, [directory]);

    const take = items => {
        if (disabled || !items.length) {
            return;
        }
        manager.add(multiple || directory ? items : items.slice(0, 1));
    };

    const openPicker = () => {
        if (!disabled && input.current) {
            input.current.click();
        }
    };

    const onChange = event => {
        const chosen = Array.from(event.target.files || []).map(file => ({
            file,
            relativePath: relativePathOf(file),
        }));
        // Choosing the same file again must fire `change` again.
        event.target.value = '';
        take(chosen);
    };

    const onKeyDown = event => {
        if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            openPicker();
        }
    };

    const onDragOver = event => {
        event.preventDefault();
        if (event.dataTransfer) {
            event.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
        }
        if (!disabled && !dragging) {
            setDragging(true);
        }
    };

    const onDragLeave = event => {
        if (!event.currentTarget.contains(event.relatedTarget)) {
            setDragging(false);
        }
    };

    const onDrop = event => {
        event.preventDefault();
        setDragging(false);
        if (disabled) {
            return;
        }
        droppedItems(event.dataTransfer, {directory}).then(take, () => {});
    };

    const shown = children === undefined || children === null ? DEFAULT_CHILDREN : children;

    return (
        <div
            id={id}
            className={className ? `dfc-upload ${className}` : 'dfc-upload'}
            style={style}
            {...loadingAttributes(isLoading)}
        >
            <div
                className="dfc-upload-zone"
                role="button"
                tabIndex={disabled ? -1 : 0}
                aria-disabled={disabled ? 'true' : 'false'}
                aria-label={directory ? 'Choose a folder to upload' : 'Choose files to upload'}
                data-dragging={dragging ? 'true' : 'false'}
                onClick={openPicker}
                onKeyDown={onKeyDown}
                onDragOver={onDragOver}
                onDragEnter={onDragOver}
                onDragLeave={onDragLeave}
                onDrop={onDrop}
            >
                {shown}
            </div>
            <input
                ref={input}
                type="file"
                className="dfc-upload-input"
                multiple={Boolean(multiple || directory)}
                accept={Array.isArray(accept) ? accept.join(',') : accept || undefined}
                disabled={disabled}
                tabIndex={-1}
                aria-hidden="true"
                onChange={onChange}
            />
            {rows.length ? (
                <ul className="dfc-upload-list" aria-live="polite">
                    {rows.map(row => (
                        <FileRow key={row.key} row={row} manager={manager} />
                    ))}
                </ul>
            ) : null}
        </div>
    );
}
