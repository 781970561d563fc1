/**
 * WebRTC (SRTP) forwarding cost of the SFU against the minimal dgram forwarder, in the same run
 * (issue 13 item 2): one WebRTC publisher and V viewers (webrtc-peers.ts, one child process)
 * joined to one room of a fresh node through its real /ws signaling; node CPU per forwarded SRTP
 * packet (video window minus an idle window with everyone joined and the publisher silent) beside
 * the dgram forwarder's CPU per packet at the same rate and fan-out; once with the node on
 * native/srtp and once under CONFNODE_SRTP=js. Figures only, never a verdict. The node, the
 * generator and the forwarder are stopped in finally blocks; every wait is bounded.
 */
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports';
import { Proc, sleep, waitFor } from '../../test/helpers/proc';
import { getJson, REPO_ROOT, roomAlias, startTarget, type Target } from '../target';
import { rtpPacket, SyntheticH264, type SynthPacket } from './h264-synth';
import { cpuSplit } from './memory';
import { corePercent, lossPercent, marginalCpuSeconds, MIN_CPU_S, spread, summarize, usPerPacket, type Summary } from './stats';
import { CountingReceivers, Traffic } from './traffic';
import type { JoinReport, PeersCounters, PeersOp, PeersReady, PeersReply, PeersRequest } from './webrtc-peers';

export type SrtpEngine = 'native' | 'js';

export interface SrtpForwardingOptions {
  nodeMain: string;
  dir: string;
  viewers: number;
  packetsPerFrame: number;
  fps: number;
  payloadBytes: number;
  windowMs: number;
  warmupMs: number;
  /** Repeats with the node on native/srtp, then under CONFNODE_SRTP=js (0: that part is skipped). */
  repeats: number;
  jsRepeats: number;
  /** Viewers count video right after our SRTP context decrypted it (webrtc-peers.ts); false: at werift's track. */
  lightViewers: boolean;
  deadline: number;
  log: (line: string) => void;
}

export interface SrtpRun {
  repetition: number;
  sfu: {
    forwarded: number;
    sent: number;
    lossPercent: number;
    forwardedPerS: number;
    nodeCpuVideoPercent: number;
    nodeCpuIdlePercent: number;
    marginalCpuS: number;
    marginalCorePercent: number;
    /** Kernel (stime) part of the marginal CPU, in %. */
    marginalSystemShare: number | undefined;
    /** Marginal node CPU per packet received by the viewers. */
    usPerPacket: number | undefined;
    /** All the node's CPU of the video window per packet (fixed costs included). */
    usPerPacketAllIn: number | undefined;
  };
  dgram: { forwarded: number; sent: number; lossPercent: number; cpuS: number; corePercent: number; systemShare: number | undefined; usPerPacket: number | undefined };
  /** SFU µs per packet / dgram µs per packet (goal: at most 2). */
  ratio: number | undefined;
  generator: { cpuVideoPercent: number; cpuIdlePercent: number; cpuDgramPercent: number; usPerPacket: number | undefined };
}

export interface SrtpEngineResult {
  engine: SrtpEngine;
  /** What the node said at start about its SRTP, or what its environment forced. */
  nodeSrtp: string;
  generatorSrtp: string;
  videoCodec: string;
  joinMs: Summary;
  runs: SrtpRun[];
  /** All runs pooled: total CPU over total packets, each side; then their ratio. */
  pooled: { usPerPacket: number | undefined; dgramUsPerPacket: number | undefined; ratio: number | undefined };
  usPerPacket: ReturnType<typeof spread>;
  dgramUsPerPacket: ReturnType<typeof spread>;
  ratio: ReturnType<typeof spread>;
  forwardedPerS: ReturnType<typeof spread>;
  check: {
    viewersWithVideo: number;
    peersOnOurSrtp: number;
    peers: number;
    /** From the end of the warm-up to the end: publisher packets sent, node packets in/out (API, all kinds), viewers' video packets. */
    sent: number;
    nodePacketsIn: number;
    nodePacketsOut: number;
    viewersVideoIn: number;
    keyframeRequests: number;
    keyframesSent: number;
    generatorLateTicks: number;
    /** Packets the generator's contexts refused (auth / replay / malformed). */
    generatorSrtpDrops: string;
  };
  errors: string[];
}

export interface SrtpForwardingResult {
  viewers: number;
  ratePps: number;
  payloadBytes: number;
  windowS: number;
  /** 'light': counted after our SRTP context's decrypt, werift's receive path skipped; 'werift': counted at werift's track. */
  viewerMode: 'light' | 'werift';
  native?: SrtpEngineResult;
  js?: SrtpEngineResult;
  /** js pooled µs per packet / native pooled µs per packet. */
  jsOverNative: number | undefined;
  errors: string[];
}

