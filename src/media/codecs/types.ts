/**
 * The audio codec contract shared by the jitter buffer and the mixer, and the mixer's fixed PCM
 * format (16 kHz mono, 20 ms frames). Holds no state and must never import a codec library.
 */

export type AudioCodecName = 'PCMU' | 'PCMA' | 'opus' | 'G722';

/** Every codec name, in the order used to index per-codec arrays (see codecIndex). */
export const AUDIO_CODEC_NAMES: readonly AudioCodecName[] = ['PCMU', 'PCMA', 'opus', 'G722'];

/** The mixer works on 16 kHz mono: wideband enough for Opus talkers, a cheap x2 from G.711. */
export const MIX_SAMPLE_RATE = 16000;
export const MIX_FRAME_MS = 20;
export const MIX_FRAME_SAMPLES = (MIX_SAMPLE_RATE / 1000) * MIX_FRAME_MS;
/** Longest payload we decode, in mixer samples: 120 ms, the Opus maximum (also bounds G.711). */
export const MAX_DECODED_SAMPLES = (MIX_SAMPLE_RATE / 1000) * 120;

export interface AudioCodec {
  readonly name: AudioCodecName;
  /** RTP clock rate (8000 for G.711 and G.722 per RFC 3551 section 4.5.2, 48000 for Opus per RFC 7587). */
  readonly clockRate: number;
  /** RTP timestamp increment of one 20 ms frame produced by encode(). */
  readonly rtpSamplesPer20ms: number;
  /**
   * Duration of a received payload in mixer samples, without decoding it; 0 if the payload is
   * malformed or longer than MAX_DECODED_SAMPLES (the caller drops it).
   */
  samplesIn(payload: Buffer): number;
  /**
   * Decodes one RTP payload into `out` at `offset` (mixer rate). Returns samples written, 0 if the
   * payload could not be decoded. Never writes past out.length and never throws on bad input.
   */
  decode(payload: Buffer, out: Int16Array, offset: number): number;
  /** Fills `samples` mixer-rate samples for a lost packet (PLC where the codec has it). */
  conceal(out: Int16Array, offset: number, samples: number): number;
  /** Encodes one 20 ms mixer frame (MIX_FRAME_SAMPLES). The Buffer is fresh, owned by the caller. */
  encode(pcm: Int16Array): Buffer;
  /** Number of encode() calls so far (tests and stats use it to prove sharing). */
  readonly encodeCount: number;
  close(): void;
}

export interface AudioCodecOptions {
  /** Opus encoder complexity 0-10 (default 3; see opus.ts for measured costs). */
  opusComplexity?: number;
  /** Opus encoder mode: 'audio' (CELT, default, cheapest) or 'voip' (SILK). */
  opusApplication?: 'audio' | 'voip';
  /** Opus target bitrate in bit/s (default 32000). */
  opusBitrate?: number;
}

export type AudioCodecFactory = (name: AudioCodecName) => AudioCodec;

const CODEC_INDEX: Readonly<Record<AudioCodecName, number>> = { PCMU: 0, PCMA: 1, opus: 2, G722: 3 };

/** Position of `name` in AUDIO_CODEC_NAMES (per-codec arrays are sized from its length). */
export function codecIndex(name: AudioCodecName): number {
  return CODEC_INDEX[name];
}
