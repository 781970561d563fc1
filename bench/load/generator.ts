/**
 * Load-generator child process (forked by the bench runner): joins rooms of plain-RTP
 * participants (with SIP, optionally SDES-SRTP, or through Janus's HTTP API), streams their tones
 * every 20 ms from a drift-free 5 ms scheduler, and reports measurement windows over IPC. Exits
 * when the runner says so or disconnects; never runs a loop without a bound and never binds
 * beyond 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SrtpStream } from '../../src/media/rtp/sdes';
import { JanusRtpJoiner } from '../janus/janus-client';
import { CODECS, decodePayloads, checkTones, toneFrames, toneFrequency, type BenchCodec } from './audio';
import { Participant, SharedRtpSocket } from './participant';
import type { GeneratorWindow, JoinSignaling, RoomSpec, ToGenerator, ToneResult, ToRunner } from './protocol';
import { BENCH_SRTP_SUITE, SipUac, type Call } from './sip-uac';
import { newHistogram, percentileOf, toSparse } from './stats';

const TICK_MS = 5;
const BUCKETS = 20 / TICK_MS;
const MAX_CATCH_UP_TICKS = 4;
const MAX_PARTICIPANTS = 4000;

interface Member {
  p: Participant;
  /** The SIP call; undefined for a Janus participant (they all end with the Janus session). */
  call?: Call;
  setupMs: number;
}

const members: Member[] = [];
const buckets: Member[][] = Array.from({ length: BUCKETS }, () => []);
let uac: SipUac | undefined;
let janus: JanusRtpJoiner | undefined;
let codec: BenchCodec = 'PCMU';
let lateTicks = 0;
let tickTimer: NodeJS.Timeout | undefined;
let sharedSocket: Promise<SharedRtpSocket> | undefined;

function reply(m: ToRunner): void {
  process.send?.(m);
}

