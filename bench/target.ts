/**
 * The system under bench: a confnode process started from dist/ with a bench config (many room
 * VMRs, a large RTP range, high capacity, quiet logs), Janus AudioBridge with a config of the
 * bench's own (bench/janus/), or the bench's own fake UAS to check the load generator. Reads the
 * target's CPU time from /proc. Stops only the process it started, by PID (test/helpers/proc.ts
 * kills its own process group).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPUS_DEFAULT_BITRATE } from '../src/media/codecs/opus';
import { MIX_SAMPLE_RATE } from '../src/media/codecs/types';
import { freePorts, udpFree } from '../test/helpers/ports';
import { Proc, waitFor } from '../test/helpers/proc';
import { startJanus } from './janus/janus-process';
import type { JoinSignaling } from './load/protocol';
import { procCpu } from '../test/helpers/proc-stat';
import { mixSlotCountsFromMetrics, type MixSlotCounts } from './load/stats';

export const REPO_ROOT = join(__dirname, '..', '..');

export type TargetKind = 'node' | 'fake' | 'janus';

/** Opus complexity of both mixers in the bench: confnode's default (media.opus_complexity). */
export const BENCH_OPUS_COMPLEXITY = 3;

/** How a target mixes, stated beside its figures (the comparison is fair only when they match). */
export interface MixingSettings {
  /** Rate the mix is computed at, Hz. */
  sampleRateHz: number;
  opusComplexity: number;
  opusBitrate: number;
  /** libopus application of the encoders ('audio' = CELT-leaning, 'voip' = SILK-leaning). */
  opusApplication: 'audio' | 'voip';
}

/** The mixing settings of each target kind as the bench configures it. */
export function mixingSettings(kind: TargetKind, opusComplexity = BENCH_OPUS_COMPLEXITY): MixingSettings {
  if (kind === 'janus') {
    // AudioBridge opens every encoder with OPUS_APPLICATION_VOIP (not configurable in 1.1.2).
    return { sampleRateHz: 16000, opusComplexity, opusBitrate: OPUS_DEFAULT_BITRATE, opusApplication: 'voip' };
  }
  if (kind === 'fake') return { sampleRateHz: 8000, opusComplexity: 9, opusBitrate: 0, opusApplication: 'audio' };
  return { sampleRateHz: MIX_SAMPLE_RATE, opusComplexity, opusBitrate: OPUS_DEFAULT_BITRATE, opusApplication: 'audio' };
}

export interface TargetOptions {
  kind: TargetKind;
  /** Compiled node entry (dist/node/main.js). */
  nodeMain: string;
  dir: string;
  rooms: number;
  mixTalkers: number;
  /** media.workers of the node; undefined = the node's default. */
  workers?: number;
  rtpPorts: number;
  /** Opus encoder complexity of the node (media.opus_complexity) and of Janus participants. */
  opusComplexity?: number;
}

export interface Target {
  kind: TargetKind;
  proc: Proc;
  /** SIP port of the node or fake UAS; 0 for Janus (no SIP). */
  sipPort: number;
  /** The node's HTTP API (/metrics); Janus's API is in `signaling`. */
  httpPort?: number;
  /** How the generator joins participants (SIP without SRTP; callers add SRTP). */
  signaling: JoinSignaling;
  mixing: MixingSettings;
  /** utime and stime of the target process, in seconds. */
  cpuTimes(): { user: number; system: number };
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * An even-based UDP port range free right now, below the kernel's ephemeral range. The test
 * helper's freePortRange() reserves its ranges for the life of the process, which a bench that
 * starts a dozen nodes would exhaust; the previous node is stopped before the next starts.
 */
async function freeRtpRange(size: number): Promise<{ min: number; max: number }> {
  const low = 10000;
  const high = 32000;
  // Many tries: a random range rarely overlaps a busy port, but a full run once failed all of 20.
  for (let attempt = 0; attempt < 200; attempt++) {
    const min = low + 2 * Math.floor(Math.random() * ((high - low - size) / 2));
    let ok = true;
    for (let p = min; p < min + size && ok; p++) ok = await udpFree(p);
    if (ok) return { min, max: min + size - 1 };
  }
  throw new Error(`no free range of ${size} UDP ports found`);
}

/** Room VMR aliases used by the bench: room1..roomN. */
export function roomAlias(i: number): string {
  return `room${i}`;
}

export function benchConfigYaml(o: {
  sipPort: number;
  httpPort: number;
  controlPort: number;
  rtp: { min: number; max: number };
  rooms: number;
  mixTalkers: number;
  /** media.workers of the node; undefined = the node's default. */
  workers?: number;
  opusComplexity?: number;
}): string {
  const vmrs: string[] = [];
  for (let i = 1; i <= o.rooms; i++) vmrs.push(`  - { name: ${roomAlias(i)}, aliases: [${roomAlias(i)}] }`);
  return [
    '# Written by bench/target.ts for one bench run (loopback only).',
    'cluster: { name: bench, secret: "bench-secret-0123456789", store: memory }',
    'locations: [ { name: local } ]',
    'nodes:',
    `  - { name: bench1, location: local, address: 127.0.0.1, sip_port: ${o.sipPort}, http_port: ${o.httpPort}, ` +
      `control_port: ${o.controlPort}, rtp_ports: { min: ${o.rtp.min}, max: ${o.rtp.max} }, capacity: 100000, log_level: warn }`,
    // sip_srtp optional: plain and SDES-SRTP callers alike (the PCMU+SRTP series offers RTP/SAVP).
    `media: { mix_talkers: ${o.mixTalkers}, opus_complexity: ${o.opusComplexity ?? BENCH_OPUS_COMPLEXITY}, sip_srtp: optional` +
      `${o.workers !== undefined ? `, workers: ${o.workers}` : ''} }`,
    'vmrs:',
    ...vmrs,
    '',
  ].join('\n');
}

/** `count` free ports outside `range` (the node refuses a config whose ports overlap). */
async function portsOutside(count: number, range: { min: number; max: number }): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 100 && out.length < count; i++) {
    const [p] = (await freePorts(1)) as [number];
    if (p < range.min || p > range.max) out.push(p);
  }
  if (out.length < count) throw new Error('no free ports outside the RTP range');
  return out;
}

