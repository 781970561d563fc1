/**
 * Where a caller's media goes (DESIGN.md R2-R6, R8, R10), pure: a function of a snapshot of the
 * nodes and the conference's media nodes per location. Inside the signaling node's location
 * first (R2-R5); when that location is full for the conference, its primary and then its
 * secondary overflow location by the same rules (R6); rejected when all three are full (R8). It
 * never moves existing media, never picks the signaling node (R1), and never reads clocks,
 * randomness or the store.
 */

import { ConfnodeError } from '../../common';
import { fits } from '../conference/capacity';
import type { LocationReason, PlacementDecision, PlacementNode, PlacementRequest, PlacementSnapshot } from './types';

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
  original: readonly string[];
  excluded: ReadonlySet<string>;
  /**
   * The conference's live media nodes in other locations, by location. Not empty: a first media
   * node here is the location's proxy and opens a geo backplane at once (R9).
   */
  elsewhere: ReadonlyMap<string, PlacementNode[]>;
  /** Some other location has an active node: the conference may span locations later. */
  geoPossible: boolean;
  /** Active nodes of the location that are not media nodes of the conference. */
  activeOutsideMedia: number;
}

/**
 * What one decision needs of the snapshot, in one pass without allocation per node (a cluster may
 * have thousands): the nodes of the locations it may place in or has media in, the conference's
 * media nodes by name, and how many nodes are active per location.
 */
interface Index {
  byLocation: Map<string, PlacementNode[]>;
  byName: Map<string, PlacementNode>;
  /** Active nodes per location (relevant locations only), and in the whole snapshot. */
  active: Map<string, number>;
  activeTotal: number;
}

function indexNodes(nodes: readonly PlacementNode[], relevant: ReadonlySet<string>, mediaNames: ReadonlySet<string>): Index {
  const byLocation = new Map<string, PlacementNode[]>([...relevant].map((l) => [l, []] as const));
  const byName = new Map<string, PlacementNode>();
  const active = new Map<string, number>();
  let activeTotal = 0;
  for (const n of nodes) {
    const list = byLocation.get(n.location);
    if (list === undefined) {
      if (n.state === 'active') activeTotal++;
      continue;
    }
    list.push(n);
    if (mediaNames.has(n.name)) byName.set(n.name, n);
    if (n.state === 'active') {
      active.set(n.location, (active.get(n.location) ?? 0) + 1);
      activeTotal++;
    }
  }
  return { byLocation, byName, active, activeTotal };
}

/** The best of `nodes` by most available capacity (ties by name), in one pass. */
function best(nodes: readonly PlacementNode[], ok: (n: PlacementNode) => boolean): PlacementNode | undefined {
  let top: PlacementNode | undefined;
  for (const n of nodes) if (ok(n) && (top === undefined || byMostAvailable(n, top) < 0)) top = n;
  return top;
}

/** The snapshot's media nodes that are still alive, in allocation order, of one location. */
function liveMedia(index: Index, location: string, list: readonly string[]): PlacementNode[] {
  const media: PlacementNode[] = [];
  for (const name of list) {
    const node = index.byName.get(name);
    // A media node gone from the snapshot is dead (its lease expired): its slot is free again.
    if (node !== undefined && node.location === location && !media.includes(node)) media.push(node);
  }
  return media;
}

/** Media nodes of the conference per location, the request's location included. */
function mediaByLocation(req: PlacementRequest, snap: PlacementSnapshot): Map<string, readonly string[]> {
  const all = new Map<string, readonly string[]>(Object.entries(snap.otherLocations ?? {}));
  all.set(req.location, snap.mediaNodes);
  return all;
}

