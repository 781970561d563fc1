/**
 * Placement decisions per second of the pure policy (`decidePlacement`): a fixed, seeded pool of
 * realistic snapshots decided over and over in this process, several timed runs, the median
 * reported per CPU-second of this process (steady on a shared machine) and per wall-clock second.
 * Measures only; no store, no sockets, no verdict.
 */
import { decidePlacement, type PlacementDecision } from '../../src/node/placement';
import { placementWorkload, type PlacementCase } from './placement-workload';
import { median } from './figures';

export interface PlacementRatePlan {
  /** Distinct snapshots in the pool. */
  pool: number;
  /** Decisions per timed run. */
  decisionsPerRun: number;
  /** Timed runs (one untimed warm-up run comes first). */
  runs: number;
  seed: number;
}

export interface PlacementRateResult {
  plan: PlacementRatePlan;
  /** Median over the runs, per CPU-second of this process: what one core decides when it gets to run. */
  decisionsPerSecond: number;
  nsPerDecision: number;
  /** Every run's rate per CPU-second, in run order. */
  runsPerSecond: number[];
  /** Median per wall-clock second (lower when other processes take the core). */
  decisionsPerWallSecond: number;
  /** What the pool decides (one pass): how realistic the mix is. */
  mix: Record<string, number>;
  /** Mean nodes per snapshot and mean media nodes of the conference. */
  meanNodes: number;
  meanMediaNodes: number;
}

function label(d: PlacementDecision): string {
  return d.kind === 'reject' ? d.reason : `${d.reason}${d.changed ? ' (CAS)' : ''}`;
}

/** Decides `count` cases round the pool; returns wall and CPU ns and a value that keeps the work alive. */
function timedRun(pool: readonly PlacementCase[], count: number): { ns: number; cpuNs: number; sink: number } {
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0, j = 0; i < count; i++, j = j + 1 === pool.length ? 0 : j + 1) {
    const c = pool[j];
    if (c === undefined) continue;
    const d = decidePlacement(c.request, c.snapshot);
    sink += d.kind === 'place' ? d.mediaNodes.length : 1;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  return { ns, cpuNs: (cpu.user + cpu.system) * 1000, sink };
}

export function runPlacementRate(plan: PlacementRatePlan, log: (line: string) => void): PlacementRateResult {
  const pool = placementWorkload(plan.seed, plan.pool);
  const mix: Record<string, number> = {};
  for (const c of pool) {
    const key = label(decidePlacement(c.request, c.snapshot));
    mix[key] = (mix[key] ?? 0) + 1;
  }
  timedRun(pool, plan.decisionsPerRun); // warm-up: let V8 optimise the policy first
  const runsPerSecond: number[] = [];
  const wallRates: number[] = [];
  let sink = 0;
  for (let r = 0; r < plan.runs; r++) {
    const run = timedRun(pool, plan.decisionsPerRun);
    sink += run.sink;
    runsPerSecond.push(Math.round((plan.decisionsPerRun / Math.max(1, run.cpuNs)) * 1e9));
    wallRates.push(Math.round((plan.decisionsPerRun / run.ns) * 1e9));
  }
  const rate = median(runsPerSecond);
  log(`placement: ${rate} decisions per CPU-second, ${median(wallRates)} per wall second (median of ${plan.runs} runs; checksum ${sink})`);
  const meanOf = (f: (c: PlacementCase) => number): number => Math.round((pool.reduce((a, c) => a + f(c), 0) / pool.length) * 10) / 10;
  return {
    plan,
    decisionsPerSecond: rate,
    nsPerDecision: rate > 0 ? Math.round(1e9 / rate) : 0,
    runsPerSecond,
    decisionsPerWallSecond: median(wallRates),
    mix,
    meanNodes: meanOf((c) => c.snapshot.nodes.length),
    meanMediaNodes: meanOf((c) => c.snapshot.mediaNodes.length),
  };
}
