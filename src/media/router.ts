/**
 * MediaRouter: one per conference per node. Glues each SIP participant's RtpEndpoint to the
 * conference's AudioMixer (audio payload type -> jitter buffer, mix -> endpoint) and to a DTMF
 * recognizer (telephone-event payload type); browsers (WebRtcEndpoint) join the same mixer as
 * contribute-only talkers and the conference's SFU fan-out, which also carries SIP audio to them
 * untouched. Packets go through plain callbacks and counters; events are control-rate only.
 */
import { TypedEmitter, systemClock, type Clock, type ConferenceId, type Logger, type ParticipantId } from '../common';
import { audioCodecNameOf, type AudioCodecFactory } from './codecs/codec';
import { DtmfRecognizer } from './dtmf';
import { AudioMixer, type MixerInput } from './mixer/audio-mixer';
import type { MixClock } from './mixer/mix-clock';
import type { RtpEndpoint } from './rtp/rtp-endpoint';
import type { RtpView } from './rtp/packet';
import type { VideoCodecName } from './video/keyframe';
import { VoiceSwitchedVideo } from './video/voice-switch';
import { WebRtcFanout, type PlainAudioSource, type PlainVideoSource, type WebRtcEndpoint } from './werift';

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
  plain: PlainVideoSource | undefined;
}

interface RtpMember {
  id: ParticipantId;
  endpoint: RtpEndpoint;
  format: AudioFormat | undefined;
  input: MixerInput | undefined;
  dtmf: DtmfRecognizer;
  /** Packets of unexpected payload types or before negotiation. */
  ignored: number;
  /** False while the participant waits outside the conference (PIN entry): no mix either way. */
  admitted: boolean;
  /** Its audio on its way to the browsers (while it is in the mix). */
  plain: PlainAudioSource | undefined;
  video: RtpVideo | undefined;
  /** The phone holds the call: its audio (music on hold) is not mixed nor forwarded. */
  held: boolean;
}

interface BrowserMember {
  id: ParticipantId;
  endpoint: WebRtcEndpoint;
  input: MixerInput;
}

export class MediaRouter extends TypedEmitter<MediaRouterEvents> {
  private readonly mixer: AudioMixer<ParticipantId>;
  private readonly members = new Map<ParticipantId, RtpMember>();
  private readonly browsers = new Map<ParticipantId, BrowserMember>();
  private readonly fanout: WebRtcFanout;
  private readonly voice: VoiceSwitchedVideo | undefined;
  private readonly unregisterTick: () => void;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: MediaRouterOptions) {
    super((err, event) => opts.logger.error({ conference: opts.name, event: String(event), err: String(err) }, 'router listener failed'));
    this.log = opts.logger.child({ conference: opts.name, conferenceId: opts.conferenceId });
    this.mixer = new AudioMixer<ParticipantId>({ maxTalkers: opts.maxTalkers, codecFactory: opts.codecFactory });
    const clock = opts.clock ?? systemClock;
    const voice = opts.videoCodec ? new VoiceSwitchedVideo({ codec: opts.videoCodec, clock }) : undefined;
    this.voice = voice;
    this.mixer.on('activeSpeaker', (id) => {
      voice?.setSpeaker(id);
      this.emit('activeSpeaker', id);
    });
    this.fanout = new WebRtcFanout({
      clock,
      ...(voice
        ? {
            videoTap: {
              added: (owner, requestKeyframe) => voice.addSource(owner, requestKeyframe),
              packet: (owner, seq, ts, marker, payload) => voice.push(owner, seq, ts, marker, payload),
              removed: (owner) => voice.removeSource(owner),
            },
          }
        : {}),
    });
    this.unregisterTick = opts.mixClock.register(() => this.mixer.tick());
  }

  get activeSpeaker(): ParticipantId | undefined {
    return this.mixer.activeSpeaker;
  }

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
      plain: undefined,
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
    m.plain?.setCodec(codec);
    if ((sameCodec && m.input) || !m.admitted) return;
    if (m.input) this.mixer.removeParticipant(id);
    m.plain ??= this.fanout.addPlainAudio(id, codec);
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
  }

  /**
   * Adds a browser: its first audio track (Opus) is a contribute-only talker of the mix (SIP
   * participants hear it; browsers hear each other through the fan-out), and it views every
   * other participant's streams. The endpoint belongs to the caller, who closes it.
   */
  addWebRtcParticipant(id: ParticipantId, endpoint: WebRtcEndpoint): void {
    if (this.closed || this.hasParticipant(id)) return;
    const input = this.mixer.addParticipant(id, { recvCodec: 'opus', jitter: this.jitterOptions() });
    this.browsers.set(id, { id, endpoint, input });
    this.fanout.addBrowser(id, endpoint, (seq, payload) => {
      input.pushRtp(seq, payload);
    });
  }

  /** Gives a SIP participant its video endpoint (video negotiated in the conference codec). */
  setRtpVideo(id: ParticipantId, endpoint: RtpEndpoint): void {
    const m = this.members.get(id);
    if (!m || m.video || !this.voice) return;
    const video: RtpVideo = { endpoint, format: undefined, plain: undefined };
    m.video = video;
    endpoint.onRtp = (pkt) => {
      const f = video.format;
      if (!f || pkt.payloadType !== f.payloadType || !m.admitted) return;
      this.voice?.push(id, pkt.sequence, pkt.timestamp, pkt.marker, pkt.payload);
      video.plain?.forward(pkt);
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
      voice.addSource(id, () => video.endpoint.requestKeyframe());
      video.plain ??= this.fanout.addPlainVideo(id, `video/${this.opts.videoCodec ?? 'h264'}`, () => video.endpoint.requestKeyframe());
    } else {
      voice.removeSource(id);
      this.fanout.removeSourceOf(id, 'video');
      video.plain = undefined;
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
    if (m) m.endpoint.onRtp = null;
    if (m?.video) {
      m.video.endpoint.onRtp = null;
      m.video.endpoint.onKeyframeRequest = null;
    }
    this.voice?.removeSource(id);
    this.voice?.removeViewer(id);
    this.fanout.removeParticipant(id);
    this.mixer.removeParticipant(id);
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

  private videoStats(id: ParticipantId, video: RtpVideo): Partial<RouterParticipantStats> {
    const ep = video.endpoint;
    const showing = this.voice?.showing(id);
    return { videoPacketsIn: ep.packetsReceived, videoPacketsOut: ep.packetsSent, ...(showing ? { videoShowing: showing } : {}) };
  }

  /** Idempotent; the endpoints belong to the calls and are closed by them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregisterTick();
    for (const id of [...this.members.keys(), ...this.browsers.keys()]) this.removeParticipant(id);
    this.fanout.close();
    this.voice?.close();
    this.mixer.close();
    this.removeAllListeners();
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
      if (m.input && !m.held) {
        m.input.pushRtp(pkt.sequence, pkt.payload);
        m.plain?.forward(pkt);
      }
    } else if (f && pkt.payloadType === f.telephoneEventPayloadType) {
      const digit = m.dtmf.push(pkt.timestamp, pkt.payload);
      if (digit) this.emit('dtmf', m.id, digit);
    } else {
      m.ignored++;
    }
  }
}
