/**
 * The snapshots the placement bench decides on: a seeded, realistic mix of clusters (1-3
 * locations of 3-10 nodes, some full or draining) and conferences (0-3 media nodes in the
 * caller's location, now and then a dead one). Pure: the randomness is the seed's; it never
 * decides anything itself.
 */
import { seededRandom } from '../../src/common';
import type { PlacementNode, PlacementRequest, PlacementSnapshot } from '../../src/node/placement';

export interface PlacementCase {
  request: PlacementRequest;
  snapshot: PlacementSnapshot;
}

export interface WorkloadShape {
  /** Nodes per location, inclusive. */
  nodesPerLocation: [number, number];
  /** Locations in the cluster (the caller's is the first), inclusive. */
  locations: [number, number];
  /** Share of nodes with no room left for anything. */
  fullShare: number;
  drainingShare: number;
  /** Chance of 0, 1, 2, 3 media nodes of the conference in the caller's location. */
  mediaNodeWeights: [number, number, number, number];
  /** Share of callers with video (cost 1); the rest are audio-only (0.25). */
  videoShare: number;
  /** Share of requests that exclude a node (it refused a moment ago). */
  excludeShare: number;
  /** Share of conferences whose media list still names a node whose lease expired. */
  deadMediaShare: number;
}

export const DEFAULT_SHAPE: WorkloadShape = {
  nodesPerLocation: [3, 10],
  locations: [1, 3],
  fullShare: 0.15,
  drainingShare: 0.05,
  mediaNodeWeights: [0.3, 0.35, 0.2, 0.15],
  videoShare: 0.3,
  excludeShare: 0.05,
  deadMediaShare: 0.03,
};

const CAPACITIES = [10, 20, 50, 100];

function int(rnd: () => number, [lo, hi]: [number, number]): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rnd() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function weighted(rnd: () => number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rnd() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] ?? 0;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

function makeNode(rnd: () => number, shape: WorkloadShape, name: string, location: string): PlacementNode {
  const capacity = pick(rnd, CAPACITIES);
  const full = rnd() < shape.fullShare;
  // Loads in audio quarters, as the ledger keeps them; a full node has less than a quarter left.
  const load = full ? capacity - 0.125 : Math.floor(rnd() * capacity * 4) / 4;
  return { name, location, capacity, load, state: rnd() < shape.drainingShare ? 'draining' : 'active' };
}

function mediaNodes(rnd: () => number, shape: WorkloadShape, local: readonly PlacementNode[]): string[] {
  const count = Math.min(weighted(rnd, shape.mediaNodeWeights), local.length);
  const names = local.map((n) => n.name);
  const out: string[] = [];
  while (out.length < count) {
    const name = pick(rnd, names);
    if (!out.includes(name)) out.push(name);
  }
  if (out.length > 0 && out.length < 3 && rnd() < shape.deadMediaShare) out.push('gone-node');
  return out;
}

/** One caller and the cluster it meets. */
export function placementCase(rnd: () => number, shape: WorkloadShape = DEFAULT_SHAPE): PlacementCase {
  const locations = Array.from({ length: int(rnd, shape.locations) }, (_, i) => `loc${i}`);
  const nodes: PlacementNode[] = [];
  for (const location of locations) {
    const count = int(rnd, shape.nodesPerLocation);
    for (let i = 0; i < count; i++) nodes.push(makeNode(rnd, shape, `${location}-n${i}`, location));
  }
  const location = locations[0] ?? 'loc0';
  const local = nodes.filter((n) => n.location === location);
  const signaling = pick(rnd, local);
  const exclude = rnd() < shape.excludeShare ? [pick(rnd, local).name] : undefined;
  const request: PlacementRequest = {
    signalingNode: signaling.name,
    location,
    cost: rnd() < shape.videoShare ? 1 : 0.25,
    backplaneCost: 1,
    ...(exclude ? { exclude } : {}),
  };
  return { request, snapshot: { nodes, mediaNodes: mediaNodes(rnd, shape, local) } };
}

/** `count` cases from `seed`: the same seed gives the same workload on every run. */
export function placementWorkload(seed: number, count: number, shape: WorkloadShape = DEFAULT_SHAPE): PlacementCase[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, () => placementCase(rnd, shape));
}
