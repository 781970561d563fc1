import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { FakeClock, silentLogger } from '../../common';
import { buildRtp, type RtpView } from './packet';
import { buildRtcp, parseRtcp } from './rtcp';
import { PortAllocator } from './port-allocator';
import { RtpEndpoint, type RtpRemote } from './rtp-endpoint';
import { SrtpContext } from './srtp';
import { decodeSdesKey, isSdesKey, SrtpStream, type SrtpKeys, type SrtpSuite } from './sdes';

// Ports of this file only (jest runs test files in parallel).
const allocator = new PortAllocator({ min: 45300, max: 45399 });

const newKey = (): string => randomBytes(30).toString('base64');

/** A phone that speaks SRTP with its own key (remoteKey for the endpoint) and knows ours. */
class SrtpPeer {
  readonly got: Buffer[] = [];
  readonly tx: SrtpContext;
  readonly rx: SrtpContext;
  private constructor(readonly socket: dgram.Socket, keys: SrtpKeys) {
    const tag = keys.suite === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
    this.tx = new SrtpContext(decodeSdesKey(keys.remoteKey, 'test'), { rtpTagBytes: tag });
    this.rx = new SrtpContext(decodeSdesKey(keys.localKey, 'test'), { rtpTagBytes: tag });
    socket.on('message', (m) => this.got.push(m));
  }
  static open(keys: SrtpKeys): Promise<SrtpPeer> {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(new SrtpPeer(s, keys)));
    });
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(buf: Buffer, port: number): void {
    this.socket.send(buf, port, '127.0.0.1');
  }
  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const pcmu = (seq: number, ssrc = 0x1234, fill = 0x33): Buffer => buildRtp(0, false, seq, seq * 160, ssrc, Buffer.alloc(160, fill));

describe('SDES keys', () => {
  it('a key is 40 base64 characters (30 bytes: key 16 || salt 14); errors never carry the key', () => {
    const k = newKey();
    expect(isSdesKey(k)).toBe(true);
    expect(decodeSdesKey(k, 'x')).toEqual({ key: Buffer.from(k, 'base64').subarray(0, 16), salt: Buffer.from(k, 'base64').subarray(16) });
    const bad = k.slice(0, 39);
    expect(isSdesKey(bad)).toBe(false);
    expect(() => decodeSdesKey(bad, 'remote SRTP key')).toThrow(/remote SRTP key: an SDES key is 40 base64 characters/);
    try {
      decodeSdesKey(bad, 'remote SRTP key');
    } catch (err) {
      expect(String(err)).not.toContain(bad);
    }
  });

  it('a re-negotiation keeps the context of a direction whose key did not change', () => {
    const keys: SrtpKeys = { suite: 'AES_CM_128_HMAC_SHA1_80', localKey: newKey(), remoteKey: newKey() };
    const first = SrtpStream.create(keys);
    const same = SrtpStream.create({ ...keys }, first);
    expect(same.tx).toBe(first.tx);
    expect(same.rx).toBe(first.rx);
    const rekeyed = SrtpStream.create({ ...keys, remoteKey: newKey() }, first);
    expect(rekeyed.tx).toBe(first.tx);
    expect(rekeyed.rx).not.toBe(first.rx);
    const otherSuite = SrtpStream.create({ ...keys, suite: 'AES_CM_128_HMAC_SHA1_32' }, first);
    expect(otherSuite.tx).not.toBe(first.tx);
    expect(() => SrtpStream.create({ ...keys, suite: 'F8_128_HMAC_SHA1_80' as SrtpSuite })).toThrow(/unsupported SRTP crypto suite/);
  });
});

