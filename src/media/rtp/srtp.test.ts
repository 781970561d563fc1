import { RtpHeader, SrtcpSession, SrtpSession } from 'werift';
import { buildRtcp } from './rtcp';
import { buildRtp } from './packet';
import { SrtpContext, type SrtpContextOptions, type SrtpMasterKey, aesCmKeystream, deriveSessionKey, deriveSessionKeys, estimateIndex, SRTP_LABELS } from './srtp';
import { srtpEngineInfo, type SrtpEngineKind } from './srtp-engine';

/** Every test of a context runs on both transforms: native/srtp and Node's crypto. */
const ENGINES: SrtpEngineKind[] = ['native', 'js'];
let engine: SrtpEngineKind = 'native';
const mk = (k: SrtpMasterKey, opts: SrtpContextOptions = {}): SrtpContext => new SrtpContext(k, { ...opts, engine });

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 3711 appendix B.3 master key and salt (also the key of libsrtp's test driver). */
const B3: SrtpMasterKey = { key: hex('E1F97A0D3E018BE0D64FA32C06DE4139'), salt: hex('0EC675AD498AFEEBB6960B3AABE6') };
const OTHER: SrtpMasterKey = { key: hex('000102030405060708090a0b0c0d0e0f'), salt: hex('101112131415161718191a1b1c1d') };

function rtp(seq: number, ssrc = 0x11223344, payload = Buffer.alloc(160, 0x5a)): Buffer {
  return buildRtp(0, false, seq & 0xffff, (seq * 160) >>> 0, ssrc, payload);
}

describe('SRTP key derivation and keystream (RFC 3711 appendix B)', () => {
  it('B.2: the AES-CM keystream of session key 2B7E..., salt F0F1...FD, SSRC 0, index 0', () => {
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    const salt = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');
    const stream = aesCmKeystream(key, salt, 0, 0, 0, 0xff02 * 16);
    expect(stream.subarray(0, 48)).toEqual(hex('E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0'));
    expect(stream.subarray(0xfeff * 16, 0xff02 * 16)).toEqual(hex('EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44'));
  });

  it('B.3: the session cipher key, salt and authentication key of master key E1F9...', () => {
    expect(deriveSessionKey(B3, SRTP_LABELS.rtpCipher, 16)).toEqual(hex('C61E7A93744F39EE10734AFE3FF7A087'));
    expect(deriveSessionKey(B3, SRTP_LABELS.rtpSalt, 14)).toEqual(hex('30CBBC08863D8C85D49DB34A9AE1'));
    expect(deriveSessionKey(B3, SRTP_LABELS.rtpAuth, 94)).toEqual(
      hex(
        'CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2',
      ),
    );
    const keys = deriveSessionKeys(B3, false);
    expect(keys.authKey).toEqual(hex('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4'));
  });

  it.each(ENGINES)("protects libsrtp's reference packet (SSRC 0xCAFEBABE, sequence 0x1234) to its published bytes (%s transform)", (kind) => {
    const plain = hex('800f1234 decafbad cafebabe abababab abababab abababab abababab');
    const expected = hex('800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb');
    expect(new SrtpContext(B3, { engine: kind }).protectRtp(plain)).toEqual(expected);
    expect(new SrtpContext(B3, { engine: kind }).unprotectRtp(expected)).toEqual(plain);
  });
});

describe.each(ENGINES)('SRTP protect and unprotect (%s transform)', (kind) => {
  beforeEach(() => {
    engine = kind;
  });

  it('round-trips RTP and SRTCP, and the payload is not sent in clear', () => {
    const tx = mk(OTHER);
    const rx = mk(OTHER);
    for (let seq = 100; seq < 110; seq++) {
      const plain = rtp(seq);
      const wire = tx.protectRtp(plain);
      expect(wire.length).toBe(plain.length + 10);
      expect(wire.subarray(12, 12 + 160).equals(plain.subarray(12))).toBe(false);
      expect(rx.unprotectRtp(wire)).toEqual(plain);
    }
    const report = buildRtcp([{ type: 'rr', ssrc: 0xabcdef01, reports: [] }, { type: 'sdes', chunks: [{ ssrc: 0xabcdef01, cname: 'node-a' }] }]);
    const wire = tx.protectRtcp(report);
    expect(wire.length).toBe(report.length + 14);
    expect(wire.readUInt32BE(report.length) >>> 31).toBe(1); // E bit: encrypted
    expect(rx.unprotectRtcp(wire)).toEqual(report);
  });

  it('refuses a packet with any single bit flipped (header, payload or tag), and its state does not move', () => {
    const tx = mk(OTHER);
    const rx = mk(OTHER);
    const wire = tx.protectRtp(rtp(7));
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const forged = Buffer.from(wire);
      forged[bit >> 3] = (forged[bit >> 3] as number) ^ (1 << (bit & 7));
      // The version or extension bit makes it no RTP at all; every other bit fails the tag.
      expect(rx.unprotectRtp(forged)).toBe(bit >> 3 === 0 && (1 << (bit & 7)) & 0xd0 ? 'malformed' : 'auth');
    }
    // The genuine packet is still accepted: the forgeries changed nothing.
    expect(rx.unprotectRtp(wire)).toEqual(rtp(7));
    const rtcp = tx.protectRtcp(buildRtcp([{ type: 'rr', ssrc: 5, reports: [] }]));
    const forged = Buffer.from(rtcp);
    forged[9] = (forged[9] as number) ^ 0x01;
    expect(rx.unprotectRtcp(forged)).toBe('auth');
    expect(rx.unprotectRtcp(rtcp)).not.toBe('auth');
  });

  it('AES_CM_128_HMAC_SHA1_32: the same ciphertext with a 4-byte SRTP tag (the _80 tag cut short); SRTCP keeps 10 bytes', () => {
    const tx80 = mk(OTHER);
    const tx32 = mk(OTHER, { rtpTagBytes: 4 });
    const rx32 = mk(OTHER, { rtpTagBytes: 4 });
    for (const seq of [65535, 0, 1]) {
      const w80 = tx80.protectRtp(rtp(seq));
      const w32 = tx32.protectRtp(rtp(seq));
      expect(w32).toEqual(w80.subarray(0, w80.length - 6));
      expect(rx32.unprotectRtp(w32)).toEqual(rtp(seq));
    }
    const forged = tx32.protectRtp(rtp(2));
    forged[20] = (forged[20] as number) ^ 0x40;
    expect(rx32.unprotectRtp(forged)).toBe('auth');
    expect(mk(OTHER).unprotectRtp(tx32.protectRtp(rtp(3)))).toBe('auth');
    const report = buildRtcp([{ type: 'rr', ssrc: 3, reports: [] }]);
    expect(tx32.protectRtcp(report).length).toBe(report.length + 14);
    expect(rx32.unprotectRtcp(tx32.protectRtcp(report))).toEqual(report);
  });

  it('protectRtpAt lays a packet out in a shared buffer at an offset (header there, payload from elsewhere or in place): the bytes protectRtp makes, the bytes around untouched', () => {
    for (const inPlace of [false, true]) {
      const ref = mk(OTHER);
      const tx = mk(OTHER);
      for (const seq of [65535, 0, 1]) {
        const plain = rtp(seq, 0x5eed, Buffer.from(`payload ${seq} `.repeat(9)));
        const payload = Buffer.from(plain.subarray(12));
        const batch = Buffer.alloc(plain.length + 10 + 64, 0xee);
        plain.copy(batch, 37, 0, inPlace ? plain.length : 12);
        tx.protectRtpAt(batch, 37, 12, inPlace ? batch.subarray(49, 49 + payload.length) : payload);
        expect(batch.subarray(37, 37 + plain.length + 10)).toEqual(ref.protectRtp(plain));
        expect(batch.subarray(0, 37).every((b) => b === 0xee) && batch.subarray(37 + plain.length + 10).every((b) => b === 0xee)).toBe(true);
        expect(payload).toEqual(plain.subarray(12));
      }
    }
  });

  it('refuses a packet of another key', () => {
    expect(mk(B3).unprotectRtp(mk(OTHER).protectRtp(rtp(1)))).toBe('auth');
  });

  it('refuses a replayed packet, accepts late ones inside the 64-packet window once, refuses older ones', () => {
    const tx = mk(OTHER);
    const rx = mk(OTHER);
    const wires = Array.from({ length: 100 }, (_, i) => tx.protectRtp(rtp(i)));
    expect(rx.unprotectRtp(wires[0] as Buffer)).not.toBe('replay');
    expect(rx.unprotectRtp(wires[0] as Buffer)).toBe('replay');
    expect(rx.unprotectRtp(wires[99] as Buffer)).toBeInstanceOf(Buffer);
    expect(rx.unprotectRtp(wires[40] as Buffer)).toBeInstanceOf(Buffer); // 59 behind: late, accepted
    expect(rx.unprotectRtp(wires[40] as Buffer)).toBe('replay');
    expect(rx.unprotectRtp(wires[35] as Buffer)).toBe('replay'); // 64 behind: outside the window
    const rtcp = tx.protectRtcp(buildRtcp([{ type: 'rr', ssrc: 9, reports: [] }]));
    expect(rx.unprotectRtcp(rtcp)).toBeInstanceOf(Buffer);
    expect(rx.unprotectRtcp(rtcp)).toBe('replay');
  });

  it('keeps the rollover counter across the sequence wrap (ROC estimation), and reordering across it', () => {
    const tx = mk(OTHER);
    const rx = mk(OTHER);
    const seqs = [65530, 65531, 65533, 65534, 65535, 1, 0, 2, 65532, 3];
    for (const seq of seqs) expect(rx.unprotectRtp(tx.protectRtp(rtp(seq)))).toEqual(rtp(seq));
    expect(estimateIndex(65535, 0)).toBe(65536);
    expect(estimateIndex(65536, 65535)).toBe(65535);
    expect(estimateIndex(3 * 65536 + 10, 40000)).toBe(2 * 65536 + 40000);
  });

  it('finds the ROC of a stream first heard after its sender wrapped (announcement came late), by authentication only', () => {
    const tx = mk(OTHER);
    for (let seq = 65000; seq < 65536 + 100; seq++) tx.protectRtp(rtp(seq)); // sender now at ROC 1
    const late = tx.protectRtp(rtp(65536 + 100));
    const rx = mk(OTHER);
    expect(rx.unprotectRtp(late)).toEqual(rtp(65536 + 100));
    expect(rx.unprotectRtp(tx.protectRtp(rtp(65536 + 101)))).toEqual(rtp(65536 + 101));
    // RFC 3711's plain initial ROC 0 would refuse it.
    expect(mk(OTHER, { firstRocGuesses: 1 }).unprotectRtp(late)).toBe('auth');
  });

  it('never throws on garbage from the network', () => {
    const rx = mk(OTHER);
    for (const junk of [Buffer.alloc(0), Buffer.alloc(5), Buffer.alloc(30, 0xff), Buffer.from([0x80, 0, 0, 1])]) {
      expect(typeof rx.unprotectRtp(junk)).toBe('string');
      expect(typeof rx.unprotectRtcp(junk)).toBe('string');
    }
  });
});

