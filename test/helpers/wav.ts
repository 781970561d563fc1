/**
 * WAV files for real-peer tests: writes tone files (u-law for sipp's rtp_stream, s16 for baresip's
 * aufile) and reads recordings (baresip sndfile `*-dec.wav`). Tolerates a data size that was never
 * finalised (a peer killed mid-call). Never trusts a header field to index past the buffer.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Wav {
  sampleRate: number;
  channels: number;
  /** First channel only, 16-bit linear. */
  samples: Int16Array;
}

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_ULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/** G.711 u-law encode of one 16-bit linear sample (bias 0x84, clip 32635). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = Math.round(sample);
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s = Math.min(s, CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  if (magnitude > 32767) magnitude = 32767;
  return a & 0x80 ? magnitude : -magnitude;
}

/** A sine tone as 16-bit samples (amplitude 8000 as in gen_ulaw_wav.py). */
export function sineSamples(freq: number, seconds: number, sampleRate: number, amplitude = 8000): Int16Array {
  const n = Math.floor(sampleRate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / sampleRate));
  return out;
}

function wavFile(formatTag: number, sampleRate: number, bitsPerSample: number, data: Buffer): Buffer {
  const blockAlign = bitsPerSample / 8;
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(formatTag, 0);
  fmt.writeUInt16LE(1, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE(sampleRate * blockAlign, 8);
  fmt.writeUInt16LE(blockAlign, 12);
  fmt.writeUInt16LE(bitsPerSample, 14);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(4 + 8 + fmt.length + 8 + data.length, 4);
  head.write('WAVE', 8, 'ascii');
  const chunk = (id: string, len: number): Buffer => {
    const b = Buffer.alloc(8);
    b.write(id, 0, 'ascii');
    b.writeUInt32LE(len, 4);
    return b;
  };
  return Buffer.concat([head, chunk('fmt ', fmt.length), fmt, chunk('data', data.length), data]);
}

/** 8 kHz mono u-law WAV (format tag 7) holding `freq` Hz: what sipp's rtp_stream plays as PCMU. */
export function writeUlawToneWav(path: string, freq: number, seconds: number): void {
  const pcm = sineSamples(freq, seconds, 8000);
  const data = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) data[i] = linearToUlaw(pcm[i] ?? 0);
  writeFileSync(path, wavFile(FORMAT_ULAW, 8000, 8, data));
}

/** Mono 16-bit PCM WAV holding `freq` Hz (freq 0 = silence): a source for baresip's aufile. */
export function writePcmToneWav(path: string, freq: number, seconds: number, sampleRate = 8000): void {
  const pcm = freq > 0 ? sineSamples(freq, seconds, sampleRate) : new Int16Array(sampleRate * seconds);
  writeFileSync(path, wavFile(FORMAT_PCM, sampleRate, 16, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)));
}

interface FmtInfo {
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
}

function readFmt(buf: Buffer, off: number, len: number): FmtInfo {
  if (len < 16 || off + 16 > buf.length) throw new Error('WAV fmt chunk too short');
  let format = buf.readUInt16LE(off);
  if (format === FORMAT_EXTENSIBLE && len >= 26 && off + 26 <= buf.length) format = buf.readUInt16LE(off + 24);
  return {
    format,
    channels: buf.readUInt16LE(off + 2),
    sampleRate: buf.readUInt32LE(off + 4),
    bits: buf.readUInt16LE(off + 14),
  };
}

/** Parses a WAV buffer (PCM s16, u-law or A-law); returns the first channel as 16-bit samples. */
export function parseWav(buf: Buffer): Wav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let fmt: FmtInfo | undefined;
  let off = 12;
  for (let guard = 0; guard < 64 && off + 8 <= buf.length; guard++) {
    const id = buf.toString('ascii', off, off + 4);
    const len = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') fmt = readFmt(buf, body, len);
    if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before fmt chunk');
      // A recorder killed mid-call leaves 0 (or a stale size): take what the file holds.
      const end = len === 0 || body + len > buf.length ? buf.length : body + len;
      return decodeData(buf.subarray(body, end), fmt);
    }
    off = body + len + (len % 2);
  }
  throw new Error('WAV without data chunk');
}

function decodeData(data: Buffer, fmt: FmtInfo): Wav {
  const channels = Math.max(1, fmt.channels);
  const bytesPerSample = fmt.format === FORMAT_PCM ? 2 : 1;
  if (fmt.format === FORMAT_PCM && fmt.bits !== 16) throw new Error(`unsupported PCM width ${fmt.bits}`);
  if (![FORMAT_PCM, FORMAT_ULAW, FORMAT_ALAW].includes(fmt.format)) {
    throw new Error(`unsupported WAV format ${fmt.format}`);
  }
  const frame = bytesPerSample * channels;
  const n = Math.floor(data.length / frame);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * frame;
    if (fmt.format === FORMAT_PCM) samples[i] = data.readInt16LE(at);
    else if (fmt.format === FORMAT_ULAW) samples[i] = ulawToLinear(data[at] ?? 0xff);
    else samples[i] = alawToLinear(data[at] ?? 0xd5);
  }
  return { sampleRate: fmt.sampleRate, channels, samples };
}

export function readWav(path: string): Wav {
  return parseWav(readFileSync(path));
}
