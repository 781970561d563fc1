/**
 * The world of the placement simulator (issue 11 item 8), from ../shared/bench/geo: locations,
 * one-way backbone latency, the overflow table derived from it, the README's conference draw and
 * its latency and WAN-copy model, pair statistics. Pure (randomness passed in) except
 * `readGeoModel`, which only reads the CSVs; it never decides a placement.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GeoLocation {
  code: string;
  place: string;
  macroRegion: string;
  /** Share of callers whose first participant is here (the README's population weight). */
  weight: number;
}

export interface GeoModel {
  locations: readonly GeoLocation[];
  /** One-way backbone ms, [from][to] by the index of `locations`. */
  oneWayMs: readonly (readonly number[])[];
  index: ReadonlyMap<string, number>;
}

/** The README's model: 1 ms per node hop, open internet at 1.3x the backbone, access 5-20 ms. */
export const LATENCY_MODEL = { hopMs: 1, openInternetFactor: 1.3, accessMs: [5, 20] as const };

/** The README's conference draw for the 13-location simulation. */
export const README_WORKLOAD = {
  sizes: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] as const,
  sizeWeights: [0.3, 0.2, 0.14, 0.1, 0.07, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02] as const,
  singleLocationShare: 0.7,
  /** Later callers of a multi-location conference: first caller's location, same macro region, else anywhere by weight. */
  sameLocation: 0.45,
  sameMacroRegion: 0.25,
};

/** The README's reference over 100,000 conferences at 13 locations (multi-region conferences). */
export const README_REFERENCE_13 = {
  meanMs: { distributed: 68.5, anchored: 91.8 },
  meanRatio: 0.746,
  p95Ms: { distributed: 149, anchored: 225 },
  over150Share: { distributed: 0.047, anchored: 0.199 },
  wanCopiesRatio: 0.77,
};

function csvRows(text: string): string[][] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0).map((l) => l.split(',').map((c) => c.trim()));
}

export function parseLocationsCsv(text: string): GeoLocation[] {
  const [header, ...rows] = csvRows(text);
  if (header?.join(',') !== 'code,place,macro_region,population_weight') throw new Error(`locations CSV: unexpected header ${header?.join(',')}`);
  return rows.map((r) => {
    const [code, place, macroRegion, weight] = r;
    const w = Number(weight);
    if (code === undefined || place === undefined || macroRegion === undefined || !Number.isFinite(w)) throw new Error(`locations CSV: bad row ${r.join(',')}`);
    return { code, place, macroRegion, weight: w };
  });
}

/** The one-way matrix restricted to `codes` (in that order); every pair must be present. */
export function parseOneWayCsv(text: string, codes: readonly string[]): number[][] {
  const [header, ...rows] = csvRows(text);
  const cols = header?.slice(1) ?? [];
  const byFrom = new Map(rows.map((r) => [r[0] ?? '', r] as const));
  return codes.map((from) => {
    const row = byFrom.get(from);
    return codes.map((to) => {
      const v = Number(row?.[cols.indexOf(to) + 1]);
      if (row === undefined || !cols.includes(to) || !Number.isFinite(v)) throw new Error(`one-way CSV: no figure ${from} -> ${to}`);
      return v;
    });
  });
}

/** A model of the locations named in `only` (all by default), in the CSV's order. */
export function geoModel(locationsCsv: string, oneWayCsv: string, only?: readonly string[]): GeoModel {
  const all = parseLocationsCsv(locationsCsv);
  const missing = (only ?? []).filter((c) => !all.some((l) => l.code === c));
  if (missing.length > 0) throw new Error(`unknown locations ${missing.join(', ')}`);
  const locations = only ? all.filter((l) => only.includes(l.code)) : all;
  const codes = locations.map((l) => l.code);
  return { locations, oneWayMs: parseOneWayCsv(oneWayCsv, codes), index: new Map(codes.map((c, i) => [c, i] as const)) };
}

export function readGeoModel(dir: string, only?: readonly string[]): GeoModel {
  return geoModel(readFileSync(join(dir, 'locations_13.csv'), 'utf8'), readFileSync(join(dir, 'oneway_ms_13.csv'), 'utf8'), only);
}

function idx(model: GeoModel, code: string): number {
  const i = model.index.get(code);
  if (i === undefined) throw new Error(`unknown location ${code}`);
  return i;
}

/** One-way backbone between two locations: the mean of both directions (symmetric within 9 ms). */
export function backboneMs(model: GeoModel, a: string, b: string): number {
  if (a === b) return 0;
  const i = idx(model, a);
  const j = idx(model, b);
  return ((model.oneWayMs[i]?.[j] ?? 0) + (model.oneWayMs[j]?.[i] ?? 0)) / 2;
}

