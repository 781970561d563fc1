/**
 * Forwarding efficiency of the SFU's plain-RTP path (SIP video, voice-switched to every other SIP
 * video endpoint) against a minimal dgram forwarder in the same run: packets forwarded per
 * CPU-second of each, their ratio, and memory per SIP participant. Figures only. The node, the
 * forwarder and every socket are stopped in finally blocks; every wait is bounded.
 */
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports';
import { Proc, sleep, waitFor } from '../../test/helpers/proc';
import { getJson, roomAlias, startTarget, type Target } from '../target';
import { rtpPacket, SyntheticH264, type SynthPacket } from './h264-synth';
import { cpuSplit, mb, ownCpuSeconds, rssKb } from './memory';
import { BenchPhone } from './sip-phone';
import { corePercent, efficiency, lossPercent, marginalCpuSeconds, MIN_CPU_S, packetsPerCpuSecond, spread, usPerPacket } from './stats';
import { CountingReceivers, Traffic } from './traffic';

export interface ForwardingOptions {
  nodeMain: string;
  dir: string;
  viewers: number;
  packetsPerFrame: number;
  fps: number;
  payloadBytes: number;
  windowMs: number;
  warmupMs: number;
  repeats: number;
  deadline: number;
  log: (line: string) => void;
}

interface Window {
  wallS: number;
  /** CPU seconds of each measured pid, in the order given, and the kernel's part of them. */
  cpuS: number[];
  sysS: number[];
  sent: number;
  received: number;
  generatorCpuS: number;
}

export interface ForwardingRun {
  repetition: number;
  sfu: {
    forwarded: number;
    sent: number;
    lossPercent: number;
    nodeCpuVideoPercent: number;
    nodeCpuIdlePercent: number;
    marginalCpuS: number;
    marginalCorePercent: number;
    /** Kernel (stime) part of the marginal CPU, in %. */
    marginalSystemShare: number | undefined;
    packetsPerCpuS: number | undefined;
    usPerPacket: number | undefined;
  };
  dgram: {
    forwarded: number;
    sent: number;
    lossPercent: number;
    cpuS: number;
    corePercent: number;
    /** Kernel (stime) part of the forwarder's CPU, in %. */
    systemShare: number | undefined;
    packetsPerCpuS: number | undefined;
    usPerPacket: number | undefined;
    nodeCpuPercent: number;
  };
  efficiency: number | undefined;
  generatorCpuPercent: { sfuVideo: number; idle: number; dgram: number };
}

export interface ForwardingResult {
  viewers: number;
  participants: number;
  ratePps: number;
  payloadBytes: number;
  windowS: number;
  runs: ForwardingRun[];
  efficiency: ReturnType<typeof spread>;
  /** All runs pooled: total packets over total CPU seconds, each side; then their ratio. */
  pooled: { sfuPacketsPerCpuS: number | undefined; dgramPacketsPerCpuS: number | undefined; efficiency: number | undefined };
  sfuPacketsPerCpuS: ReturnType<typeof spread>;
  dgramPacketsPerCpuS: ReturnType<typeof spread>;
  memory: { rssBeforeMb: number | undefined; rssWithMb: number | undefined; perParticipantMb: number | undefined };
  check: {
    viewersWithVideo: number;
    viewersShowingSource: number;
    /** From the end of the warm-up to the end of the last window: sent to the node, counted in by it, out by it, received. */
    sentToNode: number;
    nodeVideoIn: number;
    nodeVideoOut: number;
    viewersVideoIn: number;
    keyframeRequests: number;
    generatorLateTicks: number;
  };
  errors: string[];
}

function cpuDelta(pids: Array<number | undefined>, c0: Array<{ user: number; system: number }>): { cpuS: number[]; sysS: number[] } {
  const c1 = pids.map(cpuSplit);
  return {
    cpuS: c1.map((c, i) => c.user + c.system - (c0[i]?.user ?? 0) - (c0[i]?.system ?? 0)),
    sysS: c1.map((c, i) => c.system - (c0[i]?.system ?? 0)),
  };
}

async function measureWindow(ms: number, pids: Array<number | undefined>, sent: () => number, received: () => number): Promise<Window> {
  const c0 = pids.map(cpuSplit);
  const g0 = ownCpuSeconds();
  const s0 = sent();
  const r0 = received();
  const t0 = performance.now();
  await sleep(ms);
  const t1 = performance.now();
  return {
    wallS: (t1 - t0) / 1000,
    ...cpuDelta(pids, c0),
    sent: sent() - s0,
    received: received() - r0,
    generatorCpuS: ownCpuSeconds() - g0,
  };
}

