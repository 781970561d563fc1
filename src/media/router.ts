/**
 * MediaRouter: one per conference per node. Wires the conference's streams through its SFU
 * (sfu/): SIP participants' audio and video, browsers' tracks and streams relayed from other
 * nodes are Sources; the mixer (SIP participants' N-1 mix), the voice switch (SIP endpoints'
 * video), browsers' send tracks and backplane senders are Sinks. DTMF comes from the SIP
 * endpoints' telephone-events. Packets go through plain callbacks and counters; events are
 * control-rate only.
 */
import { ConfnodeError, TypedEmitter, systemClock, type Clock, type ConferenceId, type Logger, type ParticipantId } from '../common';
import { audioCodecNameOf, type AudioCodecFactory } from './codecs/codec';
import { DtmfRecognizer } from './dtmf';
import { AudioMixer, type MixerInput } from './mixer/audio-mixer';
import type { MixClock } from './mixer/mix-clock';
import type { RtpEndpoint } from './rtp/rtp-endpoint';
import type { RtpView } from './rtp/packet';
import {
  ConferenceSfu,
  LOCAL_MESH,
  MixerSink,
  PacketSource,
  RemoteStreams,
  VoiceSwitchSink,
  audioCodecOf,
  audioSourceCodec,
  videoSourceCodec,
  type RemoteSinkHandle,
  type RemoteSourceHandle,
  type RemoteSourceOptions,
  type SfuCounters,
  type Sink,
  type SinkCounters,
  type SourceView,
} from './sfu';
import type { VideoCodecName } from './video/keyframe';
import { VoiceSwitchedVideo } from './video/voice-switch';
import { BrowserMedia, type WebRtcEndpoint } from './werift';

/** The negotiated audio of a plain-RTP participant. */
export interface AudioFormat {
  name: string;
  payloadType: number;
  clockRate: number;
  channels: number;
  telephoneEventPayloadType?: number;
}

export interface MediaRouterOptions {
  conferenceId: ConferenceId;
  name: string;
  logger: Logger;
  mixClock: MixClock;
  maxTalkers: number;
  jitterBufferMs: number;
  codecFactory: AudioCodecFactory;
  /** Timers of the keyframe-request throttle (default: the system clock). */
  clock?: Clock;
  /** The conference video codec (VMR config): SIP video in it is voice-switched. */
  videoCodec?: VideoCodecName;
}

/** The negotiated video of a plain-RTP participant (its own RtpEndpoint). */
export interface RtpVideoFormat {
  payloadType: number;
  /** The remote sends video (sendrecv/sendonly): it is a source of the switch and of browsers. */
  receives: boolean;
  /** The remote takes video (sendrecv/recvonly): it views the voice-switched stream. */
  sends: boolean;
}

export type MediaRouterEvents = {
  activeSpeaker: [id: ParticipantId | undefined];
  dtmf: [id: ParticipantId, digit: string];
  /** A stream joined the conference (a backplane announces it to its peer). */
  'source-added': [source: SourceView];
  /** A stream left the conference (a backplane retracts it). */
  'source-removed': [source: SourceView];
  /** A stream's codec changed (a SIP re-INVITE). */
  'source-changed': [source: SourceView];
};

export interface RouterParticipantStats {
  packetsIn: number;
  packetsOut: number;
  packetsDropped: number;
  /** SIP endpoints: RTCP packets accepted (audio and video), the sign of life of a silent phone. */
  rtcpIn?: number;
  audioCodec: string | undefined;
  talker: boolean;
  levelDbov: number;
  /** SIP endpoints with video: whose video they are shown now. */
  videoShowing?: ParticipantId;
  videoPacketsIn?: number;
  videoPacketsOut?: number;
}

interface RtpVideo {
  endpoint: RtpEndpoint;
  format: RtpVideoFormat | undefined;
  /** Its video as a source of the conference (while admitted and sending). */
  source: PacketSource | undefined;
}

