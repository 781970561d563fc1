/**
 * Pure arithmetic of the cluster bench: latency summaries, etcd's Prometheus counters, the store
 * writes of a window told apart by key (from a watch of the window's revisions), and per-join
 * figures net of the background writes. No clocks, sockets or files: inputs are arguments.
 */
import { percentileOf } from '../load/stats';

export function median(values: readonly number[]): number {
  return percentileOf(values, 50);
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** Nearest-rank percentiles, rounded to 0.01 ms. */
export function summarizeMs(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { samples: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    samples: values.length,
    p50Ms: r2(percentileOf(values, 50)),
    p90Ms: r2(percentileOf(values, 90)),
    p99Ms: r2(percentileOf(values, 99)),
    maxMs: r2(Math.max(...values)),
    meanMs: r2(values.reduce((a, b) => a + b, 0) / values.length),
  };
}

/** The etcd counters the bench reads from its client URL's /metrics. */
export interface EtcdCounters {
  /** Txn RPCs handled (any status code): every CAS and every node-record write is one. */
  txnRpcs: number;
  /** Range RPCs handled: the re-read after a lost CAS, a node's start. */
  rangeRpcs: number;
  /** Raft proposals committed: Txns, lease grants and revokes. */
  proposalsCommitted: number;
  /** The store revision: +1 per transaction that wrote something. */
  revision: number;
  /** Keys put and deleted by the MVCC store. */
  puts: number;
  deletes: number;
  /** etcd's own txn counter: in etcd 3.4 it counts only transactions of two or more writes. */
  mvccTxns: number;
}

function sample(line: string): { name: string; labels: string; value: number } | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
  if (!m?.[1] || m[3] === undefined) return undefined;
  const value = Number(m[3]);
  return Number.isFinite(value) ? { name: m[1], labels: m[2] ?? '', value } : undefined;
}

/** Reads the counters from a Prometheus text exposition; an absent series counts 0. */
export function parseEtcdMetrics(text: string): EtcdCounters {
  const out: EtcdCounters = { txnRpcs: 0, rangeRpcs: 0, proposalsCommitted: 0, revision: 0, puts: 0, deletes: 0, mvccTxns: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const s = sample(line);
    if (!s) continue;
    if (s.name === 'grpc_server_handled_total' && s.labels.includes('grpc_service="etcdserverpb.KV"')) {
      if (s.labels.includes('grpc_method="Txn"')) out.txnRpcs += s.value;
      else if (s.labels.includes('grpc_method="Range"')) out.rangeRpcs += s.value;
    } else if (s.name === 'etcd_server_proposals_committed_total') out.proposalsCommitted = s.value;
    else if (s.name === 'etcd_debugging_mvcc_current_revision') out.revision = s.value;
    else if (s.name === 'etcd_mvcc_put_total') out.puts = s.value;
    else if (s.name === 'etcd_mvcc_delete_total') out.deletes = s.value;
    else if (s.name === 'etcd_mvcc_txn_total') out.mvccTxns = s.value;
  }
  return out;
}

export function counterDelta(before: EtcdCounters, after: EtcdCounters): EtcdCounters {
  return {
    txnRpcs: after.txnRpcs - before.txnRpcs,
    rangeRpcs: after.rangeRpcs - before.rangeRpcs,
    proposalsCommitted: after.proposalsCommitted - before.proposalsCommitted,
    revision: after.revision - before.revision,
    puts: after.puts - before.puts,
    deletes: after.deletes - before.deletes,
    mvccTxns: after.mvccTxns - before.mvccTxns,
  };
}

/** One key change seen by a watch: what a write transaction did to one key. */
export interface WatchedChange {
  type: 'PUT' | 'DELETE';
  key: string;
  modRevision: number;
  /** The key's create revision (equal to modRevision when this put created it). */
  createRevision: number;
}

/** What one key change was, in the cluster's key layout (`<prefix>nodes/..`, `<prefix>conferences/..`). */
function describeChange(c: WatchedChange, prefix: string): string {
  const rest = c.key.startsWith(prefix) ? c.key.slice(prefix.length) : c.key;
  const kind = rest.startsWith('nodes/') ? 'node record' : rest.endsWith('/instance') ? 'instance' : /\/locations\/[^/]+$/.test(rest) ? 'location' : 'other key';
  if (c.type === 'DELETE') return `delete ${kind}`;
  return `${c.createRevision === c.modRevision ? 'create' : 'update'} ${kind}`;
}

/**
 * The write transactions of a window, told apart by what they wrote: one label per transaction
 * (its key changes, e.g. "create instance + create location"), with how many there were.
 */
