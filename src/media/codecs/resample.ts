/**
 * Streaming 2x resamplers between G.711's 8 kHz and the mixer's 16 kHz: one 47-tap linear-phase
 * FIR halfband (every other tap zero), run polyphase, with filter history kept across calls and no
 * allocation per call. Each instance carries the history of exactly one stream: never share one.
 *
 * Design (offline, scipy 1.17): `g = remez(24, [0, 0.425], [1], fs=1)`, a 24-tap type-II
 * equiripple prototype equal to 1 up to 3.4 kHz; the halfband is g/2 at the odd offsets from its
 * centre, 0.5 at the centre, zero elsewhere. Its response (freqz):
 * - passband 0-3.4 kHz flat within +-0.006 dB; -0.39 dB at 3.6 kHz, -2 at 3.8, -6 at 4.0;
 * - stopband at least 63.6 dB down from 4.6 to 8 kHz (-13.6 dB at 4.2, -27 at 4.4). A halfband is
 *   -6 dB at 4 kHz by construction: only 4.0-4.6 kHz folds (attenuated) into 3.4-4.0 kHz, above
 *   the telephone band; the same filter removes an 8 kHz talker's images from 4.6 kHz up;
 * - group delay 23 samples at 16 kHz (1.44 ms) each way: 2.9 ms added from a G.711 talker to a
 *   G.711 listener (0.4 ms with the old 7-tap pair).
 * Measured with tones through these classes (resample.test.ts, src/media/mixer/alias.test.ts): a
 * 6.5 kHz tone leaves its 1.5 kHz alias 96 dB below a 1 kHz tone of the same level; the 7-tap
 * halfband this replaces, (-1, 0, 9, 16, 9, 0, -1)/32, left it 34 dB down (25 dB at 6 kHz),
 * lost 3.4 dB at 3.4 kHz, and left images of 2.5-3.4 kHz talkers only 18-10 dB down.
 * Cost (bench/mixer-micro.ts, 2 x AMD EPYC shared with other load): 1.9-2.4 us per 20 ms frame
 * 16 -> 8 kHz and 1.9-2.3 us 8 -> 16 kHz, against 0.9-1.2 and 0.4-0.5 us for the 7-tap; the
 * bench's 90 rooms x 4 PCMU (all speaking) went from 1.8-1.9 to 2.7-3.1 ms of CPU per tick. A
 * polyphase IIR (allpass) halfband would reach 77 dB from 4.6 kHz for about 1 us down (tried:
 * 5 coefficients), but its delay varies with frequency; this one keeps a constant delay.
 *
 * libspeexdsp 1.2.1 (FreeSWITCH's resampler), 16 -> 8 kHz, same tones (float API), same machine:
 * quality 3 (96 taps): 6.5 kHz alias -100 dB, at least 83 dB down from 4.05 kHz, -1.05 dB at
 * 3.4 kHz (-3.1 at 3.5, -7 at 3.6), 3 ms delay, 2.4 us per frame (int API); quality 4: -102 dB,
 * -0.02 dB at 3.4 kHz, 4 ms, 3.2 us; quality 10: -140 dB, flat to 3.8 kHz, 16 ms, 25 us. Speex
 * is steeper (its stopband starts near 4.0 kHz, ours at 4.6 kHz, both beyond the telephone band);
 * ours is flatter to 3.4 kHz, delays half as long as quality 3 and costs a little less here.
 */

const H1 = 0.3169723524057899;
const H3 = -0.10214619167062822;
const H5 = 0.05724814689647753;
const H7 = -0.03686049041211442;
const H9 = 0.024890268635396215;
const H11 = -0.016978320708649658;
const H13 = 0.011452528171521665;
const H15 = -0.007518345794806019;
const H17 = 0.004729467991216104;
const H19 = -0.0027968498137984437;
const H21 = 0.0015096323638838067;
const H23 = -0.0008321739826327585;

/** The halfband's taps at odd offsets 1, 3, ..., 23 from its centre (the centre tap is 0.5). */
export const HALFBAND_TAPS: readonly number[] = [H1, H3, H5, H7, H9, H11, H13, H15, H17, H19, H21, H23];

/** Group delay of either resampler, in 16 kHz samples (the filter has 47 taps). */
export const RESAMPLE_DELAY_16K = 23;

/** Samples of one polyphase branch kept between calls (the 24-tap window less its newest). */
const WINDOW_HISTORY = 23;
/** How far the centre tap lags the newest sample of the tap branch, in branch samples. */
const CENTRE_LAG = 11;

// Branch outputs of the call in progress; shared because process() never re-enters.
let scratch = new Float64Array(960);

function scratchFor(count: number): Float64Array {
  if (count > scratch.length) scratch = new Float64Array(count);
  return scratch;
}

/**
 * The filter's tap branch: for each of `count` samples src[start + i * step], dst[i] gets the sum
 * of the taps over the last 24 branch samples. `s` holds the 23 samples before this call and gets
 * the 23 newest back. The window lives in locals (registers): loading it from an array for every
 * output took about 1.5x the time (measured).
 */
