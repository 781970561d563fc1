/**
 * ITU-T G.711 u-law (PCMU) and A-law (PCMA): 256-entry decode tables and 65536-entry encode
 * tables built once at load, plus the 8 <-> 16 kHz resampling. Never allocates per sample, never
 * throws on network input.
 */
import { Downsampler2x, Upsampler2x } from './resample';
import { MAX_DECODED_SAMPLES, MIX_FRAME_SAMPLES, type AudioCodec, type AudioCodecName } from './types';

/** u-law silence (+0) and A-law silence (+8, the code closest to zero). */
export const PCMU_SILENCE = 0xff;
export const PCMA_SILENCE = 0xd5;

function ulawDecodeByte(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

function ulawEncodeSample(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let sign = 0;
  let x = sample;
  if (x < 0) {
    sign = 0x80;
    x = -x;
  }
  if (x > CLIP) x = CLIP;
  x += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; exponent > 0 && (x & mask) === 0; mask >>= 1) exponent--;
  const mantissa = (x >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function alawDecodeByte(code: number): number {
  const a = code ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

function alawEncodeSample(sample: number): number {
  // A-law works on 13 bits; negative values are coded as one's complement magnitude.
  let mask: number;
  let x = sample >> 3;
  if (x >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    x = -x - 1;
  }
  if (x > 0xfff) x = 0xfff;
  let code: number;
  if (x < 32) {
    code = x >> 1;
  } else {
    let exponent = 1;
    while (exponent < 7 && x >= 32 << exponent) exponent++;
    code = (exponent << 4) | ((x >> exponent) & 0x0f);
  }
  return (code ^ mask) & 0xff;
}

function buildDecodeTable(decode: (code: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let i = 0; i < 256; i++) t[i] = decode(i);
  return t;
}

function buildEncodeTable(encode: (sample: number) => number): Uint8Array {
  // Indexed by the 16-bit two's complement pattern (sample & 0xffff).
  const t = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = encode(i >= 32768 ? i - 65536 : i);
  return t;
}

export const ULAW_DECODE: Int16Array = buildDecodeTable(ulawDecodeByte);
export const ALAW_DECODE: Int16Array = buildDecodeTable(alawDecodeByte);
export const ULAW_ENCODE: Uint8Array = buildEncodeTable(ulawEncodeSample);
export const ALAW_ENCODE: Uint8Array = buildEncodeTable(alawEncodeSample);

// Scratch for the 8 kHz leg; safe to share because decode/encode never re-enter.
const narrow = new Int16Array(MAX_DECODED_SAMPLES);

/** One G.711 stream direction pair: decode keeps upsampler state, encode keeps downsampler state. */
export class G711Codec implements AudioCodec {
  readonly clockRate = 8000;
  readonly rtpSamplesPer20ms = 160;
  private encodes = 0;
  private readonly up = new Upsampler2x();
  private readonly down = new Downsampler2x(MIX_FRAME_SAMPLES * 3);
  private readonly decodeTable: Int16Array;
  private readonly encodeTable: Uint8Array;
  private readonly silence: number;

  constructor(readonly name: Extract<AudioCodecName, 'PCMU' | 'PCMA'>) {
    const mu = name === 'PCMU';
    this.decodeTable = mu ? ULAW_DECODE : ALAW_DECODE;
    this.encodeTable = mu ? ULAW_ENCODE : ALAW_ENCODE;
    this.silence = mu ? PCMU_SILENCE : PCMA_SILENCE;
  }

  get encodeCount(): number {
    return this.encodes;
  }

  samplesIn(payload: Buffer): number {
    const n = payload.length * 2;
    return n > MAX_DECODED_SAMPLES ? 0 : n;
  }

  decode(payload: Buffer, out: Int16Array, offset: number): number {
    const room = (out.length - offset) >> 1;
    const n = Math.min(payload.length, room, MAX_DECODED_SAMPLES >> 1);
    const table = this.decodeTable;
    for (let i = 0; i < n; i++) narrow[i] = table[payload[i] ?? this.silence] ?? 0;
    return this.up.process(narrow, n, out, offset);
  }

  conceal(out: Int16Array, offset: number, samples: number): number {
    // Silence through the upsampler keeps its history continuous (no click on the next packet).
    const n = Math.min(samples >> 1, (out.length - offset) >> 1, MAX_DECODED_SAMPLES >> 1);
    narrow.fill(0, 0, n);
    return this.up.process(narrow, n, out, offset);
  }

  encode(pcm: Int16Array): Buffer {
    this.encodes++;
    const n = this.down.process(pcm, pcm.length & ~1, narrow);
    const bytes = Buffer.allocUnsafe(n);
    const table = this.encodeTable;
    for (let i = 0; i < n; i++) bytes[i] = table[(narrow[i] ?? 0) & 0xffff] ?? this.silence;
    return bytes;
  }

  close(): void {
    this.up.reset();
    this.down.reset();
  }
}

/** Encodes one 8 kHz sample (tests and tools; the codec uses the tables). */
export function encodeUlaw(sample: number): number {
  return ULAW_ENCODE[sample & 0xffff] ?? PCMU_SILENCE;
}

export function encodeAlaw(sample: number): number {
  return ALAW_ENCODE[sample & 0xffff] ?? PCMA_SILENCE;
}
