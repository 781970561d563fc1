/**
 * Backplane figures of the cluster bench (issue 10): one-way time through a backplane hop, timed
 * by the kernel on both legs (a tcpdump capture on lo), beside a bare UDP hop captured in the same
 * window; and the node CPU per packet the link carries. Real etcd, two node processes, plain RTP
 * callers. Figures only, never a verdict; everything started is stopped by PID, also on failure.
 */
import type { Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SipUac, type Call } from '../load/sip-uac';
import { sleep, waitFor } from '../../test/helpers/proc';
import { procCpu } from '../../test/helpers/proc-stat';
import { REPO_ROOT } from '../target';
import { BareHop, bindLoopback, closeSocket, leg, LoopbackCapture, pace, rtpStream, type RtpStream } from './backplane-capture';
import { startBenchCluster, type BenchCluster, type ClusterNodeHandle } from './cluster-procs';
import { matchHops, median, usPerPacket, type HopFigures } from './figures';

export interface BackplanePlan {
  /** Plain RTP callers whose media is on A: streams crossing the link to B. */
  streams: number;
  /** Each CPU window (without the link, then with it). */
  cpuWindowMs: number;
  /** Pairs of windows (without, with), pooled. */
  cpuPairs: number;
  /** The capture window (after the CPU windows: tcpdump's own CPU stays out of them). */
  captureMs: number;
  settleMs: number;
}

export interface CpuWindow {
  durationS: number;
  /** % of one core. */
  a: number;
  b: number;
}

export interface BackplaneCpu {
  /** Pooled over the pairs. */
  withoutLink: CpuWindow;
  withLink: CpuWindow;
  linkPacketsOut: number;
  linkPacketsIn: number;
  /** A's CPU with the link minus without, per packet A sent on the link (µs). */
  senderUsPerPacket?: number;
  /** B's CPU with the link minus without (its receiver's mix included), per packet it received on the link (µs). */
  receiverUsPerPacket?: number;
}

/** The SFU bench's figures for the node's own forwarding paths (bench/results/sfu.json), when it has them. */
export interface SfuReference {
  startedAt: string;
  browserUsPerPacketOut?: number;
  plainRtpUsPerPacket?: number;
}

export interface BackplaneResult {
  plan: BackplanePlan;
  /** signaling/media node of every caller, as /api/v1/participants says. */
  placement: Record<string, number>;
  hop?: HopFigures;
  bareHop?: HopFigures;
  cpu?: BackplaneCpu;
  link?: { rttMs?: number; jitterMs?: number; lossFraction?: number; streamsOut?: number };
  sfu?: SfuReference;
  errors: string[];
}

const LinkSchema = z.array(
  z.object({ conference: z.string(), peerNode: z.string(), streamsOut: z.number().optional(), packetsIn: z.number(), packetsOut: z.number(), rttMs: z.number().optional(), jitterMs: z.number().optional(), lossFraction: z.number().optional() }),
);
type Link = z.infer<typeof LinkSchema>[number];

const PartsSchema = z.array(z.object({ conference: z.string(), signalingNode: z.string().optional(), mediaNode: z.string().optional(), placementReason: z.string().optional() }));

async function linkTo(node: ClusterNodeHandle, peer: string): Promise<Link | undefined> {
  const res = await fetch(`${node.baseUrl}/api/v1/backplanes`, { signal: AbortSignal.timeout(3000) });
  const list = LinkSchema.safeParse(await res.json());
  return list.success ? list.data.find((l) => l.conference === VMR && l.peerNode === peer) : undefined;
}

const VMR = 'bp';

function sfuReference(): SfuReference | undefined {
  const Schema = z.object({
    meta: z.object({ startedAt: z.string() }),
    sfu: z.object({
      browsers: z.object({ steady: z.object({ usPerPacketOut: z.number() }).optional() }).optional(),
      forwarding: z.object({ runs: z.array(z.object({ sfu: z.object({ usPerPacket: z.number() }) })) }).optional(),
    }),
  });
  try {
    const s = Schema.parse(JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'results', 'sfu.json'), 'utf8')));
    const runs = s.sfu.forwarding?.runs.map((r) => r.sfu.usPerPacket) ?? [];
    const browser = s.sfu.browsers?.steady?.usPerPacketOut;
    return { startedAt: s.meta.startedAt, ...(browser !== undefined ? { browserUsPerPacketOut: browser } : {}), ...(runs.length > 0 ? { plainRtpUsPerPacket: median(runs) } : {}) };
  } catch {
    return undefined;
  }
}

