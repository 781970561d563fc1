/**
 * One conference's audio mixer: per participant a jitter buffer and decoder; every tick (20 ms)
 * the few loudest talkers are summed once, each talker gets the sum minus itself, and every other
 * listener shares one mix encoded once per codec. Never allocates per frame beyond the encoded
 * payloads, never emits per packet, never lets one participant's failure stop the room.
 */
import { ConfnodeError, TypedEmitter } from '../../common';
import { ActiveSpeakerDetector, type ActiveSpeakerOptions } from '../active-speaker';
import { createAudioCodec } from '../codecs/codec';
import {
  AUDIO_CODEC_NAMES,
  MIX_FRAME_MS,
  MIX_FRAME_SAMPLES,
  codecIndex,
  type AudioCodec,
  type AudioCodecFactory,
  type AudioCodecName,
} from '../codecs/types';
import { JitterBuffer, type JitterBufferOptions, type JitterBufferStats } from './jitter-buffer';
import { SILENCE_DBOV, frameLevelDbov } from './levels';
import { Limiter } from './limiter';

/** Receives one encoded 20 ms payload; the same Buffer may go to several listeners: never mutate it. */
export type AudioSink = (payload: Buffer, rtpTimestampStep: number) => void;

export interface MixerParticipantOptions {
  /** Codec of the RTP payloads given to pushRtp. */
  recvCodec: AudioCodecName;
  /** Codec this participant receives; required with `send`. */
  sendCodec?: AudioCodecName;
  /** Where the participant's mix goes. Omit for contribute-only participants (SFU browsers). */
  send?: AudioSink;
  jitter?: JitterBufferOptions;
}

export interface AudioMixerOptions {
  /** Most participants mixed at once (default 3). */
  maxTalkers?: number;
  /** Level a frame needs to count as voice, dBov (default -45). */
  vadThresholdDbov?: number;
  /** A talker keeps its slot this long after its last voiced frame, ms (default 300). */
  talkerHangoverMs?: number;
  /** Bonus a current talker gets when ranking, dB, so slots do not flap (default 6). */
  talkerStickinessDb?: number;
  codecFactory?: AudioCodecFactory;
  activeSpeaker?: ActiveSpeakerOptions;
}

export interface MixerParticipantStats extends JitterBufferStats {
  framesMixed: number;
  framesSent: number;
  sendErrors: number;
  /** Level of the last frame pulled, dBov (-127 when nothing played). */
  levelDbov: number;
  talker: boolean;
  muted: boolean;
}

export interface AudioMixerStats {
  ticks: number;
  participants: number;
  talkers: number;
  /** Encodes of the shared (non-talker) mix, per codec name. */
  sharedEncodes: Record<AudioCodecName, number>;
  talkerEncodes: number;
  encodeErrors: number;
  /** Ticks in level-only mode (nobody listened), and packets taken for their level alone. */
  levelOnlyTicks: number;
  levelOnlyPackets: number;
}

export type AudioMixerEvents<Id extends string> = {
  /** The dominant speaker changed (undefined: nobody, e.g. after they left). */
  activeSpeaker: [id: Id | undefined];
};

/** The per-packet entry point returned by addParticipant, so the glue skips a Map lookup. */
export interface MixerInput {
  /**
   * One RTP payload of the participant. `level`: the packet's RFC 6464 audio level (0..127, -1 or
   * absent: none). While nobody listens to the mix (no participant has a sink: a room of browsers,
   * who get each other's audio from the SFU), a packet with a level is not decoded at all: its
   * level alone feeds the active speaker, as Jitsi's bridge does.
   */
  pushRtp(seq: number, payload: Buffer, level?: number): boolean;
}

/** What a member needs to know of its mixer on the packet path. */
interface MixerMode {
  readonly levelOnly: boolean;
  readonly tickCount: number;
}

/** A level heard this many ticks ago still counts (packets are 20 ms apart, give or take jitter). */
const LEVEL_HOLD_TICKS = 5;

class Member<Id extends string> implements MixerInput {
  readonly pcm = new Int16Array(MIX_FRAME_SAMPLES);
  readonly limiter = new Limiter();
  readonly sendCodecIdx: number;
  ownEncoder: AudioCodec | undefined;
  hasFrame = false;
  muted = false;
  level = SILENCE_DBOV;
  smoothed = SILENCE_DBOV;
  lastVoiceTick = -1e9;
  talker = false;
  wasTalker = false;
  framesMixed = 0;
  framesSent = 0;
  sendErrors = 0;
  /** Level-only mode: the last RFC 6464 level heard (dBov) and the tick it came in; -1: none yet. */
  heardLevel = SILENCE_DBOV;
  heardTick = -1;
  /** Packets taken for their level alone (not decoded). */
  levelOnlyPackets = 0;

