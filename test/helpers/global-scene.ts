/**
 * The seed's globally distributed example (examples/global.yaml, seeds/004: Emma, Frank, Greta) as
 * one plan for a private namespace (netns.ts): etcd and the six nodes of SEED_GLOBAL_CAPACITIES
 * with the SEED_GLOBAL_OVERFLOW table, six quiet sipp callers filling USA, three baresip callers
 * with loud distinct tones, then R8 (a USA caller that must get 503, a Brazil caller that joins).
 * Also the expected backplane stream counts (R9: one copy per stream per location pair). Builds
 * files and steps only; never runs a process itself.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SEED_GLOBAL_CAPACITIES, SEED_GLOBAL_OVERFLOW } from '../../src/node/placement';
import { writeBaresipConfig } from './baresip';
import { netnsClusterSteps, writeClusterConfig } from './cluster';
import { makeTempDir, type NodeConfig } from './config';
import type { PlanStep } from './netns';
import { freePortRange, freePorts } from './ports';
import { sippArgs, type SippOptions } from './sipp';
import { linearToUlaw, sineSamples } from './wav';

/** USA fillers (sipp, PCMU): quiet, so the mixers keep the louder callers' voices (see MIX_TALKERS). */
export const FILLER_HZ = 440;
export const FILLER_AMPLITUDE = 1500;
/** Emma (Opus), Frank (PCMU), Greta (PCMA) play WAVs of amplitude 8000: about 15 dB above a filler. */
export const CALLER_AMPLITUDE = 8000;
/**
 * Chosen so that no sum or difference (up to third order) of two other tones, the filler's included,
 * falls within 200 Hz of a caller's own tone: G.711 companding and packet-loss concealment make such
 * intermodulation products, which would read as the caller hearing itself.
 */
export const CALLER_HZ = { emma: 650, frank: 2150, greta: 2350 } as const;
export type CallerName = keyof typeof CALLER_HZ;
export const ALL_TONES = [FILLER_HZ, CALLER_HZ.emma, CALLER_HZ.frank, CALLER_HZ.greta] as const;

/**
 * media.mix_talkers for this scene: the three loud callers plus one filler. With the default 3 a
 * SIP caller would hear only the three loudest voices (the mixer's talker selection), so the fillers
 * would never reach a baresip recording; with more, several fillers of one frequency could cancel.
 */
export const MIX_TALKERS = 4;

/** Where each baresip caller signals (the seed's sequence, examples/global.yaml). */
export const CALLER_SIGNALING: Readonly<Record<CallerName, string>> = { emma: 'USConf01', frank: 'MexConf01', greta: 'USConf03' };
/** The six USA fillers' signaling nodes, in order (as src/node/placement/overflow.test.ts). */
export const FILLER_SIGNALING = ['USConf01', 'USConf02', 'USConf03', 'USConf01', 'USConf02', 'USConf03'] as const;
export const R8_USA_SIGNALING = 'USConf02';
export const R8_BRAZIL_SIGNALING = 'BraConf01';

export const CONFERENCE = 'alice';

export interface GlobalScene {
  dir: string;
  nodes: NodeConfig[];
  /** Node name -> location, from SEED_GLOBAL_CAPACITIES. */
  locationOf: Record<string, string>;
  callerDirs: Record<CallerName, string>;
  /** sipp's -log_file of the R8 USA caller (holds `Retry-After [n]`). */
  r8LogFile: string;
  steps: PlanStep[];
}

/** One node per entry of SEED_GLOBAL_CAPACITIES, in its order (USA first). */
function seedNodes(): Array<{ name: string; location: string; capacity: number }> {
  const out: Array<{ name: string; location: string; capacity: number }> = [];
  for (const [location, caps] of Object.entries(SEED_GLOBAL_CAPACITIES)) {
    for (const [name, capacity] of Object.entries(caps)) out.push({ name, location, capacity: capacity as number });
  }
  return out;
}

/**
 * A WAV of `freq` at `amplitude`: 8 kHz mono u-law (sipp's rtp_stream plays it as PCMU, looped),
 * or 16-bit PCM at any rate and channel count (baresip's aufile; with Opus it must be 48 kHz stereo).
 */