describe.each(ENGINES)("interop with werift's SrtpSession (another implementation of RFC 3711), %s transform", (kind) => {
  beforeEach(() => {
    engine = kind;
  });

  const session = (local: SrtpMasterKey, remote: SrtpMasterKey) => ({
    keys: { localMasterKey: Buffer.from(local.key), localMasterSalt: Buffer.from(local.salt), remoteMasterKey: Buffer.from(remote.key), remoteMasterSalt: Buffer.from(remote.salt) },
    profile: 1 as const,
  });

  it('werift unprotects what we protect, and we unprotect what werift protects (RTP across the wrap, SRTCP)', () => {
    const ours = mk(OTHER);
    const theirs = new SrtpSession(session(B3, OTHER));
    const theirsTx = new SrtpSession(session(B3, OTHER));
    const oursRx = mk(B3);
    for (const seq of [65534, 65535, 0, 1]) {
      const plain = rtp(seq, 0xcafe0001, Buffer.from(`payload ${seq}`));
      expect(theirs.decrypt(ours.protectRtp(plain))).toEqual(plain);
      const wire = theirsTx.encrypt(plain.subarray(12), RtpHeader.deSerialize(plain));
      expect(oursRx.unprotectRtp(wire)).toEqual(plain);
    }
    const rtcpOurs = mk(OTHER);
    const rtcpTheirs = new SrtcpSession(session(B3, OTHER));
    const report = buildRtcp([{ type: 'sr', ssrc: 77, ntpSec: 1, ntpFrac: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5, reports: [] }]);
    expect(rtcpTheirs.decrypt(rtcpOurs.protectRtcp(report))).toEqual(report);
    const rtcpTheirsTx = new SrtcpSession(session(B3, OTHER));
    expect(mk(B3).unprotectRtcp(rtcpTheirsTx.encrypt(report))).toEqual(report);
  });
});