  constructor(
    private readonly mode: MixerMode,
    readonly id: Id,
    readonly decoder: AudioCodec,
    readonly jb: JitterBuffer,
    readonly sendCodec: AudioCodecName,
    readonly send: AudioSink | undefined,
  ) {
    this.sendCodecIdx = codecIndex(sendCodec);
  }

  pushRtp(seq: number, payload: Buffer, level = -1): boolean {
    if (this.mode.levelOnly && level >= 0) {
      this.heardLevel = -level;
      this.heardTick = this.mode.tickCount;
      this.levelOnlyPackets++;
      return true;
    }
    return this.jb.push(seq, payload);
  }
}

const RANK_SMOOTHING = 0.3;

export class AudioMixer<Id extends string = string> extends TypedEmitter<AudioMixerEvents<Id>> implements MixerMode {
  /** Nobody listens to the mix: inputs with RFC 6464 levels are not decoded (MixerInput.pushRtp). */
  levelOnly = true;
  private readonly members: Member<Id>[] = [];
  private readonly byId = new Map<Id, Member<Id>>();
  private readonly talkers: Member<Id>[] = [];
  private talkerCount = 0;
  private readonly sum = new Int32Array(MIX_FRAME_SAMPLES);
  private readonly minusOwn = new Int32Array(MIX_FRAME_SAMPLES);
  private readonly sharedPcm = new Int16Array(MIX_FRAME_SAMPLES);
  private readonly talkerPcm = new Int16Array(MIX_FRAME_SAMPLES);
  private readonly sharedLimiter = new Limiter();
  private readonly sharedEncoders: (AudioCodec | undefined)[] = AUDIO_CODEC_NAMES.map(() => undefined);
  private readonly sharedPayloads: (Buffer | undefined)[] = AUDIO_CODEC_NAMES.map(() => undefined);
  private readonly sharedNeeded: boolean[] = AUDIO_CODEC_NAMES.map(() => false);
  private readonly detector: ActiveSpeakerDetector<Id>;
  private readonly factory: AudioCodecFactory;
  private readonly maxTalkers: number;
  private readonly vadThreshold: number;
  private readonly hangoverTicks: number;
  private readonly stickiness: number;
  private ticks = 0;
  private levelOnlyTicks = 0;
  private talkerEncodes = 0;
  private encodeErrors = 0;
  private closed = false;

  constructor(options: AudioMixerOptions = {}) {
    super();
    this.maxTalkers = Math.max(1, Math.floor(options.maxTalkers ?? 3));
    this.vadThreshold = options.vadThresholdDbov ?? -45;
    this.hangoverTicks = Math.round((options.talkerHangoverMs ?? 300) / MIX_FRAME_MS);
    this.stickiness = options.talkerStickinessDb ?? 6;
    this.factory = options.codecFactory ?? ((name) => createAudioCodec(name));
    this.detector = new ActiveSpeakerDetector<Id>({ thresholdDbov: this.vadThreshold, ...options.activeSpeaker });
  }

  get size(): number {
    return this.members.length;
  }

  get tickCount(): number {
    return this.ticks;
  }

  get activeSpeaker(): Id | undefined {
    return this.detector.dominant;
  }

  addParticipant(id: Id, options: MixerParticipantOptions): MixerInput {
    if (this.closed) throw new ConfnodeError('closed', 'audio mixer is closed');
    if (this.byId.has(id)) throw new ConfnodeError('bad-request', `participant ${id} already in the mixer`);
    if (options.send && !options.sendCodec) {
      throw new ConfnodeError('bad-request', `participant ${id} has a sink but no send codec`);
    }
    const decoder = this.factory(options.recvCodec);
    const jb = new JitterBuffer(decoder, options.jitter);
    const m = new Member(this, id, decoder, jb, options.sendCodec ?? options.recvCodec, options.send);
    this.members.push(m);
    this.byId.set(id, m);
    this.updateMode();
    return m;
  }

  has(id: Id): boolean {
    return this.byId.has(id);
  }