export interface OverflowEntry {
  primary?: string;
  secondary?: string;
}

/**
 * Each location overflows to its two nearest locations, those of its own macro region first
 * (nearest first), then the others by latency; ties by code. Deterministic from the matrix.
 */
export function deriveOverflowTable(model: GeoModel): Record<string, OverflowEntry> {
  const table: Record<string, OverflowEntry> = {};
  for (const loc of model.locations) {
    const ranked = model.locations
      .filter((o) => o.code !== loc.code)
      .map((o) => ({ code: o.code, same: o.macroRegion === loc.macroRegion ? 0 : 1, ms: backboneMs(model, loc.code, o.code) }))
      .sort((a, b) => a.same - b.same || a.ms - b.ms || (a.code < b.code ? -1 : 1));
    const [primary, secondary] = ranked;
    table[loc.code] = { ...(primary ? { primary: primary.code } : {}), ...(secondary ? { secondary: secondary.code } : {}) };
  }
  return table;
}

/** Other locations of `code`'s macro region; empty when it is alone there (then callers go anywhere by weight). */
export function macroNeighbours(model: GeoModel, code: string): GeoLocation[] {
  const region = model.locations[idx(model, code)]?.macroRegion;
  return model.locations.filter((l) => l.code !== code && l.macroRegion === region);
}

/** Expected share of callers per location under README_WORKLOAD: how the simulator sizes each location. */
export function expectedCallerShare(model: GeoModel): Map<string, number> {
  const w = README_WORKLOAD;
  const meanSize = w.sizes.reduce<number>((s, n, i) => s + n * (w.sizeWeights[i] ?? 0), 0);
  const later = meanSize - 1;
  const totalWeight = model.locations.reduce((s, l) => s + l.weight, 0);
  const share = new Map<string, number>(model.locations.map((l) => [l.code, 0]));
  const add = (code: string, v: number): void => void share.set(code, (share.get(code) ?? 0) + v);
  const multi = 1 - w.singleLocationShare;
  for (const first of model.locations) {
    const p = first.weight / totalWeight;
    add(first.code, p * (1 + later * (w.singleLocationShare + multi * w.sameLocation)));
    const macro = macroNeighbours(model, first.code);
    const anywhere = multi * (1 - w.sameLocation - (macro.length > 0 ? w.sameMacroRegion : 0));
    for (const m of macro) add(m.code, (p * later * multi * w.sameMacroRegion) / macro.length);
    for (const l of model.locations) add(l.code, (p * later * anywhere * l.weight) / totalWeight);
  }
  const total = [...share.values()].reduce((a, b) => a + b, 0);
  return new Map([...share].map(([c, v]) => [c, v / total] as const));
}

/** One end of a participant pair as the distributed model sees it. */
export interface PairEnd {
  callerLocation: string;
  accessMs: number;
  mediaLocation: string;
  mediaNode: string;
  /** The proxy of the media location for this conference. */
  proxyNode: string;
}

/** Caller to its media node: access, plus the open internet when overflow put the media elsewhere. */
export function accessLegMs(model: GeoModel, callerLocation: string, accessMs: number, mediaLocation: string): number {
  return accessMs + LATENCY_MODEL.openInternetFactor * backboneMs(model, callerLocation, mediaLocation);
}

/**
 * Node hops of a pair's media path: 2 through one location (the README's same-location and
 * anchored figure), 4 between locations (out of one proxy, into the other), and 1 more for every
 * local backplane hop (a media node that is not its location's proxy, or two media nodes of one
 * location).
 */
export function distributedHops(a: PairEnd, b: PairEnd): number {
  if (a.mediaLocation === b.mediaLocation) return a.mediaNode === b.mediaNode ? 2 : 3;
  return 4 + (a.mediaNode !== a.proxyNode ? 1 : 0) + (b.mediaNode !== b.proxyNode ? 1 : 0);
}

/** One-way ms between two participants with distributed media (access + backbone + access + hops). */
export function distributedPairMs(model: GeoModel, a: PairEnd, b: PairEnd): number {
  return (
    accessLegMs(model, a.callerLocation, a.accessMs, a.mediaLocation) +
    backboneMs(model, a.mediaLocation, b.mediaLocation) +
    accessLegMs(model, b.callerLocation, b.accessMs, b.mediaLocation) +
    LATENCY_MODEL.hopMs * distributedHops(a, b)
  );
}

/** One-way ms between two participants when all media sits at `anchor` (far callers over the open internet). */
export function anchoredPairMs(model: GeoModel, a: { callerLocation: string; accessMs: number }, b: { callerLocation: string; accessMs: number }, anchor: string): number {
  return accessLegMs(model, a.callerLocation, a.accessMs, anchor) + accessLegMs(model, b.callerLocation, b.accessMs, anchor) + 2 * LATENCY_MODEL.hopMs;
}