function writeTone(path: string, o: { freq: number; amplitude: number; seconds: number; ulaw?: boolean; rate?: number; channels?: number }): void {
  const rate = o.ulaw ? 8000 : (o.rate ?? 8000);
  const channels = o.ulaw ? 1 : (o.channels ?? 1);
  const bytes = o.ulaw ? 1 : 2;
  const pcm = sineSamples(o.freq, o.seconds, rate, o.amplitude);
  const data = Buffer.alloc(pcm.length * channels * bytes);
  for (let i = 0; i < pcm.length; i++) {
    for (let c = 0; c < channels; c++) {
      const at = (i * channels + c) * bytes;
      if (o.ulaw) data[at] = linearToUlaw(pcm[i] ?? 0);
      else data.writeInt16LE(pcm[i] ?? 0, at);
    }
  }
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8, 'ascii');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(o.ulaw ? 7 : 1, 20); // WAVE_FORMAT_MULAW or PCM
  head.writeUInt16LE(channels, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * channels * bytes, 28);
  head.writeUInt16LE(channels * bytes, 32);
  head.writeUInt16LE(bytes * 8, 34);
  head.write('data', 36, 'ascii');
  head.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([head, data]));
}

const url = (n: NodeConfig, path: string): string => `http://127.0.0.1:${n.httpPort}${path}`;

function byName(nodes: NodeConfig[], name: string): NodeConfig {
  const n = nodes.find((c) => c.nodeName === name);
  if (!n) throw new Error(`no node ${name} in the scene`);
  return n;
}

async function sippStep(dir: string, id: string, o: Omit<SippOptions, 'cwd'>): Promise<PlanStep> {
  const [sipPort, controlPort] = (await freePorts(2)) as [number, number];
  // sipp binds -mp to -mp+3 (audio and video RTP/RTCP): a reserved block, off every node's RTP range.
  const mediaPort = (await freePortRange(4)).min;
  return { op: 'start', id, cmd: 'sipp', args: sippArgs({ ...o, cwd: dir }, { sipPort, mediaPort, controlPort }), cwd: dir, logFile: join(dir, `${id}.log`) };
}

/** Waits until the cluster (asked at `at`) lists `count` participants of the conference sending media. */
function participantsStep(at: NodeConfig, count: number): PlanStep {
  return { op: 'waitJson', url: url(at, '/api/v1/participants'), timeoutMs: 20_000, minItems: count, match: { conference: CONFERENCE }, positive: ['packetsIn'], key: `participants-${count}` };
}

async function writeCallers(dir: string): Promise<Record<CallerName, string>> {
  const emmaWav = join(dir, 'emma-tone.wav');
  writeTone(emmaWav, { freq: CALLER_HZ.emma, amplitude: CALLER_AMPLITUDE, seconds: 60, rate: 48000, channels: 2 });
  const frankWav = join(dir, 'frank-tone.wav');
  writeTone(frankWav, { freq: CALLER_HZ.frank, amplitude: CALLER_AMPLITUDE, seconds: 60 });
  const gretaWav = join(dir, 'greta-tone.wav');
  writeTone(gretaWav, { freq: CALLER_HZ.greta, amplitude: CALLER_AMPLITUDE, seconds: 60 });
  const ports = (await freePorts(3)) as [number, number, number];
  return {
    emma: writeBaresipConfig({ dir: join(dir, 'emma'), user: 'emma', sipPort: ports[0], rtp: await freePortRange(40), codec: 'opus', source: { kind: 'aufile', wav: emmaWav } }),
    frank: writeBaresipConfig({ dir: join(dir, 'frank'), user: 'frank', sipPort: ports[1], rtp: await freePortRange(40), codec: 'pcmu', source: { kind: 'aufile', wav: frankWav } }),
    greta: writeBaresipConfig({ dir: join(dir, 'greta'), user: 'greta', sipPort: ports[2], rtp: await freePortRange(40), codec: 'pcma', source: { kind: 'aufile', wav: gretaWav } }),
  };
}