export function classifyWrites(changes: readonly WatchedChange[], prefix: string): Record<string, number> {
  const byRevision = new Map<number, Set<string>>();
  for (const c of changes) {
    const parts = byRevision.get(c.modRevision) ?? new Set<string>();
    parts.add(describeChange(c, prefix));
    byRevision.set(c.modRevision, parts);
  }
  const out: Record<string, number> = {};
  for (const parts of byRevision.values()) {
    const label = [...parts].sort().join(' + ');
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

/** Write transactions whose every change is a node record: the background of registration and load updates. */
export function isBackgroundLabel(label: string): boolean {
  return label.split(' + ').every((p) => p.endsWith('node record'));
}

export interface StoreWindow {
  /** What the window did ('baseline' for the window without calls). */
  name: string;
  /** Operations (joins or leaves) in the window; 0 for the baseline. */
  ops: number;
  durationS: number;
  delta: EtcdCounters;
  /** Write transactions by label (classifyWrites). */
  writes: Record<string, number>;
}

export interface NetPerOp {
  /** Txn RPCs per operation, net of the baseline's rate over the same duration. */
  txnRpcs: number;
  rangeRpcs: number;
  proposals: number;
  /** Write transactions per operation that were not node records (exact, from the watch). */
  conferenceWrites: number;
  /** Txn RPCs of the window that wrote nothing (a lost compare), per operation. */
  failedTxns: number;
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Per-operation figures of `w`, net of `baseline`'s background rate (per second, times w's duration). */
export function netPerOp(w: StoreWindow, baseline: StoreWindow): NetPerOp | undefined {
  if (w.ops <= 0 || baseline.durationS <= 0) return undefined;
  const net = (value: number, base: number): number => r3((value - (base / baseline.durationS) * w.durationS) / w.ops);
  const conference = Object.entries(w.writes).reduce((a, [label, n]) => a + (isBackgroundLabel(label) ? 0 : n), 0);
  return {
    txnRpcs: net(w.delta.txnRpcs, baseline.delta.txnRpcs),
    rangeRpcs: net(w.delta.rangeRpcs, baseline.delta.rangeRpcs),
    proposals: net(w.delta.proposalsCommitted, baseline.delta.proposalsCommitted),
    conferenceWrites: r3(conference / w.ops),
    failedTxns: r3(Math.max(0, w.delta.txnRpcs - w.delta.revision) / w.ops),
  };
}

/** The cumulative buckets `[le, count]` of one Prometheus histogram (`<name>_bucket`), `+Inf` last. */
export function histogramBuckets(text: string, name: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const line of text.split('\n')) {
    const s = sample(line);
    const le = s?.name === `${name}_bucket` ? /le="([^"]+)"/.exec(s.labels)?.[1] : undefined;
    if (s && le !== undefined) out.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * The upper bound of the bucket holding the p-th percentile of what a histogram counted between
 * two readings (undefined when it counted nothing): "at most this much".
 */
export function bucketPercentile(before: ReadonlyArray<[number, number]>, after: ReadonlyArray<[number, number]>, p: number): number | undefined {
  const was = new Map(before);
  const delta = after.map(([le, n]) => [le, n - (was.get(le) ?? 0)] as const);
  const total = delta[delta.length - 1]?.[1] ?? 0;
  if (total <= 0) return undefined;
  return delta.find(([, n]) => n >= (p / 100) * total)?.[0];
}

/** Which node's RTP range holds `port` (the 200 OK's audio port says where the media is). */
export function nodeOfPort(port: number, ranges: Readonly<Record<string, { min: number; max: number }>>): string | undefined {
  return Object.entries(ranges).find(([, r]) => port >= r.min && port <= r.max)?.[0];
}

/** One packet seen on the way in (leg 1) or on the way out (leg 2) of a hop, by kernel capture time. */
export interface HopPacket {
  tNs: number;
  /** What identifies the same media frame on both legs (e.g. its RTP timestamp). */
  key: number;
}

export interface HopFigures {
  /** Leg-1 packets, and how many of them were seen leaving the hop. */
  sent: number;
  matched: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  minUs: number;
}

const r1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Time through a hop per packet: each leg-1 packet paired with the first leg-2 packet of the same
 * key captured at or after it. Keys seen twice on leg 1 (a wrapped timestamp) are left out.
 */
export function matchHops(leg1: readonly HopPacket[], leg2: readonly HopPacket[]): HopFigures {
  const firstIn = new Map<number, number>();
  const dup = new Set<number>();
  for (const p of leg1) {
    if (firstIn.has(p.key)) dup.add(p.key);
    else firstIn.set(p.key, p.tNs);
  }
  const deltas: number[] = [];
  const used = new Set<number>();
  for (const p of leg2) {
    const t = firstIn.get(p.key);
    if (t === undefined || dup.has(p.key) || used.has(p.key) || p.tNs < t) continue;
    used.add(p.key);
    deltas.push((p.tNs - t) / 1000);
  }
  const pct = (q: number): number => (deltas.length > 0 ? r1(percentileOf(deltas, q)) : 0);
  return {
    sent: leg1.length,
    matched: deltas.length,
    p50Us: pct(50),
    p90Us: pct(90),
    p99Us: pct(99),
    maxUs: deltas.length > 0 ? r1(Math.max(...deltas)) : 0,
    minUs: deltas.length > 0 ? r1(Math.min(...deltas)) : 0,
  };
}

/** CPU microseconds per packet: CPU-seconds over packets (undefined without packets). */
export function usPerPacket(cpuS: number, packets: number): number | undefined {
  return packets > 0 ? r1((cpuS * 1e6) / packets) : undefined;
}
