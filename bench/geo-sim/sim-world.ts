/**
 * The simulated cluster of the placement simulator: nodes, loads, each conference's media nodes
 * per location and backplane units; every join goes through the pure `decidePlacement` and every
 * leave takes a node out of a list as the real placer would, counting the compare-and-swaps.
 * No sockets, no store; the only clocks are the injected timer around each decision.
 */
import { decidePlacement, type PlacementNode, type PlacementReason, type PlacementRequest } from '../../src/node/placement';
import type { GeoModel, OverflowEntry, PlacedCaller, SimCaller } from './geo-model';

/** Costs and the R5 limit the simulated cluster places with. */
export interface SimCosts {
  costs: { audio: number; video: number; backplane: number };
  maxMediaNodes: number;
}

/** CPU and wall clocks around each decision, injected so the simulator itself stays pure. */
export interface SimTimer {
  cpuMicros(): number;
  wallNs(): bigint;
}

export const PROCESS_TIMER: SimTimer = {
  cpuMicros: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  wallNs: () => process.hrtime.bigint(),
};

export interface Placed extends PlacedCaller {
  reason: PlacementReason;
}

export interface SimConference {
  measured: boolean;
  callers: SimCaller[];
  placed: Placed[];
  /** Media nodes per location in allocation order: the list each CAS commits; the first is the proxy. */
  media: Map<string, string[]>;
  onNode: Map<string, number>;
  charged: Set<string>;
  joinsLeft: number;
  present: number;
  /** Simulated minute after which its participants leave. */
  end: number;
}

export interface SimCounters {
  joins: number;
  reasons: Record<string, number>;
  joinCas: number;
  firstJoins: number;
  firstJoinCas: number;
  firstJoinRejects: number;
  leaves: number;
  leaveCas: number;
  decideCpuUs: number;
  decideWallNs: number;
  /** Newly charged nodes that differ from the decision's `backplaneCharges`. */
  chargeMismatches: number;
  overCapacityEvents: number;
  /** Of those, on a node of another location than the decision's (its lone media node charged a geo backplane). */
  overCapacityElsewhere: number;
  maxOverUnits: number;
  /** Why the caller's own location refused each overflowed or rejected caller (the decision's detail, classified). */
  overflowCauses: Record<string, number>;
  maxMediaNodesPerLocation: number;
  byLocation: Record<string, { primary: number; secondary: number; rejected: number }>;
}

export function newCounters(codes: readonly string[]): SimCounters {
  return {
    joins: 0, reasons: {}, joinCas: 0, firstJoins: 0, firstJoinCas: 0, firstJoinRejects: 0, leaves: 0, leaveCas: 0, decideCpuUs: 0, decideWallNs: 0,
    chargeMismatches: 0, overCapacityEvents: 0, overCapacityElsewhere: 0, maxOverUnits: 0, overflowCauses: {}, maxMediaNodesPerLocation: 0,
    byLocation: Object.fromEntries(codes.map((c) => [c, { primary: 0, secondary: 0, rejected: 0 }])),
  };
}

/** The own-location refusals of decidePlacement, by the words of their detail. */
const OVERFLOW_CAUSES: ReadonlyArray<[RegExp, string]> = [
  [/cannot carry a backplane/, 'media node cannot pay the backplane to expand'],
  [/limit of \d+ is reached/, 'media node limit reached'],
  [/no other active node fits/, 'no node fits caller + backplane to expand'],
  [/has room for a caller/, 'no node has room to start'],
];

/** Nodes, loads and media lists of the simulated cluster; every join goes through `decidePlacement`. */
export class SimWorld {
  readonly nodes: PlacementNode[] = [];
  readonly byName = new Map<string, PlacementNode>();
  readonly byLocation = new Map<string, PlacementNode[]>();
  readonly locationLoad = new Map<string, number>();
  counters: SimCounters;
  counting = true;

  constructor(
    readonly model: GeoModel,
    nodesPerLocation: ReadonlyMap<string, number>,
    readonly capacity: number,
    readonly plan: SimCosts,
    readonly overflow: Record<string, OverflowEntry>,
    readonly timer: SimTimer,
  ) {
    for (const loc of model.locations) {
      const list: PlacementNode[] = [];
      for (let i = 0; i < (nodesPerLocation.get(loc.code) ?? 0); i++) {
        const node: PlacementNode = { name: `${loc.code}-${String(i + 1).padStart(3, '0')}`, location: loc.code, capacity, load: 0, state: 'active' };
        list.push(node);
        this.nodes.push(node);
        this.byName.set(node.name, node);
      }
      this.byLocation.set(loc.code, list);
      this.locationLoad.set(loc.code, 0);
    }
    this.counters = newCounters(model.locations.map((l) => l.code));
  }

  private node(name: string): PlacementNode {
    const n = this.byName.get(name);
    if (n === undefined) throw new Error(`unknown node ${name}`);
    return n;
  }

  private addLoad(node: PlacementNode, units: number): void {
    node.load += units;
    this.locationLoad.set(node.location, (this.locationLoad.get(node.location) ?? 0) + units);
  }

  /** A node pays the backplane unit once per conference while it has a backplane for it (local or geo). */
  private recharge(conf: SimConference): string[] {
    const lists = [...conf.media.values()];
    const pays = new Set(lists.length >= 2 ? lists.flat() : lists.length === 1 && (lists[0]?.length ?? 0) >= 2 ? (lists[0] ?? []) : []);
    const added: string[] = [];
    for (const name of pays) {
      if (conf.charged.has(name)) continue;
      conf.charged.add(name);
      this.addLoad(this.node(name), this.plan.costs.backplane);
      added.push(name);
    }
    for (const name of [...conf.charged]) {
      if (pays.has(name)) continue;
      conf.charged.delete(name);
      this.addLoad(this.node(name), -this.plan.costs.backplane);
    }
    return added;
  }