describe('the native and the TypeScript transforms interoperate', () => {
  it('native/srtp is built and loads here (scripts/test builds it: no silent fallback in CI)', () => {
    expect(srtpEngineInfo()).toEqual({ kind: 'native' });
  });

  it.each([
    ['native', 'js'],
    ['js', 'native'],
  ] as const)('what the %s transform protects the %s one unprotects: RTP across the wrap (_80 and _32), SRTCP, and a flipped bit is refused by both', (from, to) => {
    for (const rtpTagBytes of [10, 4] as const) {
      const tx = new SrtpContext(OTHER, { engine: from, rtpTagBytes });
      const rx = new SrtpContext(OTHER, { engine: to, rtpTagBytes });
      const check = new SrtpContext(OTHER, { engine: from, rtpTagBytes });
      for (const seq of [65533, 65534, 65535, 0, 1, 2]) {
        const plain = rtp(seq, 0x51a7e, Buffer.from(`payload ${seq} `.repeat(20)));
        const wire = tx.protectRtp(plain);
        const bad = Buffer.from(wire);
        bad[20] = (bad[20] as number) ^ 1;
        expect(rx.unprotectRtp(bad)).toBe('auth');
        expect(check.unprotectRtp(bad)).toBe('auth');
        expect(rx.unprotectRtp(wire)).toEqual(plain);
        expect(check.unprotectRtp(wire)).toEqual(plain);
      }
    }
    const report = buildRtcp([{ type: 'sr', ssrc: 0x51a7e, ntpSec: 9, ntpFrac: 8, rtpTimestamp: 7, packetCount: 6, octetCount: 5, reports: [] }]);
    const tx = new SrtpContext(OTHER, { engine: from });
    const rx = new SrtpContext(OTHER, { engine: to });
    for (let i = 0; i < 3; i++) expect(rx.unprotectRtcp(tx.protectRtcp(report))).toEqual(report);
  });

  it('the native transform refuses bad calls with a TypeError naming the call (never reads outside a buffer)', () => {
    const mod = { exports: {} as Record<string, (...args: unknown[]) => unknown> };
    process.dlopen(mod, require.resolve('../../../native/srtp/build/Release/srtp.node'));
    const lib = mod.exports;
    const keys = (lib.keys as (...a: unknown[]) => unknown)(Buffer.alloc(16), Buffer.alloc(14), Buffer.alloc(20));
    expect(() => (lib.keys as (...a: unknown[]) => unknown)(Buffer.alloc(15), Buffer.alloc(14), Buffer.alloc(20))).toThrow(/^srtp\./);
    const buf = Buffer.alloc(40);
    expect(() => (lib.seal as (...a: unknown[]) => unknown)(keys, buf, 12, 41, buf, 1, 0, 0, 41, 0, 10)).toThrow(/^srtp\./);
    expect(() => (lib.open as (...a: unknown[]) => unknown)(keys, buf, 12, 35, 35, buf, 1, 0, 0, 0, 10, true)).toThrow(/^srtp\./);
    expect(() => (lib.verify as (...a: unknown[]) => unknown)(keys, buf, 31, 0, 10)).toThrow(/^srtp\./);
    expect(() => (lib.verify as (...a: unknown[]) => unknown)({}, buf, 20, 0, 10)).toThrow(/^srtp\./);
    expect((lib.verify as (...a: unknown[]) => unknown)(keys, buf, 30, 0, 10)).toBe(false);
    const sealRtp = lib.sealRtp as (...a: unknown[]) => unknown;
    expect(() => sealRtp(keys, buf, 10, 12, Buffer.alloc(9), 0, 10)).toThrow(/^srtp\.sealRtp/); // 10 + 12 + 9 + 10 > 40
    expect(() => sealRtp(keys, buf, 0, 11, Buffer.alloc(4), 0, 10)).toThrow(/^srtp\.sealRtp/); // no RTP header
    expect(() => sealRtp(keys, buf, 0, 12, buf.subarray(13, 20), 0, 10)).toThrow(/^srtp\.sealRtp/); // overlaps its destination
    expect(() => sealRtp(keys, buf, 0, 12, buf.subarray(12, 20), -1, 10)).toThrow(/^srtp\.sealRtp/); // SRTP always has a ROC
    expect(sealRtp(keys, buf, 0, 12, buf.subarray(12, 20), 0, 10)).toBeUndefined(); // in place
  });
});
