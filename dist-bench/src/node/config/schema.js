"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConfigSchema = exports.DEV_CLUSTER_SECRET = exports.RoutingRuleConfigSchema = exports.VmrConfigSchema = exports.MediaConfigSchema = exports.NodeConfigSchema = exports.LocationConfigSchema = exports.CapacityCostsSchema = exports.ClusterSectionSchema = exports.LogLevelSchema = void 0;
/**
 * The cluster config schema: the single source of the config's TypeScript types and defaults.
 * Keys are snake_case as in the YAML file; unknown keys are refused. Pure: no I/O, no env, no
 * clock; cross-references (names, ports, aliases) are checked here so every caller gets them.
 */
const node_net_1 = require("node:net");
const zod_1 = require("zod");
/** Names end up in store keys, URLs and logs: keep them to a safe, readable alphabet. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = (what) => zod_1.z.string().regex(NAME_RE, `${what} name must be 1-63 characters of letters, digits, '.', '_', '-'`);
const portSchema = zod_1.z.number().int('port must be an integer').min(1, 'port must be 1..65535').max(65535, 'port must be 1..65535');
/** An IP literal we can advertise in SDP: a wildcard address would mean "hold" to a peer. */
const addressSchema = zod_1.z
    .string()
    .refine((a) => (0, node_net_1.isIP)(a) !== 0, 'address must be an IPv4 or IPv6 literal (no hostnames)')
    .refine((a) => !isUnspecifiedAddress(a), 'address must be a concrete IP (it is advertised in SDP), not 0.0.0.0 or ::');
const rtpPortsSchema = zod_1.z
    .object({
    min: zod_1.z.number().int().min(1024, 'rtp port range must be within 1024..65535').max(65535),
    max: zod_1.z.number().int().min(1024).max(65535, 'rtp port range must be within 1024..65535'),
})
    .strict()
    .superRefine((r, ctx) => {
    if (r.min % 2 !== 0)
        ctx.addIssue({ code: 'custom', path: ['min'], message: 'must be even (RTP on even, RTCP on odd ports)' });
    if (r.max <= r.min)
        ctx.addIssue({ code: 'custom', path: ['max'], message: `must be greater than min (${r.min})` });
});
exports.LogLevelSchema = zod_1.z.enum(['trace', 'debug', 'info', 'warn', 'error']);
const etcdStoreSchema = zod_1.z
    .object({
    etcd: zod_1.z
        .object({
        endpoints: zod_1.z.array(zod_1.z.string().refine(isHttpUrl, 'endpoint must be an http:// or https:// URL')).min(1, 'at least one etcd endpoint'),
        prefix: zod_1.z
            .string()
            .regex(/^\/(?:[A-Za-z0-9_.-]+\/)*$/, "prefix must start and end with '/', e.g. '/confnode/v1/'")
            .default('/confnode/v1/'),
    })
        .strict(),
})
    .strict();
const storeSchema = zod_1.z.union([zod_1.z.literal('memory'), etcdStoreSchema], {
    errorMap: () => ({ message: "store must be 'memory' or { etcd: { endpoints: [...] } }" }),
});
exports.ClusterSectionSchema = zod_1.z
    .object({
    name: nameSchema('cluster'),
    secret: zod_1.z.string().min(16, 'secret must be at least 16 characters'),
    store: storeSchema.default('memory'),
})
    .strict();
exports.CapacityCostsSchema = zod_1.z
    .object({
    video: zod_1.z.number().positive().default(1),
    audio: zod_1.z.number().positive().default(0.25),
    backplane: zod_1.z.number().min(0).default(1),
})
    .strict();
exports.LocationConfigSchema = zod_1.z
    .object({
    name: nameSchema('location'),
    overflow: zod_1.z
        .object({ primary: zod_1.z.string(), secondary: zod_1.z.string().optional() })
        .strict()
        .optional(),
})
    .strict();
exports.NodeConfigSchema = zod_1.z
    .object({
    name: nameSchema('node'),
    location: zod_1.z.string(),
    address: addressSchema,
    sip_port: portSchema,
    http_port: portSchema,
    control_port: portSchema,
    rtp_ports: rtpPortsSchema,
    capacity: zod_1.z.number().positive('capacity must be > 0'),
    log_level: exports.LogLevelSchema.optional(),
})
    .strict();
