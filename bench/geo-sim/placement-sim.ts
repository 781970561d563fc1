/**
 * Placement at internet scale, simulated (issue 11 item 8): the pure `decidePlacement` driven
 * over 13 locations and ~10,000 concurrent conferences with joins and leaves in simulated time,
 * against first-participant anchoring. No sockets and no store: the simulator keeps loads, media
 * lists and backplane units itself and counts the compare-and-swaps a cluster would commit.
 * Seeded; the only clock read is the injected timer around each decision.
 */
import { join } from 'node:path';
import { seededRandom } from '../../src/common';
import { REPO_ROOT } from '../target';
import { PROCESS_TIMER, SimWorld, newConference, type Placed, type SimConference, type SimCounters, type SimTimer } from './sim-world';
import {
  README_REFERENCE_13, README_WORKLOAD, conferenceFigures, deriveOverflowTable, drawConference, expectedCallerShare, pairStats, readGeoModel, sizeLocations,
  type ConferenceFigures, type GeoModel, type OverflowEntry, type PairStats, type SimCaller,
} from './geo-model';

export const GEO_DIR = join(REPO_ROOT, '..', 'shared', 'bench', 'geo');

export interface PlacementSimPlan {
  seed: number;
  /** Conferences running at once in steady state: the arrival rate is this over the mean lifetime. */
  concurrentConferences: number;
  /** Conferences started before measuring, to fill the cluster to steady state. */
  warmupConferences: number;
  /** Conferences started while measuring: their joins, pairs and copies make the figures. */
  measuredConferences: number;
  /** Nodes over all locations, split by each location's expected share of callers (at least 2 each). */
  totalNodes: number;
  nodeCapacity: number;
  videoShare: number;
  costs: { audio: number; video: number; backplane: number };
  maxMediaNodes: number;
  /** Minutes: callers join within the window after the first; the hold is 0.5-1.5x the mean; leaves spread over their window. */
  joinWindowMin: number;
  holdMeanMin: number;
  leaveWindowMin: number;
  /** Locations simulated (default all 13). */
  locations?: string[];
}

const BASE = { costs: { audio: 0.25, video: 1, backplane: 1 }, maxMediaNodes: 3, nodeCapacity: 20, videoShare: 0.5, joinWindowMin: 3, holdMeanMin: 40, leaveWindowMin: 3 };

export const GEO_SIM_PLAN: Record<'full' | 'quick', PlacementSimPlan> = {
  full: { ...BASE, seed: 11, concurrentConferences: 10_000, warmupConferences: 16_000, measuredConferences: 100_000, totalNodes: 2600 },
  quick: { ...BASE, seed: 11, concurrentConferences: 10_000, warmupConferences: 16_000, measuredConferences: 8000, totalNodes: 2600 },
};

export type { ConferenceFigures, SimCaller } from './geo-model';
export { PROCESS_TIMER, type SimCounters, type SimTimer } from './sim-world';

