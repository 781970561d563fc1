/**
 * ITU-T G.722 at 64 kbit/s (mode 1), written here from the Recommendation because no maintained
 * npm package implements it (the C libraries are LGPL and native). 16 kHz mixer PCM in and out;
 * per-stream state, integer arithmetic as in the Recommendation; never throws on network input.
 */
import { MAX_DECODED_SAMPLES, MIX_FRAME_SAMPLES, type AudioCodec } from './types';

/** 24-tap QMF coefficients of the Recommendation, scaled by 2^13 (they sum to 8192). */
const QMF = new Int32Array([
  3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
  3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
]);

/** Lower band 6-bit quantiser decision levels (QUANTL), relative to DETL in Q12; index = interval. */
const Q6 = new Int32Array([
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
  786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
]);
/** Codeword per interval (1..30) for negative and for positive differences; 0..3 are never sent. */
const ILN = new Int32Array([
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
  18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
]);
const ILP = new Int32Array([
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
  46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
]);

/** 6-bit inverse quantiser outputs (INVQBL, mode 1), indexed by the codeword, Q15 of DETL. */
const QM6 = new Int32Array([
  -136, -136, -136, -136, -24808, -21904, -19008, -16704,
  -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
  -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
  24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
  10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
  4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
  1688, 1360, 1040, 728, 432, 136, -432, -136,
]);
/**
 * 4-bit inverse quantiser (INVQAL) indexed by the codeword's top 4 bits: the predictor and the
 * scale factor only ever see these, so both ends stay in step whatever the mode.
 */
const QM4 = new Int32Array([
  0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
  20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
]);
/** LOGSCL: log scale factor multipliers, by quantiser magnitude (RL42 maps the 4-bit code). */
const WL = new Int32Array([-60, -30, 58, 172, 334, 538, 1198, 3042]);
const RL42 = new Int32Array([0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]);

/** Upper band 2-bit quantiser: one decision level, codewords, inverse quantiser, LOGSCH. */
const Q2_LEVEL = 564;
const QM2 = new Int32Array([-7408, -1616, 7408, 1616]);
const WH = new Int32Array([0, -214, 798]);
const RH2 = new Int32Array([2, 1, 2, 1]);

/** SCALEL/SCALEH antilog table: round(2048 * 2^(i/32)). */
const ILB = new Int32Array([
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
]);

const LOW_NB_MAX = 18432;
const HIGH_NB_MAX = 22528;

/** Exported for tests: the Recommendation's tables as this module holds them. */
export const G722_TABLES = { QMF, Q6, ILN, ILP, QM6, QM4, ILB } as const;

function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

function sat15(x: number): number {
  return x > 16383 ? 16383 : x < -16384 ? -16384 : x;
}

/** SCALEL (shift 8) / SCALEH (shift 10): log scale factor -> linear quantiser step. */
function scaleFactor(nb: number, shift: number): number {
  const mant = ILB[(nb >> 6) & 31] ?? 2048;
  const exp = shift - (nb >> 11);
  return (exp < 0 ? mant << -exp : mant >> exp) << 2;
}

/**
 * One sub-band's ADPCM state: scale factor, and the block 4 adaptive predictor (two poles on the
 * reconstructed signal, six zeros on the quantised difference). Encoder and decoder run the same
 * updates on the same 4-bit/2-bit values, which is what keeps them in step.
 */
class AdpcmBand {
  /** Prediction of the next sample (SL/SH) and its zero-section part (SZL/SZH). */
  s = 0;
  sz = 0;
  nb = 0;
  det: number;
  private a1 = 0;
  private a2 = 0;
  private r1 = 0;
  private r2 = 0;
  private p1 = 0;
  private p2 = 0;
  /** Zero-section coefficients b1..b6 and the quantised differences d1..d6 they weigh. */
  private b1 = 0;
  private b2 = 0;
  private b3 = 0;
  private b4 = 0;
  private b5 = 0;
  private b6 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private d4 = 0;
  private d5 = 0;
  private d6 = 0;

  constructor(private readonly initialDet: number) {
    this.det = initialDet;
  }

  reset(): void {
    this.s = this.sz = this.nb = 0;
    this.det = this.initialDet;
    this.a1 = this.a2 = this.r1 = this.r2 = this.p1 = this.p2 = 0;
    this.b1 = this.b2 = this.b3 = this.b4 = this.b5 = this.b6 = 0;
    this.d1 = this.d2 = this.d3 = this.d4 = this.d5 = this.d6 = 0;
  }

