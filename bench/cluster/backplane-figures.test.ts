/**
 * The pure parts of the backplane figures: reading a tcpdump capture (pcap.ts) and pairing the
 * two legs of a hop by key (figures.ts matchHops). Built captures only; no sockets, no clocks.
 */
import { matchHops, usPerPacket } from './figures';
import { parsePcap, rtpHead } from './pcap';

function rtp(pt: number, seq: number, ts: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 4);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

function ethUdp(src: number, dst: number, payload: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip[9] = 17;
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(src, 0);
  udp.writeUInt16BE(dst, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([eth, ip, udp, payload]);
}

function pcap(frames: Array<[number, number, Buffer]>, nanos = true): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map(([sec, frac, frame]) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(sec, 0);
    r.writeUInt32LE(frac, 4);
    r.writeUInt32LE(frame.length, 8);
    r.writeUInt32LE(frame.length, 12);
    return Buffer.concat([r, frame]);
  });
  return Buffer.concat([head, ...recs]);
}

describe('backplane bench: capture reading', () => {
  test('issue 10 bench: a nanosecond Ethernet capture gives each UDP datagram its ports, payload and ns timestamp', () => {
    const buf = pcap([[10, 500, ethUdp(4000, 5000, rtp(0, 7, 1234, 99))], [10, 900_000, ethUdp(5002, 6000, rtp(96, 8, 1234, 42))]]);
    const recs = parsePcap(buf);
    expect(recs.map((r) => [r.tNs, r.srcPort, r.dstPort, rtpHead(r.payload)?.payloadType, rtpHead(r.payload)?.timestamp])).toEqual([
      [10e9 + 500, 4000, 5000, 0, 1234],
      [10e9 + 900_000, 5002, 6000, 96, 1234],
    ]);
  });

  test('issue 10 bench: microsecond captures are scaled to ns; a truncated last record is ignored', () => {
    const whole = pcap([[1, 3, ethUdp(1, 2, rtp(0, 1, 2, 3))], [1, 4, ethUdp(1, 2, rtp(0, 1, 2, 3))]], false);
    const recs = parsePcap(whole.subarray(0, whole.length - 5));
    expect(recs.map((r) => r.tNs)).toEqual([1e9 + 3000]);
  });

  test('issue 10 bench: RTCP (SR/RR) and non-RTP payloads have no RTP head', () => {
    expect(rtpHead(rtp(200, 0, 0, 0))).toBeUndefined();
    expect(rtpHead(rtp(201 & 0x7f, 0, 0, 0))).toBeUndefined();
    expect(rtpHead(Buffer.from('INVITE sip:x SIP/2.0'))).toBeUndefined();
  });

  test('issue 10 bench: an unknown file is refused with a message', () => {
    expect(() => parsePcap(Buffer.alloc(24))).toThrow(/unknown magic/);
  });
});

describe('backplane bench: hop pairing', () => {
  test('issue 10 bench: each frame is paired with its first later copy on leg 2; unmatched and duplicate keys are left out', () => {
    const leg1 = [
      { tNs: 1000, key: 1 },
      { tNs: 2000, key: 2 },
      { tNs: 3000, key: 3 },
      { tNs: 4000, key: 9 },
      { tNs: 4500, key: 9 },
    ];
    const leg2 = [
      { tNs: 1500, key: 1 },
      { tNs: 1600, key: 1 },
      { tNs: 500, key: 3 },
      { tNs: 4000, key: 2 },
      { tNs: 5000, key: 9 },
    ];
    expect(matchHops(leg1, leg2)).toEqual({ sent: 5, matched: 2, p50Us: 0.5, p90Us: 2, p99Us: 2, maxUs: 2, minUs: 0.5 });
  });

  test('issue 10 bench: no packets give zeros, not NaN; CPU per packet needs packets', () => {
    expect(matchHops([], [])).toEqual({ sent: 0, matched: 0, p50Us: 0, p90Us: 0, p99Us: 0, maxUs: 0, minUs: 0 });
    expect(usPerPacket(0.5, 0)).toBeUndefined();
    expect(usPerPacket(0.5, 10_000)).toBe(50);
  });
});