/** Min-heap of simulated events by time, then by insertion order (deterministic ties). */
class EventQueue<T> {
  private heap: Array<{ t: number; seq: number; v: T }> = [];
  private seq = 0;
  push(t: number, v: T): void {
    const h = this.heap;
    h.push({ t, seq: this.seq++, v });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { t: number; v: T } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const m = l + 1 < h.length && this.less(l + 1, l) ? l + 1 : l;
      if (m >= h.length || !this.less(m, i)) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
  private less(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    return x !== undefined && y !== undefined && (x.t < y.t || (x.t === y.t && x.seq < y.seq));
  }
  private swap(a: number, b: number): void {
    const x = this.heap[a];
    const y = this.heap[b];
    if (x === undefined || y === undefined) return;
    this.heap[a] = y;
    this.heap[b] = x;
  }
}

export interface PlacementSimOptions {
  /** Default: the CSVs of GEO_DIR restricted to plan.locations. */
  model?: GeoModel;
  timer?: SimTimer;
  log?: (line: string) => void;
}

export interface LocationFigures {
  code: string;
  nodes: number;
  capacityUnits: number;
  expectedCallerShare: number;
  overflow: OverflowEntry;
  /** Load over capacity (participants and backplane units), sampled at each measured arrival. */
  meanUtilisation: number;
  peakUtilisation: number;
  overflowPrimary: number;
  overflowSecondary: number;
  rejected: number;
}

export interface PlacementSimResult {
  plan: PlacementSimPlan;
  reference: typeof README_REFERENCE_13;
  topology: { totalNodes: number; totalCapacityUnits: number; locations: LocationFigures[] };
  workload: {
    conferencesStarted: number;
    measuredConferences: number;
    /** Measured conferences whose placed callers are in two locations or more (the README's comparison). */
    multiRegionConferences: number;
    meanConcurrentConferences: number;
    maxConcurrentConferences: number;
    meanConcurrentParticipants: number;
    simulatedMinutes: number;
  };
  decisions: { count: number; nodesPerSnapshot: number; cpuS: number; perCpuSecond: number; usPerDecision: number; perWallSecond: number; reasons: Record<string, number> };
  latency: { distributed: PairStats; anchored: PairStats; bestAnchorMeanMs: number; meanRatio: number; p95Ratio: number };
  wan: {
    /** Multi-region conferences: geo-backplane copies plus overflowed callers' open-internet copies. */
    distributed: number;
    distributedGeo: number;
    distributedOpenInternet: number;
    anchored: number;
    bestAnchor: number;
    ratio: number;
    /** Every measured conference: copies of one stream between one ordered location pair. */
    perStreamLocationPair: { min: number; max: number; pairs: number };
    localCopies: number;
  };
  store: {
    joins: number;
    joinTxns: number;
    meanPerJoin: number;
    shareOneCas: number;
    shareZeroCas: number;
    firstJoins: number;
    /** Of the first joins that were placed (a rejected one commits nothing). */
    firstJoinCasShare: number;
    runningJoinCasShare: number;
    leaves: number;
    leaveTxns: number;
    leaveCasShare: number;
  };
  overflow: { primary: number; secondary: number; rejects: number; rejectShare: number; spilledConferences: number };
  checks: { chargeMismatches: number; overCapacityEvents: number; overCapacityElsewhere: number; overflowCauses: Record<string, number>; maxOverUnits: number; maxMediaNodesPerLocation: number; residualLoadUnits: number };
  wallS: number;
}

type SimEvent = { kind: 'arrive' } | { kind: 'join'; conf: SimConference; caller: SimCaller } | { kind: 'leave'; conf: SimConference; p: Placed };

/** Sums of the measured conferences' figures. */
class Tally {
  readonly pairsA: number[] = [];
  readonly pairsB: number[] = [];
  conferences = 0;
  multi = 0;
  spilled = 0;
  sumC = 0;
  wan = { A: 0, geo: 0, open: 0, B: 0, C: 0, local: 0 };
  route = { min: Infinity, max: 0, pairs: 0 };

  add(f: ConferenceFigures | undefined): void {
    this.conferences++;
    if (f === undefined) return;
    if (f.spilled) this.spilled++;
    const r = f.routing.perStreamLocationPair;
    if (r.pairs > 0) this.route = { min: Math.min(this.route.min, r.min), max: Math.max(this.route.max, r.max), pairs: this.route.pairs + r.pairs };
    this.wan.local += f.routing.localCopies;
    if (!f.multiRegion) return;
    this.multi++;
    for (const v of f.pairsA) this.pairsA.push(v);
    for (const v of f.pairsB) this.pairsB.push(v);
    this.sumC += f.meanC * f.pairsA.length;
    this.wan = { A: this.wan.A + f.wanA, geo: this.wan.geo + f.wanGeo, open: this.wan.open + f.wanOpenInternet, B: this.wan.B + f.wanB, C: this.wan.C + f.wanC, local: this.wan.local };
  }
}

/** Concurrency and utilisation, sampled at each measured arrival. */
class Sampler {
  n = 0;
  confs = 0;
  maxConfs = 0;
  participants = 0;
  readonly util = new Map<string, { sum: number; max: number }>();

