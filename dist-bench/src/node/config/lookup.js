"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.selectNode = selectNode;
exports.findVmrByAlias = findVmrByAlias;
/**
 * Small lookups over a validated ClusterConfig: the node this process runs as, and the VMR a
 * dialled alias names. Never mutates the config.
 */
const common_1 = require("../../common");
function selectNode(cfg, name) {
    const node = cfg.nodes.find((n) => n.name === name);
    if (node)
        return node;
    const known = cfg.nodes.map((n) => n.name).join(', ');
    throw new common_1.ConfnodeError('config', `config error: no node named '${name}' in the config (known nodes: ${known})`);
}
const aliasIndexes = new WeakMap();
function aliasIndex(cfg) {
    let index = aliasIndexes.get(cfg);
    if (!index) {
        index = new Map();
        for (const vmr of cfg.vmrs)
            for (const alias of vmr.aliases)
                index.set(alias.toLowerCase(), vmr);
        aliasIndexes.set(cfg, index);
    }
    return index;
}
/**
 * The VMR for a dialled `user` at `host`: an alias `user@host` wins over a bare `user` alias,
 * both compared case-insensitively (SIP hosts are case-insensitive; we treat users the same way
 * so callers need not guess the case of a room name).
 */
function findVmrByAlias(cfg, user, host) {
    const index = aliasIndex(cfg);
    const bare = user.toLowerCase();
    if (host !== undefined && host !== '') {
        const h = host.toLowerCase();
        // CallInfo gives IPv6 hosts without brackets; an alias is written as in a SIP URI, with them.
        const full = index.get(`${bare}@${h}`) ?? (h.includes(':') ? index.get(`${bare}@[${h}]`) : undefined);
        if (full)
            return full;
    }
    return index.get(bare);
}
//# sourceMappingURL=lookup.js.map