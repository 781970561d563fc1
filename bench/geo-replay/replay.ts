/**
 * The seed's latency claim replayed through real nodes (issue 11's benchmark): three locations
 * (LON, IAD, SYD), one node each, the simulated WAN of `wan_sim` between them with the one-way
 * backbone delays of ../shared/bench/geo, and the 25 conferences of sample_conferences.csv, each
 * caller a SIP endpoint (geo-phone.ts). Two strategies on the same cluster, one after the other:
 * - distributed (ours): each caller dials the node of its own location, so media stays there and
 *   crosses between locations only on geo backplanes between proxies (R9, R12);
 * - anchored: every caller dials the first participant's location (all media there).
 * Each participant speaks in turn (a loud tone: voice switching shows it to every SIP viewer);
 * once every viewer sees the speaker, each viewer's arrivals of the speaker's video give the
 * one-way latency of that pair through the real media path (send time in the payload, kernel
 * arrival time). The callers' access legs are added from the workload: `access_ms` each way, and
 * for anchored callers far from the anchor the open internet at 1.3x the backbone (the README's
 * model); everything between the two callers' sockets is measured. Figures only, no verdict.
 */
import { backboneMs, parseSampleConferences, readGeoModel, type GeoModel, type SampleConference } from '../geo-sim/geo-model';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterNodeHandle } from '../cluster/cluster-procs';
import { GeoPhone } from './geo-phone';

export type Strategy = 'distributed' | 'anchored';

export interface ReplayPlan {
  /** Video frames per second of every phone (one packet each). */
  fps: number;
  /** How long a viewer's samples are kept once it shows the speaker, ms. */
  recordMs: number;
  /** How long a switch may take before the round goes on without that viewer, ms. */
  switchTimeoutMs: number;
  /** Only the first N conferences of the CSV (all when undefined). */
  conferences?: number;
}

export interface PairResult {
  from: number;
  to: number;
  /** Median of the measured path, ms (between the two callers' sockets). */
  pathMs: number;
  /** Access legs added from the workload, ms. */
  accessMs: number;
  samples: number;
}

export interface ConferenceResult {
  conf: number;
  size: number;
  locations: string[];
  anchor: string;
  /** Ordered pairs measured / expected (size x (size-1)). */
  pairsMeasured: number;
  pairsExpected: number;
  meanMs: number;
  p95Ms: number;
  /** The workload's expected mean for this strategy. */
  expectedMeanMs: number;
  /** WAN stream copies: distributed from the geo backplanes' stream counts, anchored from the topology. */
  wanCopies: number;
  expectedWanCopies: number;
  pairs: PairResult[];
}

export interface StrategyResult {
  strategy: Strategy;
  conferences: ConferenceResult[];
  /** Over every measured pair of multi-region conferences. */
  meanMs: number;
  p95Ms: number;
  wanCopies: number;
  /** Geo copies of one stream between one ordered location pair, min and max over all (1 and 1 = R9). */
  copiesPerStreamLocationPair: { min: number; max: number };
  switchTimeouts: number;
  /** The workload's expectations over the same pairs: mean of multi-region pairs, and WAN copies. */
  expected: { meanMs: number; wanCopies: number };
  /** How late the simulated WAN's timers sent (inside the nodes, part of what was measured), ms. */
  wanSimLate?: { meanMs: number; maxMs: number };
}

export const GEO_LOCATIONS = ['LON', 'IAD', 'SYD'] as const;

export function loadWorkload(sharedGeoDir: string): { model: GeoModel; conferences: SampleConference[] } {
  const model = readGeoModel(sharedGeoDir, GEO_LOCATIONS);
  const conferences = parseSampleConferences(readFileSync(join(sharedGeoDir, 'sample_conferences.csv'), 'utf8'));
  return { model, conferences };
}

/** The `wan_sim` YAML lines: every pair of locations with its one-way backbone delay. */
export function wanSimYaml(model: GeoModel): string[] {
  const lines = ['wan_sim:'];
  for (let i = 0; i < GEO_LOCATIONS.length; i++) {
    for (let j = i + 1; j < GEO_LOCATIONS.length; j++) {
      const [a, b] = [GEO_LOCATIONS[i] as string, GEO_LOCATIONS[j] as string];
      lines.push(`  - { between: [${a}, ${b}], delay_ms: ${backboneMs(model, a, b)}, jitter_ms: 0, loss: 0 }`);
    }
  }
  return lines;
}

