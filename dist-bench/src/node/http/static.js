"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.StaticFiles = void 0;
/**
 * Serves the browser pages from one directory: `/` is index.html, `/admin` is admin.html, other
 * files by name. A URL can never name a file outside that directory (no '..', no dotfiles, no
 * symlink escapes) and nothing is ever written.
 */
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
const CONTENT_TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.ico': 'image/x-icon',
    '.txt': 'text/plain; charset=utf-8',
};
const ALIASES = { '/': 'index.html', '/admin': 'admin.html' };
/** One path segment: no leading dot (so no '.', '..' or dotfiles), no separators or escapes. */
const SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
const MAX_FILE_BYTES = 8 * 1024 * 1024;
class StaticFiles {
    dir;
    root;
    constructor(dir) {
        this.dir = dir;
    }
    /** The file for a URL path (already without its query), or undefined for "not found". */
    async lookup(urlPath) {
        const rel = ALIASES[urlPath] ?? urlPath.slice(1);
        const segments = rel.split('/');
        if (segments.length > 8 || !segments.every((s) => SEGMENT_RE.test(s)))
            return undefined;
        const root = await this.realRoot();
        if (root === undefined)
            return undefined;
        try {
            // realpath resolves symlinks: the file must still be inside the root afterwards.
            const real = await node_fs_1.promises.realpath((0, node_path_1.join)(root, ...segments));
            if (!real.startsWith(root + node_path_1.sep))
                return undefined;
            const st = await node_fs_1.promises.stat(real);
            if (!st.isFile() || st.size > MAX_FILE_BYTES)
                return undefined;
            return { body: await node_fs_1.promises.readFile(real), contentType: CONTENT_TYPES[(0, node_path_1.extname)(real).toLowerCase()] ?? 'application/octet-stream' };
        }
        catch {
            return undefined;
        }
    }
    /** Resolved once found; a directory missing at start may appear later (not cached). */
    realRoot() {
        this.root ??= node_fs_1.promises.realpath(this.dir).catch(() => {
            this.root = undefined;
            return undefined;
        });
        return this.root;
    }
}
exports.StaticFiles = StaticFiles;
//# sourceMappingURL=static.js.map