/**
 * Mixer capacity bench (workload of /work/shared/bench/mixer/README.md): adds rooms of four
 * plain-RTP participants step by step, measures a window after a warm-up at each step, stops at
 * the first step that fails the criteria, then repeats the largest passing step on a fresh target
 * to show the spread. One series is one target (confnode, Janus AudioBridge, or the fake UAS),
 * one codec, plain RTP or SDES-SRTP. Figures, not assertions; bounded by a time budget; stops
 * every process it started in `finally`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { BenchCodec } from './load/audio';
import { GeneratorClient } from './load/generator-client';
import type { GeneratorWindow, JoinSignaling, RoomSpec, ToneResult } from './load/protocol';
import { fromSparse, histogramCount, judgeStep, mergeInto, newHistogram, percentileOf, type StepVerdict } from './load/stats';
import { machineJiffies } from '../test/helpers/proc-stat';
import { BENCH_OPUS_COMPLEXITY, mixingSettings, mixSlotCounts, roomAlias, startTarget, type MixingSettings, type Target, type TargetKind } from './target';

export const ROOM_SIZE = 4;

/** Janus AudioBridge 1.1.2 on this kind of machine, from the workload README (an earlier bar). */
export const JANUS_BAR: Readonly<Record<BenchCodec, { participants: number; cpuPerParticipantPercent: number }>> = {
  PCMU: { participants: 360, cpuPerParticipantPercent: 0.3 },
  opus: { participants: 120, cpuPerParticipantPercent: 1 },
};

export interface CapacityOptions {
  codec: BenchCodec;
  /** Cumulative room counts per step, ascending. */
  steps: number[];
  repeats: number;
  warmupMs: number;
  windowMs: number;
  /** Call setup pace (INVITEs per second, over all generators). */
  cps: number;
  generators: number;
  mixTalkers: number;
  workers?: number;
  targetKind: TargetKind;
  /** Participants offer RTP/SAVP with SDES keys (SIP targets only). */
  srtp?: boolean;
  /** Opus encoder complexity of the target (default BENCH_OPUS_COMPLEXITY). */
  opusComplexity?: number;
  nodeMain: string;
  /** Rooms never exceed this (the node's RTP range and VMR list are sized for it). */
  maxRooms: number;
  /** Absolute times (ms since epoch) after which no new step / repetition starts. */
  stepDeadline: number;
  repeatDeadline: number;
  /**
   * A failing window during which the hypervisor took at least this much vCPU time (% of one
   * core, both vCPUs summed) is measured again with the same calls, at most `maxReruns` times;
   * every window is reported. Default STEAL_RERUN_PERCENT; Infinity turns re-measuring off.
   */
  stealRerunPercent?: number;
  maxReruns?: number;
  log: (line: string) => void;
}

/** Windows that failed with more steal than this were disturbed by other guests of the host. */
export const STEAL_RERUN_PERCENT = 3;
export const MAX_RERUNS = 2;

export interface StepResult {
  rooms: number;
  participants: number;
  repetition: number;
  pass: boolean;
  verdict: StepVerdict;
  windowS: number;
  /** Node CPU over the window, % of one core (user, system, total) and per participant. */
  nodeCpu: { userPercent: number; systemPercent: number; totalPercent: number; perParticipantPercent: number };
  generators: { cpuPercent: number; loopDelayP99Ms: number; sentPerS: number; lateTicks: number };
  /** CPU used on the machine by everything but the node and the generators (% of one core). */
  otherLoadPercent: number;
  /** vCPU time the hypervisor took for other guests over the window (% of one core). */
  stealPercent: number;
  /** The node's own 5 ms mix slots that started >= 5 ms late or were skipped (undefined: no /metrics). */
  nodeMix?: { lateSlotsPercent: number; skippedSlots: number };
  setup: { ok: number; failed: number; p50Ms: number; p99Ms: number; errors: string[] };
  receivedPerS: { min: number; median: number };
  /** Share of inter-arrivals over 30 ms (missed tick) and under 10 ms (burst), in %. */
  arrivals: { gapsPercent: number; bunchedPercent: number };
  /** SRTP packets the participants refused in the window (SRTP series only). */
  srtpRejected?: number;
  toneSample: ToneResult[];
  targetAlive: boolean;
  /** Set on a failing window with hypervisor steal over the limit: the next row measured it again. */
  disturbed?: boolean;
}

