/**
 * Where a caller's media goes inside its signaling node's location (DESIGN.md R2-R5, R10), pure:
 * a function of a snapshot of the nodes and the conference's media nodes. It never moves existing
 * media, never picks the signaling node (R1), and never reads clocks, randomness or the store.
 */

import { ConfnodeError } from '../../common';
import { fits } from '../conference/capacity';
import type { PlacementDecision, PlacementNode, PlacementReason, PlacementRequest, PlacementSnapshot } from './types';

/** R5: the vendor admits a race that can make it four; we never exceed three. */
export const DEFAULT_MAX_MEDIA_NODES = 3;

/** Free units of a node; negative when it is overcommitted. */
export function availableCapacity(node: PlacementNode): number {
  return node.capacity - node.load;
}

/** Same tolerance as `fits()`: equal free capacity up to float noise is a tie, broken by name. */
const EPSILON = 1e-9;

function byMostAvailable(a: PlacementNode, b: PlacementNode): number {
  const d = availableCapacity(b) - availableCapacity(a);
  if (Math.abs(d) > EPSILON) return d;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface Context {
  location: string;
  cost: number;
  backplaneCost: number;
  max: number;
  /** Every node of the location, whatever its state. */
  local: PlacementNode[];
  /** The snapshot's media nodes that are still alive in the location, in allocation order. */
  media: PlacementNode[];
  original: string[];
  excluded: ReadonlySet<string>;
}

function buildContext(req: PlacementRequest, snap: PlacementSnapshot): Context {
  validate(req);
  const local = snap.nodes.filter((n) => n.location === req.location);
  const byName = new Map(local.map((n) => [n.name, n] as const));
  const media: PlacementNode[] = [];
  for (const name of snap.mediaNodes) {
    const node = byName.get(name);
    // A media node gone from the snapshot is dead (its lease expired): its slot is free again.
    if (node !== undefined && !media.includes(node)) media.push(node);
  }
  return {
    location: req.location,
    cost: req.cost,
    backplaneCost: req.backplaneCost,
    max: req.maxMediaNodes ?? DEFAULT_MAX_MEDIA_NODES,
    local,
    media,
    original: snap.mediaNodes,
    excluded: new Set(req.exclude ?? []),
  };
}

function validate(req: PlacementRequest): void {
  const okUnits = (v: number): boolean => Number.isFinite(v) && v >= 0;
  if (!okUnits(req.cost) || !okUnits(req.backplaneCost)) {
    throw new ConfnodeError('config', `placement costs must be finite and >= 0 (cost ${req.cost}, backplane ${req.backplaneCost})`);
  }
  const max = req.maxMediaNodes;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new ConfnodeError('config', `maxMediaNodes must be an integer >= 1 (got ${max})`);
  }
}

/** Draining and excluded nodes keep the media they have but take no new media, not even by affinity. */
function takesMedia(ctx: Context, node: PlacementNode): boolean {
  return node.state === 'active' && !ctx.excluded.has(node.name);
}

/**
 * What a node that would be the conference's only media node in the location keeps free so that
 * expanding later never overruns it: growing from one media node to two charges it the backplane.
 * Nothing is reserved when there is nowhere to expand to (a lone node, or R5 allowing one node),
 * so a lone node of capacity 1 still takes four 0.25 callers. Excluded nodes still count: they
 * refused a moment ago and may take the expansion later.
 */
function loneNodeReserve(ctx: Context, candidate: string): number {
  if (ctx.max < 2) return 0;
  const canExpandTo = ctx.local.some((n) => n.state === 'active' && n.name !== candidate && !ctx.media.includes(n));
  return canExpandTo ? ctx.backplaneCost : 0;
}

function place(ctx: Context, node: PlacementNode, reason: PlacementReason, media: PlacementNode[], charges: PlacementNode[]): PlacementDecision {
  const mediaNodes = media.map((n) => n.name);
  const changed = mediaNodes.length !== ctx.original.length || mediaNodes.some((name, i) => name !== ctx.original[i]);
  return { kind: 'place', node: node.name, reason, mediaNodes, changed, backplaneCharges: charges.map((n) => n.name) };
}

