import { RtpHeader, RtpPacket } from 'werift';
import { viewerPacket } from './viewer-packet';

describe('viewerPacket (werift RtpPacket without its defineProperty constructors)', () => {
  const payload = Buffer.from([1, 2, 3, 4, 5]);
  const reference = (): RtpPacket =>
    new RtpPacket(new RtpHeader({ payloadType: 96, marker: true, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0x12345678 }), payload);

  test('has the same prototype and the same own fields, in the same order, as werift builds', () => {
    const fast = viewerPacket(96, true, 65535, 0xfffffff0, 0x12345678, payload);
    const ref = reference();
    expect(Object.getPrototypeOf(fast.header)).toBe(RtpHeader.prototype);
    expect(Object.getPrototypeOf(fast)).toBe(RtpPacket.prototype);
    expect(Object.keys(fast.header)).toEqual(Object.keys(ref.header));
    expect({ ...fast.header }).toEqual({ ...ref.header });
  });

  test('serializes to the same bytes, also after a sender rewrites ssrc, payload type and sequence', () => {
    const fast = viewerPacket(96, true, 65535, 0xfffffff0, 0x12345678, payload);
    const ref = reference();
    expect(fast.serialize()).toEqual(ref.serialize());
    for (const p of [fast, ref]) {
      p.header.ssrc = 42;
      p.header.payloadType = 111;
      p.header.sequenceNumber = 7;
    }
    expect(fast.serialize()).toEqual(ref.serialize());
    expect(RtpPacket.deSerialize(fast.serialize()).payload).toEqual(payload);
  });

  test('each call builds its own header and csrc/extension arrays (a sender may rewrite them)', () => {
    const a = viewerPacket(0, false, 1, 2, 3, payload);
    const b = viewerPacket(0, false, 1, 2, 3, payload);
    expect(a.header).not.toBe(b.header);
    expect(a.header.csrc).not.toBe(b.header.csrc);
    expect(a.header.extensions).not.toBe(b.header.extensions);
  });
});