const REQUEST_TIMEOUT_MS = 10_000;
const PEERS_SCRIPT = join(__dirname, 'webrtc-peers.js');

/** The generator child and its request/reply channel (one timeout per request). */
class PeersClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: PeersReply) => void>();
  srtp = 'unknown';

  private constructor(readonly proc: Proc) {
    proc.child.on('message', (m: PeersReply | PeersReady) => {
      if ('ready' in m) {
        this.srtp = m.srtp;
        return;
      }
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      done?.(m);
    });
  }

  static async start(): Promise<PeersClient> {
    // The generator's SRTP is its own choice (native when built), whatever the node is told.
    const env = { ...process.env };
    delete env.CONFNODE_SRTP;
    const proc = new Proc('webrtc-peers', process.execPath, [PEERS_SCRIPT], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
    const client = new PeersClient(proc);
    try {
      await waitFor('generator ready', () => (proc.exit ? Promise.reject(new Error(proc.tail(800))) : client.srtp !== 'unknown' ? true : undefined), 15_000, 50);
    } catch (e) {
      await proc.stop(1000);
      throw e;
    }
    return client;
  }

  async request(r: PeersOp, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Extract<PeersReply, { ok: true }>> {
    const id = this.nextId++;
    const reply = await new Promise<PeersReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`generator: no reply to ${r.op} within ${timeoutMs} ms\n${this.proc.tail(800)}`));
      }, timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      const msg: PeersRequest = { ...r, id };
      this.proc.child.send(msg);
    });
    if (!reply.ok) throw new Error(`generator ${r.op}: ${reply.error}`);
    return reply;
  }

  async counters(): Promise<PeersCounters> {
    const r = await this.request({ op: 'counters' });
    if (!r.counters) throw new Error('generator sent no counters');
    return r.counters;
  }

  async stop(): Promise<void> {
    if (!this.proc.exit) await this.request({ op: 'leave' }, 5000).catch(() => undefined);
    await this.proc.stop(2000);
  }
}

/** The dgram forwarder child, V counting receivers, and a pacer feeding it the same stream. */
interface Baseline {
  proc: Proc;
  receivers: CountingReceivers;
  socket: Socket;
  traffic: Traffic;
  /** Starts (true) or pauses the stream to the forwarder. */
  feed(on: boolean): void;
}

async function startBaseline(o: SrtpForwardingOptions): Promise<Baseline> {
  const receivers = await CountingReceivers.open(o.viewers);
  const port = await freePort();
  const proc = new Proc('dgram-forwarder', process.execPath, [join(__dirname, 'dgram-forwarder.js'), String(port), receivers.ports.join(',')]);
  const feed = createSocket('udp4');
  const synth = new SyntheticH264({ packetsPerFrame: o.packetsPerFrame, fps: o.fps, payloadBytes: o.payloadBytes, keyframeEverySeconds: 1 });
  const traffic = new Traffic(synth, () => []);
  try {
    await waitFor('dgram forwarder ready', () => (proc.exit ? Promise.reject(new Error(proc.tail(500))) : proc.stdout.includes('ready') ? true : undefined), 10_000);
    await new Promise<void>((resolve) => feed.bind(0, '127.0.0.1', () => resolve()));
  } catch (e) {
    traffic.stop();
    receivers.close();
    feed.close();
    await proc.stop(1000);
    throw e;
  }
  let seq = 0;
  const send = (p: SynthPacket): void => feed.send(rtpPacket(96, p.marker, seq++, p.timestamp, 0x5eed, p.payload), port, '127.0.0.1');
  return { proc, receivers, socket: feed, traffic, feed: (on) => traffic.video(on ? send : null) };
}

async function stopBaseline(b: Baseline | undefined): Promise<void> {
  if (!b) return;
  b.traffic.stop();
  b.receivers.close();
  b.socket.close();
  await b.proc.stop(2000);
}

interface Window {
  wallS: number;
  node: { cpuS: number; sysS: number };
  generatorCpuS: number;
  dgram: { cpuS: number; sysS: number };
  sent: number;
  received: number;
}

type Packets = () => Promise<{ sent: number; received: number }>;

function cpuOf(pid: number | undefined): { cpuS: number; sysS: number } {
  const c = cpuSplit(pid);
  return { cpuS: c.user + c.system, sysS: c.system };
}