const cpuS = (pid: number | undefined): number => {
  const t = procCpu(pid);
  return t.user + t.system;
};

async function cpuWindow(c: BenchCluster, ms: number): Promise<{ w: CpuWindow; aS: number; bS: number }> {
  const a0 = cpuS(c.a.proc.pid);
  const b0 = cpuS(c.b.proc.pid);
  const t0 = Date.now();
  await sleep(ms);
  const wallS = (Date.now() - t0) / 1000;
  const aS = cpuS(c.a.proc.pid) - a0;
  const bS = cpuS(c.b.proc.pid) - b0;
  const pct = (s: number): number => Math.round((s / wallS) * 1000) / 10;
  return { w: { durationS: Math.round(wallS * 10) / 10, a: pct(aS), b: pct(bS) }, aS, bS };
}

interface Scene {
  cluster: BenchCluster;
  uacs: SipUac[];
  calls: Array<{ uac: SipUac; call: Call }>;
  streams: RtpStream[];
  stopPacing: Array<() => void>;
  sockets: Socket[];
  receiverUac?: SipUac;
  receiver?: { uac: SipUac; call: Call } | undefined;
}

/** N callers at A (media on A by affinity until it is full), then the receiver at B (media on B: expansion). */
async function callIn(s: Scene, n: number): Promise<void> {
  const uac = await SipUac.open({ host: '127.0.0.1', port: s.cluster.a.sipPort });
  s.uacs.push(uac);
  for (let i = 0; i < n; i++) {
    const sock = await bindLoopback();
    s.sockets.push(sock);
    const call = await uac.invite(VMR, sock.address().port, 'PCMU', 8000);
    s.calls.push({ uac, call });
    s.streams.push(rtpStream(sock, call.media, i));
  }
  s.stopPacing.push(pace(s.streams));
}

async function receiverIn(s: Scene): Promise<void> {
  let uac = s.receiverUac;
  if (!uac) {
    uac = await SipUac.open({ host: '127.0.0.1', port: s.cluster.b.sipPort });
    s.uacs.push(uac);
    s.receiverUac = uac;
  }
  const sink = await bindLoopback();
  s.sockets.push(sink);
  // The receiver sends nothing: the only stream on the link is A -> B, and A mixes the same inputs as before.
  s.receiver = { uac, call: await uac.invite(VMR, sink.address().port, 'PCMU', 8000) };
  s.calls.push(s.receiver);
}

/** Hangs the receiver up: B leaves the conference and A's link closes. */
async function receiverOut(s: Scene): Promise<void> {
  const r = s.receiver;
  if (!r) return;
  s.receiver = undefined;
  s.calls = s.calls.filter((c) => c !== r);
  await r.uac.bye(r.call, 3000);
  await waitFor('link A->B closed', async () => ((await linkTo(s.cluster.a, s.cluster.b.name)) ? undefined : true), 15_000, 250);
}