  /** Block 4: adapts the predictor to the quantised difference `dq` and predicts the next sample. */
  adapt(dq: number): void {
    const p = sat16(dq + this.sz); // PARREC
    const r = sat16(this.s + dq); // RECONS
    // UPZERO (sign-sign LMS, leak 1 - 2^-8; a zero difference only leaks), the delay line and
    // FILTEZ, unrolled (this runs 16000 times a second per band): d[i] takes the old d[i - 1].
    const step = dq === 0 ? 0 : 128;
    const neg0 = dq < 0;
    const b1 = ((this.d1 < 0) === neg0 ? step : -step) + ((this.b1 * 32640) >> 15);
    const b2 = ((this.d2 < 0) === neg0 ? step : -step) + ((this.b2 * 32640) >> 15);
    const b3 = ((this.d3 < 0) === neg0 ? step : -step) + ((this.b3 * 32640) >> 15);
    const b4 = ((this.d4 < 0) === neg0 ? step : -step) + ((this.b4 * 32640) >> 15);
    const b5 = ((this.d5 < 0) === neg0 ? step : -step) + ((this.b5 * 32640) >> 15);
    const b6 = ((this.d6 < 0) === neg0 ? step : -step) + ((this.b6 * 32640) >> 15);
    this.b1 = b1;
    this.b2 = b2;
    this.b3 = b3;
    this.b4 = b4;
    this.b5 = b5;
    this.b6 = b6;
    this.d6 = this.d5;
    this.d5 = this.d4;
    this.d4 = this.d3;
    this.d3 = this.d2;
    this.d2 = this.d1;
    this.d1 = dq;
    // each product truncated separately, as in the Recommendation
    const sz =
      ((b1 * (dq * 2)) >> 15) +
      ((b2 * (this.d2 * 2)) >> 15) +
      ((b3 * (this.d3 * 2)) >> 15) +
      ((b4 * (this.d4 * 2)) >> 15) +
      ((b5 * (this.d5 * 2)) >> 15) +
      ((b6 * (this.d6 * 2)) >> 15);
    // UPPOL2 then UPPOL1 (the a1 bound depends on the new a2): keeps the poles stable.
    const neg = p < 0;
    const sameAsP1 = neg === (this.p1 < 0);
    let f = this.a1 * 4;
    f = f > 32767 ? 32767 : f < -32768 ? -32768 : f;
    // 16-bit words: -(-32768) saturates before the shift.
    const g = sameAsP1 ? Math.min(32767, -f) : f;
    let a2 = (g >> 7) + (neg === (this.p2 < 0) ? 128 : -128) + ((this.a2 * 32512) >> 15);
    a2 = a2 > 12288 ? 12288 : a2 < -12288 ? -12288 : a2;
    let a1 = (sameAsP1 ? 192 : -192) + ((this.a1 * 32640) >> 15);
    const lim = 15360 - a2;
    a1 = a1 > lim ? lim : a1 < -lim ? -lim : a1;
    this.a1 = a1;
    this.a2 = a2;
    this.r2 = this.r1;
    this.r1 = r;
    this.p2 = this.p1;
    this.p1 = p;
    // FILTEP (2r is a 16-bit word: it saturates, which matters only for overdriven input), PREDIC
    const sp = ((a1 * sat16(this.r1 * 2)) >> 15) + ((a2 * sat16(this.r2 * 2)) >> 15);
    this.sz = sz;
    this.s = sat16(sp + sz);
  }
}

/** LOGSCL + SCALEL for the lower band, from the 4-bit part of its codeword. */
function adaptLowScale(band: AdpcmBand, code4: number): void {
  let nb = ((band.nb * 32512) >> 15) + (WL[RL42[code4] ?? 0] ?? 0);
  nb = nb < 0 ? 0 : nb > LOW_NB_MAX ? LOW_NB_MAX : nb;
  band.nb = nb;
  band.det = scaleFactor(nb, 8);
}

/** LOGSCH + SCALEH for the upper band. */
function adaptHighScale(band: AdpcmBand, code: number): void {
  let nb = ((band.nb * 32512) >> 15) + (WH[RH2[code] ?? 0] ?? 0);
  nb = nb < 0 ? 0 : nb > HIGH_NB_MAX ? HIGH_NB_MAX : nb;
  band.nb = nb;
  band.det = scaleFactor(nb, 10);
}