interface ViewerStats {
  id: string;
  protocol: string;
  conference: string;
  videoShowing?: string;
  videoPacketsOut?: number;
  videoPacketsIn?: number;
}

async function sipParticipants(t: Target, alias: string): Promise<ViewerStats[]> {
  const all = await getJson(t, '/api/v1/participants');
  return Array.isArray(all) ? (all as ViewerStats[]).filter((p) => p.conference === alias && p.protocol === 'sip') : [];
}

/** The dgram forwarder child, K counting receivers and the socket that feeds it. */
interface Baseline {
  proc: Proc;
  receivers: CountingReceivers;
  feed: Socket;
  port: number;
}

async function startBaseline(k: number): Promise<Baseline> {
  const receivers = await CountingReceivers.open(k);
  const port = await freePort();
  const proc = new Proc('dgram-forwarder', process.execPath, [join(__dirname, 'dgram-forwarder.js'), String(port), receivers.ports.join(',')]);
  const feed = createSocket('udp4');
  try {
    await waitFor('dgram forwarder ready', () => (proc.exit ? Promise.reject(new Error(proc.tail(500))) : proc.stdout.includes('ready') ? true : undefined), 10_000);
    await new Promise<void>((resolve) => feed.bind(0, '127.0.0.1', () => resolve()));
  } catch (e) {
    receivers.close();
    feed.close();
    await proc.stop(1000);
    throw e;
  }
  return { proc, receivers, feed, port };
}

function share(part: number, whole: number): number | undefined {
  return whole >= MIN_CPU_S ? Math.round((part / whole) * 100) : undefined;
}

function runFigures(rep: number, k: number, v: Window, idle: Window, d: Window): ForwardingRun {
  const marginal = marginalCpuSeconds({ cpuS: v.cpuS[0] ?? 0, wallS: v.wallS }, { cpuS: idle.cpuS[0] ?? 0, wallS: idle.wallS });
  const sfuRate = packetsPerCpuSecond(v.received, marginal);
  const dCpu = d.cpuS[1] ?? 0;
  const dRate = packetsPerCpuSecond(d.received, dCpu);
  return {
    repetition: rep,
    sfu: {
      forwarded: v.received,
      sent: v.sent,
      lossPercent: lossPercent(v.received, v.sent * k),
      nodeCpuVideoPercent: corePercent(v.cpuS[0] ?? 0, v.wallS),
      nodeCpuIdlePercent: corePercent(idle.cpuS[0] ?? 0, idle.wallS),
      marginalCpuS: Math.round(marginal * 1000) / 1000,
      marginalCorePercent: corePercent(marginal, v.wallS),
      marginalSystemShare: share(marginalCpuSeconds({ cpuS: v.sysS[0] ?? 0, wallS: v.wallS }, { cpuS: idle.sysS[0] ?? 0, wallS: idle.wallS }), marginal),
      packetsPerCpuS: sfuRate,
      usPerPacket: usPerPacket(marginal, v.received),
    },
    dgram: {
      forwarded: d.received,
      sent: d.sent,
      lossPercent: lossPercent(d.received, d.sent * k),
      cpuS: Math.round(dCpu * 1000) / 1000,
      corePercent: corePercent(dCpu, d.wallS),
      systemShare: share(d.sysS[1] ?? 0, dCpu),
      packetsPerCpuS: dRate,
      usPerPacket: usPerPacket(dCpu, d.received),
      nodeCpuPercent: corePercent(d.cpuS[0] ?? 0, d.wallS),
    },
    efficiency: efficiency(sfuRate, dRate),
    generatorCpuPercent: { sfuVideo: corePercent(v.generatorCpuS, v.wallS), idle: corePercent(idle.generatorCpuS, idle.wallS), dgram: corePercent(d.generatorCpuS, d.wallS) },
  };
}

async function callPhones(t: Target, alias: string, k: number): Promise<{ source: BenchPhone; viewers: BenchPhone[] }> {
  const source = await BenchPhone.call({ sipPort: t.sipPort, alias, role: 'source' });
  const viewers: BenchPhone[] = [];
  try {
    for (let i = 0; i < k; i++) viewers.push(await BenchPhone.call({ sipPort: t.sipPort, alias, role: 'viewer' }));
  } catch (e) {
    source.close();
    for (const v of viewers) v.close();
    throw e;
  }
  return { source, viewers };
}