  private checkCapacity(names: Iterable<string>, location: string): void {
    for (const name of names) {
      const n = this.node(name);
      const over = n.load - n.capacity;
      if (over > 1e-9) {
        this.counters.overCapacityEvents++;
        if (n.location !== location) this.counters.overCapacityElsewhere++;
        this.counters.maxOverUnits = Math.max(this.counters.maxOverUnits, over);
      }
    }
  }

  signalingNode(location: string, r: number): string {
    const list = this.byLocation.get(location) ?? [];
    return list[Math.floor(r * list.length)]?.name ?? `${location}-none`;
  }

  /** One caller joins: snapshot from the simulator's state, one decision, the decision applied. */
  join(conf: SimConference, caller: SimCaller, signalingNode: string): Placed | undefined {
    const c = this.counters;
    const first = conf.media.size === 0;
    const otherLocations: Record<string, readonly string[]> = {};
    for (const [loc, list] of conf.media) if (loc !== caller.location) otherLocations[loc] = list;
    const req: PlacementRequest = {
      signalingNode, location: caller.location, cost: caller.cost, backplaneCost: this.plan.costs.backplane, maxMediaNodes: this.plan.maxMediaNodes,
      overflow: this.overflow[caller.location],
    };
    const cpu0 = this.timer.cpuMicros();
    const wall0 = this.timer.wallNs();
    const d = decidePlacement(req, { nodes: this.nodes, mediaNodes: conf.media.get(caller.location) ?? [], otherLocations });
    const wall1 = this.timer.wallNs();
    const cpu1 = this.timer.cpuMicros();
    conf.joinsLeft--;
    const count = this.counting;
    const byLoc = c.byLocation[caller.location];
    if (count) {
      c.joins++;
      c.decideCpuUs += cpu1 - cpu0;
      c.decideWallNs += Number(wall1 - wall0);
      c.reasons[d.reason] = (c.reasons[d.reason] ?? 0) + 1;
      if (first) c.firstJoins++;
    }
    if (count && (d.kind === 'reject' || d.reason !== d.within)) this.noteOverflowCause(req, conf);
    if (d.kind === 'reject') {
      if (count && byLoc) byLoc.rejected++;
      if (count && first) c.firstJoinRejects++;
      return undefined;
    }
    if (d.changed) {
      conf.media.set(d.location, d.mediaNodes);
      if (count) {
        c.joinCas++;
        if (first) c.firstJoinCas++;
      }
    }
    if (count && byLoc && d.reason === 'overflow-primary') byLoc.primary++;
    if (count && byLoc && d.reason === 'overflow-secondary') byLoc.secondary++;
    this.addLoad(this.node(d.node), caller.cost);
    conf.onNode.set(d.node, (conf.onNode.get(d.node) ?? 0) + 1);
    const added = this.recharge(conf);
    const expected = new Set(d.backplaneCharges);
    if (added.length !== expected.size || added.some((n) => !expected.has(n))) c.chargeMismatches++;
    this.checkCapacity([d.node, ...added], d.location);
    c.maxMediaNodesPerLocation = Math.max(c.maxMediaNodesPerLocation, d.mediaNodes.length);
    const placed: Placed = { ...caller, node: d.node, mediaLocation: d.location, reason: d.reason };
    conf.placed.push(placed);
    conf.present++;
    return placed;
  }

  /** Decides again without overflow (untimed, rare) to learn why the caller's own location refused. */
  private noteOverflowCause(req: PlacementRequest, conf: SimConference): void {
    const otherLocations: Record<string, readonly string[]> = {};
    for (const [loc, list] of conf.media) if (loc !== req.location) otherLocations[loc] = list;
    const d = decidePlacement({ ...req, overflow: undefined }, { nodes: this.nodes, mediaNodes: conf.media.get(req.location) ?? [], otherLocations });
    const detail = d.kind === 'reject' ? d.detail : 'placed';
    const cause = OVERFLOW_CAUSES.find(([re]) => re.test(detail))?.[1] ?? detail;
    this.counters.overflowCauses[cause] = (this.counters.overflowCauses[cause] ?? 0) + 1;
  }

  /** One participant leaves (R10: nobody moves); a node left without the conference is one CAS off its location's list. */
  leave(conf: SimConference, p: Placed): void {
    this.addLoad(this.node(p.node), -p.cost);
    conf.present--;
    const left = (conf.onNode.get(p.node) ?? 0) - 1;
    if (this.counting) this.counters.leaves++;
    if (left > 0) {
      conf.onNode.set(p.node, left);
      return;
    }
    conf.onNode.delete(p.node);
    const list = (conf.media.get(p.mediaLocation) ?? []).filter((n) => n !== p.node);
    if (list.length > 0) conf.media.set(p.mediaLocation, list);
    else conf.media.delete(p.mediaLocation);
    if (this.counting) this.counters.leaveCas++;
    this.recharge(conf);
  }
}

export function newConference(callers: SimCaller[], measured: boolean, end: number): SimConference {
  return { measured, callers, placed: [], media: new Map(), onNode: new Map(), charged: new Set(), joinsLeft: callers.length, present: 0, end };
}