describe('RtpEndpoint with SDES-SRTP (RTP/SAVP)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  let clock: FakeClock;
  let received: Array<{ seq: number; payload: Buffer }>;

  async function endpoint(): Promise<RtpEndpoint> {
    const ep = await RtpEndpoint.open({ address: '127.0.0.1', allocator, clock, logger: silentLogger });
    ep.onRtp = (pkt: RtpView) => received.push({ seq: pkt.sequence, payload: Buffer.from(pkt.payload) });
    cleanup.push(() => ep.close());
    return ep;
  }
  async function peer(keys: SrtpKeys): Promise<SrtpPeer> {
    const p = await SrtpPeer.open(keys);
    cleanup.push(() => p.close());
    return p;
  }
  const remote = (port: number, srtp: SrtpKeys, extra: Partial<RtpRemote> = {}): RtpRemote => ({
    address: '127.0.0.1',
    rtpPort: port,
    rtcpMux: true,
    payloadTypes: [0, 101],
    srtp,
    ...extra,
  });
  const keys = (suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): SrtpKeys => ({ suite, localKey: newKey(), remoteKey: newKey() });

  beforeEach(() => {
    clock = new FakeClock();
    clock.advance(10_000);
    received = [];
  });
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    it(`${suite}: the phone's SRTP is decrypted for the mix, and what we send is SRTP the phone decrypts`, async () => {
      const k = keys(suite);
      const [ep, phone] = [await endpoint(), await peer(k)];
      ep.setRemote(remote(phone.port, k));
      phone.send(phone.tx.protectRtp(pcmu(1)), ep.rtpPort);
      await waitFor(() => received.length === 1);
      expect(received[0]).toEqual({ seq: 1, payload: Buffer.alloc(160, 0x33) });
      expect(ep.stats()).toMatchObject({ srtp: true, packetsIn: 1 });

      ep.sendRtp(0, Buffer.alloc(160, 0x44), 160);
      await waitFor(() => phone.got.length === 1);
      const wire = phone.got[0] as Buffer;
      expect(wire.length).toBe(12 + 160 + (suite === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10));
      expect(wire.subarray(12, 172).equals(Buffer.alloc(160, 0x44))).toBe(false); // never in clear
      const plain = phone.rx.unprotectRtp(wire);
      expect(Buffer.isBuffer(plain) && plain.subarray(12)).toEqual(Buffer.alloc(160, 0x44));
    });
  }

  it('refuses and counts plain RTP, forged packets, replays and another key; they neither latch nor reach the mix', async () => {
    const k = keys();
    const [ep, phone, intruder] = [await endpoint(), await peer(k), await peer(keys())];
    ep.setRemote(remote(phone.port, k));
    phone.send(pcmu(1), ep.rtpPort); // plain RTP
    const forged = phone.tx.protectRtp(pcmu(2));
    forged[40] = (forged[40] as number) ^ 0x01;
    phone.send(forged, ep.rtpPort);
    intruder.send(intruder.tx.protectRtp(pcmu(3)), ep.rtpPort); // someone else's key
    await waitFor(() => ep.stats().dropped['srtp-auth'] === 3);
    expect(ep.stats().latched).toBeNull();
    const good = phone.tx.protectRtp(pcmu(4));
    phone.send(good, ep.rtpPort);
    await waitFor(() => received.length === 1);
    phone.send(good, ep.rtpPort); // replayed
    await waitFor(() => ep.stats().dropped['srtp-replay'] === 1);
    expect(received.map((r) => r.seq)).toEqual([4]);
    expect(ep.stats().packetsIn).toBe(1);
    expect(ep.packetsDiscarded).toBe(4);
  });

  it('SRTCP both ways: our reports are SRTCP, the phone\'s SRTCP is read, plain or forged RTCP is refused and counted', async () => {
    const k = keys();
    const [ep, phone] = [await endpoint(), await peer(k)];
    ep.setRemote(remote(phone.port, k));
    phone.send(phone.tx.protectRtp(pcmu(1, 0x4321)), ep.rtpPort);
    await waitFor(() => received.length === 1);
    ep.sendRtp(0, Buffer.alloc(160), 160);
    await waitFor(() => phone.got.length === 1);
    const rr = buildRtcp([{ type: 'rr', ssrc: 0x4321, reports: [{ ssrc: ep.ssrc, fractionLost: 64, cumulativeLost: 3, highestSeq: 1, jitter: 9, lsr: 0, dlsr: 0 }] }]);
    phone.send(rr, ep.rtpPort); // plain
    await waitFor(() => ep.stats().srtcpRefused === 1);
    phone.send(phone.tx.protectRtcp(rr), ep.rtpPort);
    await waitFor(() => ep.stats().rtcpIn === 1);
    expect(ep.stats()).toMatchObject({ remoteReport: { fractionLost: 0.25, cumulativeLost: 3, jitter: 9 }, rtcpDropped: 1 });

    phone.got.length = 0;
    clock.advance(3750);
    await waitFor(() => phone.got.length >= 1);
    const wire = phone.got[0] as Buffer;
    expect(parseRtcp(wire).map((p) => p.type)).not.toContain('sdes'); // encrypted: the CNAME is not readable
    const plain = phone.rx.unprotectRtcp(wire);
    expect(Buffer.isBuffer(plain) ? parseRtcp(plain).map((p) => p.type) : plain).toEqual(['sr', 'sdes']);
  });

  it('a re-INVITE with the same keys goes on (replay state kept); a new remote key refuses the old one; no keys = plain RTP again', async () => {
    const k = keys();
    const [ep, phone] = [await endpoint(), await peer(k)];
    ep.setRemote(remote(phone.port, k));
    const first = phone.tx.protectRtp(pcmu(10));
    phone.send(first, ep.rtpPort);
    await waitFor(() => received.length === 1);
    ep.setRemote(remote(phone.port, { ...k }));
    phone.send(first, ep.rtpPort);
    await waitFor(() => ep.stats().dropped['srtp-replay'] === 1);

    const rekeyed = { ...k, remoteKey: newKey() };
    ep.setRemote(remote(phone.port, rekeyed));
    phone.send(phone.tx.protectRtp(pcmu(11)), ep.rtpPort); // the old key
    await waitFor(() => ep.stats().dropped['srtp-auth'] === 1);
    const phone2 = new SrtpContext(decodeSdesKey(rekeyed.remoteKey, 'test'));
    phone.send(phone2.protectRtp(pcmu(12)), ep.rtpPort);
    await waitFor(() => received.length === 2);

    ep.setRemote(remote(phone.port, k, { srtp: undefined }));
    expect(ep.stats().srtp).toBe(false);
    phone.send(pcmu(13), ep.rtpPort);
    await waitFor(() => received.length === 3);
  });

  it('malformed keys are refused before anything changes', async () => {
    const k = keys();
    const [ep, phone] = [await endpoint(), await peer(k)];
    ep.setRemote(remote(phone.port, k));
    expect(() => ep.setRemote(remote(phone.port + 1, { ...k, remoteKey: 'short' }))).toThrow(/40 base64 characters/);
    phone.send(phone.tx.protectRtp(pcmu(1)), ep.rtpPort);
    await waitFor(() => received.length === 1);
    expect(ep.stats().srtp).toBe(true);
  });
});