/** Everything a forwarding run drives; `counters` live in the bench process. */
interface Rig {
  target: Target;
  source: BenchPhone;
  viewers: BenchPhone[];
  traffic: Traffic;
  baseline: Baseline;
  toNode: (p: SynthPacket) => void;
  toForwarder: (p: SynthPacket) => void;
  sentToNode: () => number;
  viewersIn: () => number;
}

/** Calls the phones, starts the pacer and the dgram baseline; `parts` collects what to tear down. */
async function setUp(o: ForwardingOptions, target: Target, synth: SyntheticH264, parts: Partial<Rig>): Promise<Rig> {
  const phones = await callPhones(target, roomAlias(1), o.viewers);
  const { source, viewers } = phones;
  Object.assign(parts, phones);
  source.onKeyframeRequest = () => synth.requestKeyframe();
  const all = [source, ...viewers];
  const traffic = new Traffic(synth, () => all);
  parts.traffic = traffic;
  const baseline = await startBaseline(o.viewers);
  parts.baseline = baseline;
  let sent = 0;
  let feedSeq = 0;
  return {
    target, source, viewers, traffic, baseline,
    toNode: (p) => {
      sent++;
      source.sendVideo(p.payload, p.marker, p.timestamp);
    },
    toForwarder: (p) => baseline.feed.send(rtpPacket(96, p.marker, feedSeq++, p.timestamp, 0x5eed, p.payload), baseline.port, '127.0.0.1'),
    sentToNode: () => sent,
    viewersIn: () => viewers.reduce((n, v) => n + v.videoReceived, 0),
  };
}

/** After the warm-up: memory with the calls in, and whether every viewer is shown the source. */
async function warmUpChecks(rig: Rig, result: ForwardingResult, beforeKb: number | undefined): Promise<void> {
  const k = rig.viewers.length;
  const withKb = rssKb(rig.target.proc.pid);
  result.memory = { rssBeforeMb: mb(beforeKb), rssWithMb: mb(withKb), perParticipantMb: undefined };
  if (beforeKb !== undefined && withKb !== undefined) result.memory.perParticipantMb = Math.round(((withKb - beforeKb) / 1024 / (k + 1)) * 100) / 100;
  result.check.viewersWithVideo = rig.viewers.filter((v) => v.videoReceived > 0).length;
  const api = await sipParticipants(rig.target, roomAlias(1));
  const sourceId = api.find((p) => p.videoShowing === undefined && api.some((q) => q.videoShowing === p.id))?.id;
  result.check.viewersShowingSource = sourceId === undefined ? 0 : api.filter((p) => p.videoShowing === sourceId).length;
  if (result.check.viewersWithVideo < k) result.errors.push(`only ${result.check.viewersWithVideo}/${k} viewers received video after the warm-up`);
}

/** Video window, idle window, dgram window; repeated while the deadline allows. */
async function measureRuns(rig: Rig, o: ForwardingOptions, result: ForwardingResult): Promise<void> {
  const { traffic, baseline } = rig;
  const pid = rig.target.proc.pid;
  const sent = (): number => traffic.videoSent;
  for (let rep = 0; rep < o.repeats && Date.now() + 3 * o.windowMs + 4000 < o.deadline; rep++) {
    traffic.video(rig.toNode);
    await sleep(1000);
    const v = await measureWindow(o.windowMs, [pid], sent, rig.viewersIn);
    traffic.video(null);
    await sleep(500);
    const idle = await measureWindow(o.windowMs, [pid], sent, rig.viewersIn);
    traffic.video(rig.toForwarder);
    await sleep(1000);
    const d = await measureWindow(o.windowMs, [pid, baseline.proc.pid], sent, () => baseline.receivers.received);
    traffic.video(null);
    await sleep(300);
    const run = runFigures(rep, rig.viewers.length, v, idle, d);
    result.runs.push(run);
    o.log(
      `  run ${rep}: SFU ${run.sfu.packetsPerCpuS ?? '-'} pkt/CPU-s (marginal ${run.sfu.marginalCorePercent}% core, loss ${run.sfu.lossPercent}%), ` +
        `dgram ${run.dgram.packetsPerCpuS ?? '-'} pkt/CPU-s (${run.dgram.corePercent}% core), efficiency ${run.efficiency ?? '-'}`,
    );
  }
}

/** Node video counters summed over the room's SIP participants. */
async function nodeVideoCounters(t: Target): Promise<{ in: number; out: number }> {
  const api = await sipParticipants(t, roomAlias(1));
  return { in: api.reduce((n, p) => n + (p.videoPacketsIn ?? 0), 0), out: api.reduce((n, p) => n + (p.videoPacketsOut ?? 0), 0) };
}

