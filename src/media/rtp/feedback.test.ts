import { buildFir, buildPli, keyframeRequestTarget } from './feedback';
import { buildRtcp, parseRtcp } from './rtcp';

describe('RTCP keyframe feedback', () => {
  it('RFC 4585: a PLI in a compound with an empty RR round-trips to its media SSRC', () => {
    const buf = buildRtcp([{ type: 'rr', ssrc: 1, reports: [] }, buildPli(1, 0xdeadbeef)]);
    expect(buf.length).toBe(8 + 12);
    expect(buf[8]).toBe(0x81); // V=2, FMT=1
    expect(buf[9]).toBe(206);
    const packets = parseRtcp(buf);
    expect(packets.map((p) => keyframeRequestTarget(p))).toEqual([undefined, 0xdeadbeef]);
  });

  it('RFC 5104: a FIR names its target in the FCI; a FIR for another SSRC is not ours', () => {
    const [fir] = parseRtcp(buildRtcp([buildFir(1, 42, 7)]));
    expect(fir && keyframeRequestTarget(fir, 42)).toBe(42);
    expect(fir && keyframeRequestTarget(fir, 43)).toBeUndefined();
  });

  it('other feedback and short bodies are no keyframe requests', () => {
    expect(keyframeRequestTarget({ type: 'unknown', packetType: 205, count: 1, body: Buffer.alloc(12) })).toBeUndefined(); // NACK
    expect(keyframeRequestTarget({ type: 'unknown', packetType: 206, count: 1, body: Buffer.alloc(4) })).toBeUndefined();
    expect(keyframeRequestTarget({ type: 'rr', ssrc: 1, reports: [] })).toBeUndefined();
  });
});