function buildContext(req: PlacementRequest, index: Index, location: string, all: Map<string, readonly string[]>): Context {
  const original = all.get(location) ?? [];
  const elsewhere = new Map<string, PlacementNode[]>();
  for (const [loc, list] of all) {
    if (loc === location) continue;
    const media = liveMedia(index, loc, list);
    if (media.length > 0) elsewhere.set(loc, media);
  }
  const media = liveMedia(index, location, original);
  return {
    location,
    cost: req.cost,
    backplaneCost: req.backplaneCost,
    max: req.maxMediaNodes ?? DEFAULT_MAX_MEDIA_NODES,
    local: index.byLocation.get(location) ?? [],
    media,
    original,
    excluded: new Set(req.exclude ?? []),
    elsewhere,
    geoPossible: index.activeTotal - (index.active.get(location) ?? 0) > 0,
    activeOutsideMedia: (index.active.get(location) ?? 0) - media.filter((n) => n.state === 'active').length,
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
  const { primary, secondary } = req.overflow ?? {};
  if (primary === req.location || secondary === req.location || (secondary !== undefined && secondary === primary)) {
    throw new ConfnodeError('config', `overflow of ${req.location} must name two other, different locations (primary ${primary}, secondary ${secondary})`);
  }
}

/** Draining and excluded nodes keep the media they have but take no new media, not even by affinity. */
function takesMedia(ctx: Context, node: PlacementNode): boolean {
  return node.state === 'active' && !ctx.excluded.has(node.name);
}

/**
 * What a node that would be the conference's only media node in the location keeps free so that
 * a backplane later never overruns it: growing from one media node to two charges it the
 * backplane, and so does the conference reaching another location (the lone node is the
 * location's proxy, R9). Nothing is reserved when there is nowhere to grow to (one node in a
 * one-location cluster, or R5 allowing one node there), so such a node of capacity 1 still takes
 * four 0.25 callers. Excluded nodes still count: they refused a moment ago and may take it later.
 */
function loneNodeReserve(ctx: Context, candidate: PlacementNode): number {
  if (ctx.geoPossible) return ctx.backplaneCost;
  if (ctx.max < 2) return 0;
  const others = ctx.activeOutsideMedia - (candidate.state === 'active' && !ctx.media.includes(candidate) ? 1 : 0);
  return others > 0 ? ctx.backplaneCost : 0;
}

/** The location's media nodes already pay the conference's backplane unit (local or geo links). */
function paying(ctx: Context): boolean {
  return ctx.media.length >= 2 || ctx.elsewhere.size > 0;
}

function place(ctx: Context, node: PlacementNode, reason: LocationReason, media: PlacementNode[], charges: PlacementNode[]): PlacementDecision & { kind: 'place' } {
  const mediaNodes = media.map((n) => n.name);
  const changed = mediaNodes.length !== ctx.original.length || mediaNodes.some((name, i) => name !== ctx.original[i]);
  return { kind: 'place', node: node.name, location: ctx.location, reason, within: reason, mediaNodes, changed, backplaneCharges: charges.map((n) => n.name) };
}

function reject(detail: string): PlacementDecision {
  return { kind: 'reject', reason: 'rejected-full', detail };
}

const names = (nodes: PlacementNode[]): string => nodes.map((n) => n.name).join(', ');

/**
 * R2: the conference is not running in the location yet. When it runs elsewhere, the chosen node
 * becomes the location's proxy and pays its geo backplane at once; so does another location's
 * lone media node that had no backplane until now.
 */
function startConference(ctx: Context): PlacementDecision {
  if (ctx.local.length === 0) return reject(`no node in location ${ctx.location}`);
  const chosen = best(ctx.local, (n) => takesMedia(ctx, n) && fits(n.load, ctx.cost + loneNodeReserve(ctx, n), n.capacity));
  if (chosen === undefined) return reject(`no active node of ${ctx.location} has room for a caller of cost ${ctx.cost}`);
  const charges: PlacementNode[] = [];
  if (ctx.elsewhere.size > 0) {
    charges.push(chosen);
    const [only] = [...ctx.elsewhere.values()];
    if (ctx.elsewhere.size === 1 && only?.length === 1) charges.push(...only);
  }
  return place(ctx, chosen, 'least-loaded', [chosen], charges);
}

/**
 * R3: the earliest-allocated media node with room. Filling in allocation order keeps the
 * conference compact: later nodes take only what earlier ones cannot, so as people leave they
 * empty first and fewer participants sit behind a backplane.
 */
function joinByAffinity(ctx: Context): PlacementDecision | undefined {
  const alreadyPaying = paying(ctx);
  for (const node of ctx.media) {
    if (!takesMedia(ctx, node)) continue;
    const reserve = alreadyPaying ? 0 : loneNodeReserve(ctx, node);
    if (fits(node.load, ctx.cost + reserve, node.capacity)) return place(ctx, node, 'affinity', ctx.media, []);
  }
  return undefined;
}

/** R4 within R5: one more media node, most available first, never beyond the limit. */
function expand(ctx: Context): PlacementDecision {
  const where = `media nodes ${names(ctx.media)} of ${ctx.location}`;
  if (ctx.media.length >= ctx.max) return reject(`${where} take no more media and the limit of ${ctx.max} is reached`);
  const chosen = best(ctx.local, (n) => takesMedia(ctx, n) && !ctx.media.includes(n) && fits(n.load, ctx.cost + ctx.backplaneCost, n.capacity));
  if (chosen === undefined) {
    return reject(`${where} take no more media and no other active node fits ${ctx.cost} + backplane ${ctx.backplaneCost}`);
  }
  // Going from one media node to two opens the first backplane: the existing node starts paying.
  // The reserve normally keeps room for it; a node filled while it was alone in the location has none.
  const startPaying = paying(ctx) ? [] : ctx.media;
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
  validate(req);
  const all = mediaByLocation(req, snapshot);
  const relevant = new Set([req.location, ...all.keys()]);
  if (req.overflow?.primary !== undefined) relevant.add(req.overflow.primary);
  if (req.overflow?.secondary !== undefined) relevant.add(req.overflow.secondary);
  const index = indexNodes(snapshot.nodes, relevant, new Set([...all.values()].flat()));
  const own = decideIn(req, index, req.location, all);
  if (own.kind === 'place') return own;
  const details = [own.detail];
  const chain: Array<[string | undefined, 'overflow-primary' | 'overflow-secondary']> = [
    [req.overflow?.primary, 'overflow-primary'],
    [req.overflow?.secondary, 'overflow-secondary'],
  ];
  for (const [location, reason] of chain) {
    if (location === undefined) continue;
    const d = decideIn(req, index, location, all);
    if (d.kind === 'place') return { ...d, reason };
    details.push(`${reason} ${location}: ${d.detail}`);
  }
  return reject(details.join('; '));
}

/** R2-R5 inside one location. */
function decideIn(req: PlacementRequest, index: Index, location: string, all: Map<string, readonly string[]>): PlacementDecision {
  const ctx = buildContext(req, index, location, all);
  if (ctx.media.length === 0) return startConference(ctx);
  return joinByAffinity(ctx) ?? expand(ctx);
}

/** One line for logs and the admin API. */
export function describeDecision(d: PlacementDecision): string {
  if (d.kind === 'reject') return `rejected-full: ${d.detail}`;
  const charges = d.backplaneCharges.length > 0 ? `; backplane charged to ${d.backplaneCharges.join(', ')}` : '';
  const how = d.reason === d.within ? d.reason : `${d.reason} to ${d.location} (${d.within})`;
  return `${how} -> ${d.node}; media nodes ${d.mediaNodes.join(', ')}${d.changed ? ' (changed)' : ''}${charges}`;
}