exports.MediaConfigSchema = zod_1.z
    .object({
    mix_talkers: zod_1.z.number().int().min(1).max(8).default(3),
    jitter_buffer_ms: zod_1.z.number().int().min(20).max(400).default(60),
    opus_complexity: zod_1.z.number().int().min(0).max(10).default(3),
    /** Media worker threads; 0 = media on the main thread; default: one per core, at most 4. */
    workers: zod_1.z.number().int().min(0).max(16).optional(),
})
    .strict();
const pinSchema = zod_1.z
    .string({ invalid_type_error: 'PIN must be a quoted string of 4 to 12 digits' })
    .regex(/^\d{4,12}$/, 'PIN must be 4 to 12 digits');
/** `user` or `user@host`: no spaces, no URI punctuation that would need escaping in a SIP URI. */
const ALIAS_RE = /^[A-Za-z0-9_.!~*'()&=+$,;?/%-]+(?:@[A-Za-z0-9.:[\]-]+)?$/;
exports.VmrConfigSchema = zod_1.z
    .object({
    name: nameSchema('vmr'),
    aliases: zod_1.z.array(zod_1.z.string().regex(ALIAS_RE, "alias must look like 'user' or 'user@host'")).min(1, 'at least one alias'),
    host_pin: pinSchema.optional(),
    guest_pin: pinSchema.optional(),
    video_codec: zod_1.z.enum(['H264', 'VP8']).default('H264'),
    max_participants: zod_1.z.number().int().positive().optional(),
})
    .strict()
    .superRefine((v, ctx) => {
    if (v.guest_pin !== undefined && v.host_pin === undefined) {
        ctx.addIssue({ code: 'custom', path: ['guest_pin'], message: 'guest_pin requires host_pin' });
    }
    if (v.guest_pin !== undefined && v.guest_pin === v.host_pin) {
        ctx.addIssue({ code: 'custom', path: ['guest_pin'], message: 'guest_pin must differ from host_pin' });
    }
});
exports.RoutingRuleConfigSchema = zod_1.z
    .object({
    name: nameSchema('routing rule'),
    priority: zod_1.z.number().int(),
    match: zod_1.z.string().min(1).superRefine((src, ctx) => {
        const err = regexError(src);
        if (err !== undefined)
            ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${err}` });
    }),
    target: zod_1.z.string().min(1),
    outgoing_location: zod_1.z.string().optional(),
})
    .strict();
const ConfigShape = zod_1.z
    .object({
    cluster: exports.ClusterSectionSchema,
    capacity_costs: exports.CapacityCostsSchema.default({}),
    locations: zod_1.z.array(exports.LocationConfigSchema).min(1, 'at least one location'),
    nodes: zod_1.z.array(exports.NodeConfigSchema).min(1, 'at least one node'),
    media: exports.MediaConfigSchema.default({}),
    vmrs: zod_1.z.array(exports.VmrConfigSchema).default([]),
    routing_rules: zod_1.z.array(exports.RoutingRuleConfigSchema).default([]),
})
    .strict();
/** The fixed secret of the embedded single-node default; refused for an etcd (real) cluster. */
exports.DEV_CLUSTER_SECRET = 'confnode-dev-secret-not-for-clusters';
exports.ConfigSchema = ConfigShape.superRefine((cfg, ctx) => {
    for (const p of crossCheck(cfg))
        ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
});
/** Checks that need more than one field: names, references, port overlaps, alias clashes. */
function crossCheck(cfg) {
    const out = [];
    const locations = cfg.locations.map((l) => l.name);
    out.push(...duplicates(locations, (i) => ['locations', i, 'name'], 'location', (i) => `locations[${i}]`));
    out.push(...duplicates(cfg.nodes.map((n) => n.name), (i) => ['nodes', i, 'name'], 'node', (i) => `nodes[${i}]`));
    out.push(...duplicates(cfg.vmrs.map((v) => v.name), (i) => ['vmrs', i, 'name'], 'vmr', (i) => `vmrs[${i}]`));
    out.push(...duplicates(cfg.routing_rules.map((r) => r.name), (i) => ['routing_rules', i, 'name'], 'routing rule', (i) => `routing_rules[${i}]`));
    const known = new Set(locations);
    const ref = (name, path) => {
        if (name !== undefined && !known.has(name)) {
            out.push({ path, message: `unknown location '${name}' (known: ${locations.join(', ')})` });
        }
    };
    cfg.locations.forEach((loc, i) => {
        const o = loc.overflow;
        if (!o)
            return;
        ref(o.primary, ['locations', i, 'overflow', 'primary']);
        ref(o.secondary, ['locations', i, 'overflow', 'secondary']);
        if (o.primary === loc.name)
            out.push({ path: ['locations', i, 'overflow', 'primary'], message: 'a location cannot overflow to itself' });
        if (o.secondary === loc.name)
            out.push({ path: ['locations', i, 'overflow', 'secondary'], message: 'a location cannot overflow to itself' });
        if (o.secondary !== undefined && o.secondary === o.primary) {
            out.push({ path: ['locations', i, 'overflow', 'secondary'], message: 'secondary overflow must differ from primary' });
        }
    });
    cfg.nodes.forEach((n, i) => ref(n.location, ['nodes', i, 'location']));
    cfg.routing_rules.forEach((r, i) => ref(r.outgoing_location, ['routing_rules', i, 'outgoing_location']));
    out.push(...portConflicts(cfg.nodes), ...aliasClashes(cfg.vmrs));
    if (cfg.cluster.store !== 'memory' && cfg.cluster.secret === exports.DEV_CLUSTER_SECRET) {
        out.push({ path: ['cluster', 'secret'], message: 'the built-in development secret must not be used with an etcd store; set your own' });
    }
    return out;
}
function duplicates(names, pathOf, what, where) {
    const seen = new Map();
    const out = [];
    names.forEach((name, i) => {
        const key = name.toLowerCase();
        const first = seen.get(key);
        if (first === undefined)
            seen.set(key, i);
        else
            out.push({ path: pathOf(i), message: `duplicate ${what} name '${name}' (also in ${where(first)})` });
    });
    return out;
}
function aliasClashes(vmrs) {
    const seen = new Map();
    const out = [];
    vmrs.forEach((vmr, i) => {
        vmr.aliases.forEach((alias, j) => {
            const key = alias.toLowerCase();
            const first = seen.get(key);
            if (first === undefined)
                seen.set(key, i);
            else
                out.push({ path: ['vmrs', i, 'aliases', j], message: `duplicate alias '${alias}' (also in vmrs[${first}])` });
        });
    });
    return out;
}
/** Nodes sharing an address (e.g. a cluster on one machine) must not bind the same ports. */
function portConflicts(nodes) {
    const out = [];
    const byAddress = new Map();
    nodes.forEach((n, i) => {
        const addr = normalizeAddress(n.address);
        const uses = byAddress.get(addr) ?? [];
        byAddress.set(addr, uses);
        const mine = [
            { node: i, key: 'sip_port', lo: n.sip_port, hi: n.sip_port },
            { node: i, key: 'http_port', lo: n.http_port, hi: n.http_port },
            { node: i, key: 'control_port', lo: n.control_port, hi: n.control_port },
            { node: i, key: 'rtp_ports', lo: n.rtp_ports.min, hi: n.rtp_ports.max },
        ];
        for (const use of mine) {
            const clash = uses.find((u) => u.lo <= use.hi && use.lo <= u.hi);
            if (clash) {
                out.push({
                    path: ['nodes', i, use.key],
                    message: `${describePorts(use)} on ${n.address} overlaps nodes[${clash.node}].${clash.key} (${describePorts(clash)})`,
                });
            }
            uses.push(use);
        }
    });
    return out;
}
function describePorts(u) {
    return u.lo === u.hi ? `port ${u.lo}` : `ports ${u.lo}-${u.hi}`;
}
/** '::1' and '0:0:0:0:0:0:0:1' are one address; the WHATWG URL parser canonicalises IPv6. */
function normalizeAddress(a) {
    if ((0, node_net_1.isIP)(a) !== 6)
        return a;
    try {
        return new URL(`http://[${a}]/`).hostname;
    }
    catch {
        return a.toLowerCase();
    }
}
function isUnspecifiedAddress(a) {
    return a === '0.0.0.0' || ((0, node_net_1.isIP)(a) === 6 && normalizeAddress(a) === '[::]');
}
function isHttpUrl(s) {
    try {
        const u = new URL(s);
        return u.protocol === 'http:' || u.protocol === 'https:';
    }
    catch {
        return false;
    }
}
function regexError(src) {
    try {
        new RegExp(src);
        return undefined;
    }
    catch (err) {
        return err instanceof Error ? err.message : String(err);
    }
}
//# sourceMappingURL=schema.js.map