interface RtpMember {
  id: ParticipantId;
  endpoint: RtpEndpoint;
  format: AudioFormat | undefined;
  /** Its in-and-out member of the mixer (what it says, and its N-1 mix). */
  input: MixerInput | undefined;
  dtmf: DtmfRecognizer;
  /** Packets of unexpected payload types or before negotiation. */
  ignored: number;
  /** False while the participant waits outside the conference (PIN entry): no mix either way. */
  admitted: boolean;
  /** Its audio as a source of the conference (once admitted with a negotiated codec). */
  audio: PacketSource | undefined;
  video: RtpVideo | undefined;
  /** The phone holds the call: its audio (music on hold) is not mixed nor forwarded. */
  held: boolean;
}

interface BrowserMember {
  id: ParticipantId;
  endpoint: WebRtcEndpoint;
  media: BrowserMedia;
}

export class MediaRouter extends TypedEmitter<MediaRouterEvents> {
  private readonly mixer: AudioMixer<ParticipantId>;
  private readonly members = new Map<ParticipantId, RtpMember>();
  private readonly browsers = new Map<ParticipantId, BrowserMember>();
  private readonly sfu: ConferenceSfu;
  private readonly mixerSink: MixerSink;
  /** Contribute-only mixer inputs made for a source (a browser's audio, another node's participant). */
  private readonly contributors = new Map<SourceView, ParticipantId>();
  private readonly remote: RemoteStreams;
  private readonly voice: VoiceSwitchedVideo | undefined;
  private readonly unregisterTick: () => void;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: MediaRouterOptions) {
    super((err, event) => opts.logger.error({ conference: opts.name, event: String(event), err: String(err) }, 'router listener failed'));
    this.log = opts.logger.child({ conference: opts.name, conferenceId: opts.conferenceId });
    this.mixer = new AudioMixer<ParticipantId>({ maxTalkers: opts.maxTalkers, codecFactory: opts.codecFactory });
    const clock = opts.clock ?? systemClock;
    this.sfu = new ConferenceSfu({ clock, logger: this.log });
    for (const event of ['source-added', 'source-removed', 'source-changed'] as const) this.sfu.on(event, (source) => this.emit(event, source));
    this.mixerSink = new MixerSink({ attach: (source) => this.attachToMixer(source), detach: (source) => this.detachFromMixer(source) });
    this.sfu.addSink(this.mixerSink);
    this.remote = new RemoteStreams(this.sfu);
    // The SFU throttles keyframe requests per source (shared with browsers): none in the switch.
    const voice = opts.videoCodec ? new VoiceSwitchedVideo({ codec: opts.videoCodec, clock, keyframeIntervalMs: 0 }) : undefined;
    this.voice = voice;
    if (voice && opts.videoCodec) this.sfu.addSink(new VoiceSwitchSink(voice, opts.videoCodec));
    this.mixer.on('activeSpeaker', (id) => {
      voice?.setSpeaker(id);
      this.emit('activeSpeaker', id);
    });
    this.unregisterTick = opts.mixClock.register(() => this.mixer.tick());
  }

  get activeSpeaker(): ParticipantId | undefined {
    return this.mixer.activeSpeaker;
  }

  /** Local participants (streams of other nodes' participants are not counted). */
  get size(): number {
    return this.members.size + this.browsers.size;
  }

  hasParticipant(id: ParticipantId): boolean {
    return this.members.has(id) || this.browsers.has(id);
  }

  /**
   * Adds a SIP participant; `format` undefined while our offer awaits its answer (no media yet).
   * A participant added with admitted=false only has its DTMF digits heard (PIN entry) until admit().
   */
  addRtpParticipant(id: ParticipantId, endpoint: RtpEndpoint, format: AudioFormat | undefined, admitted = true): void {
    if (this.closed || this.hasParticipant(id)) return;
    const member: RtpMember = {
      id,
      endpoint,
      format: undefined,
      input: undefined,
      dtmf: new DtmfRecognizer(),
      ignored: 0,
      admitted,
      held: false,
      audio: undefined,
      video: undefined,
    };
    this.members.set(id, member);
    endpoint.onRtp = (pkt) => this.onRtp(member, pkt);
    if (format) this.updateRtpParticipant(id, format);
  }

  /** Applies a (re)negotiated format: a codec change replaces the participant's codecs. */
  updateRtpParticipant(id: ParticipantId, format: AudioFormat): void {
    const m = this.members.get(id);
    if (!m) return;
    const codec = audioCodecNameOf(format.name, format.clockRate);
    if (!codec) {
      this.log.warn({ participant: id, codec: format.name }, 'negotiated codec cannot be mixed');
      return;
    }
    const sameCodec = m.format !== undefined && audioCodecNameOf(m.format.name, m.format.clockRate) === codec;
    m.format = format;
    // Browsers get the new codec's packets stamped with their payload type for it.
    if (m.audio) this.sfu.setCodec(m.audio, audioSourceCodec(codec));
    if ((sameCodec && m.input) || !m.admitted) return;
    if (m.input) this.mixer.removeParticipant(id);
    const pt = format.payloadType;
    const endpoint = m.endpoint;
    m.input = this.mixer.addParticipant(id, {
      recvCodec: codec,
      sendCodec: codec,
      // Read the payload type per frame: a re-INVITE may renumber it without changing the codec.
      send: (payload, step) => {
        endpoint.sendRtp(m.format?.payloadType ?? pt, payload, step);
      },
      jitter: this.jitterOptions(),
    });
    if (m.audio) {
      this.mixerSink.rebind(m.audio, m.input);
      return;
    }
    m.audio = new PacketSource({ owner: id, kind: 'audio', codec: audioSourceCodec(codec), meshTag: LOCAL_MESH });
    this.sfu.addSource(m.audio);
  }

  /**
   * Adds a browser: what it publishes becomes sources (its first audio track a contribute-only
   * talker of the mix: SIP participants hear it, browsers get it forwarded), and it views every
   * other participant's streams. The endpoint belongs to the caller, who closes it.
   */
  addWebRtcParticipant(id: ParticipantId, endpoint: WebRtcEndpoint): void {
    if (this.closed || this.hasParticipant(id)) return;
    const media = new BrowserMedia(endpoint, (source) => this.sfu.addSource(source));
    this.browsers.set(id, { id, endpoint, media });
    this.sfu.addViewer(media);
  }

  /** Gives a SIP participant its video endpoint (video negotiated in the conference codec). */
  setRtpVideo(id: ParticipantId, endpoint: RtpEndpoint): void {
    const m = this.members.get(id);
    if (!m || m.video || !this.voice) return;
    const video: RtpVideo = { endpoint, format: undefined, source: undefined };
    m.video = video;
    endpoint.onRtp = (pkt) => {
      const f = video.format;
      if (!f || pkt.payloadType !== f.payloadType || !m.admitted) return;
      video.source?.pushRtp(pkt);
    };
    endpoint.onKeyframeRequest = () => this.voice?.viewerKeyframeRequest(id);
  }

  /** Applies a (re)negotiated SIP video: its role as a source and as a viewer of the switch. */
  updateRtpVideo(id: ParticipantId, format: RtpVideoFormat | undefined): void {
    const m = this.members.get(id);
    const voice = this.voice;
    if (!m?.video || !voice) return;
    const video = m.video;
    video.format = format;
    const admitted = m.admitted;
    if (format?.receives && admitted) {
      if (!video.source) {
        video.source = new PacketSource({
          owner: id,
          kind: 'video',
          codec: videoSourceCodec(this.opts.videoCodec ?? 'H264'),
          meshTag: LOCAL_MESH,
          requestKeyframe: () => {
            video.endpoint.requestKeyframe();
          },
        });
        this.sfu.addSource(video.source);
      }
    } else if (video.source) {
      this.sfu.removeSource(video.source);
      video.source = undefined;
    }
    if (format?.sends && admitted) {
      const endpoint = video.endpoint;
      voice.addViewer(id, (payload, ts, marker) => {
        const pt = video.format?.payloadType;
        if (pt !== undefined) endpoint.sendRtpRaw(pt, payload, ts, marker);
      });
    } else {
      voice.removeViewer(id);
    }
  }

  /** Lets a waiting participant (PIN entered) into the mix, and into the video switch. */
  admit(id: ParticipantId): void {
    const m = this.members.get(id);
    if (!m || m.admitted) return;
    m.admitted = true;
    if (m.format) this.updateRtpParticipant(id, m.format);
    if (m.video) this.updateRtpVideo(id, m.video.format);
  }

  /** The phone holds (or resumes) the call; while held its audio stays out of the conference. */
  setHeld(id: ParticipantId, held: boolean): void {
    const m = this.members.get(id);
    if (m) m.held = held;
  }

  isAdmitted(id: ParticipantId): boolean {
    return this.members.get(id)?.admitted ?? false;
  }

  removeParticipant(id: ParticipantId): void {
    const m = this.members.get(id);
    const b = this.browsers.get(id);
    if (!m && !b) return;
    this.members.delete(id);
    this.browsers.delete(id);
    if (m) this.removeRtpMember(m);
    if (b) {
      b.media.close();
      this.sfu.removeViewer(b.media);
      for (const source of b.media.sources) this.sfu.removeSource(source);
    }
    this.voice?.removeViewer(id);
  }

  /**
   * A stream of another node's participant (a backplane's): it is mixed for SIP participants
   * (audio, a contribute-only talker, so it can be the active speaker), is a candidate of the
   * voice switch (video) and reaches every browser and every other link's sink.
   */
  addRemoteSource(options: RemoteSourceOptions): RemoteSourceHandle {
    this.assertOpen();
    if (this.hasParticipant(options.owner)) throw new ConfnodeError('bad-request', `participant ${options.owner} is local to this node`);
    return this.remote.addSource(options);
  }

  /**
   * A sink that takes the conference's streams out to another node (a backplane sender): every
   * stream of the kind it wants except those that came in over its own link (split horizon), so
   * it must name that link (its excluded mesh tag); its keyframe requests reach the sources.
   */
  addRemoteSink(sink: Sink): RemoteSinkHandle {
    this.assertOpen();
    return this.remote.addSink(sink);
  }

  /** Every stream in the conference now: owner, kind, codec, mesh tag (control rate). */
  sources(): SourceView[] {
    return this.sfu.sources();
  }

  sourceStats(source: SourceView): SfuCounters | undefined {
    return this.sfu.sourceStats(source);
  }

  sinkStats(sink: Sink): SinkCounters | undefined {
    return this.sfu.sinkStats(sink);
  }

  /** A digit signalled out of band (SIP INFO) joins the same event stream as RFC 4733 digits. */
  injectDtmf(id: ParticipantId, digit: string): void {
    if (this.hasParticipant(id)) this.emit('dtmf', id, digit);
  }

  /** Cheap enough for every participant twice a second (worker snapshots): no stats objects built. */
  participantStats(id: ParticipantId): RouterParticipantStats | undefined {
    const m = this.members.get(id);
    if (!m) return this.browserStats(id);
    const ep = m.endpoint;
    const mixer = this.mixer;
    return {
      packetsIn: ep.packetsReceived,
      packetsOut: ep.packetsSent,
      packetsDropped: ep.packetsDiscarded + m.ignored + mixer.participantDrops(id),
      rtcpIn: ep.rtcpReceived + (m.video?.endpoint.rtcpReceived ?? 0),
      audioCodec: m.format?.name,
      talker: mixer.isTalker(id),
      levelDbov: mixer.participantLevel(id),
      ...(m.video ? this.videoStats(id, m.video) : {}),
    };
  }

  /** Idempotent; the endpoints belong to the calls and are closed by them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregisterTick();
    for (const id of [...this.members.keys(), ...this.browsers.keys()]) this.removeParticipant(id);
    this.remote.close();
    this.sfu.close();
    this.voice?.close();
    this.mixer.close();
    this.removeAllListeners();
  }

  private assertOpen(): void {
    if (this.closed) throw new ConfnodeError('closed', `media router of ${this.opts.name} is closed`);
  }

  private removeRtpMember(m: RtpMember): void {
    m.endpoint.onRtp = null;
    if (m.audio) this.sfu.removeSource(m.audio);
    if (m.video) {
      m.video.endpoint.onRtp = null;
      m.video.endpoint.onKeyframeRequest = null;
      if (m.video.source) this.sfu.removeSource(m.video.source);
    }
    if (m.input) this.mixer.removeParticipant(m.id);
  }

  /**
   * The mixer input an audio source feeds: a SIP participant's own member (made at negotiation);
   * otherwise (a browser's first audio track, another node's participant) a contribute-only
   * talker that leaves with the source.
   */
  private attachToMixer(source: SourceView): MixerInput | undefined {
    if (source.meshTag === LOCAL_MESH) {
      const m = this.members.get(source.owner);
      if (m) return m.input;
    }
    // A browser's second audio track: its first one is mixed already.
    if (this.mixer.has(source.owner)) return undefined;
    const codec = audioCodecOf(source.codec);
    if (!codec) {
      this.log.warn({ participant: source.owner, codec: source.codec.mime }, 'audio source cannot be mixed');
      return undefined;
    }
    const input = this.mixer.addParticipant(source.owner, { recvCodec: codec, jitter: this.jitterOptions() });
    this.contributors.set(source, source.owner);
    return input;
  }

  private detachFromMixer(source: SourceView): void {
    const owner = this.contributors.get(source);
    if (owner === undefined) return;
    this.contributors.delete(source);
    this.mixer.removeParticipant(owner);
  }

  private videoStats(id: ParticipantId, video: RtpVideo): Partial<RouterParticipantStats> {
    const ep = video.endpoint;
    const showing = this.voice?.showing(id);
    return { videoPacketsIn: ep.packetsReceived, videoPacketsOut: ep.packetsSent, ...(showing ? { videoShowing: showing } : {}) };
  }

  private browserStats(id: ParticipantId): RouterParticipantStats | undefined {
    const b = this.browsers.get(id);
    if (!b) return undefined;
    const ep = b.endpoint.stats();
    const mixer = this.mixer;
    return {
      packetsIn: ep.packetsIn,
      packetsOut: ep.packetsOut,
      packetsDropped: ep.packetsDropped + mixer.participantDrops(id),
      audioCodec: 'opus',
      talker: mixer.isTalker(id),
      levelDbov: mixer.participantLevel(id),
    };
  }

  private jitterOptions(): { prefillMs: number; maxDelayMs: number } {
    return { prefillMs: Math.min(this.opts.jitterBufferMs, 100), maxDelayMs: Math.max(this.opts.jitterBufferMs * 2, 80) };
  }

  private onRtp(m: RtpMember, pkt: RtpView): void {
    const f = m.format;
    if (f && pkt.payloadType === f.payloadType) {
      // Not admitted yet (PIN entry), or holding the call: the caller's audio stays out.
      if (m.input && !m.held) m.audio?.pushRtp(pkt);
    } else if (f && pkt.payloadType === f.telephoneEventPayloadType) {
      const digit = m.dtmf.push(pkt.timestamp, pkt.payload);
      if (digit) this.emit('dtmf', m.id, digit);
    } else {
      m.ignored++;
    }
  }
}
