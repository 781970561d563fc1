import { TypedEmitter, asConferenceId, asParticipantId, silentLogger, systemClock, type ParticipantId } from '../../common';
import { audioCodecFactory } from '../codecs/codec';
import { MixClock } from '../mixer/mix-clock';
import { MediaRouter } from '../router';
import type { MediaService, MediaServiceEvents } from '../service';
import { audioSourceCodec, newMediaPacket, videoSourceCodec, type MediaKind, type MediaPacket, type Sink, type SourceView } from '../sfu';
import { TestBrowser, videoPayload, waitFor } from './test-browser';
import { WebRtcEndpoint } from './webrtc-endpoint';

jest.setTimeout(30_000);

const pid = (s: string): ParticipantId => asParticipantId(s);
const LINK_B = 'backplane:node-b';
const conference = { id: asConferenceId('c-browser-media'), name: 'browser-media', videoCodec: 'VP8' as const };

/** Just what TestBrowser asks of a MediaService, on one MediaRouter (no LocalMediaService). */
class OneRouter {
  readonly events = new TypedEmitter<MediaServiceEvents>();
  readonly endpoints = new Map<ParticipantId, WebRtcEndpoint>();
  constructor(readonly router: MediaRouter) {}
  async createWebRtcParticipant(_c: unknown, id: ParticipantId, videoCodec: 'H264' | 'VP8'): Promise<void> {
    const ep = new WebRtcEndpoint({ participant: id, videoCodec, address: '127.0.0.1', clock: systemClock, logger: silentLogger });
    ep.on('offer', (sdp) => this.events.emit('webrtcOffer', id, sdp));
    this.endpoints.set(id, ep);
    this.router.addWebRtcParticipant(id, ep);
  }
  webrtcOffer(id: ParticipantId, sdp: string): Promise<string> {
    return this.endpoint(id).acceptOffer(sdp);
  }
  webrtcAnswer(id: ParticipantId, sdp: string): Promise<void> {
    return this.endpoint(id).acceptAnswer(sdp);
  }
  private endpoint(id: ParticipantId): WebRtcEndpoint {
    const ep = this.endpoints.get(id);
    if (!ep) throw new Error(`no endpoint ${id}`);
    return ep;
  }
}

class RecordingSink implements Sink {
  readonly owner = undefined;
  readonly got: Array<{ owner: string; kind: MediaKind; seq: number }> = [];
  onKeyframeRequest: ((source: SourceView) => void) | null = null;
  constructor(
    readonly kind: MediaKind | 'any',
    readonly excludeMeshTag: string,
  ) {}
  send(p: MediaPacket, s: SourceView): boolean {
    this.got.push({ owner: s.owner, kind: s.kind, seq: p.sequence });
    return true;
  }
}

describe('BrowserMedia: a browser as Sources and SendTrack Sinks of the SFU (werift client on loopback)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  function start() {
    const mixClock = new MixClock(systemClock);
    const router = new MediaRouter({
      conferenceId: conference.id,
      name: conference.name,
      logger: silentLogger,
      mixClock,
      maxTalkers: 3,
      jitterBufferMs: 40,
      codecFactory: audioCodecFactory({ opusComplexity: 3 }),
      videoCodec: 'VP8',
    });
    const host = new OneRouter(router);
    cleanup.push(async () => {
      router.close();
      await Promise.allSettled([...host.endpoints.values()].map((e) => e.close()));
      mixClock.close();
    });
    const browser = (id: string): TestBrowser => {
      const b = new TestBrowser(pid(id), host as unknown as MediaService, 'VP8');
      cleanup.push(() => b.close());
      return b;
    };
    return { router, browser };
  }

  it("streams of another node's participant reach the browser untouched (PCMU on the Opus m-line, VP8), and the browser's own streams go out to that node", async () => {
    const { router, browser } = start();
    const a = browser('a');
    await a.join(conference);
    const audio = router.addRemoteSource({ owner: pid('remote'), kind: 'audio', codec: audioSourceCodec('PCMU'), meshTag: LINK_B });
    const video = router.addRemoteSource({ owner: pid('remote'), kind: 'video', codec: videoSourceCodec('VP8'), meshTag: LINK_B, requestKeyframe: () => undefined });
    const toB = new RecordingSink('any', LINK_B);
    router.addRemoteSink(toB);
    await waitFor(() => a.offersAnswered === 1, 5000, 'renegotiation for the remote streams');
    a.startSending();
    const pcmu = Buffer.alloc(160, 0x55);
    const pkt = newMediaPacket();
    for (let seq = 0; seq < 40; seq++) {
      audio.push({ ...pkt, payloadType: 0, sequence: seq, timestamp: seq * 160, ssrc: 7, payload: pcmu });
      video.push({ ...pkt, payloadType: 96, marker: true, sequence: seq, timestamp: seq * 3000, ssrc: 8, payload: videoPayload(seq) });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => a.stream('remote').audio.length >= 20 && a.stream('remote').video.length >= 20, 5000, 'remote streams at the browser');
    const got = a.stream('remote');
    expect(got.audio.every((p) => p.header.payloadType === 0 && p.payload.equals(pcmu))).toBe(true);
    for (const p of got.video) expect(p.payload.equals(videoPayload(p.header.sequenceNumber))).toBe(true);
    // The browser's own audio and video leave towards node B; nothing of B goes back to it.
    await waitFor(() => toB.got.some((g) => g.kind === 'audio') && toB.got.some((g) => g.kind === 'video'), 5000, "the browser's streams at the remote sink");
    expect(new Set(toB.got.map((g) => g.owner))).toEqual(new Set(['a']));
    expect(router.sources().map((s) => `${s.owner}/${s.kind}@${s.meshTag}`).sort()).toEqual([
      `a/audio@local`,
      `a/video@local`,
      `remote/audio@${LINK_B}`,
      `remote/video@${LINK_B}`,
    ]);
  });

  it("a remote sink's keyframe request reaches the publishing browser as a PLI; a retracted remote stream stops its m-line", async () => {
    const { router, browser } = start();
    const a = browser('a');
    await a.join(conference);
    const b = browser('b');
    await b.join(conference);
    await waitFor(() => a.pc.connectionState === 'connected', 5000, 'the publisher connected');
    a.startSending();
    const toB = new RecordingSink('video', LINK_B);
    router.addRemoteSink(toB);
    const aVideo = router.sources().find((s) => s.owner === 'a' && s.kind === 'video');
    await waitFor(() => a.plisReceived >= 1, 5000, 'PLI for the new viewer b');
    await new Promise((r) => setTimeout(r, 600));
    const before = a.plisReceived;
    if (!aVideo) throw new Error("a's video is not a source");
    toB.onKeyframeRequest?.(aVideo);
    await waitFor(() => a.plisReceived > before, 3000, 'PLI from the remote sink');
    const remote = router.addRemoteSource({ owner: pid('remote'), kind: 'audio', codec: audioSourceCodec('opus'), meshTag: LINK_B });
    await waitFor(() => b.stream('remote').transceivers.length === 1, 5000, 'the remote stream offered to b');
    remote.close();
    await waitFor(() => ['inactive', 'stopped'].includes(b.stream('remote').transceivers[0]?.currentDirection ?? ''), 5000, 'its m-line stopped');
  });
});