export interface CodecCapacity {
  codec: BenchCodec;
  /** 'PCMU', 'PCMU+SRTP', 'opus', ...: the codec and the transport. */
  series: string;
  /** What was measured (absent in runs before Janus joined the bench: the meta's target). */
  target?: TargetKind;
  srtp?: boolean;
  mixing?: MixingSettings;
  bar: { participants: number; cpuPerParticipantPercent: number };
  steps: StepResult[];
  repeats: StepResult[];
  largestPassing?: { rooms: number; participants: number; cpuPerParticipantPercent: number };
  firstFailing?: { rooms: number; participants: number; failures: string[] };
  stoppedBecause: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** A capacity series: codec and transport, on one target. */
export interface Series {
  codec: BenchCodec;
  srtp: boolean;
  target: TargetKind;
}
export type SeriesCodec = 'PCMU' | 'PCMU+SRTP' | 'opus';

/**
 * The capacity series of a run, same codec side by side (close in time, so the machine's mood
 * is alike): confnode, then Janus, then confnode with SRTP. Janus and the fake UAS speak no SRTP.
 */
export function capacitySeries(targets: readonly TargetKind[], codecs: readonly SeriesCodec[]): Series[] {
  const out: Series[] = [];
  for (const codec of ['PCMU', 'opus'] as const) {
    for (const target of targets) if (codecs.includes(codec)) out.push({ codec, srtp: false, target });
    if (codec === 'PCMU' && codecs.includes('PCMU+SRTP') && targets.includes('node')) out.push({ codec, srtp: true, target: 'node' });
  }
  return out;
}

/** The series label: codec, plus the transport when it is not plain RTP. */
export function seriesName(codec: BenchCodec, srtp: boolean): string {
  return srtp ? `${codec}+SRTP` : codec;
}

interface Session {
  target: Target;
  gens: GeneratorClient[];
  rooms: number;
  signaling: JoinSignaling;
}

async function openSession(o: CapacityOptions, maxRooms: number): Promise<Session> {
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-'));
  const target = await startTarget({
    kind: o.targetKind,
    nodeMain: o.nodeMain,
    dir,
    rooms: maxRooms,
    mixTalkers: o.mixTalkers,
    opusComplexity: o.opusComplexity ?? BENCH_OPUS_COMPLEXITY,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    rtpPorts: maxRooms * ROOM_SIZE * 2 + 100,
  });
  const signaling: JoinSignaling = target.signaling.kind === 'sip' ? { ...target.signaling, srtp: o.srtp === true } : target.signaling;
  const gens: GeneratorClient[] = [];
  try {
    for (let g = 0; g < o.generators; g++) gens.push(new GeneratorClient(`g${g}`));
    await Promise.all(gens.map((g) => g.ready()));
  } catch (e) {
    await closeSession({ target, gens, rooms: 0, signaling });
    throw e;
  }
  return { target, gens, rooms: 0, signaling };
}

async function closeSession(s: Session): Promise<void> {
  await Promise.all(
    s.gens.map(async (g) => {
      try {
        await g.request({ op: 'hangup' }, 'hung-up', 30_000);
      } catch {
        // figures only: a generator that cannot hang up is stopped anyway
      }
      await g.stop();
    }),
  );
  await s.target.stop();
}

/** Rooms sampled for the tone check: the first and last room of each step's increment. */
function roomsToAdd(from: number, to: number): RoomSpec[] {
  const out: RoomSpec[] = [];
  for (let i = from + 1; i <= to; i++) out.push({ user: roomAlias(i), id: i, size: ROOM_SIZE, sampled: i === from + 1 || i === to });
  return out;
}

async function grow(s: Session, o: CapacityOptions, rooms: number): Promise<StepResult['setup']> {
  const add = roomsToAdd(s.rooms, rooms);
  const perGen: RoomSpec[][] = s.gens.map(() => []);
  add.forEach((r, i) => perGen[i % s.gens.length]?.push(r));
  const cps = o.cps / s.gens.length;
  const timeoutMs = ((add.length * ROOM_SIZE) / Math.max(1, o.cps)) * 1000 + 30_000;
  const replies = await Promise.all(
    s.gens.map((g, i) => g.request({ op: 'join', codec: o.codec, signaling: s.signaling, rooms: perGen[i] ?? [], cps }, 'joined', timeoutMs)),
  );
  s.rooms = rooms;
  const setupMs = replies.flatMap((r) => r.setupMs);
  return {
    ok: replies.reduce((n, r) => n + r.ok, 0),
    failed: replies.reduce((n, r) => n + r.failed, 0),
    p50Ms: round(percentileOf(setupMs, 50), 1),
    p99Ms: round(percentileOf(setupMs, 99), 1),
    errors: replies.flatMap((r) => r.errors).slice(0, 5),
  };
}

async function measure(s: Session, o: CapacityOptions, setup: StepResult['setup'], repetition: number): Promise<StepResult> {
  const cpu0 = s.target.cpuTimes();
  const m0 = machineJiffies();
  const mix0 = await mixSlotCounts(s.target);
  await Promise.all(s.gens.map((g) => g.request({ op: 'window-start' }, 'window-started', 10_000)));
  const t0 = performance.now();
  await sleep(o.windowMs);
  const windows: GeneratorWindow[] = await Promise.all(s.gens.map((g) => g.window()));
  const wallS = (performance.now() - t0) / 1000;
  const cpu1 = s.target.cpuTimes();
  const m1 = machineJiffies();
  const mix1 = await mixSlotCounts(s.target);
  const slots = mix0 && mix1 ? mix1.on_time + mix1.late + mix1.skipped - (mix0.on_time + mix0.late + mix0.skipped) : 0;
  const windowS = windows.reduce((m, w) => Math.max(m, w.durationMs), 0) / 1000;
  const participants = windows.flatMap((w) => w.participants);
  const pooled = newHistogram();
  for (const w of windows) mergeInto(pooled, fromSparse(w.pooled));
  const tones = windows.flatMap((w) => w.tones);
  const verdict = judgeStep({ participants, expectedPerParticipant: windowS * 50, pooled, toneResults: tones, setupFailures: setup.failed });
  const n = participants.length;
  const user = (cpu1.user - cpu0.user) / wallS;
  const system = (cpu1.system - cpu0.system) / wallS;
  const perS = participants.map((p) => p.received / windowS);
  const genCpu = windows.reduce((m, w) => m + w.cpuSeconds, 0) / wallS;
  // Jiffies count all cores: busy/total * cores = cores in use.
  const machineCores = m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * cpus().length : 0;
  const stealCores = m1.total > m0.total ? ((m1.steal - m0.steal) / (m1.total - m0.total)) * cpus().length : 0;
  return {
    rooms: s.rooms,
    participants: n,
    repetition,
    pass: verdict.pass && s.target.alive(),
    verdict,
    windowS: round(windowS, 1),
    nodeCpu: {
      userPercent: round(user * 100, 1),
      systemPercent: round(system * 100, 1),
      totalPercent: round((user + system) * 100, 1),
      perParticipantPercent: n > 0 ? round(((user + system) * 100) / n, 3) : 0,
    },
    generators: {
      cpuPercent: round(genCpu * 100, 1),
      loopDelayP99Ms: windows.reduce((m, w) => Math.max(m, w.loopDelayP99Ms), 0),
      sentPerS: round(windows.reduce((m, w) => m + w.sent, 0) / wallS, 0),
      lateTicks: windows.reduce((m, w) => m + w.lateTicks, 0),
    },
    otherLoadPercent: round(Math.max(0, machineCores - stealCores - user - system - genCpu) * 100, 0),
    stealPercent: round(stealCores * 100, 1),
    ...(mix0 && mix1 && slots > 0
      ? { nodeMix: { lateSlotsPercent: round(((mix1.late - mix0.late + mix1.skipped - mix0.skipped) / slots) * 100, 2), skippedSlots: mix1.skipped - mix0.skipped } }
      : {}),
    setup,
    arrivals: {
      gapsPercent: round((windows.reduce((m, w) => m + w.gaps, 0) / Math.max(1, histogramCount(pooled))) * 100, 2),
      bunchedPercent: round((windows.reduce((m, w) => m + w.bunched, 0) / Math.max(1, histogramCount(pooled))) * 100, 2),
    },
    ...(o.srtp === true ? { srtpRejected: windows.reduce((m, w) => m + w.srtpRejected, 0) } : {}),
    receivedPerS: { min: round(Math.min(...perS), 1), median: round(percentileOf(perS, 50), 1) },
    toneSample: tones.slice(0, 8),
    targetAlive: s.target.alive(),
  };
}

/**
 * Measures one window, and again (same calls, at most maxReruns times) while a window fails with
 * hypervisor steal over the limit: the host, not the node, decided that one. Every window goes
 * to `rows`; the last is the verdict.
 */
async function measureSettled(s: Session, o: CapacityOptions, setup: StepResult['setup'], repetition: number, rows: StepResult[]): Promise<StepResult> {
  const limit = o.stealRerunPercent ?? STEAL_RERUN_PERCENT;
  const reruns = o.maxReruns ?? MAX_RERUNS;
  for (let attempt = 0; ; attempt++) {
    const r = await measure(s, o, setup, repetition);
    const disturbed = !r.pass && r.targetAlive && r.stealPercent >= limit && attempt < reruns;
    if (disturbed) r.disturbed = true;
    rows.push(r);
    o.log(`  ${o.targetKind} ${seriesName(o.codec, o.srtp === true)} ${describe(r, o.targetKind)}${disturbed ? ` (steal ${r.stealPercent}% >= ${limit}%: measuring again)` : ''}`);
    if (!disturbed) return r;
  }
}

function describe(r: StepResult, target: TargetKind): string {
  const v = r.verdict;
  return (
    `${r.participants} participants (${r.rooms} rooms${r.repetition > 0 ? `, repeat ${r.repetition}` : ''}): ` +
    `${r.pass ? 'PASS' : 'FAIL'} rx min ${(v.minReceiveRatio * 100).toFixed(1)}%, p99 dev ${v.pooledP99Ms} ms (worst ${v.worstP99Ms}; >30 ms ${r.arrivals.gapsPercent}%, <10 ms ${r.arrivals.bunchedPercent}%), ` +
    `tones ${v.toneChecked - v.toneFailed}/${v.toneChecked}, ${target} CPU ${r.nodeCpu.totalPercent}% ` +
    `(${r.nodeCpu.perParticipantPercent}%/participant), generators ${r.generators.cpuPercent}% lag p99 ${r.generators.loopDelayP99Ms} ms, other load ${r.otherLoadPercent}%, steal ${r.stealPercent}%` +
    (r.nodeMix ? `, node mix slots late ${r.nodeMix.lateSlotsPercent}%` : '') +
    (r.srtpRejected !== undefined ? `, SRTP refused ${r.srtpRejected}` : '') +
    `${v.failures.length > 0 ? ` [${v.failures.join('; ')}]` : ''}`
  );
}

async function stepUp(o: CapacityOptions, out: CodecCapacity): Promise<void> {
  const s = await openSession(o, o.maxRooms);
  const last = o.steps[o.steps.length - 1] ?? 10;
  const increment = Math.max(1, last - (o.steps[o.steps.length - 2] ?? 0));
  try {
    // After the configured steps all pass, keep adding the last increment (bounded by maxRooms).
    for (let i = 0; i < 100; i++) {
      const rooms = i < o.steps.length ? (o.steps[i] ?? last) : last + (i - o.steps.length + 1) * increment;
      if (rooms > o.maxRooms) {
        out.stoppedBecause = `reached the bench's room cap (${o.maxRooms} rooms)`;
        return;
      }
      if (Date.now() > o.stepDeadline) {
        out.stoppedBecause = 'time budget reached before the next step';
        return;
      }
      const setup = await grow(s, o, rooms);
      await sleep(o.warmupMs);
      const r = await measureSettled(s, o, setup, 0, out.steps);
      if (!r.pass) {
        out.firstFailing = { rooms, participants: r.participants, failures: r.verdict.failures.concat(r.targetAlive ? [] : [`${o.targetKind} died`]) };
        out.stoppedBecause = 'criteria failed';
        return;
      }
      out.largestPassing = { rooms, participants: r.participants, cpuPerParticipantPercent: r.nodeCpu.perParticipantPercent };
    }
    out.stoppedBecause = 'step limit reached';
  } finally {
    await closeSession(s);
  }
}

async function repeatLargest(o: CapacityOptions, out: CodecCapacity): Promise<void> {
  const best = out.largestPassing;
  if (!best) return;
  for (let rep = 1; rep <= o.repeats; rep++) {
    if (Date.now() > o.repeatDeadline) return;
    const s = await openSession(o, best.rooms);
    try {
      const setup = await grow(s, o, best.rooms);
      await sleep(o.warmupMs);
      await measureSettled(s, o, setup, rep, out.repeats);
    } finally {
      await closeSession(s);
    }
  }
}

/** A series that could not run at all (e.g. Janus not installable): recorded with the reason. */
export function skippedSeries(o: Pick<CapacityOptions, 'codec' | 'targetKind' | 'srtp' | 'opusComplexity'>, why: string): CodecCapacity {
  const srtp = o.srtp === true;
  return {
    codec: o.codec,
    series: seriesName(o.codec, srtp),
    target: o.targetKind,
    srtp,
    mixing: mixingSettings(o.targetKind, o.opusComplexity ?? BENCH_OPUS_COMPLEXITY),
    bar: JANUS_BAR[o.codec],
    steps: [],
    repeats: [],
    stoppedBecause: `not run: ${why}`,
  };
}

export async function runMixerCapacity(o: CapacityOptions): Promise<CodecCapacity> {
  const out = skippedSeries(o, '');
  out.stoppedBecause = '';
  try {
    await stepUp(o, out);
    await repeatLargest(o, out);
  } catch (e) {
    out.stoppedBecause = `error: ${e instanceof Error ? e.message : String(e)}`;
    o.log(`  ${o.targetKind} ${out.series} ${out.stoppedBecause}`);
  }
  return out;
}