async function placementOf(s: Scene): Promise<Record<string, number>> {
  const res = await fetch(`${s.cluster.a.baseUrl}/api/v1/participants`, { signal: AbortSignal.timeout(3000) });
  const parts = PartsSchema.parse(await res.json()).filter((p) => p.conference === VMR);
  const out: Record<string, number> = {};
  for (const p of parts) {
    const k = `${p.signalingNode ?? '?'}/${p.mediaNode ?? '?'} (${p.placementReason ?? '?'})`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

interface Pooled {
  wallS: number;
  aS: number;
  bS: number;
  packetsOut: number;
  packetsIn: number;
}

const pooledWindow = (p: Pooled): CpuWindow => {
  const pct = (x: number): number => Math.round((x / Math.max(0.001, p.wallS)) * 1000) / 10;
  return { durationS: Math.round(p.wallS * 10) / 10, a: pct(p.aS), b: pct(p.bS) };
};

/** One window with the link: the receiver dials in, the link carries every stream, then CPU and the link's counters. */
async function withLinkWindow(s: Scene, plan: BackplanePlan, acc: Pooled): Promise<void> {
  const c = s.cluster;
  await receiverIn(s);
  await waitFor(`link A->B with ${plan.streams} streams`, async () => {
    const l = await linkTo(c.a, c.b.name);
    return l && (l.streamsOut ?? 0) >= plan.streams && l.packetsOut > 0 ? true : undefined;
  }, 20_000, 250);
  await sleep(plan.settleMs);
  const out0 = await linkTo(c.a, c.b.name);
  const in0 = await linkTo(c.b, c.a.name);
  const w = await cpuWindow(c, plan.cpuWindowMs);
  const out1 = await linkTo(c.a, c.b.name);
  const in1 = await linkTo(c.b, c.a.name);
  acc.wallS += w.w.durationS;
  acc.aS += w.aS;
  acc.bS += w.bS;
  acc.packetsOut += (out1?.packetsOut ?? 0) - (out0?.packetsOut ?? 0);
  acc.packetsIn += (in1?.packetsIn ?? 0) - (in0?.packetsIn ?? 0);
}

/**
 * Windows without and with the link, alternated `cpuPairs` times (the receiver hangs up between
 * them) and pooled: one pair's difference of about 1% of a core drowns in the nodes' background.
 */
async function measureCpu(s: Scene, plan: BackplanePlan, log: (l: string) => void): Promise<BackplaneCpu> {
  const off: Pooled = { wallS: 0, aS: 0, bS: 0, packetsOut: 0, packetsIn: 0 };
  const on: Pooled = { wallS: 0, aS: 0, bS: 0, packetsOut: 0, packetsIn: 0 };
  for (let i = 0; i < plan.cpuPairs; i++) {
    await sleep(plan.settleMs);
    const w = await cpuWindow(s.cluster, plan.cpuWindowMs);
    off.wallS += w.w.durationS;
    off.aS += w.aS;
    off.bS += w.bS;
    await withLinkWindow(s, plan, on);
    // The last pair keeps the link up for the capture.
    if (i < plan.cpuPairs - 1) await receiverOut(s);
  }
  const marginal = (x: number, y: number): number => (x / Math.max(0.001, on.wallS) - y / Math.max(0.001, off.wallS)) * on.wallS;
  const sender = usPerPacket(marginal(on.aS, off.aS), on.packetsOut);
  const receiver = usPerPacket(marginal(on.bS, off.bS), on.packetsIn);
  const without = pooledWindow(off);
  const withLink = pooledWindow(on);
  log(`cluster: backplane CPU (${plan.cpuPairs} pairs): A ${without.a}% -> ${withLink.a}%, B ${without.b}% -> ${withLink.b}%, link ${on.packetsOut} packets out / ${on.packetsIn} in`);
  return {
    withoutLink: without,
    withLink,
    linkPacketsOut: on.packetsOut,
    linkPacketsIn: on.packetsIn,
    ...(sender !== undefined ? { senderUsPerPacket: sender } : {}),
    ...(receiver !== undefined ? { receiverUsPerPacket: receiver } : {}),
  };
}

/** Both hops in one capture window: the backplane (sender -> A's port, A's link -> B's link) and the bare hop. */
async function measureHops(s: Scene, dir: string, plan: BackplanePlan): Promise<{ hop: HopFigures; bareHop: HopFigures }> {
  const { a, b } = s.cluster;
  const bare = await BareHop.start();
  try {
    const senderPorts = new Set(s.streams.map((st) => st.sock.address().port));
    const mediaPorts = new Set(s.streams.map((st) => st.dest.port));
    const range = (r: { min: number; max: number }): string => `portrange ${r.min}-${r.max}`;
    const filter = `udp and ((src ${range(a.rtp)} and dst ${range(b.rtp)}) or ${[...senderPorts].map((p) => `src port ${p}`).join(' or ')} or port ${bare.port})`;
    const capture = await LoopbackCapture.start(dir, filter);
    const stop = pace([rtpStream(bare.feed, { address: '127.0.0.1', port: bare.port }, 0)]);
    await sleep(plan.captureMs);
    stop();
    await sleep(200);
    const records = await capture.stop();
    const inRange = (r: { min: number; max: number }) => (p: number): boolean => p >= r.min && p <= r.max;
    const hop = matchHops(
      leg(records, { src: (p) => senderPorts.has(p), dst: (p) => mediaPorts.has(p), payloadType: 0 }),
      // The link's media: payload type 96 (audio); its SRTCP and A's mixes (PT 0) are left out.
      leg(records, { src: inRange(a.rtp), dst: inRange(b.rtp), payloadType: 96 }),
    );
    const bareHop = matchHops(
      leg(records, { dst: (p) => p === bare.port, payloadType: 0 }),
      leg(records, { src: (p) => p === bare.port, dst: (p) => p === bare.sinkPort, payloadType: 0 }),
    );
    return { hop, bareHop };
  } finally {
    await bare.close();
  }
}

async function teardown(s: Scene | undefined): Promise<void> {
  if (!s) return;
  for (const stop of s.stopPacing) stop();
  await Promise.all(s.calls.map((c) => c.uac.bye(c.call, 3000).catch(() => undefined)));
  await Promise.all(s.uacs.map((u) => u.close()));
  await Promise.all(s.sockets.map(closeSocket));
}

export async function runBackplaneBench(o: { plan: BackplanePlan; nodeMain: string; dir: string; log: (line: string) => void }): Promise<BackplaneResult> {
  const { plan } = o;
  const out: BackplaneResult = { plan, placement: {}, errors: [] };
  const sfu = sfuReference();
  if (sfu) out.sfu = sfu;
  // Participant 0.25, backplane reserve 1 (DESIGN.md section 1): A holds exactly the N callers
  // and its link; the receiver expands the conference to B, which fits one participant and a link.
  const capacities = [plan.streams * 0.25 + 1.1, 1.3] as const;
  o.log(`cluster: backplane: ${plan.streams} plain RTP callers with media on A, one receiver on B (capacities ${capacities.join(', ')})`);
  let cluster: BenchCluster | undefined;
  let scene: Scene | undefined;
  try {
    cluster = await startBenchCluster({ dir: o.dir, nodeMain: o.nodeMain, vmrs: [VMR], rtpPorts: 200, capacities });
    scene = { cluster, uacs: [], calls: [], streams: [], stopPacing: [], sockets: [] };
    await callIn(scene, plan.streams);
    out.cpu = await measureCpu(scene, plan, o.log);
    out.placement = await placementOf(scene);
    const hops = await measureHops(scene, o.dir, plan);
    out.hop = hops.hop;
    out.bareHop = hops.bareHop;
    const l = await linkTo(cluster.a, cluster.b.name);
    if (l) out.link = { ...(l.rttMs !== undefined ? { rttMs: l.rttMs } : {}), ...(l.jitterMs !== undefined ? { jitterMs: l.jitterMs } : {}), ...(l.lossFraction !== undefined ? { lossFraction: l.lossFraction } : {}), ...(l.streamsOut !== undefined ? { streamsOut: l.streamsOut } : {}) };
    o.log(`cluster: backplane hop p50 ${out.hop.p50Us} µs p99 ${out.hop.p99Us} µs (${out.hop.matched}/${out.hop.sent}); bare UDP hop p50 ${out.bareHop.p50Us} µs p99 ${out.bareHop.p99Us} µs`);
  } catch (e) {
    out.errors.push(e instanceof Error ? e.message : String(e));
  } finally {
    await teardown(scene).catch(() => undefined);
    const dead = [cluster?.a, cluster?.b].filter((n) => n?.proc.exit !== undefined).map((n) => `${n?.name} exited ${JSON.stringify(n?.proc.exit)}: ${n?.proc.tail(600)}`);
    out.errors.push(...dead);
    await cluster?.stop();
  }
  return out;
}