function reject(detail: string): PlacementDecision {
  return { kind: 'reject', reason: 'rejected-full', detail };
}

const names = (nodes: PlacementNode[]): string => nodes.map((n) => n.name).join(', ');

/** R2: the conference is not running in the location yet. */
function startConference(ctx: Context): PlacementDecision {
  if (ctx.local.length === 0) return reject(`no node in location ${ctx.location}`);
  const chosen = ctx.local
    .filter((n) => takesMedia(ctx, n) && fits(n.load, ctx.cost + loneNodeReserve(ctx, n.name), n.capacity))
    .sort(byMostAvailable)[0];
  if (chosen === undefined) return reject(`no active node of ${ctx.location} has room for a caller of cost ${ctx.cost}`);
  return place(ctx, chosen, 'least-loaded', [chosen], []);
}

/**
 * R3: the earliest-allocated media node with room. Filling in allocation order keeps the
 * conference compact: later nodes take only what earlier ones cannot, so as people leave they
 * empty first and fewer participants sit behind a backplane.
 */
function joinByAffinity(ctx: Context): PlacementDecision | undefined {
  const alreadyPaying = ctx.media.length >= 2;
  for (const node of ctx.media) {
    if (!takesMedia(ctx, node)) continue;
    const reserve = alreadyPaying ? 0 : loneNodeReserve(ctx, node.name);
    if (fits(node.load, ctx.cost + reserve, node.capacity)) return place(ctx, node, 'affinity', ctx.media, []);
  }
  return undefined;
}

/** R4 within R5: one more media node, most available first, never beyond the limit. */
function expand(ctx: Context): PlacementDecision {
  const where = `media nodes ${names(ctx.media)} of ${ctx.location}`;
  if (ctx.media.length >= ctx.max) return reject(`${where} take no more media and the limit of ${ctx.max} is reached`);
  const chosen = ctx.local
    .filter((n) => takesMedia(ctx, n) && !ctx.media.includes(n) && fits(n.load, ctx.cost + ctx.backplaneCost, n.capacity))
    .sort(byMostAvailable)[0];
  if (chosen === undefined) {
    return reject(`${where} take no more media and no other active node fits ${ctx.cost} + backplane ${ctx.backplaneCost}`);
  }
  // Going from one media node to two opens the first backplane: the existing node starts paying.
  // The reserve normally keeps room for it; a node filled while it was alone in the location has none.
  const startPaying = ctx.media.length === 1 ? ctx.media : [];
  const cannotPay = startPaying.filter((n) => !fits(n.load, ctx.backplaneCost, n.capacity));
  if (cannotPay.length > 0) return reject(`${where} take no more media and ${names(cannotPay)} cannot carry a backplane`);
  return place(ctx, chosen, 'expansion', [...ctx.media, chosen], [...startPaying, chosen]);
}

/**
 * Decides the media node of one caller. The result is a proposal: the caller commits
 * `mediaNodes` with one compare-and-swap when `changed`, and on a lost race decides again on a
 * fresh snapshot (with refusing nodes in `exclude`).
 */
export function decidePlacement(req: PlacementRequest, snapshot: PlacementSnapshot): PlacementDecision {
  const ctx = buildContext(req, snapshot);
  if (ctx.media.length === 0) return startConference(ctx);
  return joinByAffinity(ctx) ?? expand(ctx);
}

/** One line for logs and the admin API. */
export function describeDecision(d: PlacementDecision): string {
  if (d.kind === 'reject') return `rejected-full: ${d.detail}`;
  const charges = d.backplaneCharges.length > 0 ? `; backplane charged to ${d.backplaneCharges.join(', ')}` : '';
  return `${d.reason} -> ${d.node}; media nodes ${d.mediaNodes.join(', ')}${d.changed ? ' (changed)' : ''}${charges}`;
}
