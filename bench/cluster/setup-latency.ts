/**
 * INVITE -> 200 OK with media local vs on another node: short calls received alternately by B
 * (media on B: local) and A (media on B: remote), started on a fixed schedule whatever the
 * answers. Two variants: each call a new conference (one CAS each), and calls joining running
 * conferences (affinity, no store write). Checks where each call's media was (the 200's port, and
 * /api/v1/participants for a sample). Figures only.
 */
import { sleep } from '../../test/helpers/proc';
import { machineJiffies, procCpu } from '../../test/helpers/proc-stat';
import type { CallKind, CallRecord, ClusterCallers, HeldCall } from './calls';
import type { BenchCluster } from './cluster-procs';
import { etcdMetrics } from './etcd-probe';
import { bucketPercentile, histogramBuckets, summarizeMs, type LatencySummary } from './figures';

export interface LatencyPlan {
  /** Measured calls per kind, each into a new conference. */
  callsPerKind: number;
  /** Measured calls per kind joining running conferences. */
  runningCallsPerKind: number;
  /** Running conferences (one anchor call each on B) for the second variant. */
  runningRooms: number;
  /** Unmeasured calls per kind first (code loading, first conferences). */
  warmupPerKind: number;
  /** Calls started per second, both kinds together. */
  cps: number;
  /** How long each call stays up after its ACK. */
  holdMs: number;
  /** Every n-th call is also checked with /api/v1/participants while it is up. */
  apiEvery: number;
}

export interface KindFigures {
  setup: LatencySummary;
  failed: number;
  /** Calls whose 200 OK pointed at B's RTP range (every call of both kinds should). */
  mediaOnB: number;
  /** Calls checked with the API, and how many showed the expected signaling/media nodes. */
  apiChecked: number;
  apiAsExpected: number;
  reasons: Record<string, number>;
}

/** CPU while the variant's calls ran, % of one core (the machine: of all its cores together). */
export interface LoadFigures {
  a: number;
  b: number;
  etcd: number;
  bench: number;
  machine: number;
  /** machine - (A + B + etcd + bench): whatever else ran on the box. */
  other: number;
  steal: number;
}

export interface VariantResult {
  name: string;
  local: KindFigures;
  remote: KindFigures;
  /** remote - local, ms. */
  diffP50Ms: number;
  diffP99Ms: number;
  load: LoadFigures;
  /** etcd's WAL fsync while the variant ran: upper bounds of the p50/p99 histogram buckets, ms. */
  walFsyncP50Ms?: number;
  walFsyncP99Ms?: number;
  durationS: number;
}

export interface LatencyResult {
  plan: LatencyPlan;
  variants: VariantResult[];
  errors: string[];
}

/** The measured order: local, remote, remote, local, ... so neither kind always goes first. */
export function kindOf(i: number): CallKind {
  const pair = Math.floor(i / 2);
  return (i % 2 === 0) === (pair % 2 === 0) ? 'local' : 'remote';
}

function figures(records: CallRecord[], kind: CallKind, nodes: { a: string; b: string }): KindFigures {
  const mine = records.filter((r) => r.kind === kind);
  const expected = { signalingNode: kind === 'local' ? nodes.b : nodes.a, mediaNode: nodes.b };
  const checked = mine.filter((r) => r.api !== undefined);
  const reasons: Record<string, number> = {};
  for (const r of checked) reasons[r.api?.placementReason ?? '?'] = (reasons[r.api?.placementReason ?? '?'] ?? 0) + 1;
  return {
    setup: summarizeMs(mine.flatMap((r) => (r.setupMs !== undefined ? [r.setupMs] : []))),
    failed: mine.filter((r) => r.error !== undefined).length,
    mediaOnB: mine.filter((r) => r.mediaNodeBySdp === nodes.b).length,
    apiChecked: checked.length,
    apiAsExpected: checked.filter((r) => r.api?.signalingNode === expected.signalingNode && r.api.mediaNode === expected.mediaNode).length,
    reasons,
  };
}

async function oneCall(callers: ClusterCallers, kind: CallKind, vmr: string, holdMs: number, checkApi: boolean): Promise<CallRecord> {
  const held = await callers.place(kind, vmr);
  if (held.call) {
    const hold = sleep(holdMs);
    if (checkApi) await callers.checkApi(held);
    await hold;
    await callers.hangUp(held);
  }
  return held.record;
}

interface LatencyContext {
  plan: LatencyPlan;
  cluster: BenchCluster;
  callers: ClusterCallers;
  deadline: number;
  log: (line: string) => void;
}

/** `count` calls, kinds alternating, one every 1/cps s (until the deadline); `vmr(kind, i)` names the room. */
async function schedule(c: LatencyContext, count: number, vmr: (kind: CallKind, i: number) => string, checkApi: boolean): Promise<CallRecord[]> {
  const start = Date.now();
  const running: Array<Promise<CallRecord>> = [];
  for (let i = 0; i < count && Date.now() < c.deadline; i++) {
    const wait = start + (i * 1000) / c.plan.cps - Date.now();
    if (wait > 0) await sleep(wait);
    const kind = kindOf(i);
    running.push(oneCall(c.callers, kind, vmr(kind, Math.floor(i / 2)), c.plan.holdMs, checkApi && i % c.plan.apiEvery === 0));
  }
  return Promise.all(running);
}

