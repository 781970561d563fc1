/**
 * The cluster config schema: the single source of the config's TypeScript types and defaults.
 * Keys are snake_case as in the YAML file; unknown keys are refused. Pure: no I/O, no env, no
 * clock; cross-references (names, ports, aliases) are checked here so every caller gets them.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Names end up in store keys, URLs and logs: keep them to a safe, readable alphabet. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = (what: string): z.ZodString =>
  z.string().regex(NAME_RE, `${what} name must be 1-63 characters of letters, digits, '.', '_', '-'`);

const portSchema = z.number().int('port must be an integer').min(1, 'port must be 1..65535').max(65535, 'port must be 1..65535');

/** An IP literal we can advertise in SDP: a wildcard address would mean "hold" to a peer. */
const addressSchema = z
  .string()
  .refine((a) => isIP(a) !== 0, 'address must be an IPv4 or IPv6 literal (no hostnames)')
  .refine((a) => !isUnspecifiedAddress(a), 'address must be a concrete IP (it is advertised in SDP), not 0.0.0.0 or ::');

const rtpPortsSchema = z
  .object({
    min: z.number().int().min(1024, 'rtp port range must be within 1024..65535').max(65535),
    max: z.number().int().min(1024).max(65535, 'rtp port range must be within 1024..65535'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.min % 2 !== 0) ctx.addIssue({ code: 'custom', path: ['min'], message: 'must be even (RTP on even, RTCP on odd ports)' });
    if (r.max <= r.min) ctx.addIssue({ code: 'custom', path: ['max'], message: `must be greater than min (${r.min})` });
  });

export const LogLevelSchema = z.enum(['trace', 'debug', 'info', 'warn', 'error']);

const etcdStoreSchema = z
  .object({
    etcd: z
      .object({
        endpoints: z.array(z.string().refine(isHttpUrl, 'endpoint must be an http:// or https:// URL')).min(1, 'at least one etcd endpoint'),
        prefix: z
          .string()
          .regex(/^\/(?:[A-Za-z0-9_.-]+\/)*$/, "prefix must start and end with '/', e.g. '/confnode/v1/'")
          .default('/confnode/v1/'),
      })
      .strict(),
  })
  .strict();

const storeSchema = z.union([z.literal('memory'), etcdStoreSchema], {
  errorMap: () => ({ message: "store must be 'memory' or { etcd: { endpoints: [...] } }" }),
});

export const ClusterSectionSchema = z
  .object({
    name: nameSchema('cluster'),
    secret: z.string().min(16, 'secret must be at least 16 characters'),
    /** Bearer token for the admin API and /metrics from clients other than direct loopback ones. */
    admin_token: z
      .string()
      .min(16, 'admin_token must be at least 16 characters')
      .regex(/^[\x21-\x7e]+$/, 'admin_token must be printable ASCII without spaces')
      .optional(),
    store: storeSchema.default('memory'),
  })
  .strict();

export const CapacityCostsSchema = z
  .object({
    video: z.number().positive().default(1),
    audio: z.number().positive().default(0.25),
    backplane: z.number().min(0).default(1),
  })
  .strict();

