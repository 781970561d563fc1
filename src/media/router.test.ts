import { ConfnodeError, FakeClock, asConferenceId, asParticipantId, silentLogger, type ParticipantId } from '../common';
import { audioCodecFactory, createAudioCodec } from './codecs/codec';
import { dominantFrequency, sineTone } from './codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from './codecs/types';
import type { MixClock } from './mixer/mix-clock';
import { buildRtp, parseRtp, type RtpView } from './rtp/packet';
import type { RtpEndpoint } from './rtp/rtp-endpoint';
import { MediaRouter, type AudioFormat } from './router';
import { LOCAL_MESH, audioSourceCodec, newMediaPacket, videoSourceCodec, type MediaKind, type MediaPacket, type Sink, type SourceView } from './sfu';

const pid = (s: string): ParticipantId => asParticipantId(s);
const LINK_B = 'backplane:node-b';
const LINK_C = 'backplane:node-c';
const PCMU: AudioFormat = { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 };
const PCMA: AudioFormat = { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 };
const H264_IDR = Buffer.from([0x65, 0x88, 0x80]);
const H264_DELTA = Buffer.from([0x41, 0x9a, 0x00]);

/** The parts of an RtpEndpoint the router uses, without sockets. */
class FakeRtpEndpoint {
  onRtp: ((pkt: RtpView, endpoint: RtpEndpoint) => void) | null = null;
  onKeyframeRequest: ((endpoint: RtpEndpoint) => void) | null = null;
  readonly sent: Buffer[] = [];
  readonly raw: Array<{ payload: Buffer; timestamp: number }> = [];
  keyframeRequests = 0;
  packetsReceived = 0;
  packetsSent = 0;
  packetsDiscarded = 0;
  rtcpReceived = 0;

  sendRtp(_pt: number, payload: Buffer): boolean {
    this.sent.push(payload);
    return true;
  }
  sendRtpRaw(_pt: number, payload: Buffer, timestamp: number): boolean {
    this.raw.push({ payload, timestamp });
    return true;
  }
  requestKeyframe(): boolean {
    this.keyframeRequests++;
    return true;
  }
  /** A packet from the phone. */
  receive(pt: number, seq: number, payload: Buffer): void {
    const view = parseRtp(buildRtp(pt, false, seq, seq * 160, 0x5151, payload));
    if (view) this.onRtp?.(view, this.asEndpoint());
  }
  asEndpoint(): RtpEndpoint {
    return this as unknown as RtpEndpoint;
  }
}

/** A backplane sender stand-in: records what it is sent. */
class FakeSink implements Sink {
  readonly got: Array<{ owner: string; kind: MediaKind; mime: string; seq: number }> = [];
  readonly events: string[] = [];
  onKeyframeRequest: ((source: SourceView) => void) | null = null;
  constructor(
    readonly kind: MediaKind | 'any',
    readonly excludeMeshTag: string | undefined,
    readonly owner: ParticipantId | undefined = undefined,
  ) {}
  send(p: MediaPacket, s: SourceView): boolean {
    this.got.push({ owner: s.owner, kind: s.kind, mime: s.codec.mime, seq: p.sequence });
    return true;
  }
  sourceAdded(s: SourceView): void {
    this.events.push(`+${s.owner}/${s.kind}`);
  }
  sourceRemoved(s: SourceView): void {
    this.events.push(`-${s.owner}/${s.kind}`);
  }
}

function setup() {
  const clock = new FakeClock();
  const ticks: Array<() => void> = [];
  const mixClock = { register: (fn: () => void) => (ticks.push(fn), () => undefined) } as unknown as MixClock;
  const router = new MediaRouter({
    conferenceId: asConferenceId('c-router'),
    name: 'router',
    logger: silentLogger,
    mixClock,
    maxTalkers: 3,
    jitterBufferMs: 40,
    codecFactory: audioCodecFactory(),
    clock,
    videoCodec: 'H264',
  });
  const events: string[] = [];
  router.on('source-added', (s) => events.push(`+${s.owner}/${s.kind}/${s.codec.mime}@${s.meshTag}`));
  router.on('source-removed', (s) => events.push(`-${s.owner}/${s.kind}@${s.meshTag}`));
  router.on('source-changed', (s) => events.push(`~${s.owner}/${s.kind}/${s.codec.mime}`));
  const tick = (): void => ticks.forEach((t) => t());
  const phone = (id: string, format: AudioFormat | undefined = PCMU, admitted = true): FakeRtpEndpoint => {
    const ep = new FakeRtpEndpoint();
    router.addRtpParticipant(pid(id), ep.asEndpoint(), format, admitted);
    return ep;
  };
  return { clock, router, events, tick, phone };
}

const pcmu = createAudioCodec('PCMU');
const tone = (hz: number, frame: number): Buffer => pcmu.encode(sineTone(hz, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 6000, frame * MIX_FRAME_SAMPLES));

