/**
 * LocalMediaService: conferences' media in the calling thread: one PortAllocator, one MixClock,
 * one MediaRouter per conference, one RtpEndpoint per plain-RTP participant and one
 * WebRtcEndpoint per browser. Media workers run one of these each; a node without workers runs
 * one on its main thread. Never lets one participant's failure throw into another's call.
 */
import { ConfnodeError, TypedEmitter, type Clock, type ConferenceId, type Logger, type ParticipantId } from '../common';
import { audioCodecFactory } from './codecs/codec';
import { MixClock } from './mixer/mix-clock';
import { MediaRouter, type RouterParticipantStats } from './router';
import { PortAllocator, type RtpSocketPair } from './rtp/port-allocator';
import { RtpEndpoint } from './rtp/rtp-endpoint';
import { WebRtcEndpoint } from './werift';
import type {
  LocalRtpAddress,
  MediaConferenceRef,
  MediaService,
  MediaServiceEvents,
  MediaServiceStats,
  RtpParticipantUpdate,
} from './service';

export interface LocalMediaOptions {
  address: string;
  /** The address peers reach this node at when it differs from `address` (NAT): put in SDP and ICE candidates. */
  announceAddress?: string;
  /** RTP/RTCP port range; `startAt`: where this service starts looking (see PortAllocator). */
  rtpPorts: { min: number; max: number; startAt?: number };
  clock: Clock;
  logger: Logger;
  mixTalkers: number;
  jitterBufferMs: number;
  opusComplexity: number;
  /** UDP ports for browsers' ICE sockets (default: free ephemeral ports on `address`). */
  icePortRange?: [number, number];
  /** How long a browser's ICE/DTLS may take to (re)connect (default 20 s). */
  webrtcConnectTimeoutMs?: number;
}

type Member =
  | { kind: 'rtp'; conference: ConferenceId; endpoint: RtpEndpoint; video: RtpEndpoint | undefined; router: MediaRouter }
  | { kind: 'webrtc'; conference: ConferenceId; endpoint: WebRtcEndpoint; router: MediaRouter };

export class LocalMediaService implements MediaService {
  readonly events: TypedEmitter<MediaServiceEvents>;
  private readonly allocator: PortAllocator;
  private readonly mixClock: MixClock;
  private readonly routers = new Map<ConferenceId, MediaRouter>();
  private readonly members = new Map<ParticipantId, Member>();
  private readonly codecFactory;
  private closed = false;
  private readonly iceRestarts = { node: 0, browser: 0 };
  private iceReconnects = 0;
  /** Told when a conference's router closes (its backplane links close with it). */
  private readonly closedListeners = new Set<(conference: ConferenceId) => void>();

  constructor(private readonly opts: LocalMediaOptions) {
    this.events = new TypedEmitter<MediaServiceEvents>((err, event) =>
      opts.logger.error({ event: String(event), err: String(err) }, 'media event listener failed'),
    );
    this.allocator = new PortAllocator({ address: opts.address, ...opts.rtpPorts });
    this.mixClock = new MixClock(opts.clock, {
      onTickError: (err) => opts.logger.error({ err: String(err) }, 'mix tick failed'),
    });
    this.codecFactory = audioCodecFactory({ opusComplexity: opts.opusComplexity });
  }

