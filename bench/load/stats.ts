/**
 * Pure measurement helpers of the mixer-capacity bench: a fixed-bin histogram of inter-arrival
 * deviations (mergeable across participants and processes), percentiles, and the pass/fail
 * verdict of one step. No I/O, no clock: callers pass times in.
 */

/** Histogram resolution and range: 0.1 ms bins up to 1 s; anything longer lands in the last bin. */
export const BIN_MS = 0.1;
export const BINS = 10_000;

export function newHistogram(): Uint32Array {
  return new Uint32Array(BINS + 1);
}

export function recordDeviation(h: Uint32Array, deviationMs: number): void {
  const bin = Math.min(BINS, Math.max(0, Math.floor(deviationMs / BIN_MS)));
  h[bin] = (h[bin] ?? 0) + 1;
}

export function mergeInto(into: Uint32Array, from: ArrayLike<number>): void {
  const n = Math.min(into.length, from.length);
  for (let i = 0; i < n; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

export function histogramCount(h: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h[i] ?? 0;
  return n;
}

/** The upper edge (ms) of the bin holding the p-th percentile (0 < p <= 100); 0 when empty. */
export function percentileMs(h: ArrayLike<number>, p: number): number {
  const total = histogramCount(h);
  if (total === 0) return 0;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i] ?? 0;
    if (seen >= rank) return Math.round((i + 1) * BIN_MS * 10) / 10;
  }
  return Math.round(h.length * BIN_MS * 10) / 10;
}

/** Sparse form for IPC/JSON: [bin, count] pairs of non-empty bins. */
export function toSparse(h: Uint32Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < h.length; i++) if ((h[i] ?? 0) > 0) out.push([i, h[i] ?? 0]);
  return out;
}

export function fromSparse(pairs: ReadonlyArray<readonly [number, number]>): Uint32Array {
  const h = newHistogram();
  for (const [bin, count] of pairs) if (bin >= 0 && bin <= BINS) h[bin] = (h[bin] ?? 0) + count;
  return h;
}

/** Exact percentile of a small list of numbers (nearest rank). */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? 0;
}

export interface ParticipantWindow {
  /** Mixed packets received in the window. */
  received: number;
  /** p99 of |inter-arrival - 20 ms| for this participant alone (ms). */
  p99Ms: number;
}

export interface StepCriteria {
  minReceiveRatio: number;
  maxP99Ms: number;
}

export const CRITERIA: StepCriteria = { minReceiveRatio: 0.95, maxP99Ms: 10 };

export interface StepVerdict {
  pass: boolean;
  /** Lowest received/expected ratio over all participants. */
  minReceiveRatio: number;
  /** Participants below the receive ratio. */
  belowRatio: number;
  /** p99 deviation over every inter-arrival of every participant (ms). */
  pooledP99Ms: number;
  /** The worst single participant's p99 (ms). */
  worstP99Ms: number;
  toneChecked: number;
  toneFailed: number;
  failures: string[];
}

/**
 * Applies the workload's criteria: every participant gets >= 95% of the expected packets, the p99
 * deviation (pooled over all participants) is <= 10 ms, every sampled tone check passes, and no
 * call failed to set up.
 */
export function judgeStep(o: {
  participants: readonly ParticipantWindow[];
  expectedPerParticipant: number;
  pooled: ArrayLike<number>;
  toneResults: ReadonlyArray<{ ok: boolean }>;
  setupFailures: number;
  criteria?: StepCriteria;
}): StepVerdict {
  const c = o.criteria ?? CRITERIA;
  const failures: string[] = [];
  const ratios = o.participants.map((p) => (o.expectedPerParticipant > 0 ? p.received / o.expectedPerParticipant : 0));
  const minReceiveRatio = ratios.length > 0 ? Math.min(...ratios) : 0;
  const belowRatio = ratios.filter((r) => r < c.minReceiveRatio).length;
  const pooledP99Ms = percentileMs(o.pooled, 99);
  const worstP99Ms = o.participants.reduce((m, p) => Math.max(m, p.p99Ms), 0);
  const toneFailed = o.toneResults.filter((t) => !t.ok).length;
  if (o.participants.length === 0) failures.push('no participant measured');
  if (o.setupFailures > 0) failures.push(`${o.setupFailures} calls failed to set up`);
  if (belowRatio > 0) {
    failures.push(`${belowRatio} participants below ${c.minReceiveRatio * 100}% of packets (min ${(minReceiveRatio * 100).toFixed(1)}%)`);
  }
  if (pooledP99Ms > c.maxP99Ms) failures.push(`p99 inter-arrival deviation ${pooledP99Ms} ms > ${c.maxP99Ms} ms`);
  if (toneFailed > 0) failures.push(`${toneFailed} of ${o.toneResults.length} tone checks failed`);
  return {
    pass: failures.length === 0,
    minReceiveRatio: Math.round(minReceiveRatio * 1000) / 1000,
    belowRatio,
    pooledP99Ms,
    worstP99Ms,
    toneChecked: o.toneResults.length,
    toneFailed,
    failures,
  };
}

export type MixSlotCounts = Record<'on_time' | 'late' | 'skipped', number>;

/** Sums confnode_mix_ticks_total by timing from a Prometheus text page (undefined if absent). */
export function mixSlotCountsFromMetrics(text: string): MixSlotCounts | undefined {
  const counts: MixSlotCounts = { on_time: 0, late: 0, skipped: 0 };
  let seen = false;
  for (const m of text.matchAll(/^confnode_mix_ticks_total\{[^}]*timing="(on_time|late|skipped)"[^}]*\} (\d+(?:\.\d+)?(?:e\+?\d+)?)$/gm)) {
    counts[m[1] as keyof MixSlotCounts] += Number(m[2]);
    seen = true;
  }
  return seen ? counts : undefined;
}
