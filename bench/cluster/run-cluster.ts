/**
 * The cluster bench of `npm run bench` (issue 10): placement decisions per second of the pure
 * policy, INVITE -> 200 OK with media local vs on another node, etcd transactions per join, and
 * the backplane's hop latency and CPU per packet, on a real etcd and two node processes. A part
 * that fails is reported in `errors` and the others still run; etcd and the nodes are stopped by PID whatever happens. Figures only, never a verdict.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackplaneBench, type BackplanePlan, type BackplaneResult } from './backplane-bench';
import { ClusterCallers, type CallKind } from './calls';
import { startBenchCluster, type BenchCluster } from './cluster-procs';
import { runPlacementRate, type PlacementRatePlan, type PlacementRateResult } from './placement-rate';
import { latencyVmr, runSetupLatency, type LatencyPlan, type LatencyResult } from './setup-latency';
import { runStoreTxns, type StorePlan, type StoreResult } from './store-txns';

export interface ClusterPlan {
  placement: PlacementRatePlan;
  latency: LatencyPlan;
  store: StorePlan;
  /** Backplane hop latency and CPU per packet: a cluster of its own, after the other parts. */
  backplane: BackplanePlan;
  /** Seconds the whole cluster bench may take (the latency calls stop starting past it). */
  budgetS: number;
}

export const CLUSTER_PLAN: Record<'full' | 'quick', ClusterPlan> = {
  full: {
    placement: { pool: 4096, decisionsPerRun: 200_000, runs: 7, seed: 10 },
    latency: { callsPerKind: 200, runningCallsPerKind: 100, runningRooms: 10, warmupPerKind: 10, cps: 5, holdMs: 300, apiEvery: 10 },
    store: { windowMs: 10_000, rooms: 10, ops: 20, settleMs: 2000 },
    backplane: { streams: 20, cpuWindowMs: 6000, cpuPairs: 4, captureMs: 10_000, settleMs: 1500 },
    budgetS: 240,
  },
  quick: {
    placement: { pool: 4096, decisionsPerRun: 100_000, runs: 5, seed: 10 },
    latency: { callsPerKind: 60, runningCallsPerKind: 30, runningRooms: 5, warmupPerKind: 5, cps: 8, holdMs: 300, apiEvery: 6 },
    store: { windowMs: 5000, rooms: 5, ops: 10, settleMs: 1500 },
    backplane: { streams: 10, cpuWindowMs: 4000, cpuPairs: 2, captureMs: 5000, settleMs: 1000 },
    budgetS: 90,
  },
};

export interface ClusterResult {
  plan: ClusterPlan;
  placement?: PlacementRateResult;
  latency?: LatencyResult;
  store?: StoreResult;
  backplane?: BackplaneResult;
  errors: string[];
  durationS: number;
}

function vmrList(plan: ClusterPlan): string[] {
  const perKind = plan.latency.warmupPerKind + plan.latency.callsPerKind;
  const kinds: CallKind[] = ['local', 'remote'];
  return [
    ...kinds.flatMap((k) => Array.from({ length: perKind }, (_, i) => latencyVmr.fresh(k, i))),
    ...Array.from({ length: plan.latency.runningRooms }, (_, i) => latencyVmr.running(i)),
    ...Array.from({ length: plan.store.rooms }, (_, i) => `ex-${i}`),
    ...Array.from({ length: plan.store.ops }, (_, i) => `new-${i}`),
  ];
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function runClusterBench(o: { plan: ClusterPlan; nodeMain: string; log: (line: string) => void }): Promise<ClusterResult> {
  const t0 = Date.now();
  const out: ClusterResult = { plan: o.plan, errors: [], durationS: 0 };
  // First, alone on the machine: the pure policy in this process, before any node runs.
  try {
    out.placement = runPlacementRate(o.plan.placement, o.log);
  } catch (e) {
    out.errors.push(`placement: ${message(e)}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-cluster-'));
  let cluster: BenchCluster | undefined;
  let callers: ClusterCallers | undefined;
  try {
    o.log(`cluster: etcd + nodes A (capacity 2) and B (capacity 1000) in ${dir}`);
    cluster = await startBenchCluster({ dir, nodeMain: o.nodeMain, vmrs: vmrList(o.plan), rtpPorts: 400 });
    callers = await ClusterCallers.open(cluster);
    try {
      // The store part is short and bounded: the latency calls get the budget minus its length.
      const storeS = (o.plan.store.windowMs * 5 + o.plan.store.settleMs + 15_000) / 1000;
      out.latency = await runSetupLatency({ plan: o.plan.latency, cluster, callers, deadline: t0 + (o.plan.budgetS - storeS) * 1000, log: o.log });
    } catch (e) {
      out.errors.push(`setup latency: ${message(e)}`);
    }
    try {
      out.store = await runStoreTxns({ plan: o.plan.store, cluster, callers, log: o.log });
    } catch (e) {
      out.errors.push(`store transactions: ${message(e)}`);
    }
  } catch (e) {
    out.errors.push(`cluster: ${message(e)}`);
  } finally {
    await callers?.close();
    const dead = [cluster?.a, cluster?.b].filter((n) => n?.proc.exit !== undefined).map((n) => `${n?.name} exited ${JSON.stringify(n?.proc.exit)}: ${n?.proc.tail(600)}`);
    out.errors.push(...dead);
    await cluster?.stop();
  }
  // Last, on a cluster of its own (other capacities): the backplane's hop latency and CPU.
  const bpDir = mkdtempSync(join(tmpdir(), 'confnode-bench-backplane-'));
  out.backplane = await runBackplaneBench({ plan: o.plan.backplane, nodeMain: o.nodeMain, dir: bpDir, log: o.log });
  out.errors.push(...out.backplane.errors.map((e) => `backplane: ${e}`));
  if (out.backplane.errors.length === 0) rmSync(bpDir, { recursive: true, force: true });
  else o.log(`cluster: backplane errors; temp dir kept: ${bpDir}`);
  out.durationS = Math.round((Date.now() - t0) / 1000);
  // Kept for a post-mortem (config, etcd data) when something failed; else removed.
  if (out.errors.length > 0) o.log(`cluster: errors; temp dir kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  return out;
}