  async createRtpParticipant(conference: MediaConferenceRef, participant: ParticipantId, admitted: boolean, withVideo = false): Promise<LocalRtpAddress> {
    if (this.closed) throw new ConfnodeError('closed', 'media service is closed');
    if (this.members.has(participant)) throw new ConfnodeError('bad-request', `participant ${participant} already has media`);
    const open = (): Promise<RtpEndpoint> =>
      RtpEndpoint.open({
        address: this.opts.address,
        allocator: this.allocator,
        clock: this.opts.clock,
        logger: this.opts.logger.child({ participant, conference: conference.name }),
      });
    const endpoint = await open();
    let video: RtpEndpoint | undefined;
    try {
      video = withVideo && conference.videoCodec ? await open() : undefined;
    } catch (err) {
      void endpoint.close();
      throw err;
    }
    const router = this.router(conference);
    router.addRtpParticipant(participant, endpoint, undefined, admitted);
    if (video) router.setRtpVideo(participant, video);
    this.members.set(participant, { kind: 'rtp', conference: conference.id, endpoint, video, router });
    return {
      address: this.opts.announceAddress ?? endpoint.localAddress,
      rtpPort: endpoint.rtpPort,
      rtcpPort: endpoint.rtcpPort,
      ...(video ? { video: { rtpPort: video.rtpPort, rtcpPort: video.rtcpPort } } : {}),
    };
  }

  async createWebRtcParticipant(conference: MediaConferenceRef, participant: ParticipantId, videoCodec: 'H264' | 'VP8'): Promise<void> {
    if (this.closed) throw new ConfnodeError('closed', 'media service is closed');
    if (this.members.has(participant)) throw new ConfnodeError('bad-request', `participant ${participant} already has media`);
    const endpoint = new WebRtcEndpoint({
      participant,
      videoCodec,
      address: this.opts.address,
      ...(this.opts.announceAddress !== undefined ? { announceAddress: this.opts.announceAddress } : {}),
      clock: this.opts.clock,
      logger: this.opts.logger.child({ participant, conference: conference.name }),
      icePortRange: this.opts.icePortRange,
      connectTimeoutMs: this.opts.webrtcConnectTimeoutMs,
    });
    endpoint.on('offer', (sdp) => this.events.emit('webrtcOffer', participant, sdp));
    endpoint.on('failed', (reason) => this.events.emit('webrtcFailed', participant, reason));
    endpoint.on('iceRestart', (by) => this.iceRestarts[by]++);
    endpoint.on('iceReconnected', () => this.iceReconnects++);
    // Whoever comes first starts the conference's media: a browser must set its video codec too.
    const router = this.router({ ...conference, videoCodec });
    router.addWebRtcParticipant(participant, endpoint);
    this.members.set(participant, { kind: 'webrtc', conference: conference.id, endpoint, router });
  }

  webrtcOffer(participant: ParticipantId, sdp: string): Promise<string> {
    return this.webrtcEndpoint(participant).acceptOffer(sdp);
  }

  webrtcAnswer(participant: ParticipantId, sdp: string): Promise<void> {
    return this.webrtcEndpoint(participant).acceptAnswer(sdp);
  }

  updateRtpParticipant(participant: ParticipantId, update: RtpParticipantUpdate): void {
    const m = this.members.get(participant);
    if (!m || m.kind !== 'rtp') return;
    m.endpoint.setRemote(update.remote);
    m.endpoint.setDirection(update.direction);
    m.router.updateRtpParticipant(participant, update.format);
    m.router.setHeld(participant, update.onHold === true);
    if (!m.video) return;
    const v = update.video;
    if (v) {
      m.video.setRemote(v.remote);
      m.video.setDirection(v.direction);
    } else {
      m.video.setDirection('inactive');
    }
    m.router.updateRtpVideo(
      participant,
      v ? { payloadType: v.payloadType, receives: v.direction === 'sendrecv' || v.direction === 'recvonly', sends: v.direction === 'sendrecv' || v.direction === 'sendonly' } : undefined,
    );
  }

  admit(participant: ParticipantId): void {
    this.members.get(participant)?.router.admit(participant);
  }

  injectDtmf(participant: ParticipantId, digit: string): void {
    this.members.get(participant)?.router.injectDtmf(participant, digit);
  }

  removeParticipant(participant: ParticipantId): void {
    const m = this.members.get(participant);
    if (!m) return;
    this.members.delete(participant);
    m.router.removeParticipant(participant);
    void m.endpoint.close();
    if (m.kind === 'rtp') void m.video?.close();
    if (m.router.size === 0) {
      m.router.close();
      this.routers.delete(m.conference);
      this.conferenceClosed(m.conference);
    }
  }