function tapBranch(s: Float64Array, src: Int16Array, start: number, step: number, count: number, dst: Float64Array): void {
  let w0 = s[0] ?? 0, w1 = s[1] ?? 0, w2 = s[2] ?? 0, w3 = s[3] ?? 0, w4 = s[4] ?? 0, w5 = s[5] ?? 0;
  let w6 = s[6] ?? 0, w7 = s[7] ?? 0, w8 = s[8] ?? 0, w9 = s[9] ?? 0, w10 = s[10] ?? 0, w11 = s[11] ?? 0;
  let w12 = s[12] ?? 0, w13 = s[13] ?? 0, w14 = s[14] ?? 0, w15 = s[15] ?? 0, w16 = s[16] ?? 0;
  let w17 = s[17] ?? 0, w18 = s[18] ?? 0, w19 = s[19] ?? 0, w20 = s[20] ?? 0, w21 = s[21] ?? 0;
  let w22 = s[22] ?? 0;
  for (let i = 0, k = start; i < count; i++, k += step) {
    const w23 = src[k] ?? 0;
    dst[i] =
      H1 * (w11 + w12) +
      H3 * (w10 + w13) +
      H5 * (w9 + w14) +
      H7 * (w8 + w15) +
      H9 * (w7 + w16) +
      H11 * (w6 + w17) +
      H13 * (w5 + w18) +
      H15 * (w4 + w19) +
      H17 * (w3 + w20) +
      H19 * (w2 + w21) +
      H21 * (w1 + w22) +
      H23 * (w0 + w23);
    w0 = w1; w1 = w2; w2 = w3; w3 = w4; w4 = w5; w5 = w6; w6 = w7; w7 = w8; w8 = w9; w9 = w10; w10 = w11;
    w11 = w12; w12 = w13; w13 = w14; w14 = w15; w15 = w16; w16 = w17; w17 = w18; w18 = w19; w19 = w20;
    w20 = w21; w21 = w22; w22 = w23;
  }
  s[0] = w0; s[1] = w1; s[2] = w2; s[3] = w3; s[4] = w4; s[5] = w5; s[6] = w6; s[7] = w7; s[8] = w8;
  s[9] = w9; s[10] = w10; s[11] = w11; s[12] = w12; s[13] = w13; s[14] = w14; s[15] = w15; s[16] = w16;
  s[17] = w17; s[18] = w18; s[19] = w19; s[20] = w20; s[21] = w21; s[22] = w22;
}

/** Rounds to the nearest int16, saturating (full-scale input overshoots near edges: Gibbs). */
function toInt16(x: number): number {
  return x >= 32767 ? 32767 : x <= -32768 ? -32768 : Math.round(x);
}

/** 8 kHz -> 16 kHz: input p gives the sample interpolated halfway before input p - 11, then p - 11. */
export class Upsampler2x {
  private readonly window = new Float64Array(WINDOW_HISTORY);

  /** Writes 2*n samples to out at offset (caller guarantees room). Returns samples written. */
  process(src: Int16Array, n: number, out: Int16Array, offset: number): number {
    const taps = scratchFor(n);
    const w = this.window;
    // The centre tap (gain 2 x 0.5 = 1) of input p is input p - 11, still in the window or in src.
    const held = WINDOW_HISTORY - CENTRE_LAG; // window slots holding inputs p - 11 for p < 11
    let o = offset;
    for (let p = 0; p < n && p < CENTRE_LAG; p++) {
      // Read the old window before tapBranch overwrites it.
      out[o + 2 * p + 1] = w[held + p] ?? 0;
    }
    tapBranch(w, src, 0, 1, n, taps);
    for (let p = 0; p < n; p++) {
      out[o++] = toInt16(2 * (taps[p] ?? 0));
      if (p >= CENTRE_LAG) out[o] = src[p - CENTRE_LAG] ?? 0;
      o++;
    }
    return 2 * n;
  }

  reset(): void {
    this.window.fill(0);
  }
}

/** 16 kHz -> 8 kHz: odd input samples feed the taps, even ones the centre. */
export class Downsampler2x {
  private readonly window = new Float64Array(WINDOW_HISTORY);
  /** The last CENTRE_LAG even input samples, oldest first. */
  private readonly centre = new Float64Array(CENTRE_LAG);

  /** `maxInput`: the longest call expected (in input samples); longer calls still work. */
  constructor(maxInput = 1920) {
    scratchFor(maxInput >> 1);
  }

  /** Reads n (even) samples from src, writes n/2 to out. Returns samples written. */
  process(src: Int16Array, n: number, out: Int16Array): number {
    const half = n >> 1;
    const taps = scratchFor(half);
    tapBranch(this.window, src, 1, 2, half, taps);
    const c = this.centre;
    for (let j = 0; j < half; j++) {
      const centre = j < CENTRE_LAG ? (c[j] ?? 0) : (src[2 * (j - CENTRE_LAG)] ?? 0);
      out[j] = toInt16(0.5 * centre + (taps[j] ?? 0));
    }
    // Keep the newest CENTRE_LAG even samples (those not yet used as a centre); forward order
    // reads each old entry before it is overwritten.
    for (let i = 0; i < CENTRE_LAG; i++) {
      const k = i + half;
      c[i] = k < CENTRE_LAG ? (c[k] ?? 0) : (src[2 * (k - CENTRE_LAG)] ?? 0);
    }
    return half;
  }

  reset(): void {
    this.window.fill(0);
    this.centre.fill(0);
  }
}
