/**
 * What the geo tests (test/cluster-geo.test.ts, issue 11) read of a cluster that spans locations:
 * the backplane rows of /api/v1/backplanes, each location's record in the store (media nodes and
 * proxy), tone checks on what a TonePhone hears, and a sampler of link counters that tells a link
 * kept from a rebuilt one. Test support only; never used by the node.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { etcdRange, getJsonFrom } from './cluster';
import type { BackplaneView } from '../../src/node/http';
import type { NodeUnderTest } from './node-process';
import { toneReport } from './tone';

/** A row of GET /api/v1/backplanes. */
export type BackplaneRow = BackplaneView;

/** A node's backplane links of one conference. */
export async function backplaneRows(node: NodeUnderTest, conference: string): Promise<BackplaneRow[]> {
  return (await getJsonFrom<BackplaneRow[]>(node, '/api/v1/backplanes')).filter((r) => r.conference === conference);
}

/** The link of `node` to `peer` for the conference, when it exists. */
export async function linkTo(node: NodeUnderTest, conference: string, peer: string): Promise<BackplaneRow | undefined> {
  return (await backplaneRows(node, conference)).find((r) => r.peerNode === peer);
}

/** One line per link, for assertion messages. */
export function describeLinks(node: string, rows: BackplaneRow[]): string {
  return rows
    .map((r) => `${node} -> ${r.peerNode}@${r.peerLocation} ${r.kind} streams in/out ${r.streamsIn ?? '?'}/${r.streamsOut ?? '?'} packets in/out ${r.packetsIn}/${r.packetsOut} rtt ${r.rttMs ?? '-'} ms`)
    .join('\n');
}

/** A location's record of a conference in the store (`conferences/<vmr>/locations/<location>`). */
export interface StoredLocation {
  mediaNodes: string[];
  proxyNode: string | undefined;
  /** The record as stored, to compare before and after. */
  raw: string;
}

/** Every location record of the conference, read from etcd directly (default prefix). */
export async function storedLocations(endpoint: string, vmr: string): Promise<Record<string, StoredLocation>> {
  const out: Record<string, StoredLocation> = {};
  for (const kv of await etcdRange(endpoint, `/confnode/v1/conferences/${vmr}/locations/`)) {
    const loc = /\/locations\/([^/]+)$/.exec(kv.key)?.[1];
    if (!loc) continue;
    const rec = JSON.parse(kv.value) as { mediaNodes?: string[]; proxyNode?: string };
    out[loc] = { mediaNodes: (rec.mediaNodes ?? []).slice(), proxyNode: rec.proxyNode, raw: kv.value };
  }
  return out;
}

/** A sine sent at amplitude 6000 gives about 2.25e6; a tone passed through a 3-way mix far above this. */
const PRESENT_MIN_POWER = 1e4;

export interface HearingCheck {
  ok: boolean;
  rms: number;
  power: Record<number, number>;
}

/**
 * Whether the last second of what a phone received holds each of `present` (each at least 5% of
 * the strongest of them, and clearly above noise) and none of `absent` (below 0.1% of it).
 */
export function hearing(samples: Int16Array, present: readonly number[], absent: readonly number[] = []): HearingCheck {
  const report = toneReport(samples, 8000, [...present, ...absent]);
  const strongest = Math.max(0, ...present.map((f) => report.power[f] ?? 0));
  const ok =
    samples.length >= 4000 &&
    present.every((f) => (report.power[f] ?? 0) > Math.max(PRESENT_MIN_POWER, 0.05 * strongest)) &&
    absent.every((f) => (report.power[f] ?? 0) < 0.001 * strongest);
  const power: Record<number, number> = {};
  for (const [f, p] of Object.entries(report.power)) power[Number(f)] = Math.round(p);
  return { ok, rms: Math.round(report.rms), power };
}

/** Appends every stdout line of the node to `<dir>/<node>.log` (kept for a failure's report). */
export function keepLog(node: NodeUnderTest, dir: string): string {
  const path = join(dir, `${node.config.nodeName}.log`);
  node.proc.onLine((line) => appendFileSync(path, `${line}\n`));
  return path;
}

/**
 * The node log's "backplane link up" / "backplane link closed" lines about `peers` logged at or
 * after `sinceMs` (pino JSON lines with an ISO time), as `time msg peer (reason)`.
 */
export function linkEvents(logPath: string, sinceMs: number, peers: readonly string[]): string[] {
  if (!existsSync(logPath)) return [];
  const out: string[] = [];
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { time?: unknown; msg?: unknown; peer?: unknown; reason?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    const at = typeof rec.time === 'string' ? Date.parse(rec.time) : typeof rec.time === 'number' ? rec.time : NaN;
    if (!(at >= sinceMs) || (rec.msg !== 'backplane link up' && rec.msg !== 'backplane link closed')) continue;
    if (typeof rec.peer === 'string' && peers.includes(rec.peer)) out.push(`${String(rec.time)} ${rec.msg} ${rec.peer}${rec.reason !== undefined ? ` (${String(rec.reason)})` : ''}`);
  }
  return out;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** One reading of a link's counters (undefined fields: the link was absent at that moment). */
export interface LinkSample {
  at: number;
  packetsIn: number | undefined;
  packetsOut: number | undefined;
}

/**
 * Samples one link's packet counters every `intervalMs` until stopped. A link kept through an
 * event shows counters that never go down and never vanish; a rebuilt one restarts from zero or
 * is missing for a moment.
 */
export class LinkWatch {
  readonly samples: LinkSample[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly node: NodeUnderTest,
    private readonly conference: string,
    private readonly peer: string,
    intervalMs = 250,
  ) {
    this.loop = this.run(intervalMs);
  }

  private async run(intervalMs: number): Promise<void> {
    while (!this.stopped) {
      try {
        const l = await linkTo(this.node, this.conference, this.peer);
        this.samples.push({ at: Date.now(), packetsIn: l?.packetsIn, packetsOut: l?.packetsOut });
      } catch (e) {
        this.errors.push(e instanceof Error ? e.message : String(e));
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Readings where the link was missing or a counter went down (empty for a link kept throughout). */
  breaks(): LinkSample[] {
    const out: LinkSample[] = [];
    let prev: LinkSample | undefined;
    for (const s of this.samples) {
      if (s.packetsIn === undefined || s.packetsOut === undefined) out.push(s);
      else if (prev?.packetsIn !== undefined && prev.packetsOut !== undefined && (s.packetsIn < prev.packetsIn || s.packetsOut < prev.packetsOut)) out.push(s);
      prev = s;
    }
    return out;
  }

  /** Whether both counters grew between the first and the last reading. */
  grew(): boolean {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return first !== undefined && last !== undefined && (last.packetsIn ?? 0) > (first.packetsIn ?? 0) && (last.packetsOut ?? 0) > (first.packetsOut ?? 0);
  }
}
