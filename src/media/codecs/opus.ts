/**
 * Opus (RFC 6716 / RFC 7587) through @discordjs/opus, decoding and encoding at the mixer's
 * 16 kHz mono; the RTP clock stays 48 kHz. The only file that imports @discordjs/opus: never
 * let a native exception escape to the packet path.
 */
import { OpusEncoder } from '@discordjs/opus';
import { MAX_DECODED_SAMPLES, MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE, type AudioCodec } from './types';

const OPUS_SET_APPLICATION_REQUEST = 4000;
const OPUS_APPLICATION_VOIP = 2048;
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_COMPLEXITY_REQUEST = 4010;

/**
 * Measured at 16 kHz mono, 32 kbit/s, CPU ms per 20 ms frame (libopus via @discordjs/opus):
 * 'audio' (CELT) c0 0.02, c2-c3 0.035, c5 0.07, c8-c10 0.09; 'voip' (SILK) c0 0.04, c2 0.08,
 * c5 0.14, c10 0.10. CELT at complexity 3 costs a quarter of SILK at 5 and sounds fine for a mix
 * (speech and music alike), so it is the default; 'voip' is there for low bitrates.
 */
export const OPUS_DEFAULT_COMPLEXITY = 3;
export const OPUS_DEFAULT_BITRATE = 32000;
export type OpusApplication = 'audio' | 'voip';

// Frame duration per TOC config (RFC 6716 section 3.1), in tenths of a millisecond.
const TOC_FRAME_TENTHS_MS: readonly number[] = [
  100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 400, 600, // SILK NB/MB/WB
  100, 200, 100, 200, // Hybrid SWB/FB
  25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, // CELT
];

/**
 * Samples (at `sampleRate`) carried by an Opus packet, from its TOC byte and frame count
 * (RFC 6716 section 3.2); 0 if malformed or longer than 120 ms.
 */
export function opusPacketSamples(packet: Buffer, sampleRate: number = MIX_SAMPLE_RATE): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const tenths = TOC_FRAME_TENTHS_MS[toc >> 3] ?? 0;
  const code = toc & 0x03;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 3) {
    const countByte = packet[1];
    if (countByte === undefined) return 0;
    frames = countByte & 0x3f;
  } else frames = 2;
  const totalTenths = tenths * frames;
  if (frames === 0 || totalTenths > 1200) return 0;
  return (totalTenths * sampleRate) / 10000;
}

/** At most this many frames concealed per call (a 120 ms gap of 10 ms frames is 12). */
const MAX_PLC_FRAMES = 12;

export interface OpusCodecOptions {
  complexity?: number;
  bitrate?: number;
  application?: OpusApplication;
}

export class OpusCodec implements AudioCodec {
  readonly name = 'opus' as const;
  readonly clockRate = 48000;
  readonly rtpSamplesPer20ms = 960;
  private readonly native = new OpusEncoder(MIX_SAMPLE_RATE, 1);
  private encoderReady = false;
  private decodedAny = false;
  /** One-byte packet (TOC of the last decoded packet, code 0) that asks libopus for one frame of PLC. */
  private plcPacket = Buffer.from([0x08]);
  private encodes = 0;
  private readonly complexity: number;
  private readonly bitrate: number;
  private readonly application: OpusApplication;
  // Encoder input: an Int16Array view over a Buffer the native side reads directly.
  private readonly pcmBytes = Buffer.alloc(MIX_FRAME_SAMPLES * 2);
  private readonly pcmView = new Int16Array(this.pcmBytes.buffer, this.pcmBytes.byteOffset, MIX_FRAME_SAMPLES);
  // Byte view of the last decode target, cached so steady-state decode allocates nothing of ours.
  private outTarget: Int16Array | undefined;
  private outBytes: Uint8Array = new Uint8Array(0);

  constructor(options: OpusCodecOptions = {}) {
    this.complexity = Math.max(0, Math.min(10, Math.round(options.complexity ?? OPUS_DEFAULT_COMPLEXITY)));
    this.bitrate = Math.max(6000, Math.min(128000, Math.round(options.bitrate ?? OPUS_DEFAULT_BITRATE)));
    this.application = options.application ?? 'audio';
  }

  get encodeCount(): number {
    return this.encodes;
  }

  samplesIn(payload: Buffer): number {
    const n = opusPacketSamples(payload, MIX_SAMPLE_RATE);
    return n > MAX_DECODED_SAMPLES ? 0 : n;
  }

  decode(payload: Buffer, out: Int16Array, offset: number): number {
    if (payload.length === 0) return 0;
    let pcm: Buffer;
    try {
      pcm = this.native.decode(payload);
    } catch {
      return 0;
    }
    this.decodedAny = true;
    // The TOC of the last good packet, as a one-frame (code 0) packet with no frame data: what
    // conceal() hands libopus to conceal exactly one frame of that duration.
    const toc = (payload[0] ?? 0) & 0xfc;
    if (toc !== this.plcPacket[0]) this.plcPacket = Buffer.from([toc]);
    return this.copyOut(pcm, out, offset, pcm.length >> 1);
  }

  /**
   * PLC for a lost packet. libopus conceals a packet that carries a TOC byte and no frame data
   * for exactly the TOC's frame duration (an empty buffer would make the binding ask for its
   * maximum, 360 ms: ~12x the CPU of a 20 ms concealment, measured 326 us vs 26 us, and the
   * decoder would believe 360 ms were lost). Longer gaps conceal frame after frame.
   */
  conceal(out: Int16Array, offset: number, samples: number): number {
    const n = Math.min(samples, out.length - offset);
    if (n <= 0) return 0;
    let done = 0;
    if (this.decodedAny) {
      try {
        for (let frames = 0; done < n && frames < MAX_PLC_FRAMES; frames++) {
          const pcm = this.native.decode(this.plcPacket);
          if (pcm.length < 2) break;
          done += this.copyOut(pcm, out, offset + done, Math.min(pcm.length >> 1, n - done));
        }
      } catch {
        // the rest is silence
      }
    }
    if (done < n) out.fill(0, offset + done, offset + n);
    return n;
  }

  encode(pcm: Int16Array): Buffer {
    if (!this.encoderReady) this.setUpEncoder();
    this.encodes++;
    this.pcmView.set(pcm.length === MIX_FRAME_SAMPLES ? pcm : pcm.subarray(0, MIX_FRAME_SAMPLES));
    return this.native.encode(this.pcmBytes);
  }

  close(): void {
    // The native object frees its state when collected; drop our references early.
    this.outTarget = undefined;
    this.outBytes = new Uint8Array(0);
  }

  private setUpEncoder(): void {
    const app = this.application === 'voip' ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO;
    this.native.applyEncoderCTL(OPUS_SET_APPLICATION_REQUEST, app);
    this.native.applyEncoderCTL(OPUS_SET_COMPLEXITY_REQUEST, this.complexity);
    this.native.setBitrate(this.bitrate);
    this.encoderReady = true;
  }

  private copyOut(pcm: Buffer, out: Int16Array, offset: number, samples: number): number {
    const n = Math.min(samples, out.length - offset);
    if (n <= 0) return 0;
    if (out !== this.outTarget) {
      this.outTarget = out;
      this.outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    // Native PCM is little-endian int16, as is every platform Node supports for this addon.
    pcm.copy(this.outBytes, offset * 2, 0, n * 2);
    return n;
  }
}