async function measureWindow(ms: number, pids: { node?: number; generator?: number; dgram?: number }, packets: Packets): Promise<Window> {
  const n0 = cpuOf(pids.node);
  const g0 = cpuOf(pids.generator);
  const d0 = cpuOf(pids.dgram);
  const p0 = await packets();
  const t0 = performance.now();
  await sleep(ms);
  const n1 = cpuOf(pids.node);
  const g1 = cpuOf(pids.generator);
  const d1 = cpuOf(pids.dgram);
  const p1 = await packets();
  const t1 = performance.now();
  return {
    wallS: (t1 - t0) / 1000,
    node: { cpuS: n1.cpuS - n0.cpuS, sysS: n1.sysS - n0.sysS },
    generatorCpuS: g1.cpuS - g0.cpuS,
    dgram: { cpuS: d1.cpuS - d0.cpuS, sysS: d1.sysS - d0.sysS },
    sent: p1.sent - p0.sent,
    received: p1.received - p0.received,
  };
}

function share(part: number, whole: number): number | undefined {
  return whole >= MIN_CPU_S ? Math.round((part / whole) * 100) : undefined;
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b <= 0 ? undefined : Math.round((a / b) * 100) / 100;
}

function runFigures(rep: number, viewers: number, v: Window, idle: Window, d: Window): SrtpRun {
  const marginal = marginalCpuSeconds({ cpuS: v.node.cpuS, wallS: v.wallS }, { cpuS: idle.node.cpuS, wallS: idle.wallS });
  const marginalSys = marginalCpuSeconds({ cpuS: v.node.sysS, wallS: v.wallS }, { cpuS: idle.node.sysS, wallS: idle.wallS });
  const genMarginal = marginalCpuSeconds({ cpuS: v.generatorCpuS, wallS: v.wallS }, { cpuS: idle.generatorCpuS, wallS: idle.wallS });
  const sfuUs = usPerPacket(marginal, v.received);
  const dgramUs = usPerPacket(d.dgram.cpuS, d.received);
  return {
    repetition: rep,
    sfu: {
      forwarded: v.received,
      sent: v.sent,
      lossPercent: lossPercent(v.received, v.sent * viewers),
      forwardedPerS: v.wallS > 0 ? Math.round(v.received / v.wallS) : 0,
      nodeCpuVideoPercent: corePercent(v.node.cpuS, v.wallS),
      nodeCpuIdlePercent: corePercent(idle.node.cpuS, idle.wallS),
      marginalCpuS: Math.round(marginal * 1000) / 1000,
      marginalCorePercent: corePercent(marginal, v.wallS),
      marginalSystemShare: share(marginalSys, marginal),
      usPerPacket: sfuUs,
      usPerPacketAllIn: usPerPacket(v.node.cpuS, v.received),
    },
    dgram: {
      forwarded: d.received,
      sent: d.sent,
      lossPercent: lossPercent(d.received, d.sent * viewers),
      cpuS: Math.round(d.dgram.cpuS * 1000) / 1000,
      corePercent: corePercent(d.dgram.cpuS, d.wallS),
      systemShare: share(d.dgram.sysS, d.dgram.cpuS),
      usPerPacket: dgramUs,
    },
    ratio: ratioOf(sfuUs, dgramUs),
    generator: {
      cpuVideoPercent: corePercent(v.generatorCpuS, v.wallS),
      cpuIdlePercent: corePercent(idle.generatorCpuS, idle.wallS),
      cpuDgramPercent: corePercent(d.generatorCpuS, d.wallS),
      usPerPacket: usPerPacket(genMarginal, v.received),
    },
  };
}

function pooled(runs: readonly SrtpRun[]): SrtpEngineResult['pooled'] {
  const sum = (f: (r: SrtpRun) => number): number => runs.reduce((n, r) => n + f(r), 0);
  const sfu = usPerPacket(sum((r) => r.sfu.marginalCpuS), sum((r) => r.sfu.forwarded));
  const dgram = usPerPacket(sum((r) => r.dgram.cpuS), sum((r) => r.dgram.forwarded));
  return { usPerPacket: sfu, dgramUsPerPacket: dgram, ratio: ratioOf(sfu, dgram) };
}

/** A fresh node whose SRTP engine is forced by CONFNODE_SRTP (the child inherits the bench's env). */
async function startNode(o: SrtpForwardingOptions, engine: SrtpEngine): Promise<Target> {
  const before = process.env.CONFNODE_SRTP;
  process.env.CONFNODE_SRTP = engine;
  try {
    return await startTarget({ kind: 'node', nodeMain: o.nodeMain, dir: o.dir, rooms: 1, mixTalkers: 3, rtpPorts: 64 });
  } finally {
    if (before === undefined) delete process.env.CONFNODE_SRTP;
    else process.env.CONFNODE_SRTP = before;
  }
}