/** Sub-band ADPCM encoder for one stream: QMF analysis, 6-bit lower and 2-bit upper band. */
export class G722Encoder {
  private readonly low = new AdpcmBand(32);
  private readonly high = new AdpcmBand(8);
  /**
   * Input history, newest first, kept twice over (x[i] === x[i + 24]) so that moving the window
   * by a pair is a pointer step instead of a copy: the 24 taps read x[pos .. pos + 23].
   */
  private readonly x = new Int32Array(48);
  private pos = 0;

  /** Encodes `count` 16 kHz samples (an odd last one is dropped) into `out`; returns bytes written. */
  encode(pcm: Int16Array, count: number, out: Uint8Array): number {
    const n = Math.min(count >> 1, out.length, pcm.length >> 1);
    const x = this.x;
    for (let k = 0; k < n; k++) {
      const pos = (this.pos = this.pos === 0 ? 22 : this.pos - 2);
      const older = pcm[2 * k] ?? 0;
      const newer = pcm[2 * k + 1] ?? 0;
      x[pos] = x[pos + 24] = newer;
      x[pos + 1] = x[pos + 25] = older;
      let even = 0;
      let odd = 0;
      for (let i = 0; i < 24; i += 2) {
        even += (QMF[i] ?? 0) * (x[pos + i] ?? 0);
        odd += (QMF[i + 1] ?? 0) * (x[pos + i + 1] ?? 0);
      }
      // 16-bit PCM in, 15-bit sub-band signals out (the range the ADPCM limits assume).
      out[k] = (this.encodeHigh((even - odd) >> 14) << 6) | this.encodeLow((even + odd) >> 14);
    }
    return n;
  }

  reset(): void {
    this.low.reset();
    this.high.reset();
    this.x.fill(0);
    this.pos = 0;
  }

  private encodeLow(xl: number): number {
    const band = this.low;
    const el = xl - band.s;
    const wd = el >= 0 ? el : -(el + 1);
    const det = band.det;
    // QUANTL: the first interval whose upper decision level exceeds wd (levels only grow with
    // the index, so a binary search finds the same interval as the Recommendation's linear scan).
    let lo = 1;
    let hi = 30;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (wd < ((Q6[mid] ?? 0) * det) >> 12) hi = mid;
      else lo = mid + 1;
    }
    const mil = lo;
    const il = (el >= 0 ? ILP[mil] : ILN[mil]) ?? 0;
    const code4 = il >> 2;
    const dq = (det * (QM4[code4] ?? 0)) >> 15;
    adaptLowScale(band, code4);
    band.adapt(dq);
    return il;
  }

  private encodeHigh(xh: number): number {
    const band = this.high;
    const eh = xh - band.s;
    const wd = eh >= 0 ? eh : -(eh + 1);
    const det = band.det;
    const big = wd >= (Q2_LEVEL * det) >> 12;
    const ih = eh >= 0 ? (big ? 2 : 3) : big ? 0 : 1;
    const dq = (det * (QM2[ih] ?? 0)) >> 15;
    adaptHighScale(band, ih);
    band.adapt(dq);
    return ih;
  }
}

/** Sub-band ADPCM decoder for one stream: mode 1 (6-bit lower band), QMF synthesis. */
export class G722Decoder {
  private readonly low = new AdpcmBand(32);
  private readonly high = new AdpcmBand(8);
  /** Difference and sum of the reconstructed bands, newest first, kept twice over (see encoder). */
  private readonly xd = new Int32Array(24);
  private readonly xs = new Int32Array(24);
  private pos = 0;

  /** Decodes `count` octets of `payload` into 2 * count samples of `out` from `offset`. */
  decode(payload: Uint8Array, count: number, out: Int16Array, offset: number): number {
    const n = Math.min(count, payload.length, (out.length - offset) >> 1);
    const xd = this.xd;
    const xs = this.xs;
    for (let k = 0; k < n; k++) {
      const octet = payload[k] ?? 0;
      const rl = this.decodeLow(octet & 0x3f);
      const rh = this.decodeHigh(octet >> 6);
      const pos = (this.pos = this.pos === 0 ? 11 : this.pos - 1);
      xd[pos] = xd[pos + 12] = rl - rh;
      xs[pos] = xs[pos + 12] = rl + rh;
      let even = 0;
      let odd = 0;
      for (let i = 0; i < 12; i++) {
        even += (QMF[2 * i] ?? 0) * (xd[pos + i] ?? 0);
        odd += (QMF[2 * i + 1] ?? 0) * (xs[pos + i] ?? 0);
      }
      // x2 for the interpolation and x2 back from the 15-bit bands: 2^13 / 4 = 2^11.
      out[offset + 2 * k] = sat16(even >> 11);
      out[offset + 2 * k + 1] = sat16(odd >> 11);
    }
    return 2 * n;
  }