/** WAN copies when all media sits at `anchor`: each far caller sends its stream there and receives every other stream from there. */
export function anchoredWanCopies(callerLocations: readonly string[], anchor: string): number {
  const far = callerLocations.filter((c) => c !== anchor).length;
  return far * callerLocations.length;
}

/** A participant's stream source for the relay model. */
export interface StreamEnd {
  mediaLocation: string;
  mediaNode: string;
}

export interface StreamRouting {
  /** Distinct geo-link copies over all streams (proxy to proxy). */
  geoCopies: number;
  /** Distinct local-backplane copies over all streams. */
  localCopies: number;
  /** Geo copies of one stream between one ordered location pair: min and max over all (1 and 1 when R9 holds). */
  perStreamLocationPair: { min: number; max: number; pairs: number };
}

/**
 * The relay path of every stream to every other participant (R9): inside a location directly
 * over the local mesh; to another location via the sender's proxy, one geo link to the other
 * location's proxy, then its local mesh. A stream crossing a link once serves every receiver
 * behind it, so copies are counted per distinct (stream, link).
 */
export function routeStreams(ends: readonly StreamEnd[], proxyOf: (location: string) => string): StreamRouting {
  let geoCopies = 0;
  let localCopies = 0;
  let min = Infinity;
  let max = 0;
  let pairs = 0;
  ends.forEach((src, s) => {
    const local = new Set<string>();
    const geo = new Map<string, Set<string>>();
    ends.forEach((dst, r) => {
      if (r === s) return;
      const hops: Array<[string, string, 'local' | 'geo']> = [];
      if (dst.mediaLocation === src.mediaLocation) hops.push([src.mediaNode, dst.mediaNode, 'local']);
      else {
        const from = proxyOf(src.mediaLocation);
        const to = proxyOf(dst.mediaLocation);
        hops.push([src.mediaNode, from, 'local'], [from, to, 'geo'], [to, dst.mediaNode, 'local']);
      }
      for (const [a, b, kind] of hops) {
        if (a === b) continue;
        if (kind === 'local') local.add(`${a}>${b}`);
        else {
          const key = `${src.mediaLocation}>${dst.mediaLocation}`;
          const links = geo.get(key) ?? new Set<string>();
          links.add(`${a}>${b}`);
          geo.set(key, links);
        }
      }
    });
    localCopies += local.size;
    for (const links of geo.values()) {
      geoCopies += links.size;
      min = Math.min(min, links.size);
      max = Math.max(max, links.size);
      pairs++;
    }
  });
  return { geoCopies, localCopies, perStreamLocationPair: { min: pairs > 0 ? min : 0, max, pairs } };
}

/** A row of sample_conferences.csv: the README's per-conference expectations. */
export interface SampleConference {
  conf: number;
  callers: Array<{ location: string; accessMs: number }>;
  anchorB: string;
  anchorC: string;
  meanMs: { A: number; B: number; C: number };
  wan: { A: number; B: number; C: number };
}

export function parseSampleConferences(text: string): SampleConference[] {
  const [, ...rows] = csvRows(text);
  return rows.map((r) => {
    const [conf, size, locs, access, anchorB, anchorC, mA, mB, mC, wA, wB, wC] = r;
    const locations = (locs ?? '').split(' ');
    const accessMs = (access ?? '').split(' ').map(Number);
    if (anchorB === undefined || anchorC === undefined || locations.length !== Number(size) || accessMs.length !== locations.length) {
      throw new Error(`sample conferences: bad row ${r.join(',')}`);
    }
    return {
      conf: Number(conf),
      callers: locations.map((location, i) => ({ location, accessMs: accessMs[i] ?? NaN })),
      anchorB,
      anchorC,
      meanMs: { A: Number(mA), B: Number(mB), C: Number(mC) },
      wan: { A: Number(wA), B: Number(wB), C: Number(wC) },
    };
  });
}

/** One caller of a drawn conference, in join order (the first is the anchored strategy's anchor). */
export interface SimCaller {
  location: string;
  accessMs: number;
  cost: number;
}

export const mean = (xs: readonly number[]): number => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function weighted(rnd: () => number, weights: readonly number[]): number {
  let r = rnd() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] ?? 0;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/** A conference as README.md draws it: size, then each caller's location, access delay and cost. */