/** Packets in and out of the room's WebRTC participants, from the node's API (worker snapshots). */
async function nodePackets(t: Target): Promise<{ in: number; out: number }> {
  const all = await getJson(t, '/api/v1/participants');
  const list = Array.isArray(all) ? (all as Array<{ conference?: string; protocol?: string; packetsIn?: number; packetsOut?: number }>) : [];
  const room = list.filter((p) => p.conference === roomAlias(1) && p.protocol === 'webrtc');
  return { in: room.reduce((n, p) => n + (p.packetsIn ?? 0), 0), out: room.reduce((n, p) => n + (p.packetsOut ?? 0), 0) };
}

function emptyEngineResult(engine: SrtpEngine): SrtpEngineResult {
  return {
    engine,
    nodeSrtp: 'unknown',
    generatorSrtp: 'unknown',
    videoCodec: '-',
    joinMs: summarize([]),
    runs: [],
    pooled: { usPerPacket: undefined, dgramUsPerPacket: undefined, ratio: undefined },
    usPerPacket: undefined,
    dgramUsPerPacket: undefined,
    ratio: undefined,
    forwardedPerS: undefined,
    check: {
      viewersWithVideo: 0, peersOnOurSrtp: 0, peers: 0, sent: 0, nodePacketsIn: 0, nodePacketsOut: 0, viewersVideoIn: 0,
      keyframeRequests: 0, keyframesSent: 0, generatorLateTicks: 0, generatorSrtpDrops: '-',
    },
    errors: [],
  };
}

const sumOf = (a: readonly number[]): number => a.reduce((n, x) => n + x, 0);

interface Rig {
  target: Target;
  peers: PeersClient;
  baseline: Baseline;
}

/** Video, idle and dgram windows, repeated while `repeats` and the deadline allow. */
async function measureRuns(rig: Rig, o: SrtpForwardingOptions, repeats: number, deadline: number, out: SrtpEngineResult): Promise<void> {
  const { target, peers, baseline } = rig;
  const pids = { node: target.proc.pid, generator: peers.proc.pid, dgram: baseline.proc.pid };
  const sfuPackets: Packets = async () => {
    const c = await peers.counters();
    return { sent: c.videoSent, received: sumOf(c.viewersVideoIn) };
  };
  const dgramPackets: Packets = () => Promise.resolve({ sent: baseline.traffic.videoSent, received: baseline.receivers.received });
  for (let rep = 0; rep < repeats && Date.now() + 3 * o.windowMs + 5000 < deadline; rep++) {
    await peers.request({ op: 'video', on: true });
    await sleep(1000);
    const v = await measureWindow(o.windowMs, pids, sfuPackets);
    await peers.request({ op: 'video', on: false });
    await sleep(500);
    const idle = await measureWindow(o.windowMs, pids, sfuPackets);
    baseline.feed(true);
    await sleep(1000);
    const d = await measureWindow(o.windowMs, pids, dgramPackets);
    baseline.feed(false);
    await sleep(300);
    const run = runFigures(rep, o.viewers, v, idle, d);
    out.runs.push(run);
    o.log(
      `  ${out.engine} run ${rep}: SFU ${run.sfu.usPerPacket ?? '-'} µs/pkt (all-in ${run.sfu.usPerPacketAllIn ?? '-'}, ${run.sfu.forwardedPerS} pkt/s, loss ${run.sfu.lossPercent}%), ` +
        `dgram ${run.dgram.usPerPacket ?? '-'} µs/pkt, ratio ${run.ratio ?? '-'}, generator ${run.generator.cpuVideoPercent}% core`,
    );
  }
}