export async function startTarget(o: TargetOptions): Promise<Target> {
  const rtp = await freeRtpRange(o.rtpPorts);
  const [sipPort, httpPort, controlPort] = (await portsOutside(3, rtp)) as [number, number, number];
  const complexity = o.opusComplexity ?? BENCH_OPUS_COMPLEXITY;
  const mixing = mixingSettings(o.kind, complexity);
  if (o.kind === 'janus') {
    const janus = await startJanus({ dir: o.dir, httpPort, rtp, rooms: o.rooms, room: { samplingRate: mixing.sampleRateHz } });
    return {
      kind: 'janus',
      proc: janus.proc,
      sipPort: 0,
      signaling: { kind: 'janus', url: janus.url, opusComplexity: mixing.opusComplexity, opusBitrate: mixing.opusBitrate },
      mixing,
      cpuTimes: () => procCpu(janus.proc.pid),
      alive: () => janus.proc.exit === undefined,
      stop: () => janus.stop(),
    };
  }
  let proc: Proc;
  if (o.kind === 'node') {
    if (!existsSync(o.nodeMain)) throw new Error(`${o.nodeMain} is missing: build the node first (npx tsc -p tsconfig.build.json)`);
    const path = join(o.dir, 'bench-node.yaml');
    writeFileSync(
      path,
      benchConfigYaml({ sipPort, httpPort, controlPort, rtp, rooms: o.rooms, mixTalkers: o.mixTalkers, opusComplexity: complexity, ...(o.workers !== undefined ? { workers: o.workers } : {}) }),
    );
    proc = new Proc('confnode', process.execPath, [o.nodeMain, '--config', path, '--node', 'bench1'], { cwd: REPO_ROOT });
    try {
      await waitFor(
        'node /healthz',
        async () => {
          if (proc.exit) throw new Error(`node exited: ${JSON.stringify(proc.exit)}`);
          const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(1000) });
          return res.status === 200 ? true : undefined;
        },
        20_000,
      );
    } catch (e) {
      await proc.stop(1000);
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.tail(2000)}`);
    }
  } else {
    proc = new Proc('fake-uas', process.execPath, [join(__dirname, 'load', 'fake-uas.js'), String(sipPort)], { cwd: REPO_ROOT });
    await waitFor('fake UAS ready', () => (proc.stdout.includes('ready') ? true : undefined), 10_000);
  }
  return {
    kind: o.kind,
    proc,
    sipPort,
    ...(o.kind === 'node' ? { httpPort } : {}),
    signaling: { kind: 'sip', sipPort, srtp: false },
    mixing,
    cpuTimes: () => procCpu(proc.pid),
    alive: () => proc.exit === undefined,
    stop: async () => {
      await proc.stop(5000);
    },
  };
}


/** The node's cumulative mix slot runs by timing, from /metrics (undefined if unavailable). */
export async function mixSlotCounts(t: Target): Promise<MixSlotCounts | undefined> {
  if (t.httpPort === undefined) return undefined;
  try {
    const res = await fetch(`http://127.0.0.1:${t.httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    return mixSlotCountsFromMetrics(await res.text());
  } catch {
    return undefined;
  }
}

/** GET a JSON document from the node's HTTP API (undefined on any failure: figures only). */
export async function getJson(t: Target, path: string): Promise<unknown> {
  if (t.httpPort === undefined) return undefined;
  try {
    const res = await fetch(`http://127.0.0.1:${t.httpPort}${path}`, { signal: AbortSignal.timeout(3000) });
    return res.status === 200 ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}
