import { buildRtp, isRtcp, parseRtp, RTP_HEADER_SIZE, writeRtpHeader } from './packet';

/** A deterministic byte source (xorshift32) so a failing garbage case can be replayed. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('parseRtp / buildRtp', () => {
  it('round-trips every header field and the payload (RFC 3550 5.1)', () => {
    const payload = Buffer.from('abcdefghij');
    const buf = buildRtp(0, true, 65535, 0xfffffffe, 0xdeadbeef, payload);
    expect(buf.length).toBe(RTP_HEADER_SIZE + payload.length);
    const v = parseRtp(buf);
    expect(v).toMatchObject({
      payloadType: 0,
      marker: true,
      sequence: 65535,
      timestamp: 0xfffffffe,
      ssrc: 0xdeadbeef,
      csrcCount: 0,
      extensionOffset: -1,
    });
    expect(v?.payload.equals(payload)).toBe(true);
  });

  it('returns the payload as a view of the datagram, not a copy', () => {
    const buf = buildRtp(8, false, 1, 2, 3, Buffer.alloc(160, 0xd5));
    const v = parseRtp(buf);
    expect(v?.payload.buffer).toBe(buf.buffer);
    expect(v?.payload.byteOffset).toBe(buf.byteOffset + RTP_HEADER_SIZE);
  });

  it('wraps out-of-range header values instead of throwing', () => {
    const buf = Buffer.alloc(12);
    writeRtpHeader(buf, 0, 0x1ff, false, 0x10001, 0x100000005, -1);
    expect(parseRtp(buf)).toMatchObject({ payloadType: 0x7f, sequence: 1, timestamp: 5, ssrc: 0xffffffff });
  });

  it('skips CSRCs (CC field)', () => {
    const buf = Buffer.concat([buildRtp(0, false, 1, 1, 1, Buffer.alloc(0)), Buffer.alloc(8, 0xaa), Buffer.from('pl')]);
    buf[0] = 0x82;
    const v = parseRtp(buf);
    expect(v?.csrcCount).toBe(2);
    expect(v?.payload.toString()).toBe('pl');
  });

  it('skips the header extension and keeps it reachable (RFC 3550 5.3.1, for RFC 6464 audio level)', () => {
    const ext = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0x7f, 0x00, 0x00]); // one-byte id 1, level 127
    const buf = Buffer.concat([buildRtp(111, false, 1, 1, 1, Buffer.alloc(0)), ext, Buffer.from('opus')]);
    buf[0] = 0x90;
    const v = parseRtp(buf);
    expect(v).not.toBeNull();
    if (!v) return;
    expect(v.extensionProfile).toBe(0xbede);
    expect(v.extensionLength).toBe(4);
    expect(buf[v.extensionOffset + 1]).toBe(0x7f);
    expect(v.payload.toString()).toBe('opus');
  });

  it('removes padding, whose last octet counts itself (RFC 3550 5.1)', () => {
    const buf = Buffer.concat([buildRtp(0, false, 1, 1, 1, Buffer.from('xyz')), Buffer.from([0, 0, 3])]);
    buf[0] = 0xa0;
    expect(parseRtp(buf)?.payload.toString()).toBe('xyz');
  });

  it.each([
    ['shorter than 12 bytes', Buffer.from([0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])],
    ['version 1', Buffer.from([0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1])],
    ['CSRC count past the end', Buffer.from([0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])],
    ['extension header cut', Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde])],
    ['extension length past the end', Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9, 1, 2])],
    ['padding count 0', Buffer.from([0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 5, 0])],
    ['padding longer than the payload', Buffer.from([0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 5, 9])],
  ])('returns null for %s', (_name, buf) => {
    expect(parseRtp(buf)).toBeNull();
  });

  it('never throws on random bytes, and every view it returns stays inside the datagram', () => {
    const rnd = xorshift(12345);
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      const buf = Buffer.alloc(rnd() % 64);
      for (let j = 0; j < buf.length; j++) buf[j] = rnd() & 0xff;
      if (i % 2 === 0 && buf.length > 0) buf[0] = ((buf[0] as number) & 0x3f) | 0x80; // version 2 half the time
      const v = parseRtp(buf);
      if (!v) continue;
      parsed++;
      expect(v.payload.byteOffset + v.payload.length).toBeLessThanOrEqual(buf.byteOffset + buf.length);
      if (v.extensionOffset >= 0) expect(v.extensionOffset + v.extensionLength).toBeLessThanOrEqual(buf.length);
    }
    expect(parsed).toBeGreaterThan(100);
  });
});

describe('isRtcp() RFC 5761 section 4 demultiplexing', () => {
  it.each([
    [200, true],
    [201, true],
    [192, true],
    [223, true],
    [0, false], // PCMU
    [0x80 | 8, false], // PCMA with marker
    [101, false], // telephone-event
    [0x80 | 101, false],
    [224, false],
  ])('second octet %i -> RTCP %s', (b1, expected) => {
    const buf = Buffer.from([0x80, b1, 0, 1, 0, 0, 0, 1]);
    expect(isRtcp(buf)).toBe(expected);
  });

  it('is false for short or non-version-2 datagrams', () => {
    expect(isRtcp(Buffer.from([0x80, 200, 0]))).toBe(false);
    expect(isRtcp(Buffer.from([0x00, 200, 0, 1, 0, 0, 0, 1]))).toBe(false);
  });
});
