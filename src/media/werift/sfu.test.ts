import dgram from 'node:dgram';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asConferenceId, asParticipantId, silentLogger, systemClock, type ParticipantId } from '../../common';
import { createAudioCodec } from '../codecs/codec';
import { dominantFrequency, sineTone } from '../codecs/tone';
import { MIX_SAMPLE_RATE } from '../codecs/types';
import { LocalMediaService } from '../local-service';
import { buildRtp, parseRtp } from '../rtp/packet';
import { TestBrowser, videoPayload, waitFor } from './test-browser';

jest.setTimeout(30_000);

const conference = { id: asConferenceId('c-sfu'), name: 'sfu' };
const pid = (s: string): ParticipantId => asParticipantId(s);

function media(timeouts: { webrtcConnectTimeoutMs?: number } = {}): LocalMediaService {
  return new LocalMediaService({
    ...timeouts,
    address: '127.0.0.1',
    // Ports of this file only (jest runs test files in parallel).
    rtpPorts: { min: 44300, max: 44399 },
    clock: systemClock,
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 40,
    opusComplexity: 3,
  });
}

describe('WebRTC participants in a LocalMediaService (werift clients on loopback)', () => {
  let service: LocalMediaService;
  const cleanup: Array<() => Promise<void>> = [];

  beforeEach(() => {
    service = media();
  });
  afterEach(async () => {
    await Promise.allSettled(cleanup.splice(0).map((f) => f()));
    await service.close();
  });

  function browser(name: string, tone = 440): TestBrowser {
    const b = new TestBrowser(pid(name), service, 'VP8', tone);
    cleanup.push(() => b.close());
    return b;
  }

  /** Browser `a` (440 Hz) in the room and a plain-RTP PCMU phone `sip` (a dgram socket), not yet negotiated. */
  async function browserAndPhone() {
    const a = browser('a', 440);
    await a.join(conference);
    const sip = pid('sip');
    const local = await service.createRtpParticipant(conference, sip, true);
    const phone = dgram.createSocket('udp4');
    await new Promise<void>((r) => phone.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => phone.close(() => r())));
    const remote = { address: '127.0.0.1', rtpPort: phone.address().port, rtcpMux: false, payloadTypes: [0] };
    const format = { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 };
    return { a, sip, local, phone, remote, format };
  }

  it('answers the browser offer with one host candidate on 127.0.0.1, every audio codec and the conference video codec (DESIGN 4)', async () => {
    const a = browser('a');
    const { answer } = await a.join(conference);
    const candidates = answer.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
    expect(candidates.length).toBeGreaterThan(0);
    for (const c of candidates) expect(c.split(' ')[4]).toBe('127.0.0.1');
    expect(new Set(candidates.map((c) => c.split(' ')[5])).size).toBe(1);
    expect(answer).toMatch(/a=rtpmap:111 opus\/48000\/2/);
    expect(answer).toMatch(/a=rtpmap:0 PCMU\/8000/);
    expect(answer).toMatch(/a=rtpmap:8 PCMA\/8000/);
    expect(answer).toMatch(/a=rtpmap:9 G722\/8000/);
    expect(answer).toMatch(/a=rtpmap:96 VP8\/90000/);
    for (const fb of ['nack', 'nack pli', 'ccm fir', 'goog-remb']) expect(answer).toContain(`a=rtcp-fb:96 ${fb}\r\n`);
    expect(answer).not.toMatch(/transport-cc|transport-wide-cc|red\/48000/);
    expect(answer).toMatch(/a=recvonly/);
    expect(answer).not.toMatch(/a=sendrecv/);
    await waitFor(() => a.pc.connectionState === 'connected', 5000, 'DTLS connected');
  });

  it('answers a Chromium offer without any DNS lookup or STUN query (werift would ask stun.l.google.com)', async () => {
    const offer = readFileSync(join(__dirname, '../../../test/fixtures/sdp/chromium-offer.sdp'), 'utf8').replace(/\r?\n/g, '\r\n');
    const lookup = jest.spyOn(dns.promises, 'lookup');
    try {
      await service.createWebRtcParticipant(conference, pid('a'), 'VP8');
      const answer = await service.webrtcOffer(pid('a'), offer);
      expect(answer.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => l.split(' ')[7])).toEqual(['host', 'host']); // one per BUNDLEd m-line
      expect(lookup).not.toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
    }
  });

  it('nodes[].public_address: the host candidate and the SIP SDP address announce it while the sockets stay bound to the node address', async () => {
    const announced = new LocalMediaService({
      address: '127.0.0.1',
      announceAddress: '203.0.113.7',
      rtpPorts: { min: 44400, max: 44419 },
      clock: systemClock,
      logger: silentLogger,
      mixTalkers: 3,
      jitterBufferMs: 40,
      opusComplexity: 3,
    });
    cleanup.push(() => announced.close());
    const offer = readFileSync(join(__dirname, '../../../test/fixtures/sdp/chromium-offer.sdp'), 'utf8').replace(/\r?\n/g, '\r\n');
    await announced.createWebRtcParticipant(conference, pid('a'), 'VP8');
    const answer = await announced.webrtcOffer(pid('a'), offer);
    const hosts = answer.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => l.split(' ')[4]);
    expect(hosts.length).toBeGreaterThan(0);
    expect(new Set(hosts)).toEqual(new Set(['203.0.113.7']));
    const rtp = await announced.createRtpParticipant(conference, pid('s'), true);
    expect(rtp.address).toBe('203.0.113.7');
    // The RTP socket is the node address's: a packet to 127.0.0.1 at that port reaches the participant.
    const sock = dgram.createSocket('udp4');
    cleanup.push(() => new Promise((r) => sock.close(() => r(undefined))));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    announced.updateRtpParticipant(pid('s'), { remote: { address: '127.0.0.1', rtpPort: sock.address().port, rtcpMux: true, payloadTypes: [0] }, direction: 'sendrecv', format: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 } });
    for (let i = 0; i < 5; i++) sock.send(buildRtp(0, false, i, i * 160, 0x1234, Buffer.alloc(160, 0xff)), rtp.rtpPort, '127.0.0.1');
    await waitFor(() => (announced.participantStats(pid('s'))?.packetsIn ?? 0) > 0, 3000, 'RTP in on the bound address');
  });

  it.each([
    ['an rtpmap without its payload type', (sdp: string) => sdp.replace(/a=rtpmap:\d+/, 'a=rtpmap:?')],
    ['an m-line cut short', (sdp: string) => sdp.replace(/m=audio [^\r\n]*/, 'm=audio')],
  ])('an offer werift cannot use (%s) is refused as bad-request, and the service goes on', async (_what, spoil) => {
    const a = browser('a');
    await service.createWebRtcParticipant(conference, pid('a'), 'VP8');
    await a.setLocalOffer();
    const offer = spoil(a.pc.localDescription?.sdp ?? '');
    await expect(service.webrtcOffer(pid('a'), offer)).rejects.toMatchObject({ code: 'bad-request', message: expect.stringMatching(/^the browser's offer cannot be used: /) });
    service.removeParticipant(pid('a'));
    const b = browser('b');
    await b.join(conference);
    await waitFor(() => b.pc.connectionState === 'connected', 5000, 'the next browser connected');
  });

  it('refuses an offer while the server offer awaits its answer (the server is the impolite peer)', async () => {
    const a = browser('a');
    await a.join(conference);
    const b = new TestBrowser(pid('b'), service);
    cleanup.push(() => b.close());
    // Hold a's answer back: take the offer event ourselves.
    const offers: string[] = [];
    service.events.on('webrtcOffer', (p, sdp) => {
      if (p === pid('a')) offers.push(sdp);
    });
    a.autoAnswer = false;
    await b.join(conference);
    await waitFor(() => offers.length === 1, 5000, 'server offer to a');
    await expect(service.webrtcOffer(pid('a'), a.pc.localDescription?.sdp ?? '')).rejects.toMatchObject({ code: 'busy' });
    await expect(service.webrtcAnswer(pid('b'), 'v=0')).rejects.toMatchObject({ code: 'bad-request' });
    // Closing mid-handshake leaves werift's DTLS retransmission timers running for ~30 s.
    await waitFor(() => a.pc.connectionState === 'connected' && b.pc.connectionState === 'connected', 5000, 'DTLS up');
  });

  it('two browsers receive each other\'s audio and video, untouched, on streams named by participant id (msid)', async () => {
    const [a, b] = [browser('a'), browser('b')];
    await a.join(conference);
    await b.join(conference);
    a.startSending();
    b.startSending();
    await waitFor(
      () => [a.stream('b'), b.stream('a')].every((r) => r.audio.length >= 10 && r.video.length >= 5),
      8000,
      'media both ways',
    );
    expect(a.offersAnswered).toBe(1);
    expect(b.offersAnswered).toBe(1);
    // Only the two participants' streams, keyed by msid stream id = participant id.
    expect([...a.received.keys()]).toEqual(['b']);
    expect([...b.received.keys()]).toEqual(['a']);
    const video = b.stream('a').video;
    for (const pkt of video.slice(0, 5)) {
      expect(pkt.header.payloadType).toBe(96);
      expect(pkt.payload.equals(videoPayload(pkt.payload.readUInt16BE(0)))).toBe(true);
    }
    expect(b.stream('a').audio[0]?.header.payloadType).toBe(111);
    const stats = service.participantStats(pid('a'));
    expect(stats?.packetsIn).toBeGreaterThan(10);
    expect(stats?.packetsOut).toBeGreaterThan(10);
    expect(stats?.audioCodec).toBe('opus');
  });

  it('a third browser triggers one renegotiation for each of the others; when it leaves its m-lines stop', async () => {
    const [a, b] = [browser('a'), browser('b')];
    await a.join(conference);
    await b.join(conference);
    await waitFor(() => a.offersAnswered === 1 && b.offersAnswered === 1, 5000, 'first renegotiation');
    const c = browser('c');
    await c.join(conference);
    await waitFor(() => a.offersAnswered === 2 && b.offersAnswered === 2 && c.offersAnswered === 1, 5000, 'renegotiation for c');
    c.startSending();
    await waitFor(() => a.stream('c').video.length >= 3 && b.stream('c').audio.length >= 3, 8000, "c's media at a and b");
    await c.close();
    service.removeParticipant(pid('c'));
    await waitFor(() => a.offersAnswered === 3 && b.offersAnswered === 3, 5000, 'renegotiation after c left');
    for (const viewer of [a, b]) {
      const transceivers = viewer.stream('c').transceivers;
      expect(transceivers).toHaveLength(2);
      for (const t of transceivers) expect(['inactive', 'stopped']).toContain(t.currentDirection);
    }
  });

  it("a SIP participant's PCMU reaches the browser untouched, and the browser's Opus tone is in the SIP participant's mix", async () => {
    const { a, sip, local, phone, remote, format } = await browserAndPhone();
    const heard: Buffer[] = [];
    phone.on('message', (m) => {
      const p = parseRtp(m);
      if (p && p.payloadType === 0) heard.push(Buffer.from(p.payload));
    });
    service.updateRtpParticipant(sip, { remote, direction: 'sendrecv', format });
    await waitFor(() => a.offersAnswered === 1, 5000, 'renegotiation for the SIP stream');
    a.startSending();
    const g711 = createAudioCodec('PCMU');
    const sent = new Map<number, Buffer>();
    for (let seq = 0; seq < 60; seq++) {
      const payload = g711.encode(sineTone(1000, MIX_SAMPLE_RATE, 320, 6000, seq * 320));
      sent.set(seq, payload);
      phone.send(buildRtp(0, false, seq, seq * 160, 0x5151, payload), local.rtpPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => a.stream('sip').audio.length >= 20, 5000, 'SIP audio at the browser');
    for (const pkt of a.stream('sip').audio) {
      expect(pkt.header.payloadType).toBe(0);
      expect(pkt.payload.equals(sent.get(pkt.header.sequenceNumber) ?? Buffer.alloc(0))).toBe(true);
    }
    await waitFor(() => heard.length >= 50, 5000, 'mix at the SIP phone');
    const pcm = new Int16Array(320 * 25);
    heard.slice(-25).forEach((p, i) => g711.decode(p, pcm, i * 320));
    expect(Math.abs(dominantFrequency(pcm, MIX_SAMPLE_RATE) - 440)).toBeLessThan(15);
    expect(service.participantStats(sip)?.packetsOut).toBeGreaterThan(0);
  });

  it('a phone that holds the call (onHold): its music on hold reaches neither the browsers nor the mix; resume brings its audio back', async () => {
    const { a, sip, local, phone, remote, format } = await browserAndPhone();
    // The phone's re-INVITE said a=sendonly: we answer recvonly and it plays music on hold.
    service.updateRtpParticipant(sip, { remote, direction: 'recvonly', format, onHold: true });
    await waitFor(() => a.offersAnswered === 1, 5000, 'renegotiation for the SIP stream');
    const g711 = createAudioCodec('PCMU');
    let seq = 0;
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++, seq++) {
        phone.send(buildRtp(0, false, seq, seq * 160, 0x5151, g711.encode(sineTone(1000, MIX_SAMPLE_RATE, 320, 6000, seq * 320))), local.rtpPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await send(40);
    await waitFor(() => (service.participantStats(sip)?.packetsIn ?? 0) >= 30, 3000, 'the node to receive the music');
    expect(a.stream('sip').audio).toHaveLength(0);
    expect(service.participantStats(sip)?.levelDbov).toBe(-127);
    service.updateRtpParticipant(sip, { remote, direction: 'sendrecv', format, onHold: false });
    await send(30);
    await waitFor(() => a.stream('sip').audio.length >= 20, 5000, 'the resumed phone at the browser');
  });

  it('a new viewer and a viewer PLI reach the publisher as PLI, at most one per 500 ms (DESIGN 4 keyframes)', async () => {
    const [a, b] = [browser('a'), browser('b')];
    await a.join(conference);
    // A PLI to a publisher whose DTLS is not up yet is lost (as its first frame would be a keyframe anyway).
    await waitFor(() => a.pc.connectionState === 'connected', 5000, 'the publisher connected');
    a.startSending();
    await b.join(conference);
    // The new viewer's m-line asks the publisher for a keyframe once the viewer answered.
    await waitFor(() => a.plisReceived >= 1, 5000, 'PLI for the new viewer');
    await waitFor(() => b.stream('a').videoSsrc !== undefined, 5000, 'video at b');
    await new Promise((r) => setTimeout(r, 600));
    const before = a.plisReceived;
    const receiver = b.stream('a').transceivers.find((t) => t.kind === 'video')?.receiver;
    const ssrc = b.stream('a').videoSsrc ?? 0;
    for (let i = 0; i < 5; i++) {
      await receiver?.sendRtcpPLI(ssrc);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 800));
    const got = a.plisReceived - before;
    expect(got).toBeGreaterThanOrEqual(1);
    expect(got).toBeLessThanOrEqual(2);
  });

  it("a new viewer gets the keyframe its first request asks for, though its DTLS handshake ends after a renegotiation (werift says 'connected' early; issue 13)", async () => {
    const [a, b] = [browser('a'), browser('b')];
    await a.join(conference);
    await waitFor(() => a.pc.connectionState === 'connected', 5000, 'the publisher connected');
    a.startSending();
    // b's DTLS takes 300 ms more; it answers the server offer carrying a's streams once ICE is
    // up, before the handshake ends (as Chromium does when ICE and DTLS take their time).
    b.dtlsDelayMs = 300;
    b.autoAnswer = false;
    const offers: string[] = [];
    service.events.on('webrtcOffer', (p, sdp) => {
      if (p === pid('b')) offers.push(sdp);
    });
    const pliBefore = a.plisReceived;
    await b.join(conference);
    await waitFor(() => offers.length > 0 && b.pc.iceConnectionState === 'connected', 5000, "b's ICE up and the server offer");
    expect(b.pc.dtlsTransports.map((t) => t.state)).not.toContain('connected');
    await b.answer(offers[0] ?? '');
    b.autoAnswer = true;
    await waitFor(() => a.plisReceived > pliBefore, 5000, 'the PLI for the new viewer');
    const keyframeSeq = a.videoSeqAtPli[pliBefore] ?? -1;
    await waitFor(() => b.stream('a').video.some((p) => p.header.sequenceNumber >= keyframeSeq + 5), 5000, 'video at b');
    // The packet the publisher sent right after that request (its keyframe) reached b.
    expect(b.stream('a').video.map((p) => p.payload.readUInt16BE(0))).toContain(keyframeSeq);
  });

  it('reports webrtcFailed when the browser never connects, but not while a server offer awaits its answer (the signaling session times that)', async () => {
    await service.close();
    service = media({ webrtcConnectTimeoutMs: 1500 });
    const failed: Array<[string, string]> = [];
    service.events.on('webrtcFailed', (p, reason) => failed.push([p, reason]));
    // a: offers, gets our answer, and vanishes before ICE starts.
    const a = browser('a');
    await service.createWebRtcParticipant(conference, pid('a'), 'VP8');
    await a.setLocalOffer();
    await waitFor(() => a.pc.iceGatheringState === 'complete', 3000, 'gathering');
    await service.webrtcOffer(pid('a'), a.pc.localDescription?.sdp ?? '');
    await a.pc.close();
    await waitFor(() => failed.some(([p]) => p === 'a'), 4000, 'webrtcFailed for a');
    expect(failed.find(([p]) => p === 'a')?.[1]).toMatch(/did not connect/);
    // b and c connect; c never answers the offer that brings it b's streams.
    const b = browser('b');
    await b.join(conference);
    const c = browser('c');
    c.autoAnswer = false;
    await c.join(conference);
    await new Promise((r) => setTimeout(r, 2500));
    expect(failed.map(([p]) => p)).toEqual(['a']);
  });
});