/** Joins, warms up, checks, measures; `rig` collects what to tear down. */
async function drive(o: SrtpForwardingOptions, engine: SrtpEngine, repeats: number, deadline: number, out: SrtpEngineResult, rig: Partial<Rig>): Promise<void> {
  const target = await startNode(o, engine);
  rig.target = target;
  await sleep(1000);
  const said = /SRTP uses [^"]*/.exec(target.proc.stdout + target.proc.stderr)?.[0];
  out.nodeSrtp = said ?? (engine === 'native' ? 'native/srtp (CONFNODE_SRTP=native: no start without the addon)' : 'CONFNODE_SRTP=js');
  const peers = await PeersClient.start();
  rig.peers = peers;
  out.generatorSrtp = peers.srtp;
  rig.baseline = await startBaseline(o);
  const joinTimeout = 30_000 + o.viewers * 3000;
  const joined = (await peers.request({ op: 'join', wsUrl: `ws://127.0.0.1:${target.httpPort ?? 0}/ws`, alias: roomAlias(1), viewers: o.viewers, packetsPerFrame: o.packetsPerFrame, fps: o.fps, payloadBytes: o.payloadBytes, lightViewers: o.lightViewers }, joinTimeout)).joined as JoinReport;
  out.videoCodec = joined.videoCodec;
  out.joinMs = summarize(joined.joinMs);
  o.log(`srtp forwarding (${engine}): 1 publisher + ${o.viewers} viewers joined (join p50 ${out.joinMs.p50} ms), node SRTP: ${out.nodeSrtp}; generator SRTP: ${peers.srtp}`);
  await peers.request({ op: 'video', on: true });
  await sleep(o.warmupMs);
  const warm = await peers.counters();
  out.check.viewersWithVideo = warm.viewersVideoIn.filter((n) => n > 0).length;
  out.check.peersOnOurSrtp = warm.peersOnOurSrtp;
  out.check.peers = warm.peers;
  if (out.check.viewersWithVideo < o.viewers) out.errors.push(`only ${out.check.viewersWithVideo}/${o.viewers} viewers received video after the warm-up`);
  // The node's counters are worker snapshots (every 500 ms): read them with the video paused.
  await peers.request({ op: 'video', on: false });
  await sleep(1200);
  const n0 = await nodePackets(target);
  const c0 = await peers.counters();
  await measureRuns({ target, peers, baseline: rig.baseline }, o, repeats, deadline, out);
  await sleep(1200);
  const n1 = await nodePackets(target);
  const c1 = await peers.counters();
  out.check = {
    ...out.check,
    sent: c1.videoSent - c0.videoSent,
    nodePacketsIn: n1.in - n0.in,
    nodePacketsOut: n1.out - n0.out,
    viewersVideoIn: sumOf(c1.viewersVideoIn) - sumOf(c0.viewersVideoIn),
    keyframeRequests: c1.keyframeRequests,
    keyframesSent: c1.keyframesSent,
    generatorLateTicks: c1.lateTicks,
    generatorSrtpDrops: `${c1.srtpDrops.auth} / ${c1.srtpDrops.replay} / ${c1.srtpDrops.malformed}`,
  };
}

async function runEngine(o: SrtpForwardingOptions, engine: SrtpEngine, repeats: number, deadline: number): Promise<SrtpEngineResult> {
  const out = emptyEngineResult(engine);
  const rig: Partial<Rig> = {};
  try {
    await drive(o, engine, repeats, deadline, out, rig);
    out.pooled = pooled(out.runs);
    out.usPerPacket = spread(out.runs.map((r) => r.sfu.usPerPacket));
    out.dgramUsPerPacket = spread(out.runs.map((r) => r.dgram.usPerPacket));
    out.ratio = spread(out.runs.map((r) => r.ratio));
    out.forwardedPerS = spread(out.runs.map((r) => r.sfu.forwardedPerS));
    if (out.runs.length === 0) out.errors.push('no run fitted in the time budget');
  } catch (e) {
    out.errors.push(e instanceof Error ? e.message : String(e));
  } finally {
    await rig.peers?.stop();
    await stopBaseline(rig.baseline);
    await rig.target?.stop();
  }
  return out;
}

export async function runSrtpForwarding(o: SrtpForwardingOptions): Promise<SrtpForwardingResult> {
  const result: SrtpForwardingResult = {
    viewers: o.viewers,
    ratePps: o.packetsPerFrame * o.fps,
    payloadBytes: o.payloadBytes,
    windowS: o.windowMs / 1000,
    viewerMode: o.lightViewers ? 'light' : 'werift',
    jsOverNative: undefined,
    errors: [],
  };
  o.log(`SRTP forwarding: 1 WebRTC publisher -> ${o.viewers} WebRTC viewers, ${result.ratePps} video packets/s of ${o.payloadBytes} bytes; native x${o.repeats}, js x${o.jsRepeats}`);
  // The native part may use what the js part does not need (its setup and its runs).
  const jsNeedMs = o.jsRepeats > 0 ? 25_000 + o.viewers * 500 + o.jsRepeats * (3 * o.windowMs + 3000) : 0;
  if (o.repeats > 0) result.native = await runEngine(o, 'native', o.repeats, o.deadline - jsNeedMs);
  if (o.jsRepeats > 0) result.js = await runEngine(o, 'js', o.jsRepeats, o.deadline);
  result.jsOverNative = ratioOf(result.js?.pooled.usPerPacket, result.native?.pooled.usPerPacket);
  return result;
}