async function tearDown(parts: Partial<Rig>): Promise<void> {
  parts.traffic?.stop();
  await Promise.all([parts.source, ...(parts.viewers ?? [])].map((p) => p?.hangup()));
  if (parts.baseline) {
    parts.baseline.receivers.close();
    parts.baseline.feed.close();
    await parts.baseline.proc.stop(2000);
  }
}

function pooled(runs: ForwardingRun[]): ForwardingResult['pooled'] {
  const sum = (f: (r: ForwardingRun) => number): number => runs.reduce((n, r) => n + f(r), 0);
  const sfu = packetsPerCpuSecond(sum((r) => r.sfu.forwarded), sum((r) => r.sfu.marginalCpuS));
  const dgram = packetsPerCpuSecond(sum((r) => r.dgram.forwarded), sum((r) => r.dgram.cpuS));
  return { sfuPacketsPerCpuS: sfu, dgramPacketsPerCpuS: dgram, efficiency: efficiency(sfu, dgram) };
}

function emptyResult(o: ForwardingOptions, rate: number): ForwardingResult {
  return {
    viewers: o.viewers,
    participants: o.viewers + 1,
    ratePps: rate,
    payloadBytes: o.payloadBytes,
    windowS: o.windowMs / 1000,
    runs: [],
    efficiency: undefined,
    pooled: { sfuPacketsPerCpuS: undefined, dgramPacketsPerCpuS: undefined, efficiency: undefined },
    sfuPacketsPerCpuS: undefined,
    dgramPacketsPerCpuS: undefined,
    memory: { rssBeforeMb: undefined, rssWithMb: undefined, perParticipantMb: undefined },
    check: { viewersWithVideo: 0, viewersShowingSource: 0, sentToNode: 0, nodeVideoIn: 0, nodeVideoOut: 0, viewersVideoIn: 0, keyframeRequests: 0, generatorLateTicks: 0 },
    errors: [],
  };
}

export async function runForwarding(o: ForwardingOptions): Promise<ForwardingResult> {
  const synth = new SyntheticH264({ packetsPerFrame: o.packetsPerFrame, fps: o.fps, payloadBytes: o.payloadBytes, keyframeEverySeconds: 1 });
  const result = emptyResult(o, synth.rate);
  // The node splits its RTP range over its media workers (up to 4) and one conference lives on
  // one worker: the range must hold the whole room four times over.
  const target = await startTarget({ kind: 'node', nodeMain: o.nodeMain, dir: o.dir, rooms: 1, mixTalkers: 3, rtpPorts: 4 * (4 * (o.viewers + 1) + 40) });
  const parts: Partial<Rig> = {};
  try {
    await sleep(2000);
    const beforeKb = rssKb(target.proc.pid);
    const rig = await setUp(o, target, synth, parts);
    o.log(`sfu forwarding: 1 source + ${o.viewers} viewers in ${roomAlias(1)}, ${synth.rate} video packets/s of ${o.payloadBytes} bytes`);
    rig.traffic.video(rig.toNode);
    await sleep(o.warmupMs);
    await warmUpChecks(rig, result, beforeKb);
    // The node's counters are worker snapshots (every 500 ms): read them with the video paused
    // (here and at the end) so both readings are complete and the check compares like with like.
    rig.traffic.video(null);
    await sleep(1200);
    const n0 = await nodeVideoCounters(target);
    const sent0 = rig.sentToNode();
    const in0 = rig.viewersIn();
    await measureRuns(rig, o, result);
    await sleep(1200);
    const n1 = await nodeVideoCounters(target);
    result.check = {
      ...result.check,
      sentToNode: rig.sentToNode() - sent0,
      nodeVideoIn: n1.in - n0.in,
      nodeVideoOut: n1.out - n0.out,
      viewersVideoIn: rig.viewersIn() - in0,
      keyframeRequests: rig.source.keyframeRequests,
      generatorLateTicks: rig.traffic.lateTicks,
    };
    result.efficiency = spread(result.runs.map((r) => r.efficiency));
    result.pooled = pooled(result.runs);
    result.sfuPacketsPerCpuS = spread(result.runs.map((r) => r.sfu.packetsPerCpuS));
    result.dgramPacketsPerCpuS = spread(result.runs.map((r) => r.dgram.packetsPerCpuS));
  } catch (e) {
    result.errors.push(e instanceof Error ? e.message : String(e));
  } finally {
    await tearDown(parts);
    await target.stop();
  }
  return result;
}