  removeParticipant(id: Id): boolean {
    const m = this.byId.get(id);
    if (!m) return false;
    this.byId.delete(id);
    this.members.splice(this.members.indexOf(m), 1);
    m.decoder.close();
    m.ownEncoder?.close();
    if (this.detector.remove(id)) this.emit('activeSpeaker', undefined);
    this.updateMode();
    return true;
  }

  /**
   * Level-only while no participant has a sink. Into it, every buffer is emptied (what it held
   * would play late when a listener comes); out of it, inputs fill their buffers from the next
   * packet on, like a stream that starts.
   */
  private updateMode(): void {
    const levelOnly = !this.members.some((m) => m.send !== undefined);
    if (levelOnly === this.levelOnly) return;
    this.levelOnly = levelOnly;
    for (const m of this.members) {
      m.heardTick = -1;
      if (levelOnly) m.jb.reset();
    }
  }

  /** Per received RTP packet of the participant's negotiated audio payload type. */
  pushRtp(id: Id, seq: number, payload: Buffer): boolean {
    const m = this.byId.get(id);
    return m ? m.jb.push(seq, payload) : false;
  }

  /** A muted participant still receives the mix but contributes nothing. */
  setMuted(id: Id, muted: boolean): void {
    const m = this.byId.get(id);
    if (m) m.muted = muted;
  }

  isTalker(id: Id): boolean {
    return this.byId.get(id)?.talker ?? false;
  }

  /** Current talkers (control rate: allocates). */
  currentTalkers(): Id[] {
    return this.talkers.slice(0, this.talkerCount).map((m) => m.id);
  }

  participantStats(id: Id): MixerParticipantStats | undefined {
    const m = this.byId.get(id);
    if (!m) return undefined;
    return {
      ...m.jb.stats,
      framesMixed: m.framesMixed,
      framesSent: m.framesSent,
      sendErrors: m.sendErrors,
      levelDbov: m.level,
      talker: m.talker,
      muted: m.muted,
    };
  }

  /** Packets of the participant the jitter buffer threw away (late, over capacity, malformed); cheap. */
  participantDrops(id: Id): number {
    const st = this.byId.get(id)?.jb.stats;
    return st ? st.late + st.dropped + st.malformed : 0;
  }

  /** Level of the participant's last frame, dBov (-127: nothing played or not in the mixer); cheap. */
  participantLevel(id: Id): number {
    return this.byId.get(id)?.level ?? SILENCE_DBOV;
  }

  stats(): AudioMixerStats {
    const sharedEncodes: Record<AudioCodecName, number> = { PCMU: 0, PCMA: 0, opus: 0, G722: 0 };
    for (const name of AUDIO_CODEC_NAMES) sharedEncodes[name] = this.sharedEncoders[codecIndex(name)]?.encodeCount ?? 0;
    return {
      ticks: this.ticks,
      participants: this.members.length,
      talkers: this.talkerCount,
      sharedEncodes,
      talkerEncodes: this.talkerEncodes,
      encodeErrors: this.encodeErrors,
      levelOnlyTicks: this.levelOnlyTicks,
      levelOnlyPackets: this.members.reduce((n, m) => n + m.levelOnlyPackets, 0),
    };
  }

  /** One 20 ms mix for the room. Called by the MixClock; never throws. */
  tick(): void {
    if (this.closed) return;
    this.ticks++;
    if (this.levelOnly) this.levelOnlyTicks++;
    this.pullFrames();
    this.selectTalkers();
    this.sumTalkers();
    this.sendShared();
    this.sendTalkers();
    if (this.detector.decide(this.ticks * MIX_FRAME_MS)) this.emit('activeSpeaker', this.detector.dominant);
  }

  /** Idempotent: frees every codec; later ticks do nothing. */
  close(): void {
    if (this.closed) return;
    for (const m of [...this.members]) this.removeParticipant(m.id);
    for (const enc of this.sharedEncoders) enc?.close();
    this.sharedEncoders.fill(undefined);
    this.sharedPayloads.fill(undefined);
    this.closed = true;
    this.removeAllListeners();
  }

