import { HALFBAND_TAPS, RESAMPLE_DELAY_16K, Downsampler2x, Upsampler2x } from './resample';
import { goertzelPower, sineTone } from './tone';

const FRAME_16K = 320; // 20 ms
const FRAME_8K = 160;
const AMP = 16000;

/** A tone at 16 kHz through a Downsampler2x in 20 ms frames; returns the 8 kHz output after 200 ms. */
function downTone(freq: number, frames = 60): Int16Array {
  const down = new Downsampler2x();
  const out = new Int16Array(frames * FRAME_8K);
  for (let f = 0; f < frames; f++) {
    down.process(sineTone(freq, 16000, FRAME_16K, AMP, f * FRAME_16K), FRAME_16K, out.subarray(f * FRAME_8K));
  }
  return out.subarray(10 * FRAME_8K);
}

/** A tone at 8 kHz through an Upsampler2x in 20 ms frames; returns the 16 kHz output after 200 ms. */
function upTone(freq: number, frames = 60): Int16Array {
  const up = new Upsampler2x();
  const out = new Int16Array(frames * FRAME_16K);
  for (let f = 0; f < frames; f++) up.process(sineTone(freq, 8000, FRAME_8K, AMP, f * FRAME_8K), FRAME_8K, out, f * FRAME_16K);
  return out.subarray(10 * FRAME_16K);
}

const dB = (p: number, ref: number): number => 10 * Math.log10(Math.max(p, 1e-30) / ref);

/** The 47-tap halfband written out plainly: the reference the unrolled code must match. */
function halfbandKernel(): Float64Array {
  const h = new Float64Array(2 * RESAMPLE_DELAY_16K + 1);
  h[RESAMPLE_DELAY_16K] = 0.5;
  HALFBAND_TAPS.forEach((c, k) => {
    h[RESAMPLE_DELAY_16K - (2 * k + 1)] = c;
    h[RESAMPLE_DELAY_16K + (2 * k + 1)] = c;
  });
  return h;
}

/** Direct convolution y[m] = sum h[i] x[m - i] (zero history). */
function convolve(x: ArrayLike<number>, h: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let m = 0; m < x.length; m++) {
    let acc = 0;
    for (let i = 0; i < h.length && i <= m; i++) acc += (h[i] ?? 0) * (x[m - i] ?? 0);
    y[m] = acc;
  }
  return y;
}

function noise(n: number, seed: number, amp: number): Int16Array {
  const out = new Int16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = Math.round(((s >>> 8) / 0x1000000 - 0.5) * 2 * amp);
  }
  return out;
}

describe('Downsampler2x (16 -> 8 kHz, in front of G.711 listeners)', () => {
  const ref1k = goertzelPower(downTone(1000), 8000, 1000);

  test('a 6.5 kHz tone leaves its 1.5 kHz alias at least 60 dB below a 1 kHz tone of the same level', () => {
    expect(dB(goertzelPower(downTone(6500), 8000, 1500), ref1k)).toBeLessThan(-60);
  });

  test('stopband: every tone from 4.6 to 7.9 kHz folds back at least 60 dB down', () => {
    const worst: { f: number; db: number }[] = [];
    for (let f = 4600; f <= 7900; f += 100) {
      const db = dB(goertzelPower(downTone(f, 30), 8000, 8000 - f), ref1k);
      if (db > -60) worst.push({ f, db });
    }
    expect(worst).toEqual([]);
  });

  test('passband: 100 Hz to 3.4 kHz within 0.1 dB of the 1 kHz gain', () => {
    const off: { f: number; db: number }[] = [];
    for (let f = 100; f <= 3400; f += 100) {
      const db = dB(goertzelPower(downTone(f, 30), 8000, f), ref1k);
      if (Math.abs(db) > 0.1) off.push({ f, db });
    }
    expect(off).toEqual([]);
    // unity gain: A^2 / 16 for a sine of amplitude A (see goertzelPower)
    expect(Math.abs(dB(ref1k, (AMP * AMP) / 16))).toBeLessThan(0.05);
  });

  test('matches the plain 47-tap convolution, decimated (within 1 LSB), delayed 23 samples at 16 kHz', () => {
    const x = noise(4000, 7, 12000);
    const full = convolve(x, halfbandKernel());
    const out = new Int16Array(2000);
    new Downsampler2x().process(x, 4000, out);
    let worst = 0;
    // output j is the filtered input at 16 kHz index 2j + 1 (delay 23 = 2 * 11 + 1)
    for (let j = 0; j < 2000; j++) worst = Math.max(worst, Math.abs((out[j] ?? 0) - (full[2 * j + 1] ?? 0)));
    expect(worst).toBeLessThanOrEqual(1);
    const impulse = new Int16Array(64);
    impulse[0] = 10000;
    const ir = new Int16Array(32);
    new Downsampler2x().process(impulse, 64, ir);
    expect(ir.indexOf(Math.max(...ir))).toBe((RESAMPLE_DELAY_16K - 1) / 2);
  });

  test('continuity: a sine split over many 20 ms frames equals the same sine in one block', () => {
    const total = 50 * FRAME_16K;
    const x = sineTone(440, 16000, total, AMP);
    const block = new Int16Array(total / 2);
    new Downsampler2x().process(x, total, block);
    const framed = new Int16Array(total / 2);
    const down = new Downsampler2x();
    for (let i = 0; i < total; i += FRAME_16K) down.process(x.subarray(i, i + FRAME_16K), FRAME_16K, framed.subarray(i / 2));
    expect(framed).toEqual(block);
    // Odd chunk sizes, some shorter than the filter's history, still join seamlessly.
    const chunked = new Int16Array(total / 2);
    const d2 = new Downsampler2x();
    const sizes = [2, 6, 20, 22, 24, 640, 318, 4];
    for (let i = 0, s = 0; i < total; s++) {
      const n = Math.min(sizes[s % sizes.length] ?? 2, total - i);
      d2.process(x.subarray(i, i + n), n, chunked.subarray(i / 2));
      i += n;
    }
    expect(chunked).toEqual(block);
  });

  test('full-scale square wave saturates instead of wrapping; reset() forgets the history', () => {
    const sq = new Int16Array(FRAME_16K).map((_, i) => (i & 16 ? 32767 : -32768));
    const out = new Int16Array(FRAME_8K);
    const down = new Downsampler2x();
    down.process(sq, FRAME_16K, out);
    let flips = 0;
    for (let j = 20; j < FRAME_8K; j++) {
      const expected = ((2 * j - (RESAMPLE_DELAY_16K - 1)) & 16) ? 1 : -1;
      if (Math.sign(out[j] ?? 0) !== expected && Math.abs(out[j] ?? 0) > 20000) flips++;
    }
    expect(flips).toBe(0);
    down.reset();
    const again = new Int16Array(FRAME_8K);
    down.process(sq, FRAME_16K, again);
    expect(again).toEqual(out);
  });
});

