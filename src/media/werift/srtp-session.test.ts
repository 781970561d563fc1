import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, type RTCDtlsTransport } from 'werift';
import { peerConfig } from './codecs';
import { installOurSrtp, offerAesCmOnly, type SrtpDrops } from './srtp-session';
import { waitFor } from './test-browser';

jest.setTimeout(20_000);

interface Internals {
  srtp: { constructor: { name: string }; decrypt(buf: Buffer): Buffer };
  dtls?: { srtp: { srtpProfile?: number } };
}
const internals = (t: RTCDtlsTransport): Internals => t as unknown as Internals;

describe('our SRTP under werift DTLS (srtp-session.ts)', () => {
  const pcs: RTCPeerConnection[] = [];
  afterEach(async () => {
    await Promise.allSettled(pcs.splice(0).map((pc) => pc.close()));
  });

  /** Two werift peers on loopback: `node` narrows its profiles and answers; `peer` offers both. */
  async function connectedPair(narrow: boolean) {
    const node = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    const peer = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    pcs.push(node, peer);
    const track = new MediaStreamTrack({ kind: 'audio' });
    peer.addTransceiver(track, { direction: 'sendonly' });
    const received: RtpPacket[] = [];
    node.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => received.push(p)));
    await peer.setLocalDescription(await peer.createOffer());
    await waitFor(() => peer.iceGatheringState === 'complete', 5000, 'peer gathering');
    await node.setRemoteDescription(peer.localDescription!);
    const answer = await node.createAnswer();
    if (narrow) offerAesCmOnly(node);
    await node.setLocalDescription(answer);
    await waitFor(() => node.iceGatheringState === 'complete', 5000, 'node gathering');
    await peer.setRemoteDescription(node.localDescription!);
    await waitFor(() => node.connectionState === 'connected' && peer.connectionState === 'connected', 10_000, 'DTLS connected');
    const nodeT = node.dtlsTransports[0]!;
    const peerT = peer.dtlsTransports[0]!;
    return { node, peer, track, received, nodeT, peerT };
  }

  function sendTone(track: MediaStreamTrack, from: number, count: number): void {
    for (let i = 0; i < count; i++) {
      const header = new RtpHeader({ payloadType: 0, sequenceNumber: (from + i) & 0xffff, timestamp: (from + i) * 160, ssrc: 0x1234 });
      track.writeRtp(new RtpPacket(header, Buffer.alloc(160, i & 0xff)));
    }
  }

  it('werift alone prefers AEAD_AES_128_GCM; narrowed, both ends negotiate AES_CM_128_HMAC_SHA1_80', async () => {
    const plain = await connectedPair(false);
    expect(internals(plain.nodeT).dtls?.srtp.srtpProfile).toBe(7);
    expect(installOurSrtp(plain.nodeT, { auth: 0, replay: 0, malformed: 0 })).toBe(false);
    const narrowed = await connectedPair(true);
    expect(internals(narrowed.nodeT).dtls?.srtp.srtpProfile).toBe(1);
    expect(internals(narrowed.peerT).dtls?.srtp.srtpProfile).toBe(1);
  });

  it("media a werift peer protects with werift's SRTP arrives through our contexts; a replayed and a forged packet are refused and counted", async () => {
    const { track, received, nodeT, peerT } = await connectedPair(true);
    const drops: SrtpDrops = { auth: 0, replay: 0, malformed: 0 };
    expect(installOurSrtp(nodeT, drops)).toBe(true);
    expect(installOurSrtp(nodeT, drops)).toBe(true); // idempotent
    expect(internals(nodeT).srtp.constructor.name).toBe('OurSrtpSession');
    sendTone(track, 65530, 12); // across the sequence wrap
    await waitFor(() => received.length >= 12, 5000, '12 packets through our SRTP');
    expect(received.slice(0, 12).map((p) => p.header.sequenceNumber)).toEqual([65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5]);
    expect(received[3]!.payload).toEqual(Buffer.alloc(160, 3));
    // The peer's wire bytes of one more packet, fed to our session twice, then with a bit flipped.
    const header = new RtpHeader({ payloadType: 0, sequenceNumber: 6, timestamp: 6 * 160, ssrc: 0x1234 });
    const wire = (peerT as unknown as { srtp: { encrypt(p: Buffer, h: RtpHeader): Buffer } }).srtp.encrypt(Buffer.alloc(160, 6), header);
    const ours = internals(nodeT).srtp;
    expect(ours.decrypt(wire).subarray(12)).toEqual(Buffer.alloc(160, 6));
    expect(() => ours.decrypt(wire)).toThrow(/replay/);
    const forged = Buffer.from(wire);
    forged[20] = (forged[20] as number) ^ 0x40;
    forged.writeUInt16BE(7, 2);
    expect(() => ours.decrypt(forged)).toThrow(/auth/);
    expect(drops).toEqual({ auth: 1, replay: 1, malformed: 0 });
  });

  it('both ends on our contexts: media flows and nothing is refused', async () => {
    const { track, received, nodeT, peerT } = await connectedPair(true);
    const drops: SrtpDrops = { auth: 0, replay: 0, malformed: 0 };
    expect(installOurSrtp(nodeT, drops)).toBe(true);
    expect(installOurSrtp(peerT, drops)).toBe(true);
    sendTone(track, 100, 20);
    await waitFor(() => received.length >= 20, 5000, '20 packets, our SRTP at both ends');
    expect(drops).toEqual({ auth: 0, replay: 0, malformed: 0 });
  });
});
