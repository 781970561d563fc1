import {
  corePercent,
  efficiency,
  growingStreams,
  joinSamples,
  lossPercent,
  marginalCpuSeconds,
  packetsPerCpuSecond,
  rssKbFromStatus,
  spread,
  summarize,
  usPerPacket,
  type PageFrames,
} from './stats';

describe('summarize()', () => {
  it('gives nearest-rank p50/p95 with min and max', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    expect(summarize(values)).toEqual({ samples: 20, p50: 100, p95: 190, max: 200, min: 10 });
  });
  it('reports zero samples as zeros rather than NaN', () => {
    expect(summarize([])).toEqual({ samples: 0, p50: 0, p95: 0, max: 0, min: 0 });
  });
});

describe('rssKbFromStatus()', () => {
  it('reads VmRSS from /proc/PID/status', () => {
    expect(rssKbFromStatus('Name:\tnode\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t11\n')).toBe(123456);
  });
  it('is undefined when the line is missing (a zombie has no VmRSS)', () => {
    expect(rssKbFromStatus('Name:\tnode\nState:\tZ (zombie)\n')).toBeUndefined();
  });
});

describe('joinSamples()', () => {
  const page = (id: string, open: number, join: number, first: Record<string, number>): PageFrames => ({
    participantId: id,
    openEpochMs: open,
    joinEpochMs: join,
    firstFrameEpochMs: first,
  });
  it('measures the joiner from its own join and the newcomer at earlier pages from the newcomer join', () => {
    const a = page('a', 900, 1000, { b: 2600 });
    const b = page('b', 1900, 2000, { a: 2500 });
    const s = joinSamples([a, b]);
    // b joined after a: b sees a 500 ms after b's join (700 ms after b's page open); a sees b 600 ms after b's join.
    expect(s.joinerMs).toEqual([500]);
    expect(s.fromOpenMs).toEqual([600]);
    expect(s.newcomerMs).toEqual([600]);
    expect(s.missing).toBe(0);
  });
  it('counts a remote whose frame never came as missing, not as a sample', () => {
    const s = joinSamples([page('a', 0, 10, {}), page('b', 20, 30, { a: 300 })]);
    expect(s.joinerMs).toEqual([270]);
    expect(s.newcomerMs).toEqual([]);
    expect(s.missing).toBe(1);
  });
});

describe('CPU and forwarding ratios', () => {
  it('corePercent: CPU seconds per wall second as % of one core', () => {
    expect(corePercent(1.5, 10)).toBe(15);
    expect(corePercent(1, 0)).toBe(0);
  });
  it('marginalCpuSeconds scales the idle window to the video window length', () => {
    expect(marginalCpuSeconds({ cpuS: 3, wallS: 10 }, { cpuS: 2.2, wallS: 11 })).toBeCloseTo(1, 6);
  });
  it('packetsPerCpuSecond is undefined when no CPU time was measured (jiffy resolution)', () => {
    expect(packetsPerCpuSecond(90_000, 2)).toBe(45_000);
    expect(packetsPerCpuSecond(90_000, 0)).toBeUndefined();
    expect(packetsPerCpuSecond(90_000, -0.1)).toBeUndefined();
    // 3 - 2.9999999 after float subtraction: residue, not a measured marginal CPU
    expect(packetsPerCpuSecond(90_000, 1e-19)).toBeUndefined();
  });
  it('usPerPacket gives CPU microseconds per packet, undefined below one jiffy', () => {
    expect(usPerPacket(0.9, 90_000)).toBe(10);
    expect(usPerPacket(0.001, 90_000)).toBeUndefined();
    expect(usPerPacket(1, 0)).toBeUndefined();
  });
  it('efficiency is the SFU rate over the dgram rate', () => {
    expect(efficiency(30_000, 60_000)).toBe(0.5);
    expect(efficiency(undefined, 60_000)).toBeUndefined();
    expect(efficiency(30_000, 0)).toBeUndefined();
  });
  it('lossPercent counts what did not arrive', () => {
    expect(lossPercent(9900, 10_000)).toBe(1);
    expect(lossPercent(0, 0)).toBe(0);
    expect(lossPercent(10_015, 10_000)).toBe(0); // packets in flight when the window opened
  });
  it('spread ignores undefined runs', () => {
    expect(spread([0.6, undefined, 0.4, 0.5])).toEqual({ min: 0.4, median: 0.5, max: 0.6 });
    expect(spread([undefined])).toBeUndefined();
  });
  it('growingStreams counts only streams whose packet count rose', () => {
    expect(growingStreams({ a: 10, b: 5, c: 7 }, { a: 20, b: 5, c: 8, d: 1 })).toBe(3);
  });
});
