import { RtpReceiveStats, rttFromReportBlock } from './stats';
import type { ReportBlock } from './rtcp';

/** Feeds (seq, timestamp, arrivalMs) rows; 8 kHz, 20 ms packets unless the row says otherwise. */
function feed(stats: RtpReceiveStats, rows: Array<[number, number, number]>): boolean[] {
  return rows.map(([seq, ts, at]) => stats.update(seq, ts, at));
}

const inOrder = (firstSeq: number, n: number): Array<[number, number, number]> =>
  Array.from({ length: n }, (_, i) => [(firstSeq + i) & 0xffff, 1000 + i * 160, i * 20]);

describe('RtpReceiveStats (RFC 3550 appendix A)', () => {
  it('A.3: no loss on an in-order stream', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    feed(s, inOrder(100, 50));
    expect(s.received).toBe(50);
    expect(s.expected).toBe(50);
    expect(s.lost).toBe(0);
    expect(s.extendedMax).toBe(149);
  });

  it('A.3: counts gaps as lost and the fraction lost per report interval', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    // 0..9 with 3 and 7 missing: expected 10, received 8.
    feed(
      s,
      [0, 1, 2, 4, 5, 6, 8, 9].map((q) => [q, q * 160, q * 20]),
    );
    expect(s.lost).toBe(2);
    const rb = s.makeReportBlock(42, 200);
    expect(rb).toMatchObject({ ssrc: 42, cumulativeLost: 2, highestSeq: 9, fractionLost: Math.floor((2 * 256) / 10) });
    // Next interval: 10..19 all present -> fraction 0, cumulative unchanged.
    feed(s, inOrder(10, 10));
    expect(s.makeReportBlock(42, 400)).toMatchObject({ fractionLost: 0, cumulativeLost: 2, highestSeq: 19 });
  });

  it('A.1: a reordered packet is counted but does not move the highest sequence back', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    feed(s, [
      [10, 0, 0],
      [12, 320, 40],
      [11, 160, 45],
      [13, 480, 60],
    ]);
    expect(s.extendedMax).toBe(13);
    expect(s.lost).toBe(0);
  });

  it('A.1: extends the sequence across the 65535 -> 0 wrap (cycles)', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    feed(s, inOrder(65530, 12)); // 65530..65535, 0..5
    expect(s.extendedMax).toBe(0x10000 + 5);
    expect(s.expected).toBe(12);
    expect(s.lost).toBe(0);
    expect(s.makeReportBlock(1, 0).highestSeq).toBe(0x10005);
  });

  it('A.1: a packet reordered across the wrap does not add a cycle', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    feed(s, [
      [65534, 0, 0],
      [0, 320, 40],
      [65535, 160, 41],
      [1, 480, 60],
    ]);
    expect(s.extendedMax).toBe(0x10001);
    expect(s.lost).toBe(0);
  });

  it('A.1: a single huge jump is ignored, two sequential ones restart the sequence', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    feed(s, inOrder(100, 5));
    expect(s.update(30000, 99999, 200)).toBe(false);
    expect(s.extendedMax).toBe(104);
    expect(s.update(30001, 100159, 220)).toBe(true);
    expect(s.extendedMax).toBe(30001);
    expect(s.received).toBe(1);
  });

  it('A.1: probation withholds a new source until MIN_SEQUENTIAL packets in a row', () => {
    const s = new RtpReceiveStats({ clockRate: 8000, probation: 2 });
    expect(feed(s, inOrder(500, 4))).toEqual([false, true, true, true]);
    expect(s.received).toBe(3);
    expect(s.lost).toBe(0);
  });

  it('A.8: jitter is 0 for perfectly paced arrivals, also across timestamp wrap', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    for (let i = 0; i < 100; i++) s.update(i, (0xffffff00 + i * 160) >>> 0, i * 20);
    expect(s.jitter).toBe(0);
  });

  it('A.8: jitter follows J += (|D| - J)/16 on a synthetic arrival table', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    // Packets every 20 ms of media; arrivals alternate 10 ms early/late -> |D| = 20 ms = 160 units after the first.
    const arrivals = [0, 30, 40, 70, 80, 110, 120];
    let expected = 0;
    arrivals.forEach((at, i) => {
      s.update(i, i * 160, at);
      if (i > 0) {
        const prevAt = arrivals[i - 1] as number;
        const d = (at - prevAt) * 8 - 160;
        expected += (Math.abs(d) - expected) / 16;
      }
    });
    expect(expected).toBeGreaterThan(0);
    expect(s.jitter).toBe(Math.floor(expected));
    expect(s.jitterMs).toBeCloseTo(expected / 8, 6);
  });

  it('6.4.1: LSR is the middle of the last SR and DLSR the delay since, in 1/65536 s', () => {
    const s = new RtpReceiveStats({ clockRate: 8000 });
    s.update(1, 0, 0);
    expect(s.makeReportBlock(1, 0)).toMatchObject({ lsr: 0, dlsr: 0 });
    s.onSenderReport(0x00051234, 0x56780000, 1000);
    expect(s.makeReportBlock(1, 1500)).toMatchObject({ lsr: 0x12345678, dlsr: 32768 });
  });
});

describe('rttFromReportBlock (RFC 3550 6.4.1)', () => {
  const rb = (lsr: number, dlsr: number): ReportBlock => ({
    ssrc: 1,
    fractionLost: 0,
    cumulativeLost: 0,
    highestSeq: 0,
    jitter: 0,
    lsr,
    dlsr,
  });

  it('computes A - LSR - DLSR', () => {
    // SR sent at middle 0x10000 (1 s), held 0.25 s by the peer, report back at 1.5 s -> RTT 250 ms.
    expect(rttFromReportBlock(rb(0x10000, 0x4000), 0x18000)).toBe(250);
  });

  it('works across the 32-bit wrap of the middle timestamp', () => {
    expect(rttFromReportBlock(rb(0xffff8000, 0), 0x00000ccd)).toBeCloseTo(550, 0);
  });

  it('is undefined without an LSR or when negative', () => {
    expect(rttFromReportBlock(rb(0, 0), 0x18000)).toBeUndefined();
    expect(rttFromReportBlock(rb(0x10000, 0x10000), 0x18000)).toBeUndefined();
  });
});
