import dgram from 'node:dgram';
import { FakeClock, silentLogger, systemClock, type Clock } from '../../common';
import { buildRtp, parseRtp, type RtpView } from './packet';
import { buildRtcp, parseRtcp, type RtcpPacket } from './rtcp';
import { PortAllocator } from './port-allocator';
import { RtpEndpoint, type RtpRemote } from './rtp-endpoint';

// Ports of this file only (jest runs test files in parallel).
const allocator = new PortAllocator({ min: 41300, max: 41399 });

/** A plain dgram socket standing in for a SIP phone; records what it receives. */
class Peer {
  readonly got: Buffer[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (m) => this.got.push(m));
  }
  static open(): Promise<Peer> {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(new Peer(s)));
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

/** Polls until `cond` holds; bounded so a broken path fails the test instead of hanging. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}
const settle = (ms = 40): Promise<void> => new Promise((r) => setTimeout(r, ms));

const pcmu = (seq: number, ssrc = 0x1234, pt = 0): Buffer => buildRtp(pt, false, seq, seq * 160, ssrc, Buffer.alloc(160, 0xff));

describe('RtpEndpoint on loopback', () => {
  const cleanup: Array<() => Promise<void>> = [];
  let clock: FakeClock;
  let received: RtpView[];

  async function endpoint(c: Clock = clock, rtcpIntervalMs?: number): Promise<RtpEndpoint> {
    const ep = await RtpEndpoint.open({ address: '127.0.0.1', allocator, clock: c, logger: silentLogger, rtcpIntervalMs });
    ep.onRtp = (pkt) => received.push(pkt);
    cleanup.push(() => ep.close());
    return ep;
  }
  async function peer(): Promise<Peer> {
    const p = await Peer.open();
    cleanup.push(() => p.close());
    return p;
  }
  const remote = (port: number, extra: Partial<RtpRemote> = {}): RtpRemote => ({
    address: '127.0.0.1',
    rtpPort: port,
    rtcpMux: false,
    payloadTypes: [0, 101],
    ...extra,
  });

  beforeEach(() => {
    clock = new FakeClock();
    clock.advance(10_000);
    received = [];
  });
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
  });

  it('drops packets that arrive before setRemote()', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['before-remote'] === 1);
    expect(received).toHaveLength(0);
  });

  it('symmetric RTP: latches to the actual source even when it differs from the SDP port, and sends there', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(9)); // the SDP says port 9; the phone really sends from elsewhere (NAT)
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject({ payloadType: 0, sequence: 1, ssrc: 0x1234 });
    expect(ep.stats().latched).toEqual({ address: '127.0.0.1', port: phone.port });

    expect(ep.sendRtp(0, Buffer.alloc(160, 0x7f), 160)).toBe(true);
    expect(ep.sendRtp(0, Buffer.alloc(160, 0x7f), 160)).toBe(true);
    await waitFor(() => phone.got.length === 2);
    const [a, b] = phone.got.map((m) => parseRtp(m));
    expect(a?.ssrc).toBe(ep.ssrc);
    expect(b?.sequence).toBe(((a?.sequence ?? 0) + 1) & 0xffff);
    expect(b?.timestamp).toBe(((a?.timestamp ?? 0) + 160) >>> 0);
    expect(ep.stats()).toMatchObject({ packetsIn: 1, packetsOut: 2, bytesOut: 344 });
  });

  it('only an accepted payload type latches; others are dropped as bad-pt', async () => {
    const [ep, stranger, phone] = [await endpoint(), await peer(), await peer()];
    ep.setRemote(remote(phone.port));
    stranger.send(pcmu(1, 0x1, 96), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['bad-pt'] === 1);
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => received.length === 1);
    expect(ep.stats().latched?.port).toBe(phone.port);
  });

  it('after latching, drops and counts other sources; re-latches only after 2 s of silence', async () => {
    const [ep, phone, attacker] = [await endpoint(), await peer(), await peer()];
    ep.setRemote(remote(phone.port));
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => received.length === 1);
    attacker.send(pcmu(1, 0x999), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['wrong-source'] === 1);

    clock.advance(1999);
    attacker.send(pcmu(2, 0x999), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['wrong-source'] === 2);

    clock.advance(1);
    attacker.send(pcmu(3, 0x999), ep.rtpPort);
    await waitFor(() => received.length === 2);
    expect(ep.stats()).toMatchObject({ latched: { port: attacker.port }, remoteSsrc: 0x999 });
  });

  it('locks to the first SSRC; another is dropped as unknown-ssrc until the first is silent 500 ms', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port));
    phone.send(pcmu(1, 0xaaaa), ep.rtpPort);
    await waitFor(() => received.length === 1);
    phone.send(pcmu(1, 0xbbbb), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['unknown-ssrc'] === 1);
    clock.advance(499);
    phone.send(pcmu(2, 0xbbbb), ep.rtpPort);
    await waitFor(() => ep.stats().dropped['unknown-ssrc'] === 2);

    clock.advance(1);
    phone.send(pcmu(3, 0xbbbb), ep.rtpPort);
    await waitFor(() => received.length === 2);
    expect(ep.stats().remoteSsrc).toBe(0xbbbb);
    phone.send(pcmu(2, 0xaaaa), ep.rtpPort); // now the old one is the stranger
    await waitFor(() => ep.stats().dropped['unknown-ssrc'] === 3);
  });

  it('setRemote() (re-INVITE) lets a new SSRC take over at once', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port));
    phone.send(pcmu(1, 0xaaaa), ep.rtpPort);
    await waitFor(() => received.length === 1);
    ep.setRemote(remote(phone.port, { payloadTypes: [8] }));
    phone.send(pcmu(1, 0xcccc, 8), ep.rtpPort);
    await waitFor(() => received.length === 2);
    expect(received[1]).toMatchObject({ ssrc: 0xcccc, payloadType: 8 });
  });

  it('counts malformed datagrams and survives an onRtp callback that throws', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port));
    ep.onRtp = () => {
      throw new Error('consumer bug');
    };
    phone.send(Buffer.from('garbage!!'), ep.rtpPort);
    phone.send(pcmu(1), ep.rtpPort);
    phone.send(pcmu(2), ep.rtpPort);
    await waitFor(() => ep.stats().callbackErrors === 2);
    expect(ep.stats().dropped.malformed).toBe(1);
  });

  it('RFC 5761 rtcp-mux: RTCP on the RTP port is demultiplexed, and our reports go to the RTP port', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port, { rtcpMux: true }));
    phone.send(pcmu(1, 0x4321), ep.rtpPort);
    await waitFor(() => received.length === 1);
    ep.sendRtp(0, Buffer.alloc(160), 160);
    const rr: RtcpPacket = {
      type: 'rr',
      ssrc: 0x4321,
      reports: [{ ssrc: ep.ssrc, fractionLost: 128, cumulativeLost: 7, highestSeq: 1, jitter: 40, lsr: 0, dlsr: 0 }],
    };
    phone.send(buildRtcp([rr]), ep.rtpPort);
    await waitFor(() => ep.stats().rtcpIn === 1);
    expect(ep.stats()).toMatchObject({ remoteReport: { fractionLost: 0.5, cumulativeLost: 7, jitter: 40 } });
    expect(ep.stats().dropped.malformed).toBe(0);
    expect(received).toHaveLength(1);

    phone.got.length = 0;
    clock.advance(3750); // the first randomised interval is at most 0.5 x 1.5 x 5000
    await waitFor(() => phone.got.length >= 1);
    const report = parseRtcp(phone.got[0] as Buffer);
    expect(report.map((p) => p.type)).toEqual(['sr', 'sdes']);
    expect(report[0]).toMatchObject({ ssrc: ep.ssrc, packetCount: 1, reports: [{ ssrc: 0x4321, highestSeq: 1 }] });
  });

  it('drops RTCP from a source other than the latched one', async () => {
    const [ep, phone, other] = [await endpoint(), await peer(), await peer()];
    ep.setRemote(remote(phone.port, { rtcpMux: true }));
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => received.length === 1);
    other.send(buildRtcp([{ type: 'rr', ssrc: 1, reports: [] }]), ep.rtpPort);
    await waitFor(() => ep.stats().rtcpDropped === 1);
    expect(ep.stats().rtcpIn).toBe(0);
  });

  it('two endpoints exchange SR/RR and learn RTT, loss and jitter (RFC 3550 6.4)', async () => {
    const a = await endpoint(systemClock, 60);
    const b = await endpoint(systemClock, 60);
    a.setRemote(remote(b.rtpPort, { rtcpPort: b.rtcpPort }));
    b.setRemote(remote(a.rtpPort, { rtcpPort: a.rtcpPort }));
    const tick = setInterval(() => {
      a.sendRtp(0, Buffer.alloc(160), 160);
      b.sendRtp(0, Buffer.alloc(160), 160);
    }, 5);
    try {
      await waitFor(() => a.stats().rttMs !== null && b.stats().rttMs !== null, 5000);
    } finally {
      clearInterval(tick);
    }
    for (const ep of [a, b]) {
      const s = ep.stats();
      expect(s.rttMs).toBeGreaterThanOrEqual(0);
      expect(s.rttMs).toBeLessThan(1000);
      expect(s.remoteReport).toMatchObject({ cumulativeLost: 0, fractionLost: 0 });
      expect(s.remoteReport?.jitter).toBeGreaterThanOrEqual(0);
      expect(s.rtcpIn).toBeGreaterThanOrEqual(1);
    }
  });

  it('RFC 4585: requestKeyframe() sends a PLI that the sender of the stream sees as a keyframe request', async () => {
    const a = await endpoint();
    const b = await endpoint();
    a.setRemote(remote(b.rtpPort, { rtcpPort: b.rtcpPort }));
    b.setRemote(remote(a.rtpPort, { rtcpPort: a.rtcpPort }));
    let asked = 0;
    b.onKeyframeRequest = () => asked++;
    expect(a.requestKeyframe()).toBe(false); // nothing received yet: no SSRC to ask
    b.sendRtp(0, Buffer.alloc(160), 160);
    await waitFor(() => a.stats().packetsIn === 1);
    expect(a.requestKeyframe()).toBe(true);
    await waitFor(() => asked === 1);
    expect(b.stats().keyframeRequestsIn).toBe(1);
    expect(a.stats().keyframeRequestsOut).toBe(1);
  });

  it('hold (c=0.0.0.0) sends neither RTP nor RTCP, and resuming sends again', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port, { rtcpMux: true }));
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => received.length === 1);
    const ts0 = ep.timestamp;
    ep.setRemote(remote(phone.port, { address: '0.0.0.0', rtcpMux: true }));
    expect(ep.sendRtp(0, Buffer.alloc(160), 160)).toBe(false);
    expect(ep.timestamp).toBe((ts0 + 160) >>> 0); // the timeline keeps running on hold
    clock.advance(20_000);
    await settle();
    expect(phone.got).toHaveLength(0);

    ep.setRemote(remote(phone.port, { rtcpMux: true }));
    expect(ep.sendRtp(0, Buffer.alloc(160), 160)).toBe(true);
    await waitFor(() => phone.got.length === 1);
  });

  it('direction recvonly/inactive sends nothing; sendonly does not deliver', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port));
    ep.setDirection('recvonly');
    expect(ep.sendRtp(0, Buffer.alloc(160), 160)).toBe(false);
    ep.setDirection('sendonly');
    phone.send(pcmu(1), ep.rtpPort);
    await waitFor(() => ep.stats().dropped.direction === 1);
    expect(received).toHaveLength(0);
    expect(ep.sendRtp(0, Buffer.alloc(160), 160)).toBe(true);
  });

  it('sendRtpRaw() uses the given timestamp and leaves the timeline alone', async () => {
    const [ep, phone] = [await endpoint(), await peer()];
    ep.setRemote(remote(phone.port));
    const ts = ep.timestamp;
    ep.sendRtpRaw(101, Buffer.from([1, 10, 0, 160]), 12345, true);
    await waitFor(() => phone.got.length === 1);
    expect(parseRtp(phone.got[0] as Buffer)).toMatchObject({ payloadType: 101, marker: true, timestamp: 12345 });
    expect(ep.timestamp).toBe(ts);
  });

  it('setRemote() refuses a hostname (the signaling layer resolves)', async () => {
    const ep = await endpoint();
    expect(() => ep.setRemote(remote(5000, { address: 'phone.example.com' }))).toThrow(/not an IP/);
  });

  it('close() sends RTCP BYE, is idempotent and frees the ports for the next open()', async () => {
    const single = new PortAllocator({ min: 41398, max: 41399 });
    const [phone, phoneRtcp] = [await peer(), await peer()];
    const ep = await RtpEndpoint.open({ address: '127.0.0.1', allocator: single, clock, logger: silentLogger });
    ep.setRemote(remote(phone.port, { rtcpPort: phoneRtcp.port }));
    await expect(RtpEndpoint.open({ address: '127.0.0.1', allocator: single, clock, logger: silentLogger })).rejects.toMatchObject({
      code: 'capacity',
    });
    await Promise.all([ep.close(), ep.close()]);
    expect(ep.sendRtp(0, Buffer.alloc(160), 160)).toBe(false);
    await waitFor(() => phoneRtcp.got.length === 1);
    const bye = parseRtcp(phoneRtcp.got[0] as Buffer).find((p) => p.type === 'bye');
    expect(bye).toEqual({ type: 'bye', ssrcs: [ep.ssrc] });

    const again = await RtpEndpoint.open({ address: '127.0.0.1', allocator: single, clock, logger: silentLogger });
    cleanup.push(() => again.close());
    expect(again.rtpPort).toBe(ep.rtpPort);
  });
});