export const vmrOf = (conf: number): string => `geo${conf}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2;
};
const p95 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(0.95 * s.length) - 1)] ?? NaN;
};
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

interface Room {
  c: SampleConference;
  anchor: string;
  phones: GeoPhone[];
}

/** One caller's access leg to the node it dialed. */
function accessLeg(model: GeoModel, caller: { location: string; accessMs: number }, nodeLocation: string): number {
  return caller.accessMs + (caller.location === nodeLocation ? 0 : 1.3 * backboneMs(model, caller.location, nodeLocation));
}

interface BackplaneRow {
  conference: string;
  kind: string;
  peerLocation: string;
  streamsOut: number;
  wanSim?: { delayed: number; lateMeanMs: number; lateMaxMs: number };
}

/** Runs one strategy over the conferences on a running cluster (one node per location). */
export async function replay(
  strategy: Strategy,
  o: { plan: ReplayPlan; model: GeoModel; conferences: SampleConference[]; nodes: Map<string, ClusterNodeHandle>; log: (line: string) => void },
): Promise<StrategyResult> {
  const confs = o.plan.conferences !== undefined ? o.conferences.slice(0, o.plan.conferences) : o.conferences;
  const rooms: Room[] = [];
  const all: GeoPhone[] = [];
  const pacer = setInterval(() => {
    for (const p of all) p.sendAudio();
  }, 20);
  let frame = 0;
  const keyEvery = Math.max(1, Math.round(o.plan.fps * 2));
  const video = setInterval(() => {
    frame++;
    for (const p of all) p.sendVideo(keyEvery);
  }, Math.round(1000 / o.plan.fps));
  let switchTimeouts = 0;
  try {
    for (const c of confs) {
      const anchor = c.anchorB;
      const room: Room = { c, anchor, phones: [] };
      rooms.push(room);
      for (const [i, caller] of c.callers.entries()) {
        const at = strategy === 'distributed' ? caller.location : anchor;
        const node = o.nodes.get(at);
        if (!node) throw new Error(`no node in ${at}`);
        const phone = await GeoPhone.call(node.sipPort, vmrOf(c.conf), i);
        room.phones.push(phone);
        all.push(phone);
      }
    }
    o.log(`geo ${strategy}: ${all.length} callers in ${rooms.length} conferences`);
    await sleep(1500); // backplanes up, stream lists exchanged
    const rounds = Math.max(...rooms.map((r) => r.phones.length));
    for (let r = 0; r < rounds; r++) {
      const speaking = rooms.filter((room) => room.phones.length > r);
      for (const room of rooms) room.phones.forEach((p, i) => (p.speaking = i === r));
      const deadline = Date.now() + o.plan.switchTimeoutMs;
      const viewers = speaking.flatMap((room) => room.phones.filter((p) => p.index !== r));
      // A viewer records from the moment it shows the speaker, for recordMs.
      const recordingSince = new Map<GeoPhone, number>();
      while (Date.now() < deadline + o.plan.recordMs) {
        const now = Date.now();
        for (const v of viewers) {
          if (!recordingSince.has(v) && v.showing === r && now < deadline) {
            recordingSince.set(v, now);
            v.record(true);
          }
          const since = recordingSince.get(v);
          if (since !== undefined && now - since >= o.plan.recordMs) v.record(false);
        }
        if (viewers.every((v) => { const s = recordingSince.get(v); return s !== undefined && now - s >= o.plan.recordMs; })) break;
        await sleep(50);
      }
      for (const v of viewers) v.record(false);
      switchTimeouts += viewers.filter((v) => !recordingSince.has(v)).length;
      o.log(`geo ${strategy}: round ${r + 1}/${rounds}: ${recordingSince.size}/${viewers.length} viewers saw the speaker (frame ${frame})`);
    }
    const backplanes = strategy === 'distributed' ? await geoStreams(o.nodes) : [];
    return summarize(strategy, rooms, o.model, backplanes, switchTimeouts);
  } finally {
    clearInterval(pacer);
    clearInterval(video);
    await Promise.all(all.map((p) => p.hangup()));
  }
}

async function geoStreams(nodes: Map<string, ClusterNodeHandle>): Promise<Array<BackplaneRow & { location: string }>> {
  const out: Array<BackplaneRow & { location: string }> = [];
  for (const [location, n] of nodes) {
    const res = await fetch(`${n.baseUrl}/api/v1/backplanes`, { signal: AbortSignal.timeout(5000) });
    const rows = (await res.json()) as BackplaneRow[];
    for (const b of rows) if (b.kind === 'geo') out.push({ ...b, location });
  }
  return out;
}

function summarize(strategy: Strategy, rooms: Room[], model: GeoModel, geo: Array<BackplaneRow & { location: string }>, switchTimeouts: number): StrategyResult {
  const conferences: ConferenceResult[] = [];
  const multi: number[] = [];
  let expectedSum = 0;
  let expectedPairs = 0;
  let copyMin = Infinity;
  let copyMax = 0;
  for (const room of rooms) {
    const { c } = room;
    const pairs: PairResult[] = [];
    for (const viewer of room.phones) {
      for (const [from, samples] of viewer.samples) {
        const a = c.callers[from];
        const b = c.callers[viewer.index];
        if (!a || !b || samples.length === 0) continue;
        const nodeA = strategy === 'distributed' ? a.location : room.anchor;
        const nodeB = strategy === 'distributed' ? b.location : room.anchor;
        pairs.push({ from, to: viewer.index, pathMs: median(samples), accessMs: accessLeg(model, a, nodeA) + accessLeg(model, b, nodeB), samples: samples.length });
      }
    }
    const totals = pairs.map((p) => p.pathMs + p.accessMs);
    const locations = c.callers.map((x) => x.location);
    if (new Set(locations).size > 1) {
      multi.push(...totals);
      expectedSum += (strategy === 'distributed' ? c.meanMs.A : c.meanMs.B) * c.callers.length * (c.callers.length - 1);
      expectedPairs += c.callers.length * (c.callers.length - 1);
    }
    let wanCopies: number;
    if (strategy === 'distributed') {
      // Each link's streams out: audio and video of every participant on the sending side, once.
      const rows = geo.filter((g) => g.conference === vmrOf(c.conf));
      wanCopies = rows.reduce((s, g) => s + g.streamsOut, 0) / 2;
      for (const g of rows) {
        const senders = locations.filter((l) => l === g.location).length;
        const perStream = senders > 0 ? g.streamsOut / (2 * senders) : 0;
        copyMin = Math.min(copyMin, perStream);
        copyMax = Math.max(copyMax, perStream);
      }
    } else {
      const far = locations.filter((l) => l !== room.anchor).length;
      wanCopies = far * locations.length;
    }
    conferences.push({
      conf: c.conf,
      size: c.callers.length,
      locations,
      anchor: room.anchor,
      pairsMeasured: pairs.length,
      pairsExpected: c.callers.length * (c.callers.length - 1),
      meanMs: mean(totals),
      p95Ms: p95(totals),
      expectedMeanMs: strategy === 'distributed' ? c.meanMs.A : c.meanMs.B,
      wanCopies,
      expectedWanCopies: strategy === 'distributed' ? c.wan.A : c.wan.B,
      pairs,
    });
  }
  const delayed = geo.reduce((s, g) => s + (g.wanSim?.delayed ?? 0), 0);
  return {
    strategy,
    conferences,
    meanMs: mean(multi),
    p95Ms: p95(multi),
    wanCopies: conferences.reduce((s, c) => s + c.wanCopies, 0),
    copiesPerStreamLocationPair: { min: copyMin === Infinity ? 0 : copyMin, max: copyMax },
    switchTimeouts,
    expected: { meanMs: expectedPairs > 0 ? expectedSum / expectedPairs : NaN, wanCopies: conferences.reduce((s, c) => s + c.expectedWanCopies, 0) },
    ...(delayed > 0
      ? { wanSimLate: { meanMs: geo.reduce((s, g) => s + (g.wanSim?.lateMeanMs ?? 0) * (g.wanSim?.delayed ?? 0), 0) / delayed, maxMs: Math.max(...geo.map((g) => g.wanSim?.lateMaxMs ?? 0)) } }
      : {}),
  };
}
