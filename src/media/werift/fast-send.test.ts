import { GenericNack, MediaStreamTrack, RTCPeerConnection, RtcpTransportLayerFeedback, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';
import { peerConfig } from './codecs';
import { FastRtpSender, type ForwardedRtp } from './fast-send';
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

  const packet = (seq: number, marker = false): ForwardedRtp => ({
    sequence: seq & 0xffff,
    timestamp: (seq * 3000) >>> 0,
    marker,
    payload: Buffer.from(`frame ${seq} `.repeat(30)),
  });

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

  it("werift's retransmission cache after 300 packets: a NACK gets the latest packet of its slot, a packet werift's own sender sent in between is answered as werift cached it", async () => {
    const { viewer, sender, received } = await nodeToViewer();
    const fast = FastRtpSender.for(sender)!;
    // In steps a socket buffer takes whole.
    for (let from = 7000; from < 7300; from += 50) {
      sendAll(sender, fast, from, 50);
      await waitFor(() => received.length >= from - 7000 + 50, 5000, `packets up to ${from + 49}`);
    }
    const cache = (sender as unknown as { rtpCache: RtpPacket[] }).rtpCache;
    const latest = received[290]!;
    const slot = cache[latest.header.sequenceNumber % 128]!;
    expect(slot.header.sequenceNumber).toBe(latest.header.sequenceNumber);
    expect(slot.header.timestamp).toBe(latest.header.timestamp);
    expect(slot.header.ssrc).toBe(sender.ssrc);
    expect(slot.header.payloadType).toBe(sender.codec!.payloadType);
    expect(slot.payload.toString()).toBe('frame 7290 '.repeat(30));
    expect(cache[(latest.header.sequenceNumber + 10) % 128]!.header.sequenceNumber).toBe((latest.header.sequenceNumber + 10 - 128) & 0xffff);
    // werift's own sender (the fallback) sends the next packet: its slot holds werift's packet.
    await sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 100, sequenceNumber: 7300, timestamp: 7300 * 3000, ssrc: 0xabc }), Buffer.from('werift sent this')));
    await waitFor(() => received.length >= 301, 5000, "werift's packet");
    const theirs = received[300]!;
    expect(theirs.payload.toString()).toBe('werift sent this');
    const before = received.length;
    const lost = [latest.header.sequenceNumber, theirs.header.sequenceNumber];
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: sender.ssrc, lost }) });
    await viewer.dtlsTransports[0]!.sendRtcp([nack]);
    await waitFor(() => received.length >= before + 2, 5000, 'the retransmissions');
    const again = received.slice(before);
    const ours = again.find((p) => p.header.sequenceNumber === latest.header.sequenceNumber);
    expect(ours?.payload).toEqual(latest.payload);
    expect(ours?.header.timestamp).toBe(latest.header.timestamp);
    expect(again.find((p) => p.header.sequenceNumber === theirs.header.sequenceNumber)?.payload.toString()).toBe('werift sent this');
    // Our path goes on after werift's packet, in sequence.
    sendAll(sender, fast, 7301, 1);
    await waitFor(() => received.length >= before + 3, 5000, 'the next packet');
    expect(received[before + 2]!.header.sequenceNumber).toBe((theirs.header.sequenceNumber + 1) & 0xffff);
  });

  it('declines (werift sends instead) while the transport has werift SRTP', async () => {
    const node = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: 'VP8' }));
    pcs.push(node);
    const t = node.addTransceiver('video', { direction: 'sendonly' });
    const fast = FastRtpSender.for(t.sender);
    expect(fast?.send(packet(1), 96)).toBe(false);
  });
});
