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
import { WebRtcFanout, type PlainAudioSource, type WebRtcEndpoint } from './werift';

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
}

export type MediaRouterEvents = {
  activeSpeaker: [id: ParticipantId | undefined];
  dtmf: [id: ParticipantId, digit: string];
};

export interface RouterParticipantStats {
  packetsIn: number;
  packetsOut: number;
  packetsDropped: number;
  audioCodec: string | undefined;
  talker: boolean;
  levelDbov: number;
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
  private readonly unregisterTick: () => void;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: MediaRouterOptions) {
    super((err, event) => opts.logger.error({ conference: opts.name, event: String(event), err: String(err) }, 'router listener failed'));
    this.log = opts.logger.child({ conference: opts.name, conferenceId: opts.conferenceId });
    this.mixer = new AudioMixer<ParticipantId>({ maxTalkers: opts.maxTalkers, codecFactory: opts.codecFactory });
    this.mixer.on('activeSpeaker', (id) => this.emit('activeSpeaker', id));
    this.fanout = new WebRtcFanout({ clock: opts.clock ?? systemClock });
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
    const member: RtpMember = { id, endpoint, format: undefined, input: undefined, dtmf: new DtmfRecognizer(), ignored: 0, admitted, plain: undefined };
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

  /** Lets a waiting participant (PIN entered) into the mix. */
  admit(id: ParticipantId): void {
    const m = this.members.get(id);
    if (!m || m.admitted) return;
    m.admitted = true;
    if (m.format) this.updateRtpParticipant(id, m.format);
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
    this.fanout.removeParticipant(id);
    this.mixer.removeParticipant(id);
  }

  /** A digit signalled out of band (SIP INFO) joins the same event stream as RFC 4733 digits. */
  injectDtmf(id: ParticipantId, digit: string): void {
    if (this.hasParticipant(id)) this.emit('dtmf', id, digit);
  }

  participantStats(id: ParticipantId): RouterParticipantStats | undefined {
    const m = this.members.get(id);
    if (!m) return this.browserStats(id);
    const ep = m.endpoint.stats();
    const mix = this.mixer.participantStats(id);
    const dropped = Object.values(ep.dropped).reduce((a, b) => a + b, 0);
    return {
      packetsIn: ep.packetsIn,
      packetsOut: ep.packetsOut,
      packetsDropped: dropped + m.ignored + (mix ? mix.late + mix.dropped + mix.malformed : 0),
      audioCodec: m.format?.name,
      talker: mix?.talker ?? false,
      levelDbov: mix?.levelDbov ?? -127,
    };
  }

  /** Idempotent; the endpoints belong to the calls and are closed by them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregisterTick();
    for (const id of [...this.members.keys(), ...this.browsers.keys()]) this.removeParticipant(id);
    this.fanout.close();
    this.mixer.close();
    this.removeAllListeners();
  }

  private browserStats(id: ParticipantId): RouterParticipantStats | undefined {
    const b = this.browsers.get(id);
    if (!b) return undefined;
    const ep = b.endpoint.stats();
    const mix = this.mixer.participantStats(id);
    return {
      packetsIn: ep.packetsIn,
      packetsOut: ep.packetsOut,
      packetsDropped: ep.packetsDropped + (mix ? mix.late + mix.dropped + mix.malformed : 0),
      audioCodec: 'opus',
      talker: mix?.talker ?? false,
      levelDbov: mix?.levelDbov ?? -127,
    };
  }

  private jitterOptions(): { prefillMs: number; maxDelayMs: number } {
    return { prefillMs: Math.min(this.opts.jitterBufferMs, 100), maxDelayMs: Math.max(this.opts.jitterBufferMs * 2, 80) };
  }

  private onRtp(m: RtpMember, pkt: RtpView): void {
    const f = m.format;
    if (f && pkt.payloadType === f.payloadType) {
      // Not admitted yet (PIN entry): the caller's audio stays out of the conference.
      if (m.input) {
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
