/**
 * Which backplanes a conference needs (DESIGN.md R4, R9, R12), pure: the proxy node of each
 * location, and the links one node should have. Inside a location the media nodes (at most three)
 * form a full mesh of local backplanes; between locations only the proxies link, a full mesh of
 * geo backplanes. No store, no sockets: the cluster node feeds it what its watched cache holds.
 */

/** A location's part of a conference as the store records it. */
export interface LocationMedia {
  location: string;
  /** Media nodes in allocation order. */
  mediaNodes: readonly string[];
  /** The proxy the store records, if any. */
  proxyNode?: string | undefined;
}

/**
 * The location's proxy: the recorded one while it is alive and still a media node there (a proxy
 * is never replaced while it works, so geo links are not rebuilt for nothing); otherwise the
 * earliest-allocated live media node, which every node computes alike from the same record.
 * Undefined when no media node of the location is alive.
 */
export function electProxy(loc: LocationMedia, alive: (node: string) => boolean): string | undefined {
  const recorded = loc.proxyNode;
  if (recorded !== undefined && alive(recorded) && loc.mediaNodes.includes(recorded)) return recorded;
  return loc.mediaNodes.find(alive);
}

export type BackplaneKind = 'local' | 'geo';

export interface WantedLink {
  peer: string;
  kind: BackplaneKind;
  /** The peer's location (the node's own for a local link). */
  location: string;
}

/**
 * The links `node` (a node of `location`) should have for one conference: a local link to each
 * other live media node of its location while it is one of them, and, when it is its location's
 * proxy, a geo link to the proxy of every other location where the conference has live media.
 * Sorted by peer name; empty when the node carries no media of the conference.
 */
export function wantedLinks(node: string, location: string, locations: readonly LocationMedia[], alive: (node: string) => boolean): WantedLink[] {
  const mine = locations.find((l) => l.location === location);
  if (!mine || !mine.mediaNodes.includes(node) || !alive(node)) return [];
  const out: WantedLink[] = [];
  for (const peer of new Set(mine.mediaNodes)) {
    if (peer !== node && alive(peer)) out.push({ peer, kind: 'local', location });
  }
  if (electProxy(mine, alive) === node) {
    for (const other of locations) {
      if (other.location === location) continue;
      const proxy = electProxy(other, alive);
      if (proxy !== undefined && proxy !== node) out.push({ peer: proxy, kind: 'geo', location: other.location });
    }
  }
  return out.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
}

/**
 * Whether `node` pays the conference's backplane unit (DESIGN.md section 1, "Capacity"): it is a
 * media node of its location and has at least one backplane for it, local or geo. A location's
 * lone media node pays as soon as the conference has media in another location (it is the proxy).
 */
export function paysBackplane(node: string, location: string, locations: readonly LocationMedia[], alive: (node: string) => boolean): boolean {
  return wantedLinks(node, location, locations, alive).length > 0;
}
