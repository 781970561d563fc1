import { GenericNack, MediaStreamTrack, RTCPeerConnection, RtcpTransportLayerFeedback, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';
import { peerConfig } from './codecs';
import { FastRtpSender } from './fast-send';
import { installOurSrtp, offerAesCmOnly } from './srtp-session';
import { waitFor } from './test-browser';

jest.setTimeout(20_000);

describe('our send path to a werift peer (fast-send.ts: our header, our SRTP, batched sends on the ICE socket)', () => {
  const pcs: RTCPeerConnection[] = [];
  afterEach(async () => {
    await Promise.allSettled(pcs.splice(0).map((pc) => pc.close()));
  });

  /** `node` sends video to `viewer` (which offers), our SRTP on the node's transport. */
  async function nodeToViewer() {
    const node = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    const viewer = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    pcs.push(node, viewer);
    viewer.addTransceiver('video', { direction: 'recvonly' });
    const received: RtpPacket[] = [];
    viewer.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => received.push(p)));
    await viewer.setLocalDescription(await viewer.createOffer());
    await waitFor(() => viewer.iceGatheringState === 'complete', 5000, 'viewer gathering');
    await node.setRemoteDescription(viewer.localDescription!);
    const transceiver = node.getTransceivers()[0]!;
    transceiver.setDirection('sendonly');
    const track = new MediaStreamTrack({ kind: 'video' });
    transceiver.sender.replaceTrack(track);
    const answer = await node.createAnswer();
    offerAesCmOnly(node);
    await node.setLocalDescription(answer);
    await waitFor(() => node.iceGatheringState === 'complete', 5000, 'node gathering');
    await viewer.setRemoteDescription(node.localDescription!);
    await waitFor(() => node.connectionState === 'connected' && viewer.connectionState === 'connected', 10_000, 'DTLS connected');
    expect(installOurSrtp(node.dtlsTransports[0]!, { auth: 0, replay: 0, malformed: 0 })).toBe(true);
    const sender = transceiver.sender;
    sender.codec = transceiver.codecs.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    return { node, viewer, sender, received, mid: transceiver.mid };
  }

  const packet = (seq: number, marker = false): RtpPacket =>
    new RtpPacket(new RtpHeader({ payloadType: 100, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 0xabc, marker }), Buffer.from(`frame ${seq} `.repeat(30)));

  function sendAll(sender: RTCRtpSender, fast: FastRtpSender, from: number, count: number): void {
    for (let i = 0; i < count; i++) expect(fast.send(packet(from + i, i % 5 === 4), sender.codec!.payloadType)).toBe(true);
  }

  it("the viewer receives every packet with the sender's SSRC and payload type, the mid extension, sequence and timestamp continuity, and the sender's counters move as werift's would", async () => {
    const { sender, received, mid } = await nodeToViewer();
    const fast = FastRtpSender.for(sender)!;
    expect(fast).not.toBeNull();
    sendAll(sender, fast, 1000, 40);
    await waitFor(() => received.length >= 40, 5000, '40 packets via our path');
    const first = received[0]!;
    expect(first.header.ssrc).toBe(sender.ssrc);
    expect(first.header.payloadType).toBe(sender.codec!.payloadType);
    const seqs = received.map((p) => p.header.sequenceNumber);
    for (let i = 1; i < 40; i++) expect(seqs[i]).toBe((seqs[0]! + i) & 0xffff);
    expect(received[4]!.header.marker).toBe(true);
    expect(received[7]!.payload.toString()).toBe('frame 1007 '.repeat(30));
    expect(received[7]!.header.timestamp - first.header.timestamp).toBe(7 * 3000);
    expect(first.header.extensions.map((e) => e.payload.toString())).toContain(mid);
    expect(fast.sent).toBe(40);
    const internals = sender as unknown as { packetCount: number; octetCount: number; rtpCache: RtpPacket[]; ntpTimestamp: bigint };
    expect(internals.packetCount).toBe(40);
    expect(internals.octetCount).toBe(40 * 330);
    // A correct NTP time (seconds since 1900) for the sender reports.
    const ntpSeconds = Number(internals.ntpTimestamp >> 32n);
    expect(Math.abs(ntpSeconds - (Date.now() / 1000 + 2208988800))).toBeLessThan(5);
  });

  it('a NACK from the viewer is answered by werift from the cache our path filled', async () => {
    const { node, viewer, sender, received } = await nodeToViewer();
    const fast = FastRtpSender.for(sender)!;
    sendAll(sender, fast, 5000, 10);
    await waitFor(() => received.length >= 10, 5000, '10 packets');
    const lost = received[3]!.header.sequenceNumber;
    const before = received.length;
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: sender.ssrc, lost: [lost] }) });
    await viewer.dtlsTransports[0]!.sendRtcp([nack]);
    await waitFor(() => received.length > before, 5000, 'the retransmission');
    const again = received.slice(before).find((p) => p.header.sequenceNumber === lost && p.header.ssrc === sender.ssrc);
    expect(again?.payload).toEqual(received[3]!.payload);
    expect(node.connectionState).toBe('connected');
  });

  it('declines (werift sends instead) while the transport has werift SRTP', async () => {
    const node = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    pcs.push(node);
    const t = node.addTransceiver('video', { direction: 'sendonly' });
    const fast = FastRtpSender.for(t.sender);
    expect(fast?.send(packet(1), 96)).toBe(false);
  });
});