  sample(world: SimWorld, running: number, present: number): void {
    this.n++;
    this.confs += running;
    this.maxConfs = Math.max(this.maxConfs, running);
    this.participants += present;
    for (const [code, list] of world.byLocation) {
      const u = (world.locationLoad.get(code) ?? 0) / Math.max(1e-9, list.length * world.capacity);
      const s = this.util.get(code) ?? { sum: 0, max: 0 };
      this.util.set(code, { sum: s.sum + u, max: Math.max(s.max, u) });
    }
  }
}

const round = (v: number, digits = 3): number => Number(v.toFixed(digits));

/**
 * Runs the simulation: conferences arrive (Poisson) at the rate that keeps `concurrentConferences`
 * running, callers join within the join window and leave after the hold, every join decided by
 * `decidePlacement` on the simulator's state. All events run to the end (the cluster drains).
 */
export function runPlacementSim(plan: PlacementSimPlan, opts: PlacementSimOptions = {}): PlacementSimResult {
  const timer = opts.timer ?? PROCESS_TIMER;
  const wall0 = timer.wallNs();
  const model = opts.model ?? readGeoModel(GEO_DIR, plan.locations);
  const rnd = seededRandom(plan.seed);
  const sizes = sizeLocations(model, plan.totalNodes);
  const world = new SimWorld(model, sizes, plan.nodeCapacity, plan, deriveOverflowTable(model), timer);
  world.counting = plan.warmupConferences === 0;
  const w = README_WORKLOAD;
  const leaveTail = w.sizes.reduce<number>((s, n, i) => s + ((w.sizeWeights[i] ?? 0) * n) / (n + 1), 0);
  const lifetime = plan.joinWindowMin + plan.holdMeanMin + plan.leaveWindowMin * leaveTail;
  const meanGap = lifetime / plan.concurrentConferences;
  const total = plan.warmupConferences + plan.measuredConferences;
  const q = new EventQueue<SimEvent>();
  const tally = new Tally();
  const sampler = new Sampler();
  let started = 0;
  let running = 0;
  let present = 0;
  let measureStart = 0;
  let lastT = 0;
  q.push(0, { kind: 'arrive' });
  for (let e = q.pop(); e !== undefined; e = q.pop()) {
    const { t, v } = e;
    lastT = t;
    if (v.kind === 'arrive') {
      const measured = started >= plan.warmupConferences;
      if (measured && !world.counting) {
        world.counting = true;
        measureStart = t;
      }
      if (measured) sampler.sample(world, running, present);
      const callers = drawConference(rnd, model, plan.videoShare, plan.costs);
      const conf = newConference(callers, measured, t + plan.joinWindowMin + plan.holdMeanMin * (0.5 + rnd()));
      started++;
      running++;
      callers.forEach((caller, i) => q.push(i === 0 ? t : t + plan.joinWindowMin * rnd(), { kind: 'join', conf, caller }));
      if (started < total) q.push(t - meanGap * Math.log(1 - rnd()), { kind: 'arrive' });
    } else if (v.kind === 'join') {
      const p = world.join(v.conf, v.caller, world.signalingNode(v.caller.location, rnd()));
      if (p) {
        present++;
        q.push(v.conf.end + plan.leaveWindowMin * rnd(), { kind: 'leave', conf: v.conf, p });
      }
      if (v.conf.joinsLeft === 0) {
        if (v.conf.present === 0) running--;
        if (v.conf.measured) tally.add(conferenceFigures(model, v.conf));
      }
    } else {
      world.leave(v.conf, v.p);
      present--;
      if (v.conf.present === 0 && v.conf.joinsLeft === 0) running--;
    }
  }
  const result = summarise(plan, world, sizes, tally, sampler, { started, simulatedMinutes: lastT - measureStart });
  result.wallS = round(Number(timer.wallNs() - wall0) / 1e9, 2);
  opts.log?.(`geo-sim: ${result.decisions.count} decisions, ${result.workload.meanConcurrentConferences} concurrent conferences, ${result.wallS} s`);
  return result;
}

function summarise(plan: PlacementSimPlan, world: SimWorld, sizes: Map<string, number>, tally: Tally, sampler: Sampler, run: { started: number; simulatedMinutes: number }): PlacementSimResult {
  const c = world.counters;
  const share = expectedCallerShare(world.model);
  const overflow = deriveOverflowTable(world.model);
  const distributed = pairStats(tally.pairsA);
  const anchored = pairStats(tally.pairsB);
  const per = (n: number, d: number, digits = 4): number => (d > 0 ? round(n / d, digits) : 0);
  const rejects = c.reasons['rejected-full'] ?? 0;
  const primary = c.reasons['overflow-primary'] ?? 0;
  const secondary = c.reasons['overflow-secondary'] ?? 0;
  const locations: LocationFigures[] = world.model.locations.map((l) => {
    const u = sampler.util.get(l.code) ?? { sum: 0, max: 0 };
    const o = c.byLocation[l.code] ?? { primary: 0, secondary: 0, rejected: 0 };
    const nodes = sizes.get(l.code) ?? 0;
    return {
      code: l.code, nodes, capacityUnits: nodes * plan.nodeCapacity, expectedCallerShare: round(share.get(l.code) ?? 0, 4), overflow: overflow[l.code] ?? {},
      meanUtilisation: per(u.sum, sampler.n, 3), peakUtilisation: round(u.max, 3), overflowPrimary: o.primary, overflowSecondary: o.secondary, rejected: o.rejected,
    };
  });
  const cpuS = c.decideCpuUs / 1e6;
  const statsRound = (s: PairStats): PairStats => ({ pairs: s.pairs, meanMs: round(s.meanMs, 1), p50Ms: round(s.p50Ms, 1), p95Ms: round(s.p95Ms, 1), over150Share: round(s.over150Share, 4) });
  return {
    plan,
    reference: README_REFERENCE_13,
    topology: { totalNodes: world.nodes.length, totalCapacityUnits: world.nodes.length * plan.nodeCapacity, locations },
    workload: {
      conferencesStarted: run.started, measuredConferences: tally.conferences, multiRegionConferences: tally.multi,
      meanConcurrentConferences: Math.round(per(sampler.confs, sampler.n, 1)), maxConcurrentConferences: sampler.maxConfs,
      meanConcurrentParticipants: Math.round(per(sampler.participants, sampler.n, 1)), simulatedMinutes: Math.round(run.simulatedMinutes),
    },
    decisions: {
      count: c.joins, nodesPerSnapshot: world.nodes.length, cpuS: round(cpuS, 3), perCpuSecond: cpuS > 0 ? Math.round(c.joins / cpuS) : 0,
      usPerDecision: per(c.decideCpuUs, c.joins, 2), perWallSecond: c.decideWallNs > 0 ? Math.round(c.joins / (c.decideWallNs / 1e9)) : 0, reasons: c.reasons,
    },
    latency: { distributed: statsRound(distributed), anchored: statsRound(anchored), bestAnchorMeanMs: round(per(tally.sumC, tally.pairsA.length), 1), meanRatio: per(distributed.meanMs, anchored.meanMs, 3), p95Ratio: per(distributed.p95Ms, anchored.p95Ms, 3) },
    wan: {
      distributed: tally.wan.A, distributedGeo: tally.wan.geo, distributedOpenInternet: tally.wan.open, anchored: tally.wan.B, bestAnchor: tally.wan.C, ratio: per(tally.wan.A, tally.wan.B, 3),
      perStreamLocationPair: { min: tally.route.pairs > 0 ? tally.route.min : 0, max: tally.route.max, pairs: tally.route.pairs }, localCopies: tally.wan.local,
    },
    store: {
      joins: c.joins, joinTxns: c.joinCas, meanPerJoin: per(c.joinCas, c.joins), shareOneCas: per(c.joinCas, c.joins), shareZeroCas: per(c.joins - c.joinCas, c.joins),
      firstJoins: c.firstJoins, firstJoinCasShare: per(c.firstJoinCas, c.firstJoins - c.firstJoinRejects), runningJoinCasShare: per(c.joinCas - c.firstJoinCas, c.joins - c.firstJoins),
      leaves: c.leaves, leaveTxns: c.leaveCas, leaveCasShare: per(c.leaveCas, c.leaves),
    },
    overflow: { primary, secondary, rejects, rejectShare: per(rejects, c.joins, 5), spilledConferences: tally.spilled },
    checks: {
      chargeMismatches: c.chargeMismatches, overCapacityEvents: c.overCapacityEvents, overCapacityElsewhere: c.overCapacityElsewhere, overflowCauses: c.overflowCauses, maxOverUnits: round(c.maxOverUnits, 3), maxMediaNodesPerLocation: c.maxMediaNodesPerLocation,
      residualLoadUnits: world.nodes.reduce((m, n) => Math.max(m, Math.abs(n.load)), 0),
    },
    wallS: 0,
  };
}

/** A fixed conference's callers in join order (e.g. a row of sample_conferences.csv). */
export type FixedConference = ReadonlyArray<{ location: string; accessMs: number }>;

/**
 * Replays fixed conferences one after another through the same world (every location with
 * `nodesPerLocation` roomy nodes, audio callers): each joins in order, its figures are taken, then
 * everyone leaves. What the README's per-conference expectations are checked against.
 */
export function replayConferences(model: GeoModel, conferences: readonly FixedConference[], nodesPerLocation = 2, timer: SimTimer = PROCESS_TIMER): { figures: Array<ConferenceFigures | undefined>; counters: SimCounters; residualLoadUnits: number } {
  const sizes = new Map(model.locations.map((l) => [l.code, nodesPerLocation] as const));
  const costs = { audio: 0.25, video: 1, backplane: 1 };
  const world = new SimWorld(model, sizes, 1000, { costs, maxMediaNodes: 3 }, deriveOverflowTable(model), timer);
  const figures = conferences.map((callers) => {
    const conf = newConference(callers.map((c) => ({ ...c, cost: costs.audio })), true, 0);
    const placed = conf.callers.map((caller) => world.join(conf, caller, world.signalingNode(caller.location, 0)));
    const f = conferenceFigures(model, conf);
    for (const p of placed.reverse()) if (p) world.leave(conf, p);
    return f;
  });
  return { figures, counters: world.counters, residualLoadUnits: world.nodes.reduce((m, n) => Math.max(m, Math.abs(n.load)), 0) };
}
