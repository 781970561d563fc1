/**
 * Pure arithmetic of the SFU bench: latency summaries, join-to-first-frame samples from per-page
 * first-frame times, CPU and forwarding-rate ratios, /proc/PID/status parsing. No clocks, no
 * sockets, no files: every input is an argument, so the tests are plain tables.
 */
import { percentileOf } from '../load/stats';

export interface Summary {
  samples: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
}

/** Sample count, p50, p95 (nearest rank), min and max, rounded to 0.1. */
export function summarize(values: readonly number[]): Summary {
  const r = (v: number): number => Math.round(v * 10) / 10;
  if (values.length === 0) return { samples: 0, p50: 0, p95: 0, max: 0, min: 0 };
  return {
    samples: values.length,
    p50: r(percentileOf(values, 50)),
    p95: r(percentileOf(values, 95)),
    max: r(Math.max(...values)),
    min: r(Math.min(...values)),
  };
}

/** VmRSS of a /proc/PID/status text, in kB (undefined when absent). */
export function rssKbFromStatus(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** What one page saw: when it joined and when each remote's first video frame was decoded. */
export interface PageFrames {
  participantId: string;
  /** Epoch ms of the bench's page.goto() call. */
  openEpochMs: number;
  /** Epoch ms of the page's join() (window.confnode.timings.start). */
  joinEpochMs: number;
  /** Remote participant id -> epoch ms when its first decoded frame was seen. */
  firstFrameEpochMs: Record<string, number>;
}

export interface JoinSamples {
  /** Joining page: join() -> first frame of each remote already in the room. */
  joinerMs: number[];
  /** The same frames measured from page.goto() (includes page load and getUserMedia). */
  fromOpenMs: number[];
  /** Pages already in the room: the newcomer's join() -> its first frame at them. */
  newcomerMs: number[];
  /** Expected (page, remote) pairs with no frame at all. */
  missing: number;
}

/** Splits one round's first-frame times into joiner and newcomer samples. */
export function joinSamples(pages: readonly PageFrames[]): JoinSamples {
  const out: JoinSamples = { joinerMs: [], fromOpenMs: [], newcomerMs: [], missing: 0 };
  for (const p of pages) {
    for (const o of pages) {
      if (o === p) continue;
      const f = p.firstFrameEpochMs[o.participantId];
      if (f === undefined) {
        out.missing++;
        continue;
      }
      if (o.joinEpochMs <= p.joinEpochMs) {
        out.joinerMs.push(f - p.joinEpochMs);
        out.fromOpenMs.push(f - p.openEpochMs);
      } else {
        out.newcomerMs.push(f - o.joinEpochMs);
      }
    }
  }
  return out;
}

/** CPU seconds over wall seconds as % of one core, 0.1 resolution. */
export function corePercent(cpuSeconds: number, wallSeconds: number): number {
  return wallSeconds > 0 ? Math.round((cpuSeconds / wallSeconds) * 1000) / 10 : 0;
}

export interface CpuWindow {
  cpuS: number;
  wallS: number;
}

/**
 * CPU seconds the video added in its window: its CPU minus the idle window's CPU scaled to the
 * video window's length (the windows are meant to be equal; the scaling absorbs timer slack).
 */
export function marginalCpuSeconds(video: CpuWindow, idle: CpuWindow): number {
  const idleScaled = idle.wallS > 0 ? (idle.cpuS * video.wallS) / idle.wallS : 0;
  return video.cpuS - idleScaled;
}

/** One jiffy: /proc CPU times below this are not measured, only rounding residue. */
export const MIN_CPU_S = 0.01;

/** Packets per CPU-second; undefined when the CPU time is below one jiffy (not measurable). */
export function packetsPerCpuSecond(packets: number, cpuSeconds: number): number | undefined {
  return cpuSeconds >= MIN_CPU_S ? Math.round(packets / cpuSeconds) : undefined;
}

/** CPU microseconds per packet, 0.1 resolution; undefined below one jiffy or without packets. */
export function usPerPacket(cpuSeconds: number, packets: number): number | undefined {
  return cpuSeconds >= MIN_CPU_S && packets > 0 ? Math.round((cpuSeconds / packets) * 1e7) / 10 : undefined;
}

/** SFU rate over the dgram forwarder's rate, 0.01 resolution. */
export function efficiency(sfuRate: number | undefined, dgramRate: number | undefined): number | undefined {
  if (sfuRate === undefined || dgramRate === undefined || dgramRate <= 0) return undefined;
  return Math.round((sfuRate / dgramRate) * 100) / 100;
}

/**
 * 1 - received / expected, as a percentage with 0.01 resolution (0 when nothing was expected).
 * Never below 0: packets sent just before a window opens arrive inside it, so a lossless window
 * can count a few more received than sent (it printed "loss -0.15%").
 */
export function lossPercent(received: number, expected: number): number {
  if (expected <= 0) return 0;
  return Math.max(0, Math.round((1 - received / expected) * 10_000) / 100);
}

/** Min, median and max of the defined values (undefined when none). */
export function spread(values: ReadonlyArray<number | undefined>): { min: number; median: number; max: number } | undefined {
  const v = values.filter((x): x is number => x !== undefined);
  if (v.length === 0) return undefined;
  return { min: Math.min(...v), median: percentileOf(v, 50), max: Math.max(...v) };
}

/**
 * Inbound streams whose packet count grew between two snapshots of one page's getStats()
 * (stream id -> packetsReceived): the streams really forwarded to that page in the window.
 */
export function growingStreams(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const [id, v] of Object.entries(after)) if (v > (before[id] ?? 0)) n++;
  return n;
}
