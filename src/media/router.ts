/**
 * MediaRouter: one per conference per node. Glues each SIP participant's RtpEndpoint to the
 * conference's AudioMixer (audio payload type -> jitter buffer, mix -> endpoint) and to a DTMF
 * recognizer (telephone-event payload type). Packets go through plain callbacks and counters;
 * events (active speaker, digits) are control-rate only.
 */
import { TypedEmitter, type ConferenceId, type Logger, type ParticipantId } from '../common';
import { audioCodecNameOf, type AudioCodecFactory } from './codecs/codec';
import { DtmfRecognizer } from './dtmf';
import { AudioMixer, type MixerInput } from './mixer/audio-mixer';
import type { MixClock } from './mixer/mix-clock';
import type { RtpEndpoint } from './rtp/rtp-endpoint';
import type { RtpView } from './rtp/packet';

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
}

export class MediaRouter extends TypedEmitter<MediaRouterEvents> {
  private readonly mixer: AudioMixer<ParticipantId>;
  private readonly members = new Map<ParticipantId, RtpMember>();
  private readonly unregisterTick: () => void;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: MediaRouterOptions) {
    super((err, event) => opts.logger.error({ conference: opts.name, event: String(event), err: String(err) }, 'router listener failed'));
    this.log = opts.logger.child({ conference: opts.name, conferenceId: opts.conferenceId });
    this.mixer = new AudioMixer<ParticipantId>({ maxTalkers: opts.maxTalkers, codecFactory: opts.codecFactory });
    this.mixer.on('activeSpeaker', (id) => this.emit('activeSpeaker', id));
    this.unregisterTick = opts.mixClock.register(() => this.mixer.tick());
  }

  get activeSpeaker(): ParticipantId | undefined {
    return this.mixer.activeSpeaker;
  }

  get size(): number {
    return this.members.size;
  }

  hasParticipant(id: ParticipantId): boolean {
    return this.members.has(id);
  }

  /**
   * Adds a SIP participant; `format` undefined while our offer awaits its answer (no media yet).
   * A participant added with admitted=false only has its DTMF digits heard (PIN entry) until admit().
   */
  addRtpParticipant(id: ParticipantId, endpoint: RtpEndpoint, format: AudioFormat | undefined, admitted = true): void {
    if (this.closed || this.members.has(id)) return;
    const member: RtpMember = { id, endpoint, format: undefined, input: undefined, dtmf: new DtmfRecognizer(), ignored: 0, admitted };
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
      jitter: { prefillMs: Math.min(this.opts.jitterBufferMs, 100), maxDelayMs: Math.max(this.opts.jitterBufferMs * 2, 80) },
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
    if (!m) return;
    this.members.delete(id);
    m.endpoint.onRtp = null;
    this.mixer.removeParticipant(id);
  }

  /** A digit signalled out of band (SIP INFO) joins the same event stream as RFC 4733 digits. */
  injectDtmf(id: ParticipantId, digit: string): void {
    if (this.members.has(id)) this.emit('dtmf', id, digit);
  }

  participantStats(id: ParticipantId): RouterParticipantStats | undefined {
    const m = this.members.get(id);
    if (!m) return undefined;
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
    for (const id of [...this.members.keys()]) this.removeParticipant(id);
    this.mixer.close();
    this.removeAllListeners();
  }

  private onRtp(m: RtpMember, pkt: RtpView): void {
    const f = m.format;
    if (f && pkt.payloadType === f.payloadType) {
      // Not admitted yet (PIN entry): the caller's audio stays out of the conference.
      m.input?.pushRtp(pkt.sequence, pkt.payload);
    } else if (f && pkt.payloadType === f.telephoneEventPayloadType) {
      const digit = m.dtmf.push(pkt.timestamp, pkt.payload);
      if (digit) this.emit('dtmf', m.id, digit);
    } else {
      m.ignored++;
    }
  }
}