  participantStats(participant: ParticipantId): RouterParticipantStats | undefined {
    return this.members.get(participant)?.router.participantStats(participant);
  }

  /** Every participant's stats at once (worker snapshots). */
  allParticipantStats(): Array<[ParticipantId, RouterParticipantStats]> {
    const out: Array<[ParticipantId, RouterParticipantStats]> = [];
    for (const [id, m] of this.members) {
      const s = m.router.participantStats(id);
      if (s) out.push([id, s]);
    }
    return out;
  }

  hasConference(conference: ConferenceId): boolean {
    return this.routers.has(conference);
  }

  activeSpeaker(conference: ConferenceId): ParticipantId | undefined {
    return this.routers.get(conference)?.activeSpeaker;
  }

  stats(): MediaServiceStats {
    const clock = this.mixClock.stats();
    return {
      conferences: this.routers.size,
      participants: this.members.size,
      maxMixRoundMs: clock.maxRoundMs,
      skippedMixRounds: clock.skipped,
      mixTicks: clock.ticks,
      lateMixTicks: clock.lateTicks,
      iceRestarts: { ...this.iceRestarts },
      iceReconnects: this.iceReconnects,
    };
  }

  /** In-thread media is ready as soon as it exists. */
  async ready(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = [...this.members.values()].flatMap((m) => [m.endpoint.close(), ...(m.kind === 'rtp' && m.video ? [m.video.close()] : [])]);
    for (const r of this.routers.values()) r.close();
    const conferences = [...this.routers.keys()];
    this.routers.clear();
    for (const id of conferences) this.conferenceClosed(id);
    this.members.clear();
    this.mixClock.close();
    await Promise.allSettled(closing);
  }

  /** The conference's router in this thread (a backplane link plugs into it), if it runs here. */
  routerOf(conference: ConferenceId): MediaRouter | undefined {
    return this.routers.get(conference);
  }

  /** A bound RTP/RTCP port pair of this service's range (a backplane link's socket). */
  allocateRtpPorts(): Promise<RtpSocketPair> {
    if (this.closed) return Promise.reject(new ConfnodeError('closed', 'media service is closed'));
    return this.allocator.allocate(this.opts.address);
  }

  /** `fn` hears of every conference whose router closes (its last participant left, or close()). */
  onConferenceClosed(fn: (conference: ConferenceId) => void): () => void {
    this.closedListeners.add(fn);
    return () => this.closedListeners.delete(fn);
  }

  private conferenceClosed(conference: ConferenceId): void {
    for (const fn of [...this.closedListeners]) {
      try {
        fn(conference);
      } catch (err) {
        this.opts.logger.error({ conference, err: String(err) }, 'conference-closed listener failed');
      }
    }
  }

  private webrtcEndpoint(participant: ParticipantId): WebRtcEndpoint {
    const m = this.members.get(participant);
    if (!m || m.kind !== 'webrtc') throw new ConfnodeError('not-found', `participant ${participant} has no WebRTC media`);
    return m.endpoint;
  }

  private router(conference: MediaConferenceRef): MediaRouter {
    let router = this.routers.get(conference.id);
    if (!router) {
      router = new MediaRouter({
        conferenceId: conference.id,
        name: conference.name,
        logger: this.opts.logger,
        mixClock: this.mixClock,
        maxTalkers: this.opts.mixTalkers,
        jitterBufferMs: this.opts.jitterBufferMs,
        codecFactory: this.codecFactory,
        clock: this.opts.clock,
        ...(conference.videoCodec ? { videoCodec: conference.videoCodec } : {}),
      });
      const id = conference.id;
      router.on('activeSpeaker', (p) => this.events.emit('activeSpeaker', id, p));
      router.on('dtmf', (p, digit) => this.events.emit('dtmf', p, digit));
      this.routers.set(id, router);
    }
    return router;
  }
}