/** CPU of the cluster's processes, the bench and the machine between two readings. */
function loadMeter(cluster: BenchCluster): () => LoadFigures {
  const pids = { a: cluster.a.proc.pid, b: cluster.b.proc.pid, etcd: cluster.etcd.pid };
  const sec = (t: { user: number; system: number }): number => t.user + t.system;
  const own = (): number => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const before = { a: sec(procCpu(pids.a)), b: sec(procCpu(pids.b)), etcd: sec(procCpu(pids.etcd)), bench: own(), machine: machineJiffies() };
  const t0 = Date.now();
  return () => {
    const wallS = Math.max(0.001, (Date.now() - t0) / 1000);
    const pct = (s: number): number => Math.round((s / wallS) * 1000) / 10;
    const m = machineJiffies();
    const jiffies = Math.max(1, m.total - before.machine.total);
    const cores = jiffies / (wallS * 100);
    const load = {
      a: pct(sec(procCpu(pids.a)) - before.a),
      b: pct(sec(procCpu(pids.b)) - before.b),
      etcd: pct(sec(procCpu(pids.etcd)) - before.etcd),
      bench: pct(own() - before.bench),
      machine: Math.round(((m.busy - before.machine.busy) / jiffies) * cores * 1000) / 10,
      steal: Math.round(((m.steal - before.machine.steal) / jiffies) * cores * 1000) / 10,
    };
    return { ...load, other: Math.max(0, Math.round((load.machine - load.a - load.b - load.etcd - load.bench) * 10) / 10) };
  };
}

async function measureVariant(c: LatencyContext, name: string, count: number, vmr: (kind: CallKind, i: number) => string): Promise<{ result: VariantResult; records: CallRecord[] }> {
  const t0 = Date.now();
  const fsync = async (): Promise<Array<[number, number]>> => histogramBuckets(await etcdMetrics(c.cluster.etcd.endpoint).catch(() => ''), 'etcd_disk_wal_fsync_duration_seconds');
  const fsync0 = await fsync();
  const meter = loadMeter(c.cluster);
  const records = await schedule(c, count * 2, vmr, true);
  const load = meter();
  const fsync1 = await fsync();
  const nodes = { a: c.cluster.a.name, b: c.cluster.b.name };
  const local = figures(records, 'local', nodes);
  const remote = figures(records, 'remote', nodes);
  const ms = (s: number | undefined): number | undefined => (s === undefined || !Number.isFinite(s) ? undefined : Math.round(s * 1e4) / 10);
  const p50 = ms(bucketPercentile(fsync0, fsync1, 50));
  const p99 = ms(bucketPercentile(fsync0, fsync1, 99));
  c.log(`cluster: ${name}: INVITE->200 p50 local ${local.setup.p50Ms} ms / remote ${remote.setup.p50Ms} ms; p99 ${local.setup.p99Ms} / ${remote.setup.p99Ms} ms`);
  const result: VariantResult = {
    name,
    local,
    remote,
    diffP50Ms: Math.round((remote.setup.p50Ms - local.setup.p50Ms) * 100) / 100,
    diffP99Ms: Math.round((remote.setup.p99Ms - local.setup.p99Ms) * 100) / 100,
    load,
    ...(p50 !== undefined ? { walFsyncP50Ms: p50 } : {}),
    ...(p99 !== undefined ? { walFsyncP99Ms: p99 } : {}),
    durationS: Math.round((Date.now() - t0) / 1000),
  };
  return { result, records };
}

/** VMR names the variants dial: `local-N`/`remote-N` (new conferences) and `run-N` (running ones). */
export const latencyVmr = {
  fresh: (kind: CallKind, i: number): string => `${kind}-${i}`,
  running: (i: number): string => `run-${i}`,
};

export async function runSetupLatency(c: LatencyContext): Promise<LatencyResult> {
  const { plan, callers } = c;
  const warm = plan.warmupPerKind;
  const records: CallRecord[] = [];
  c.log(`cluster: ${warm * 2} warm-up calls, then ${plan.callsPerKind} local + ${plan.callsPerKind} remote calls into new conferences, ` +
    `${plan.runningCallsPerKind} + ${plan.runningCallsPerKind} into ${plan.runningRooms} running ones, at ${plan.cps} calls/s`);
  await schedule(c, warm * 2, latencyVmr.fresh, false);
  const variants: VariantResult[] = [];
  const fresh = await measureVariant(c, 'new conference each call', plan.callsPerKind, (kind, i) => latencyVmr.fresh(kind, warm + i));
  variants.push(fresh.result);
  records.push(...fresh.records);
  const anchors: HeldCall[] = [];
  try {
    for (let i = 0; i < plan.runningRooms; i++) anchors.push(await callers.anchor(latencyVmr.running(i)));
    await sleep(500);
    const rooms = plan.runningRooms;
    const running = await measureVariant(c, 'joining a running conference', plan.runningCallsPerKind, (kind, i) => latencyVmr.running((2 * i + (kind === 'local' ? 0 : 1)) % rooms));
    variants.push(running.result);
    records.push(...running.records);
  } finally {
    await Promise.all(anchors.map((a) => callers.hangUp(a)));
  }
  const anchorErrors = anchors.flatMap((a) => (a.record.error !== undefined ? [`anchor ${a.record.vmr}: ${a.record.error}`] : []));
  const errors = [...new Set([...anchorErrors, ...records.flatMap((r) => (r.error !== undefined ? [r.error.replace(/-\d+/g, '-N')] : []))])].slice(0, 5);
  return { plan, variants, errors };
}