describe('Upsampler2x (8 -> 16 kHz, G.711 talkers into the mix)', () => {
  const ref1k = goertzelPower(upTone(1000), 16000, 1000);

  test('a 1.5 kHz tone from a G.711 talker leaves its 6.5 kHz image at least 60 dB down', () => {
    expect(dB(goertzelPower(upTone(1500), 16000, 6500), ref1k)).toBeLessThan(-60);
  });

  test('images: every tone from 100 Hz to 3.4 kHz leaves its image (8 kHz - f) at least 60 dB down', () => {
    const worst: { f: number; db: number }[] = [];
    for (let f = 100; f <= 3400; f += 100) {
      const db = dB(goertzelPower(upTone(f, 30), 16000, 8000 - f), ref1k);
      if (db > -60) worst.push({ f, db });
    }
    expect(worst).toEqual([]);
  });

  test('passband: 100 Hz to 3.4 kHz within 0.1 dB of the 1 kHz gain, and unity gain', () => {
    const off: { f: number; db: number }[] = [];
    for (let f = 100; f <= 3400; f += 100) {
      const db = dB(goertzelPower(upTone(f, 30), 16000, f), ref1k);
      if (Math.abs(db) > 0.1) off.push({ f, db });
    }
    expect(off).toEqual([]);
    expect(Math.abs(dB(ref1k, (AMP * AMP) / 16))).toBeLessThan(0.05);
  });

  test('matches the plain 47-tap interpolation (within 1 LSB), delayed 23 samples at 16 kHz', () => {
    const x = noise(2000, 11, 12000);
    const stuffed = new Float64Array(4000);
    for (let i = 0; i < 2000; i++) stuffed[2 * i] = 2 * (x[i] ?? 0);
    const full = convolve(stuffed, halfbandKernel());
    const out = new Int16Array(4000);
    new Upsampler2x().process(x, 2000, out, 0);
    let worst = 0;
    for (let m = 0; m < 4000; m++) worst = Math.max(worst, Math.abs((out[m] ?? 0) - (full[m] ?? 0)));
    expect(worst).toBeLessThanOrEqual(1);
    // every other output sample is an input sample, delayed and bit-exact
    for (let p = 12; p < 2000; p++) expect(out[2 * p + 1]).toBe(x[p - 11]);
    const impulse = new Int16Array(32);
    impulse[0] = 10000;
    const ir = new Int16Array(64);
    new Upsampler2x().process(impulse, 32, ir, 0);
    expect(ir.indexOf(Math.max(...ir))).toBe(RESAMPLE_DELAY_16K);
  });

  test('continuity: a sine split over 20 ms frames, or odd-sized packets, equals the same sine in one block', () => {
    const total = 50 * FRAME_8K;
    const x = sineTone(440, 8000, total, AMP);
    const block = new Int16Array(2 * total);
    new Upsampler2x().process(x, total, block, 0);
    const framed = new Int16Array(2 * total);
    const up = new Upsampler2x();
    for (let i = 0; i < total; i += FRAME_8K) up.process(x.subarray(i, i + FRAME_8K), FRAME_8K, framed, 2 * i);
    expect(framed).toEqual(block);
    const chunked = new Int16Array(2 * total);
    const u2 = new Upsampler2x();
    const sizes = [1, 7, 10, 11, 12, 161, 3, 240];
    for (let i = 0, s = 0; i < total; s++) {
      const n = Math.min(sizes[s % sizes.length] ?? 1, total - i);
      u2.process(x.subarray(i, i + n), n, chunked, 2 * i);
      i += n;
    }
    expect(chunked).toEqual(block);
  });

  test('up then down (a G.711 talker heard by a G.711 listener) keeps a 3 kHz tone within 0.1 dB', () => {
    const up = new Upsampler2x();
    const down = new Downsampler2x();
    const wide = new Int16Array(FRAME_16K);
    const out = new Int16Array(40 * FRAME_8K);
    for (let f = 0; f < 40; f++) {
      up.process(sineTone(3000, 8000, FRAME_8K, AMP, f * FRAME_8K), FRAME_8K, wide, 0);
      down.process(wide, FRAME_16K, out.subarray(f * FRAME_8K));
    }
    expect(Math.abs(dB(goertzelPower(out.subarray(5 * FRAME_8K), 8000, 3000), (AMP * AMP) / 16))).toBeLessThan(0.1);
  });
});