/** The whole scene: config, WAVs, baresip configs and the plan (see the file header). */
export async function prepareGlobalScene(): Promise<GlobalScene> {
  const dir = makeTempDir('cluster-global');
  const [etcdClient, etcdPeer] = (await freePorts(2)) as [number, number];
  const specs = seedNodes();
  const nodes = await writeClusterConfig({
    dir,
    etcdEndpoint: `http://127.0.0.1:${etcdClient}`,
    nodes: specs,
    overflow: { ...SEED_GLOBAL_OVERFLOW },
    vmrs: [{ name: CONFERENCE, aliases: ['meet.alice', 'meet.alice@example.com'] }],
  });
  const configPath = nodes[0]?.path ?? join(dir, 'cluster.yaml');
  const yaml = readFileSync(configPath, 'utf8');
  const media = 'media: { workers: 1 }';
  if (!yaml.includes(media)) throw new Error(`cluster.yaml has no '${media}' line to add mix_talkers to:\n${yaml}`);
  writeFileSync(configPath, yaml.replace(media, `media: { workers: 1, mix_talkers: ${MIX_TALKERS} }`));
  writeTone(join(dir, 'tone_pcmu.wav'), { freq: FILLER_HZ, amplitude: FILLER_AMPLITUDE, seconds: 10, ulaw: true });
  const callerDirs = await writeCallers(dir);
  const r8LogFile = join(dir, 'sipp-r8-usa-messages.log');
  const at = (name: string): NodeConfig => byName(nodes, name);
  const ask = at('USConf01');

  const steps: PlanStep[] = [...netnsClusterSteps(dir, { client: etcdClient, peer: etcdPeer }, nodes)];
  for (const name of Object.keys(callerDirs) as CallerName[]) {
    steps.push({ op: 'start', id: name, cmd: 'baresip', args: ['-f', callerDirs[name]], cwd: callerDirs[name], logFile: join(dir, `baresip-${name}.log`) });
  }
  for (const name of Object.keys(callerDirs) as CallerName[]) steps.push({ op: 'waitOutput', id: name, pattern: 'baresip is ready', timeoutMs: 10_000 });
  // Six quiet fillers fill USA (USConf02 takes three, USConf03 two, USConf01 one), one at a time.
  for (const [i, signaling] of FILLER_SIGNALING.entries()) {
    steps.push(await sippStep(dir, `filler-${i + 1}`, { scenario: 'uac_call_rtp.xml', target: `127.0.0.1:${at(signaling).sipPort}`, service: 'meet.alice', pauseMs: 120_000, timeoutS: 150 }));
    steps.push(participantsStep(ask, i + 1));
  }
  // Emma, Frank, Greta in the seed's order, each placed before the next calls.
  let count = FILLER_SIGNALING.length;
  for (const name of ['emma', 'frank', 'greta'] as const) {
    steps.push({ op: 'write', id: name, text: `/dial sip:meet.alice@127.0.0.1:${at(CALLER_SIGNALING[name]).sipPort}\n` });
    steps.push({ op: 'waitOutput', id: name, pattern: 'Call established', timeoutMs: 15_000 });
    steps.push(participantsStep(ask, ++count));
  }
  // The single-node locations' nodes are their proxies: each has three geo links carrying media.
  for (const name of ['MexConf01', 'CanConf01', 'BraConf01']) {
    steps.push({
      op: 'waitJson', url: url(at(name), '/api/v1/backplanes'), timeoutMs: 20_000, minItems: 3,
      match: { kind: 'geo', conference: CONFERENCE }, positive: ['streamsIn', 'streamsOut', 'packetsIn', 'packetsOut'], key: `geo-${name}`,
    });
  }
  // R8: USA, Mexico and Canada are full: a USA caller gets 503 with Retry-After; a Brazil caller joins.
  steps.push(await sippStep(dir, 'r8-usa', {
    scenario: 'uac_reject_503.xml', target: `127.0.0.1:${at(R8_USA_SIGNALING).sipPort}`, service: 'meet.alice', timeoutS: 20,
    extraArgs: ['-trace_logs', '-log_file', r8LogFile],
  }));
  steps.push({ op: 'waitExit', id: 'r8-usa', timeoutMs: 25_000 });
  steps.push(await sippStep(dir, 'r8-brazil', { scenario: 'uac_call_rtp.xml', target: `127.0.0.1:${at(R8_BRAZIL_SIGNALING).sipPort}`, service: 'meet.alice', pauseMs: 120_000, timeoutS: 150 }));
  steps.push(participantsStep(ask, ++count));
  // Everyone hears everyone from here on: the recordings' last seconds are measured.
  steps.push({ op: 'sleep', ms: 5000 });
  steps.push({ op: 'fetchJson', url: url(at('MexConf01'), '/api/v1/participants'), key: 'participants' });
  steps.push({ op: 'fetchJson', url: url(at('CanConf01'), '/api/v1/log'), key: 'log' });
  steps.push({ op: 'fetchJson', url: url(at('USConf03'), '/api/v1/conferences'), key: 'conferences' });
  for (const n of nodes) steps.push({ op: 'fetchJson', url: url(n, '/api/v1/backplanes'), key: `backplanes-${n.nodeName}` });
  for (const name of Object.keys(callerDirs) as CallerName[]) steps.push({ op: 'write', id: name, text: '/hangup\n' });
  steps.push({ op: 'sleep', ms: 800 });
  for (const name of Object.keys(callerDirs) as CallerName[]) steps.push({ op: 'write', id: name, text: '/quit\n' });
  for (const name of Object.keys(callerDirs) as CallerName[]) steps.push({ op: 'waitExit', id: name, timeoutMs: 8000 });

  const locationOf = Object.fromEntries(specs.map((s) => [s.name, s.location]));
  return { dir, nodes, locationOf, callerDirs, r8LogFile, steps };
}