  reset(): void {
    this.low.reset();
    this.high.reset();
    this.xd.fill(0);
    this.xs.fill(0);
    this.pos = 0;
  }

  private decodeLow(il: number): number {
    const band = this.low;
    const det = band.det;
    const rl = sat15(band.s + ((det * (QM6[il] ?? 0)) >> 15));
    const code4 = il >> 2;
    const dq = (det * (QM4[code4] ?? 0)) >> 15;
    adaptLowScale(band, code4);
    band.adapt(dq);
    return rl;
  }

  private decodeHigh(ih: number): number {
    const band = this.high;
    const det = band.det;
    const dq = (det * (QM2[ih] ?? 0)) >> 15;
    const rh = sat15(band.s + dq);
    adaptHighScale(band, ih);
    band.adapt(dq);
    return rh;
  }
}

/** How much of the last frame a concealment replays, and how fast it fades (per 20 ms). */
const CONCEAL_FADE_FRAMES = 3;

/**
 * The mixer's G.722 stream: RTP clock 8000 although it samples at 16 kHz (RFC 3551 section 4.5.2),
 * so one octet = two mixer samples = one RTP timestamp unit.
 */
export class G722Codec implements AudioCodec {
  readonly name = 'G722' as const;
  readonly clockRate = 8000;
  readonly rtpSamplesPer20ms = 160;
  private readonly encoder = new G722Encoder();
  private readonly decoder = new G722Decoder();
  private encodes = 0;
  /** The last 20 ms decoded, replayed with a fade to conceal a lost packet. */
  private readonly lastFrame = new Int16Array(MIX_FRAME_SAMPLES);
  private lastFill = 0;
  private concealed = 0;

  get encodeCount(): number {
    return this.encodes;
  }

  samplesIn(payload: Buffer): number {
    const n = payload.length * 2;
    return n > MAX_DECODED_SAMPLES ? 0 : n;
  }

  decode(payload: Buffer, out: Int16Array, offset: number): number {
    if (offset < 0 || offset >= out.length) return 0;
    const count = Math.min(payload.length, MAX_DECODED_SAMPLES >> 1);
    const n = this.decoder.decode(payload, count, out, offset);
    this.remember(out, offset, n);
    this.concealed = 0;
    return n;
  }

  conceal(out: Int16Array, offset: number, samples: number): number {
    if (offset < 0) return 0;
    const n = Math.max(0, Math.min(samples, out.length - offset, MAX_DECODED_SAMPLES));
    const fadeLen = CONCEAL_FADE_FRAMES * MIX_FRAME_SAMPLES;
    const hist = this.lastFrame;
    const len = this.lastFill;
    for (let i = 0; i < n; i++) {
      const t = this.concealed + i;
      const gain = t >= fadeLen || len === 0 ? 0 : 1 - t / fadeLen;
      out[offset + i] = gain === 0 ? 0 : Math.round((hist[t % len] ?? 0) * gain);
    }
    this.concealed += n;
    return n;
  }

  encode(pcm: Int16Array): Buffer {
    this.encodes++;
    const samples = Math.min(pcm.length, MAX_DECODED_SAMPLES) & ~1;
    const bytes = Buffer.allocUnsafe(samples >> 1);
    const n = this.encoder.encode(pcm, samples, bytes);
    return n === bytes.length ? bytes : bytes.subarray(0, n);
  }

  close(): void {
    this.encoder.reset();
    this.decoder.reset();
    this.lastFill = 0;
  }

  /** Keeps the newest MIX_FRAME_SAMPLES decoded samples for concealment. */
  private remember(out: Int16Array, offset: number, n: number): void {
    const keep = Math.min(n, MIX_FRAME_SAMPLES);
    this.lastFrame.set(out.subarray(offset + n - keep, offset + n), 0);
    this.lastFill = keep;
  }
}