  private pullFrames(): void {
    const members = this.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (!m) continue;
      if (this.levelOnly && m.heardTick >= 0) {
        // Nobody listens: the level its packets carry (held 100 ms), nothing decoded (see MixerInput).
        m.hasFrame = false;
        m.level = !m.muted && this.ticks - m.heardTick <= LEVEL_HOLD_TICKS ? m.heardLevel : SILENCE_DBOV;
      } else {
        // A muted participant's buffer is still drained so it does not overflow or lag.
        m.hasFrame = m.jb.pull(m.pcm) && !m.muted;
        m.level = m.hasFrame ? frameLevelDbov(m.pcm, MIX_FRAME_SAMPLES) : SILENCE_DBOV;
      }
      m.smoothed += (m.level - m.smoothed) * RANK_SMOOTHING;
      if (m.level > this.vadThreshold) m.lastVoiceTick = this.ticks;
      this.detector.observe(m.id, m.level);
    }
  }

  /** Picks up to maxTalkers voiced participants by smoothed level; current talkers get a bonus. */
  private selectTalkers(): void {
    const members = this.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (!m) continue;
      m.wasTalker = m.talker;
      m.talker = false;
    }
    this.talkerCount = 0;
    for (let k = 0; k < this.maxTalkers; k++) {
      let best: Member<Id> | undefined;
      let bestScore = -Infinity;
      for (let i = 0; i < members.length; i++) {
        const m = members[i];
        if (!m || m.talker || !m.hasFrame || this.ticks - m.lastVoiceTick > this.hangoverTicks) continue;
        const score = m.smoothed + (m.wasTalker ? this.stickiness : 0);
        if (score > bestScore) {
          bestScore = score;
          best = m;
        }
      }
      if (!best) break;
      best.talker = true;
      this.talkers[this.talkerCount++] = best;
    }
  }

  private sumTalkers(): void {
    const sum = this.sum;
    sum.fill(0);
    for (let t = 0; t < this.talkerCount; t++) {
      const m = this.talkers[t];
      if (!m) continue;
      m.framesMixed++;
      const pcm = m.pcm;
      for (let i = 0; i < MIX_FRAME_SAMPLES; i++) sum[i] = (sum[i] ?? 0) + (pcm[i] ?? 0);
    }
  }

  /** Encodes the all-talkers mix once per codec some non-talker listener needs, and sends it. */
  private sendShared(): void {
    const members = this.members;
    const needed = this.sharedNeeded;
    needed.fill(false);
    let any = false;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m && m.send && !m.talker) needed[m.sendCodecIdx] = any = true;
    }
    if (!any) return;
    this.sharedLimiter.process(this.sum, this.sharedPcm, MIX_FRAME_SAMPLES);
    for (let c = 0; c < needed.length; c++) {
      this.sharedPayloads[c] = needed[c] ? this.encodeSafe(this.sharedEncoder(c), this.sharedPcm) : undefined;
    }
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (!m || !m.send || m.talker) continue;
      const payload = this.sharedPayloads[m.sendCodecIdx];
      const enc = this.sharedEncoders[m.sendCodecIdx];
      if (payload && enc) this.deliver(m, m.send, payload, enc.rtpSamplesPer20ms);
    }
  }

  /** Each talker with a sink hears the sum minus its own frame, through its own encoder. */
  private sendTalkers(): void {
    const sum = this.sum;
    const minus = this.minusOwn;
    for (let t = 0; t < this.talkerCount; t++) {
      const m = this.talkers[t];
      if (!m || !m.send) continue;
      const pcm = m.pcm;
      for (let i = 0; i < MIX_FRAME_SAMPLES; i++) minus[i] = (sum[i] ?? 0) - (pcm[i] ?? 0);
      m.limiter.process(minus, this.talkerPcm, MIX_FRAME_SAMPLES);
      if (!m.ownEncoder) m.ownEncoder = this.factory(m.sendCodec);
      this.talkerEncodes++;
      const payload = this.encodeSafe(m.ownEncoder, this.talkerPcm);
      if (payload) this.deliver(m, m.send, payload, m.ownEncoder.rtpSamplesPer20ms);
    }
  }

  private sharedEncoder(c: number): AudioCodec {
    let enc = this.sharedEncoders[c];
    if (!enc) {
      enc = this.factory(AUDIO_CODEC_NAMES[c] ?? 'PCMU');
      this.sharedEncoders[c] = enc;
    }
    return enc;
  }

  private encodeSafe(enc: AudioCodec, pcm: Int16Array): Buffer | undefined {
    try {
      return enc.encode(pcm);
    } catch {
      this.encodeErrors++;
      return undefined;
    }
  }

  private deliver(m: Member<Id>, send: AudioSink, payload: Buffer, step: number): void {
    try {
      send(payload, step);
      m.framesSent++;
    } catch {
      m.sendErrors++;
    }
  }
}
