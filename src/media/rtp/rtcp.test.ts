import { buildRtcp, ntpFromUnixMs, ntpMiddle32, parseRtcp, type ReportBlock, type RtcpPacket } from './rtcp';

const block: ReportBlock = {
  ssrc: 0x11223344,
  fractionLost: 64,
  cumulativeLost: -3,
  highestSeq: 0x0001fffe,
  jitter: 123,
  lsr: 0xabcd1234,
  dlsr: 65536,
};

describe('buildRtcp / parseRtcp (RFC 3550 6.4-6.6)', () => {
  it('round-trips a compound SR + SDES CNAME + BYE', () => {
    const packets: RtcpPacket[] = [
      {
        type: 'sr',
        ssrc: 0xcafebabe,
        ntpSec: 0xe0000001,
        ntpFrac: 0x80000000,
        rtpTimestamp: 0xfffffff0,
        packetCount: 500,
        octetCount: 80000,
        reports: [block],
      },
      { type: 'sdes', chunks: [{ ssrc: 0xcafebabe, cname: 'confnode-abc' }] },
      { type: 'bye', ssrcs: [0xcafebabe], reason: 'hangup' },
    ];
    const buf = buildRtcp(packets);
    expect(buf.length % 4).toBe(0);
    expect(parseRtcp(buf)).toEqual(packets);
  });

  it('round-trips an RR with no report block and one with two', () => {
    const packets: RtcpPacket[] = [
      { type: 'rr', ssrc: 1, reports: [] },
      { type: 'rr', ssrc: 2, reports: [block, { ...block, ssrc: 9, cumulativeLost: 0x7fffff }] },
    ];
    expect(parseRtcp(buildRtcp(packets))).toEqual(packets);
  });

  it('clamps cumulative lost to the signed 24-bit field', () => {
    const buf = buildRtcp([{ type: 'rr', ssrc: 1, reports: [{ ...block, cumulativeLost: -1e9 }] }]);
    const [rr] = parseRtcp(buf);
    expect(rr?.type === 'rr' && rr.reports[0]?.cumulativeLost).toBe(-0x800000);
  });

  it.each([0, 1, 2, 3, 4, 5])('pads an SDES chunk with a %i-byte CNAME to a 32-bit boundary', (n) => {
    const packets: RtcpPacket[] = [
      { type: 'sdes', chunks: [{ ssrc: 7, cname: 'x'.repeat(n) }, { ssrc: 8, cname: 'second' }] },
      { type: 'rr', ssrc: 7, reports: [] },
    ];
    const buf = buildRtcp(packets);
    expect(buf.length % 4).toBe(0);
    expect(parseRtcp(buf)).toEqual(packets);
  });

  it('skips unknown packet types by their length and keeps them as views (e.g. PSFB PLI)', () => {
    const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    const rr = buildRtcp([{ type: 'rr', ssrc: 5, reports: [] }]);
    const parsed = parseRtcp(Buffer.concat([pli, rr]));
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ type: 'unknown', packetType: 206, count: 1 });
    expect(parsed[1]).toEqual({ type: 'rr', ssrc: 5, reports: [] });
  });

  it('returns the packets before a truncated one', () => {
    const buf = buildRtcp([
      { type: 'rr', ssrc: 5, reports: [] },
      { type: 'sr', ssrc: 6, ntpSec: 1, ntpFrac: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5, reports: [] },
    ]);
    expect(parseRtcp(buf.subarray(0, buf.length - 4))).toEqual([{ type: 'rr', ssrc: 5, reports: [] }]);
  });

  it('honours the padding bit on the last packet', () => {
    const rr = buildRtcp([{ type: 'rr', ssrc: 5, reports: [] }]);
    const padded = Buffer.concat([rr, Buffer.from([0, 0, 0, 4])]);
    padded[0] = (padded[0] as number) | 0x20;
    padded.writeUInt16BE(2, 2);
    expect(parseRtcp(padded)).toEqual([{ type: 'rr', ssrc: 5, reports: [] }]);
  });

  it('never throws on random bytes', () => {
    let x = 99;
    const next = (): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x >>> 16;
    };
    for (let i = 0; i < 20000; i++) {
      const buf = Buffer.alloc(next() % 80);
      for (let j = 0; j < buf.length; j++) buf[j] = next() & 0xff;
      if (buf.length > 0) buf[0] = ((buf[0] as number) & 0x3f) | 0x80;
      expect(() => parseRtcp(buf)).not.toThrow();
    }
  });
});

describe('NTP helpers', () => {
  it('maps the Unix epoch to NTP second 2208988800 and half a second to frac 2^31', () => {
    expect(ntpFromUnixMs(500)).toEqual({ sec: 2208988800, frac: 0x80000000 });
  });

  it('takes the middle 32 bits (RFC 3550 6.4.1 LSR)', () => {
    expect(ntpMiddle32(0x12345678, 0x9abcdef0)).toBe(0x56789abc);
  });
});