export function drawConference(rnd: () => number, model: GeoModel, videoShare: number, costs: { audio: number; video: number }): SimCaller[] {
  const w = README_WORKLOAD;
  const locs = model.locations;
  const byWeight = (): string => locs[weighted(rnd, locs.map((l) => l.weight))]?.code ?? '';
  const size = w.sizes[weighted(rnd, w.sizeWeights)] ?? 2;
  const first = byWeight();
  const multi = rnd() >= w.singleLocationShare;
  const macro = macroNeighbours(model, first);
  const [lo, hi] = LATENCY_MODEL.accessMs;
  const callers: SimCaller[] = [];
  for (let i = 0; i < size; i++) {
    let location = first;
    if (i > 0 && multi) {
      const r = rnd();
      if (r >= w.sameLocation) location = r < w.sameLocation + w.sameMacroRegion && macro.length > 0 ? (macro[Math.floor(rnd() * macro.length)]?.code ?? first) : byWeight();
    }
    callers.push({ location, accessMs: lo + (hi - lo) * rnd(), cost: rnd() < videoShare ? costs.video : costs.audio });
  }
  return callers;
}

/** Nodes per location in proportion to the expected share of callers, at least 2 each. */
export function sizeLocations(model: GeoModel, totalNodes: number): Map<string, number> {
  const share = expectedCallerShare(model);
  return new Map(model.locations.map((l) => [l.code, Math.max(2, Math.round(totalNodes * (share.get(l.code) ?? 0)))] as const));
}

export interface PairStats {
  pairs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  over150Share: number;
}

export function pairStats(values: readonly number[]): PairStats {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { pairs: sorted.length, meanMs: mean(values), p50Ms: at(0.5), p95Ms: at(0.95), over150Share: sorted.length > 0 ? sorted.filter((v) => v > 150).length / sorted.length : 0 };
}

/** What one conference shows once everyone has joined: pair latencies and WAN copies of both strategies. */
export interface ConferenceFigures {
  size: number;
  multiRegion: boolean;
  /** Some participant's media went to an overflow location. */
  spilled: boolean;
  pairsA: number[];
  pairsB: number[];
  meanA: number;
  meanB: number;
  /** Best single anchor among the callers' locations. */
  meanC: number;
  anchorB: string;
  anchorC: string;
  wanA: number;
  wanGeo: number;
  wanOpenInternet: number;
  wanB: number;
  wanC: number;
  routing: StreamRouting;
}

/** A placed participant as the figures see it: caller, media node and media location. */
export interface PlacedCaller extends SimCaller {
  node: string;
  mediaLocation: string;
}

/** Pairs and copies of one conference from its placed callers (join order) and its media nodes per location (the first is the proxy). */
export function conferenceFigures(model: GeoModel, conf: { placed: readonly PlacedCaller[]; media: ReadonlyMap<string, readonly string[]> }): ConferenceFigures | undefined {
  const ps = conf.placed;
  const anchorB = ps[0]?.location;
  if (ps.length < 2 || anchorB === undefined) return undefined;
  const proxyOf = (loc: string): string => conf.media.get(loc)?.[0] ?? `${loc}-none`;
  const ends: PairEnd[] = ps.map((p) => ({ callerLocation: p.location, accessMs: p.accessMs, mediaLocation: p.mediaLocation, mediaNode: p.node, proxyNode: proxyOf(p.mediaLocation) }));
  const pairsA: number[] = [];
  const pairsAt = (anchor: string): number[] => {
    const out: number[] = [];
    for (let i = 0; i < ps.length; i++) for (let j = i + 1; j < ps.length; j++) out.push(anchoredPairMs(model, ends[i] as PairEnd, ends[j] as PairEnd, anchor));
    return out;
  };
  for (let i = 0; i < ends.length; i++) for (let j = i + 1; j < ends.length; j++) pairsA.push(distributedPairMs(model, ends[i] as PairEnd, ends[j] as PairEnd));
  const pairsB = pairsAt(anchorB);
  const callerLocs = ps.map((p) => p.location);
  let best = { anchor: anchorB, mean: mean(pairsB) };
  for (const loc of new Set(callerLocs)) {
    const m = loc === anchorB ? best.mean : mean(pairsAt(loc));
    if (m < best.mean - 1e-9) best = { anchor: loc, mean: m };
  }
  const routing = routeStreams(ends, proxyOf);
  const open = ps.filter((p) => p.mediaLocation !== p.location).length * ps.length;
  return {
    size: ps.length, multiRegion: new Set(callerLocs).size >= 2, spilled: ps.some((p) => p.mediaLocation !== p.location), pairsA, pairsB,
    meanA: mean(pairsA), meanB: mean(pairsB), meanC: best.mean, anchorB, anchorC: best.anchor,
    wanA: routing.geoCopies + open, wanGeo: routing.geoCopies, wanOpenInternet: open, wanB: anchoredWanCopies(callerLocs, anchorB), wanC: anchoredWanCopies(callerLocs, best.anchor), routing,
  };
}
