"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.requireTool = requireTool;
exports.requireNetns = requireNetns;
/**
 * Checks that the real peers (sipp, baresip, unshare, ip) are installed, so a missing tool fails
 * the test with an actionable message. Must never skip a test silently.
 */
const node_child_process_1 = require("node:child_process");
const INSTALL_HINT = {
    sipp: 'Debian package sip-tester',
    baresip: 'Debian package baresip-core',
    unshare: 'Debian package util-linux',
    ip: 'Debian package iproute2',
};
/** Absolute path of `tool` on PATH, or throws an Error that says scripts/test should install it. */
function requireTool(tool) {
    const res = (0, node_child_process_1.spawnSync)('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    const path = res.stdout.trim();
    if (res.status !== 0 || path === '') {
        const hint = INSTALL_HINT[tool] ?? 'its Debian package';
        throw new Error(`${tool} is not installed: scripts/test should have installed it (${hint})`);
    }
    return path;
}
/** True when this process may create network namespaces (root, or unshare -n works). */
function requireNetns() {
    requireTool('unshare');
    requireTool('ip');
    const res = (0, node_child_process_1.spawnSync)('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    if (res.status !== 0) {
        throw new Error(`unshare -n does not work here (${res.stderr.trim()}): the baresip tests need root ` +
            'or user namespaces; scripts/test runs them as root');
    }
}
//# sourceMappingURL=tools.js.map