// --- what the admin API shows, and what R9 says it must --------------------------------------------

/** The fields of /api/v1/participants this scene reads. */
export interface Placed {
  id: string;
  conference: string;
  displayName: string;
  signalingNode: string;
  mediaNode: string;
  mediaLocation: string;
  placementReason: string;
  audioCodec?: string;
  packetsIn: number;
  packetsOut: number;
}

export interface LinkRow {
  conference: string;
  kind: 'local' | 'geo';
  peerNode: string;
  peerLocation: string;
  streamsIn?: number;
  streamsOut?: number;
  packetsIn: number;
  packetsOut: number;
  rttMs?: number;
}

/** One link as the expectation compares it. */
export interface LinkShape {
  peerNode: string;
  kind: 'local' | 'geo';
  streamsOut: number;
  streamsIn: number;
}

/**
 * R9/R12, one copy per stream per location pair: what each node's links must carry, given where
 * every participant's media is and which node is each location's proxy.
 * - local link N -> P (one location L): N's own participants, plus, when N is L's proxy, every
 *   participant whose media is in another location (relayed geo -> local once); never what N got
 *   from another local node (each media node links to each other one).
 * - geo link N -> P (proxies of L and L'): exactly the participants whose media is in L; nothing
 *   that came from a third location (geo -> geo is never relayed).
 */
export function expectedLinks(parts: Placed[], locationOf: Record<string, string>, proxies: string[]): Record<string, LinkShape[]> {
  const onNode = (n: string): number => parts.filter((p) => p.mediaNode === n).length;
  const inLocation = (l: string): number => parts.filter((p) => p.mediaLocation === l).length;
  const isProxy = (n: string): boolean => proxies.includes(n);
  const localOut = (n: string): number => onNode(n) + (isProxy(n) ? parts.length - inLocation(locationOf[n] ?? '?') : 0);
  const mediaNodes = [...new Set(parts.map((p) => p.mediaNode))];
  const out: Record<string, LinkShape[]> = {};
  for (const n of Object.keys(locationOf)) {
    const loc = locationOf[n] ?? '?';
    const rows: LinkShape[] = [];
    if (mediaNodes.includes(n)) {
      for (const peer of mediaNodes) {
        if (peer === n || locationOf[peer] !== loc) continue;
        rows.push({ peerNode: peer, kind: 'local', streamsOut: localOut(n), streamsIn: localOut(peer) });
      }
    }
    if (isProxy(n)) {
      for (const peer of proxies) {
        const peerLoc = locationOf[peer] ?? '?';
        if (peer === n || peerLoc === loc) continue;
        rows.push({ peerNode: peer, kind: 'geo', streamsOut: inLocation(loc), streamsIn: inLocation(peerLoc) });
      }
    }
    out[n] = rows.sort((a, b) => a.peerNode.localeCompare(b.peerNode));
  }
  return out;
}

/** A node's rows of the conference in the shape expectedLinks() gives. */
export function linkShapes(rows: LinkRow[] | undefined): LinkShape[] {
  return (rows ?? [])
    .filter((r) => r.conference === CONFERENCE)
    .map((r) => ({ peerNode: r.peerNode, kind: r.kind, streamsOut: r.streamsOut ?? -1, streamsIn: r.streamsIn ?? -1 }))
    .sort((a, b) => a.peerNode.localeCompare(b.peerNode));
}

/** One line per participant: where its signaling and media are, why, and its counters. */
export function describePlacement(parts: Placed[] | undefined): string {
  if (!parts) return '(no participant list fetched)';
  return parts
    .map((p) => `${p.id} ${p.displayName} signaling ${p.signalingNode} media ${p.mediaNode}@${p.mediaLocation} (${p.placementReason}) ${p.audioCodec ?? '-'} in/out ${p.packetsIn}/${p.packetsOut}`)
    .join('\n');
}