export const LocationConfigSchema = z
  .object({
    name: nameSchema('location'),
    overflow: z
      .object({ primary: z.string(), secondary: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();

/** A certificate chain and its private key, PEM files (read at start; a bad file stops the node naming the key). */
const TlsFilesSchema = z
  .object({
    cert_file: z.string().min(1, 'cert_file must name a PEM file'),
    key_file: z.string().min(1, 'key_file must name a PEM file'),
  })
  .strict();

const icePortsSchema = z
  .object({
    min: z.number().int().min(1024, 'ice port range must be within 1024..65535').max(65535),
    max: z.number().int().min(1024).max(65535, 'ice port range must be within 1024..65535'),
  })
  .strict()
  .refine((r) => r.max > r.min, { message: 'max must be greater than min', path: ['max'] });

export const NodeConfigSchema = z
  .object({
    name: nameSchema('node'),
    location: z.string(),
    address: addressSchema,
    /**
     * The address peers and callers reach this node at when it differs from the one it binds
     * (NAT, containers): announced in SDP, ICE candidates and Contact; the node still binds `address`.
     */
    public_address: addressSchema.optional(),
    sip_port: portSchema,
    /** SIP over TLS (RFC 3261 26.2): 5061 by default when `tls` is set. */
    sip_tls_port: portSchema.optional(),
    http_port: portSchema,
    control_port: portSchema,
    rtp_ports: rtpPortsSchema,
    /** UDP ports for browsers' ICE (one per peer connection) instead of ephemeral ones. */
    ice_ports: icePortsSchema.optional(),
    /** The node's certificate: SIP over TLS on sip_tls_port, and HTTPS/WSS on http_port. */
    tls: TlsFilesSchema.optional(),
    capacity: z.number().positive('capacity must be > 0'),
    /**
     * SIGTERM drains for up to this long: the node leaves placement at once (/healthz 503), takes
     * no new calls, and keeps its calls until they end; then it hangs up the rest. 0 = at once.
     */
    drain_timeout_s: z.number().int().min(0).max(86_400).optional(),
    log_level: LogLevelSchema.optional(),
  })
  .strict();

export const MediaConfigSchema = z
  .object({
    mix_talkers: z.number().int().min(1).max(8).default(3),
    /**
     * SDES-SRTP (RFC 4568, AES_CM_128_HMAC_SHA1_80) for SIP media: `optional` takes SRTP when the
     * caller offers it and plain RTP otherwise; `required` answers plain-RTP offers with 488;
     * `off` answers with plain RTP only.
     */
    sip_srtp: z.enum(['optional', 'required', 'off']).default('optional'),
    jitter_buffer_ms: z.number().int().min(20).max(400).default(60),
    opus_complexity: z.number().int().min(0).max(10).default(3),
    /**
     * A SIP call from which nothing arrives (RTP or RTCP, audio or video) for this long while the
     * phone should be sending is ended with a BYE: the phone went away without one. 0 = never.
     */
    rtp_timeout_s: z.number().int().min(0).max(3600).default(60),
    /** Media worker threads; 0 = media on the main thread; default: one per core, at most 4. */
    workers: z.number().int().min(0).max(16).optional(),
  })
  .strict();

const pinSchema = z
  .string({ invalid_type_error: 'PIN must be a quoted string of 4 to 12 digits' })
  .regex(/^\d{4,12}$/, 'PIN must be 4 to 12 digits');

/** `user` or `user@host`: no spaces, no URI punctuation that would need escaping in a SIP URI. */
const ALIAS_RE = /^[A-Za-z0-9_.!~*'()&=+$,;?/%-]+(?:@[A-Za-z0-9.:[\]-]+)?$/;

export const VmrConfigSchema = z
  .object({
    name: nameSchema('vmr'),
    aliases: z.array(z.string().regex(ALIAS_RE, "alias must look like 'user' or 'user@host'")).min(1, 'at least one alias'),
    host_pin: pinSchema.optional(),
    guest_pin: pinSchema.optional(),
    video_codec: z.enum(['H264', 'VP8']).default('H264'),
    max_participants: z.number().int().positive().optional(),
    /** Browsers must bring a signed join token (see `join_tokens`) for this room. */
    require_token: z.boolean().default(false),
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

export const RoutingRuleConfigSchema = z
  .object({
    name: nameSchema('routing rule'),
    priority: z.number().int(),
    match: z.string().min(1).superRefine((src, ctx) => {
      const err = regexError(src);
      if (err !== undefined) ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${err}` });
    }),
    target: z.string().min(1),
    outgoing_location: z.string().optional(),
  })
  .strict();

/**
 * Tests and benchmarks only: a simulated WAN between two locations, applied in userspace to what
 * the proxies' geo backplanes send (this kernel has no netem). Each direction gets the delay, so
 * a round trip pays it twice. Never configure it in production.
 */
export const WanSimLinkSchema = z
  .object({
    between: z.tuple([z.string(), z.string()]),
    /** One-way delay, ms. */
    delay_ms: z.number().min(0).max(10_000),
    /** Uniform variation of each packet's delay, either way, ms. */
    jitter_ms: z.number().min(0).max(10_000).default(0),
    /** Fraction of datagrams dropped in each direction. */
    loss: z.number().min(0).max(1).default(0),
  })
  .strict();

/** TURN servers handed to browsers with time-limited credentials (the TURN REST convention, coturn's use-auth-secret). */
export const TurnServerSchema = z
  .object({
    urls: z.array(z.string().regex(/^turns?:[^\s]+$/, "a TURN URL looks like 'turn:host:3478?transport=udp'")).min(1),
    /** coturn's static-auth-secret: credentials are HMAC-SHA1(secret, 'expiry:name'). */
    secret: z.string().min(16, 'secret must be at least 16 characters'),
    /** How long a handed-out credential lives. */
    ttl_s: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();

/** Signed join tokens for browsers (JWT, HS256): room, display name, role, expiry. */
export const JoinTokensSchema = z
  .object({
    secret: z.string().min(32, 'join_tokens.secret must be at least 32 characters'),
    /** Every room needs a token (otherwise only rooms with require_token). */
    required: z.boolean().default(false),
  })
  .strict();

/** The HTTP side behind a reverse proxy. */
export const HttpSectionSchema = z
  .object({
    /** Addresses of reverse proxies whose X-Forwarded-For / Forwarded headers are believed (PIN lockout, logs). */
    trusted_proxies: z.array(addressSchema).default([]),
  })
  .strict();

const ConfigShape = z
  .object({
    cluster: ClusterSectionSchema,
    capacity_costs: CapacityCostsSchema.default({}),
    locations: z.array(LocationConfigSchema).min(1, 'at least one location'),
    nodes: z.array(NodeConfigSchema).min(1, 'at least one node'),
    media: MediaConfigSchema.default({}),
    vmrs: z.array(VmrConfigSchema).default([]),
    routing_rules: z.array(RoutingRuleConfigSchema).default([]),
    wan_sim: z.array(WanSimLinkSchema).default([]),
    http: HttpSectionSchema.default({}),
    turn: z.array(TurnServerSchema).default([]),
    join_tokens: JoinTokensSchema.optional(),
  })
  .strict();

/** The fixed secret of the embedded single-node default; refused for an etcd (real) cluster. */
export const DEV_CLUSTER_SECRET = 'confnode-dev-secret-not-for-clusters';

export const ConfigSchema = ConfigShape.superRefine((cfg, ctx) => {
  for (const p of crossCheck(cfg)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
});

export type ClusterConfig = z.infer<typeof ConfigSchema>;
export type ClusterSection = ClusterConfig['cluster'];
export type StoreConfig = ClusterSection['store'];
export type EtcdStoreConfig = z.infer<typeof etcdStoreSchema>['etcd'];
export type CapacityCosts = ClusterConfig['capacity_costs'];
export type LocationConfig = z.infer<typeof LocationConfigSchema>;
export type NodeConfig = z.infer<typeof NodeConfigSchema>;
export type MediaConfig = ClusterConfig['media'];
export type VmrConfig = z.infer<typeof VmrConfigSchema>;
export type RoutingRuleConfig = z.infer<typeof RoutingRuleConfigSchema>;
export type WanSimLinkConfig = z.infer<typeof WanSimLinkSchema>;
export type TurnServerConfig = z.infer<typeof TurnServerSchema>;
export type JoinTokensConfig = z.infer<typeof JoinTokensSchema>;

/** The SIP TLS port of a node: `sip_tls_port`, or 5061 when it has a certificate; undefined without TLS. */
export function sipTlsPort(node: NodeConfig): number | undefined {
  return node.tls ? (node.sip_tls_port ?? 5061) : undefined;
}
export type LogLevel = z.infer<typeof LogLevelSchema>;
/** What a YAML file may contain before defaults are applied. */
export type ClusterConfigInput = z.input<typeof ConfigSchema>;

type Path = (string | number)[];
interface CrossIssue {
  path: Path;
  message: string;
}

/** Checks that need more than one field: names, references, port overlaps, alias clashes. */
function crossCheck(cfg: z.infer<typeof ConfigShape>): CrossIssue[] {
  const out: CrossIssue[] = [];
  const locations = cfg.locations.map((l) => l.name);
  out.push(...duplicates(locations, (i) => ['locations', i, 'name'], 'location', (i) => `locations[${i}]`));
  out.push(...duplicates(cfg.nodes.map((n) => n.name), (i) => ['nodes', i, 'name'], 'node', (i) => `nodes[${i}]`));
  out.push(...duplicates(cfg.vmrs.map((v) => v.name), (i) => ['vmrs', i, 'name'], 'vmr', (i) => `vmrs[${i}]`));
  out.push(
    ...duplicates(cfg.routing_rules.map((r) => r.name), (i) => ['routing_rules', i, 'name'], 'routing rule', (i) => `routing_rules[${i}]`),
  );
  const known = new Set(locations);
  const ref = (name: string | undefined, path: Path): void => {
    if (name !== undefined && !known.has(name)) {
      out.push({ path, message: `unknown location '${name}' (known: ${locations.join(', ')})` });
    }
  };
  cfg.locations.forEach((loc, i) => {
    const o = loc.overflow;
    if (!o) return;
    ref(o.primary, ['locations', i, 'overflow', 'primary']);
    ref(o.secondary, ['locations', i, 'overflow', 'secondary']);
    if (o.primary === loc.name) out.push({ path: ['locations', i, 'overflow', 'primary'], message: 'a location cannot overflow to itself' });
    if (o.secondary === loc.name) out.push({ path: ['locations', i, 'overflow', 'secondary'], message: 'a location cannot overflow to itself' });
    if (o.secondary !== undefined && o.secondary === o.primary) {
      out.push({ path: ['locations', i, 'overflow', 'secondary'], message: 'secondary overflow must differ from primary' });
    }
  });
  cfg.nodes.forEach((n, i) => ref(n.location, ['nodes', i, 'location']));
  cfg.nodes.forEach((n, i) => {
    if (n.sip_tls_port !== undefined && !n.tls) out.push({ path: ['nodes', i, 'sip_tls_port'], message: 'sip_tls_port needs a certificate (nodes[].tls)' });
  });
  cfg.vmrs.forEach((v, i) => {
    if (v.require_token && !cfg.join_tokens) out.push({ path: ['vmrs', i, 'require_token'], message: 'require_token needs join_tokens.secret' });
  });
  const pairs = new Set<string>();
  cfg.wan_sim.forEach((w, i) => {
    w.between.forEach((l, j) => ref(l, ['wan_sim', i, 'between', j]));
    if (w.between[0] === w.between[1]) out.push({ path: ['wan_sim', i, 'between'], message: 'a simulated WAN link joins two different locations' });
    const pair = [...w.between].sort().join('\u0000');
    if (pairs.has(pair)) out.push({ path: ['wan_sim', i, 'between'], message: `locations ${w.between.join(' and ')} are already joined by an earlier wan_sim entry` });
    pairs.add(pair);
  });
  cfg.routing_rules.forEach((r, i) => ref(r.outgoing_location, ['routing_rules', i, 'outgoing_location']));
  out.push(...portConflicts(cfg.nodes), ...aliasClashes(cfg.vmrs));
  if (cfg.cluster.store === 'memory' && cfg.nodes.length > 1) {
    out.push({
      path: ['cluster', 'store'],
      message: `'memory' keeps the cluster state inside one process: ${cfg.nodes.length} nodes need a shared store ({ etcd: { endpoints: [...] } })`,
    });
  }
  if (cfg.cluster.store !== 'memory' && cfg.cluster.secret === DEV_CLUSTER_SECRET) {
    out.push({ path: ['cluster', 'secret'], message: 'the built-in development secret must not be used with an etcd store; set your own' });
  }
  return out;
}

function duplicates(names: string[], pathOf: (i: number) => Path, what: string, where: (i: number) => string): CrossIssue[] {
  const seen = new Map<string, number>();
  const out: CrossIssue[] = [];
  names.forEach((name, i) => {
    const key = name.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else out.push({ path: pathOf(i), message: `duplicate ${what} name '${name}' (also in ${where(first)})` });
  });
  return out;
}

function aliasClashes(vmrs: VmrConfig[]): CrossIssue[] {
  const seen = new Map<string, number>();
  const out: CrossIssue[] = [];
  vmrs.forEach((vmr, i) => {
    vmr.aliases.forEach((alias, j) => {
      const key = alias.toLowerCase();
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else out.push({ path: ['vmrs', i, 'aliases', j], message: `duplicate alias '${alias}' (also in vmrs[${first}])` });
    });
  });
  return out;
}

interface PortUse {
  node: number;
  key: 'sip_port' | 'sip_tls_port' | 'http_port' | 'control_port' | 'rtp_ports' | 'ice_ports';
  lo: number;
  hi: number;
}

/** Nodes sharing an address (e.g. a cluster on one machine) must not bind the same ports. */
function portConflicts(nodes: NodeConfig[]): CrossIssue[] {
  const out: CrossIssue[] = [];
  const byAddress = new Map<string, PortUse[]>();
  nodes.forEach((n, i) => {
    const addr = normalizeAddress(n.address);
    const uses = byAddress.get(addr) ?? [];
    byAddress.set(addr, uses);
    const mine: PortUse[] = [
      { node: i, key: 'sip_port', lo: n.sip_port, hi: n.sip_port },
      { node: i, key: 'http_port', lo: n.http_port, hi: n.http_port },
      { node: i, key: 'control_port', lo: n.control_port, hi: n.control_port },
      { node: i, key: 'rtp_ports', lo: n.rtp_ports.min, hi: n.rtp_ports.max },
    ];
    const tlsPort = sipTlsPort(n);
    if (tlsPort !== undefined) mine.push({ node: i, key: 'sip_tls_port', lo: tlsPort, hi: tlsPort });
    if (n.ice_ports) mine.push({ node: i, key: 'ice_ports', lo: n.ice_ports.min, hi: n.ice_ports.max });
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

function describePorts(u: PortUse): string {
  return u.lo === u.hi ? `port ${u.lo}` : `ports ${u.lo}-${u.hi}`;
}

/** '::1' and '0:0:0:0:0:0:0:1' are one address; the WHATWG URL parser canonicalises IPv6. */
function normalizeAddress(a: string): string {
  if (isIP(a) !== 6) return a;
  try {
    return new URL(`http://[${a}]/`).hostname;
  } catch {
    return a.toLowerCase();
  }
}

function isUnspecifiedAddress(a: string): boolean {
  return a === '0.0.0.0' || (isIP(a) === 6 && normalizeAddress(a) === '[::]');
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function regexError(src: string): string | undefined {
  try {
    new RegExp(src);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
