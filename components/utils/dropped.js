/*
 * The files of a drop, with each file's path inside a dropped folder.
 *
 * A drop's `DataTransfer.files` lists a dropped folder as one empty "file";
 * its content is only reachable through the entries API
 * (`item.webkitGetAsEntry()`), which must be read during the drop event:
 * the entries are taken synchronously here, then walked.
 */

function fileOf(entry) {
    return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readBatch(reader) {
    return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

/** Append the files under `entry` to `out` as `{file, relativePath}`. */
async function walk(entry, out) {
    if (entry.isFile) {
        const file = await fileOf(entry);
        out.push({file, relativePath: entry.fullPath.replace(/^\/+/, '')});
        return;
    }
    if (entry.isDirectory) {
        const reader = entry.createReader();
        // readEntries gives at most ~100 entries per call: read until empty.
        for (let batch = await readBatch(reader); batch.length; batch = await readBatch(reader)) {
            for (const child of batch) {
                await walk(child, out);
            }
        }
    }
}

/**
 * `[{file, relativePath}]` of a drop. With `directory`, dropped folders are
 * walked (relative paths like the picker's `webkitRelativePath`); without it
 * they are left out, and loose files have no relative path.
 */
export function droppedItems(dataTransfer, {directory = false} = {}) {
    // Items of kind "file" are in the order of `files`.
    const items = Array.from((dataTransfer && dataTransfer.items) || []).filter(
        item => item.kind === 'file'
    );
    const entries = items.map(item =>
        typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null
    );
    const files = Array.from((dataTransfer && dataTransfer.files) || []);
    if (!entries.some(Boolean)) {
        return Promise.resolve(files.map(file => ({file, relativePath: null})));
    }
    if (!directory) {
        const loose = entries
            .map((entry, i) => (entry && entry.isFile ? files[i] : null))
            .filter(Boolean);
        return Promise.resolve(loose.map(file => ({file, relativePath: null})));
    }
    return (async () => {
        const out = [];
        for (const entry of entries) {
            if (entry) {
                await walk(entry, out);
            }
        }
        return out;
    })();
}