function packet(seq: number, payload: Buffer): MediaPacket {
  return { ...newMediaPacket(), sequence: seq, timestamp: seq * 160, payload };
}

describe('MediaRouter through its SFU (issue 10 seam 2)', () => {
  it("a remote audio source is a contribute-only talker: the SIP participant hears it in its mix and it becomes the active speaker", () => {
    const { router, tick, phone } = setup();
    const sip = phone('sip');
    const speakers: Array<string | undefined> = [];
    router.on('activeSpeaker', (id) => speakers.push(id));
    const remote = router.addRemoteSource({ owner: pid('remote'), kind: 'audio', codec: audioSourceCodec('PCMU'), meshTag: LINK_B });
    for (let i = 0; i < 60; i++) {
      remote.push(packet(i, tone(1000, i)));
      tick();
    }
    expect(sip.sent.length).toBeGreaterThan(40);
    const pcm = new Int16Array(MIX_FRAME_SAMPLES * 25);
    sip.sent.slice(-25).forEach((p, i) => pcmu.decode(p, pcm, i * MIX_FRAME_SAMPLES));
    expect(Math.abs(dominantFrequency(pcm, MIX_SAMPLE_RATE) - 1000)).toBeLessThan(15);
    expect(router.activeSpeaker).toBe('remote');
    expect(speakers).toEqual(['remote']);
    // Retracted: it leaves the mix, and the speaker with it.
    remote.close();
    expect(router.activeSpeaker).toBeUndefined();
  });

  it("N-1 mix through the mixer sink: a caller hears the other caller, also after the other's re-INVITE changed its codec", () => {
    const { router, tick, phone } = setup();
    const a = phone('a');
    const b = phone('b');
    const pcma = createAudioCodec('PCMA');
    let seq = 0;
    const talk = (frames: number, format: AudioFormat): void => {
      const codec = format === PCMA ? pcma : pcmu;
      for (let i = 0; i < frames; i++, seq++) {
        a.receive(format.payloadType, seq, codec.encode(sineTone(700, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 6000, seq * MIX_FRAME_SAMPLES)));
        tick();
      }
    };
    const heardHz = (): number => {
      const pcm = new Int16Array(MIX_FRAME_SAMPLES * 20);
      b.sent.slice(-20).forEach((p, i) => pcmu.decode(p, pcm, i * MIX_FRAME_SAMPLES));
      return dominantFrequency(pcm, MIX_SAMPLE_RATE);
    };
    talk(40, PCMU);
    expect(Math.abs(heardHz() - 700)).toBeLessThan(15);
    router.updateRtpParticipant(pid('a'), PCMA);
    b.sent.length = 0;
    talk(40, PCMA);
    expect(Math.abs(heardHz() - 700)).toBeLessThan(15);
    expect(router.participantStats(pid('a'))?.audioCodec).toBe('PCMA');
  });

  it('split horizon (DESIGN.md 6): a remote sink gets local streams and other links\' streams, never those of its own link', () => {
    const { router, phone } = setup();
    const sip = phone('sip');
    const fromB = router.addRemoteSource({ owner: pid('rb'), kind: 'audio', codec: audioSourceCodec('opus'), meshTag: LINK_B });
    const fromC = router.addRemoteSource({ owner: pid('rc'), kind: 'audio', codec: audioSourceCodec('PCMU'), meshTag: LINK_C });
    const toB = new FakeSink('any', LINK_B);
    router.addRemoteSink(toB);
    expect(toB.events).toEqual(['+sip/audio', '+rc/audio']);
    sip.receive(0, 1, tone(440, 0));
    fromB.push(packet(2, tone(440, 0)));
    fromC.push(packet(3, tone(440, 0)));
    expect(toB.got).toEqual([
      { owner: 'sip', kind: 'audio', mime: 'audio/pcmu', seq: 1 },
      { owner: 'rc', kind: 'audio', mime: 'audio/pcmu', seq: 3 },
    ]);
    expect(router.sinkStats(toB)).toMatchObject({ packets: 2, dropped: 0 });
    expect(router.sourceStats(fromB.source)).toMatchObject({ packets: 1 });
  });

  it('sources() and source events follow admission, hold, re-INVITE and leave; a waiting or held caller sends nothing out', () => {
    const { router, events, phone } = setup();
    const toB = new FakeSink('audio', LINK_B);
    router.addRemoteSink(toB);
    const pin = phone('pin', PCMU, false);
    pin.receive(0, 1, tone(440, 0));
    expect(router.sources()).toEqual([]);
    expect(toB.got).toEqual([]);
    router.admit(pid('pin'));
    expect(router.sources().map((s) => ({ owner: s.owner, kind: s.kind, codec: s.codec, meshTag: s.meshTag }))).toEqual([
      { owner: 'pin', kind: 'audio', codec: { mime: 'audio/pcmu', clockRate: 8000 }, meshTag: LOCAL_MESH },
    ]);
    pin.receive(0, 2, tone(440, 1));
    router.setHeld(pid('pin'), true);
    pin.receive(0, 3, tone(440, 2));
    router.setHeld(pid('pin'), false);
    pin.receive(0, 4, tone(440, 3));
    expect(toB.got.map((g) => g.seq)).toEqual([2, 4]);
    // A re-INVITE to PCMA: the same stream, in its new codec.
    router.updateRtpParticipant(pid('pin'), PCMA);
    pin.receive(8, 5, tone(440, 4));
    expect(toB.got.at(-1)).toEqual({ owner: 'pin', kind: 'audio', mime: 'audio/pcma', seq: 5 });
    router.removeParticipant(pid('pin'));
    expect(router.sources()).toEqual([]);
    expect(events).toEqual(['+pin/audio/audio/pcmu@local', '~pin/audio/audio/pcma', '-pin/audio@local']);
  });

  it('a remote video source is a voice-switch source: a SIP viewer is shown it from its keyframe, asked for through the throttle', () => {
    const { router, clock, phone } = setup();
    const sip = phone('sip');
    const video = new FakeRtpEndpoint();
    router.setRtpVideo(pid('sip'), video.asEndpoint());
    router.updateRtpVideo(pid('sip'), { payloadType: 96, receives: false, sends: true });
    let plis = 0;
    const remote = router.addRemoteSource({ owner: pid('rv'), kind: 'video', codec: videoSourceCodec('H264'), meshTag: LINK_B, requestKeyframe: () => plis++ });
    expect(plis).toBe(1); // the switch selected it for the viewer and wants a keyframe
    remote.push(packet(1, H264_DELTA));
    expect(video.raw).toHaveLength(0);
    remote.push(packet(2, H264_IDR));
    remote.push(packet(3, H264_DELTA));
    expect(video.raw.map((r) => r.payload)).toEqual([H264_IDR, H264_DELTA]);
    expect(router.participantStats(pid('sip'))?.videoShowing).toBe('rv');
    // The SIP viewer's PLI goes to the remote source, at most once per 500 ms.
    video.onKeyframeRequest?.(video.asEndpoint());
    expect(plis).toBe(1);
    clock.advance(500);
    expect(plis).toBe(2);
    expect(sip.sent).toHaveLength(0);
  });

  it("a remote sink's keyframe request reaches the SIP camera through the per-source throttle (DESIGN.md 4)", () => {
    const { router, clock, phone } = setup();
    phone('cam');
    const video = new FakeRtpEndpoint();
    router.setRtpVideo(pid('cam'), video.asEndpoint());
    router.updateRtpVideo(pid('cam'), { payloadType: 96, receives: true, sends: false });
    const toB = new FakeSink('video', LINK_B);
    router.addRemoteSink(toB);
    expect(toB.events).toEqual(['+cam/video']);
    video.receive(96, 9, H264_IDR);
    expect(toB.got).toEqual([{ owner: 'cam', kind: 'video', mime: 'video/h264', seq: 9 }]);
    const [cam] = router.sources().filter((s) => s.kind === 'video');
    if (!cam) throw new Error('no video source');
    toB.onKeyframeRequest?.(cam);
    toB.onKeyframeRequest?.(cam);
    expect(video.keyframeRequests).toBe(1);
    clock.advance(500);
    expect(video.keyframeRequests).toBe(2);
    // The camera stops sending (re-INVITE recvonly): its stream is retracted.
    router.updateRtpVideo(pid('cam'), { payloadType: 96, receives: false, sends: false });
    expect(toB.events).toEqual(['+cam/video', '-cam/video']);
  });

  it('refuses what would break split horizon or collide with a local participant; close() retracts the remote streams', () => {
    const { router, events, phone } = setup();
    phone('sip');
    const codec = audioSourceCodec('opus');
    const err = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(err(() => router.addRemoteSource({ owner: pid('r'), kind: 'audio', codec, meshTag: LOCAL_MESH }))).toMatchObject({ code: 'bad-request' });
    expect(err(() => router.addRemoteSource({ owner: pid('sip'), kind: 'audio', codec, meshTag: LINK_B }))).toMatchObject({ code: 'bad-request' });
    expect(err(() => router.addRemoteSink(new FakeSink('any', undefined)))).toMatchObject({ code: 'bad-request' });
    const a = router.addRemoteSource({ owner: pid('ra'), kind: 'audio', codec, meshTag: LINK_B });
    router.addRemoteSource({ owner: pid('rb'), kind: 'audio', codec, meshTag: LINK_B });
    a.close();
    a.close();
    events.length = 0;
    router.close();
    expect(events).toEqual(['-sip/audio@local', `-rb/audio@${LINK_B}`]);
    a.push(packet(1, tone(440, 0))); // a closed handle's packets go nowhere
    const closed = err(() => router.addRemoteSource({ owner: pid('rc'), kind: 'audio', codec, meshTag: LINK_B }));
    expect(closed).toBeInstanceOf(ConfnodeError);
    expect(closed).toMatchObject({ code: 'closed' });
  });
});