/** Sends one frame for every participant of the bucket whose turn each due 5 ms tick is. */
function startScheduler(): void {
  const t0 = performance.now();
  let tick = 0;
  const run = (): void => {
    const now = performance.now();
    let done = 0;
    while (t0 + tick * TICK_MS <= now && done < MAX_CATCH_UP_TICKS) {
      for (const m of buckets[tick % BUCKETS] ?? []) m.p.sendFrame();
      tick++;
      done++;
    }
    const behind = Math.floor((now - t0) / TICK_MS) - tick;
    if (behind > 0) {
      // Too far behind to catch up honestly: skip (a real phone would not burst either).
      lateTicks += behind;
      tick += behind;
    }
    tickTimer = setTimeout(run, Math.max(0, t0 + tick * TICK_MS - performance.now()));
  };
  run();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A SIP participant: INVITE (RTP/SAVP with a fresh SDES key when `srtp`), then its contexts. */
async function joinSip(p: Participant, room: RoomSpec, sipUac: SipUac, srtp: boolean): Promise<Member> {
  if (!srtp) {
    const call = await sipUac.invite(room.user, p.localPort, codec);
    p.start(call.media);
    return { p, call, setupMs: call.setupMs };
  }
  const localKey = randomBytes(30).toString('base64');
  const call = await sipUac.invite(room.user, p.localPort, codec, 10_000, localKey);
  const stream = SrtpStream.create({ suite: BENCH_SRTP_SUITE, localKey, remoteKey: call.srtpRemoteKey ?? '' });
  p.start(call.media, { tx: stream.tx, rx: stream.rx });
  return { p, call, setupMs: call.setupMs };
}

/** A Janus AudioBridge participant joined over HTTP with plain RTP to the shared socket. */
async function joinJanus(p: Participant, room: RoomSpec, joiner: JanusRtpJoiner, s: Extract<JoinSignaling, { kind: 'janus' }>): Promise<Member> {
  const j = await joiner.join({
    room: room.id,
    display: `${room.user}-${p.k}`,
    codec: codec === 'opus' ? 'opus' : 'pcmu',
    payloadType: CODECS[codec].payloadType,
    rtp: { ip: '127.0.0.1', port: p.localPort },
    settings: { opusComplexity: s.opusComplexity, opusBitrate: s.opusBitrate },
  });
  p.start(j.media);
  return { p, setupMs: j.setupMs };
}

async function joinOne(room: RoomSpec, k: number, signaling: JoinSignaling): Promise<void> {
  const frames = toneFrames(codec, k);
  const p = Participant.on(await (sharedSocket ??= SharedRtpSocket.open()), room.user, k, codec, frames, room.sampled);
  try {
    const m =
      signaling.kind === 'sip'
        ? await joinSip(p, room, (uac ??= await SipUac.open({ host: '127.0.0.1', port: signaling.sipPort })), signaling.srtp)
        : await joinJanus(p, room, (janus ??= await JanusRtpJoiner.open(signaling.url)), signaling);
    members.push(m);
    buckets[members.length % BUCKETS]?.push(m);
  } catch (e) {
    p.close();
    throw e;
  }
}

async function join(msg: Extract<ToGenerator, { op: 'join' }>): Promise<void> {
  codec = msg.codec;
  // Opened once before the paced loop, so concurrent first joins share one UAC / one session.
  if (msg.signaling.kind === 'sip') uac ??= await SipUac.open({ host: '127.0.0.1', port: msg.signaling.sipPort });
  else janus ??= await JanusRtpJoiner.open(msg.signaling.url);
  const jobs: Array<Promise<void>> = [];
  const errors: string[] = [];
  let failed = 0;
  const setupBefore = members.length;
  const gapMs = 1000 / Math.max(1, msg.cps);
  const t0 = performance.now();
  let n = 0;
  for (const room of msg.rooms) {
    for (let k = 0; k < room.size && members.length + jobs.length < MAX_PARTICIPANTS; k++) {
      const wait = t0 + n * gapMs - performance.now();
      if (wait > 0) await sleep(wait);
      n++;
      jobs.push(
        joinOne(room, k, msg.signaling).catch((e: unknown) => {
          failed++;
          if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
        }),
      );
    }
  }
  await Promise.all(jobs);
  const setupMs = members.slice(setupBefore).map((m) => Math.round(m.setupMs * 10) / 10);
  reply({ op: 'joined', ok: members.length - setupBefore, failed, errors, setupMs });
}

// Window state.
const LOOP_RESOLUTION_MS = 5;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
let windowStart = 0;
let windowCpu = process.cpuUsage();
let windowSent = 0;
let windowLate = 0;
let pooled = newHistogram();

function totalSent(): number {
  return members.reduce((n, m) => n + m.p.sent, 0);
}

function windowStartNow(): void {
  pooled = newHistogram();
  for (const m of members) m.p.beginWindow(pooled);
  windowStart = performance.now();
  windowCpu = process.cpuUsage();
  windowSent = totalSent();
  windowLate = lateTicks;
  loopDelay.reset();
  loopDelay.enable();
  reply({ op: 'window-started' });
}

function toneResults(): ToneResult[] {
  const out: ToneResult[] = [];
  for (const m of members) {
    if (!m.p.sampled) continue;
    const roomSize = members.filter((o) => o.p.room === m.p.room).length;
    const others: number[] = [];
    for (let k = 0; k < roomSize; k++) if (k !== m.p.k) others.push(toneFrequency(k));
    // The last 50 payloads: one second of steady mix.
    const audio = decodePayloads(codec, m.p.kept.slice(-50));
    out.push({ room: m.p.room, k: m.p.k, ...checkTones(audio, toneFrequency(m.p.k), others) });
  }
  return out;
}

function windowStop(): void {
  const durationMs = performance.now() - windowStart;
  const cpu = process.cpuUsage(windowCpu);
  loopDelay.disable();
  for (const m of members) m.p.endWindow();
  const result: GeneratorWindow = {
    durationMs,
    participants: members.map((m) => ({
      room: m.p.room,
      k: m.p.k,
      received: m.p.received,
      p99Ms: Math.round(percentileOf(Array.from(m.p.deviations.subarray(0, m.p.deviationCount)), 99) * 10) / 10,
    })),
    pooled: toSparse(pooled),
    tones: toneResults(),
    gaps: members.reduce((n, m) => n + m.p.gaps, 0),
    bunched: members.reduce((n, m) => n + m.p.bunched, 0),
    srtpRejected: members.reduce((n, m) => n + m.p.srtpRejected, 0),
    sent: totalSent() - windowSent,
    lateTicks: lateTicks - windowLate,
    // The histogram holds whole timer periods: the lag is what exceeds the 5 ms resolution.
    loopDelayP99Ms: Math.max(0, Math.round((loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  reply({ op: 'window', result });
}

async function hangup(): Promise<void> {
  let ok = 0;
  let failed = 0;
  const all = members.splice(0, members.length);
  for (const b of buckets) b.length = 0;
  for (const m of all) m.p.stop();
  const sip = all.filter((m) => m.call !== undefined);
  // BYEs in batches of 50 so the node's SIP socket is not flooded.
  for (let i = 0; i < sip.length; i += 50) {
    const batch = sip.slice(i, i + 50);
    const codes = await Promise.all(batch.map((m) => (uac && m.call ? uac.bye(m.call) : Promise.resolve(0))));
    for (const c of codes) if (c >= 200 && c < 300) ok++;
    else failed++;
  }
  // Janus participants end together with their session (Janus drops its handles).
  if (janus) {
    const j = await janus.close();
    janus = undefined;
    const n = all.length - sip.length;
    if (j.ok) ok += n;
    else failed += n;
  }
  for (const m of all) m.p.close();
  reply({ op: 'hung-up', ok, failed, nodeByes: uac?.received.get('BYE') ?? 0 });
}

async function shutdown(): Promise<void> {
  if (tickTimer) clearTimeout(tickTimer);
  for (const m of members) m.p.close();
  if (sharedSocket) await (await sharedSocket).close();
  await uac?.close();
  await janus?.close();
  process.exit(0);
}

process.on('message', (raw: unknown) => {
  const msg = raw as ToGenerator;
  const fail = (e: unknown): void => reply({ op: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) });
  try {
    if (msg.op === 'join') join(msg).catch(fail);
    else if (msg.op === 'window-start') windowStartNow();
    else if (msg.op === 'window-stop') windowStop();
    else if (msg.op === 'hangup') hangup().catch(fail);
    else if (msg.op === 'exit') void shutdown();
  } catch (e) {
    fail(e);
  }
});
process.on('disconnect', () => void shutdown());

startScheduler();
reply({ op: 'ready' });
