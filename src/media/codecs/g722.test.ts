import { G722Codec, G722Decoder, G722Encoder, G722_TABLES } from './g722';
import { dominantFrequency, goertzelPower, rms, sineTone } from './tone';
import { MAX_DECODED_SAMPLES, MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from './types';

/** Runs `input` through one codec instance, 20 ms at a time, as the mixer does. */
function roundTrip(input: Int16Array, codec = new G722Codec()): Int16Array {
  const out = new Int16Array(input.length);
  let n = 0;
  for (let i = 0; i + MIX_FRAME_SAMPLES <= input.length; i += MIX_FRAME_SAMPLES) {
    const payload = codec.encode(input.subarray(i, i + MIX_FRAME_SAMPLES));
    n += codec.decode(payload, out, n);
  }
  return out.subarray(0, n);
}

/** Deterministic broadband test signal: a 37-sample triangle plus LCG noise (integer-only). */
function testSignal(count: number, loudSecondHalf: boolean): Int16Array {
  const out = new Int16Array(count);
  let seed = 1;
  for (let i = 0; i < count; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    const ph = i % 37;
    const tri = ph <= 18 ? Math.floor((ph * 24000) / 36) - 12000 : 12000 - Math.floor(((ph - 18) * 24000) / 18);
    const noise = (Math.floor(seed / 256) % 8001) - 4000;
    const v = (tri + noise) * (loudSecondHalf && i >= count / 2 ? 3 : 1);
    out[i] = Math.max(-32768, Math.min(32767, v));
  }
  return out;
}

function lcgBytes(count: number, seed0: number): Buffer {
  const b = Buffer.alloc(count);
  let seed = seed0;
  for (let i = 0; i < count; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    b[i] = Math.floor(seed / 65536) & 0xff;
  }
  return b;
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

const int16Bytes = (s: Int16Array): Uint8Array => new Uint8Array(s.buffer, s.byteOffset, s.byteLength);

/** Lag (samples) of `output` behind `input` with the highest cross-correlation. */
function delayOf(input: Int16Array, output: Int16Array, maxLag: number, from: number, to: number): number {
  let best = -Infinity;
  let bestLag = 0;
  for (let lag = 0; lag <= maxLag; lag++) {
    let acc = 0;
    for (let k = from; k < to; k++) acc += (input[k] ?? 0) * (output[k + lag] ?? 0);
    if (acc > best) {
      best = acc;
      bestLag = lag;
    }
  }
  return bestLag;
}

function snrDb(input: Int16Array, output: Int16Array, lag: number, from: number, to: number): number {
  let sig = 0;
  let err = 0;
  for (let k = from; k < to; k++) {
    const x = input[k] ?? 0;
    const e = (output[k + lag] ?? 0) - x;
    sig += x * x;
    err += e * e;
  }
  return 10 * Math.log10(sig / Math.max(err, 1));
}

/** Codec delay found once, on broadband input (a pure tone's correlation is periodic). */
const CODEC_DELAY = (() => {
  const input = testSignal(MIX_FRAME_SAMPLES * 25, false);
  return delayOf(input, roundTrip(input), 64, 1000, 7000);
})();

describe('G.722 tables (ITU-T G.722)', () => {
  test('QMF: 24 symmetric taps summing to 2^13, even and odd halves 2^12 each', () => {
    const h = Array.from(G722_TABLES.QMF);
    expect(h).toHaveLength(24);
    expect(h).toEqual([...h].reverse());
    expect(h.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b)).toBe(4096);
    expect(h.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b)).toBe(4096);
  });

  test('SCALEL/SCALEH antilog table is round(2048 * 2^(i/32))', () => {
    expect(Array.from(G722_TABLES.ILB)).toEqual(Array.from({ length: 32 }, (_, i) => Math.round(2048 * 2 ** (i / 32))));
  });

  test('6-bit codewords: 60 distinct codes, 0..3 never sent; the inverse quantiser is odd-symmetric', () => {
    const codes = [...Array.from(G722_TABLES.ILN).slice(1), ...Array.from(G722_TABLES.ILP).slice(1)];
    expect(new Set(codes).size).toBe(60);
    expect(codes.every((c) => c >= 4 && c <= 63)).toBe(true);
    for (let mil = 1; mil <= 30; mil++) {
      const pos = G722_TABLES.QM6[G722_TABLES.ILP[mil] ?? 0] ?? 0;
      const neg = G722_TABLES.QM6[G722_TABLES.ILN[mil] ?? 0] ?? 0;
      expect({ mil, sum: pos + neg, positive: pos > 0 }).toEqual({ mil, sum: 0, positive: true });
    }
  });
});

describe('G722Encoder / G722Decoder bitstream', () => {
  // Known answers captured from spandsp's G.722 (the codec inside baresip's g722.so), 64 kbit/s,
  // fed the same integer test signal: they pin our bitstream to the standard bit for bit.
  test('encoder output is bit-exact with a reference implementation, clipping input included', () => {
    const input = testSignal(3200, true);
    const out = new Uint8Array(1600);
    expect(new G722Encoder().encode(input, input.length, out)).toBe(1600);
    expect(Buffer.from(out.subarray(0, 16)).toString('hex')).toBe('308621852184040b0b131c1d983eb827');
    expect(Buffer.from(out.subarray(1592)).toString('hex')).toBe('c5f59e8ad0d5d87b');
    expect(fnv1a(out).toString(16)).toBe('52556902');
  });

  test('decoder output is bit-exact with a reference implementation (coded speech-like and random octets)', () => {
    const coded = new Uint8Array(1600);
    new G722Encoder().encode(testSignal(3200, false), 3200, coded);
    const pcm = new Int16Array(3200);
    expect(new G722Decoder().decode(coded, coded.length, pcm, 0)).toBe(3200);
    expect(fnv1a(int16Bytes(pcm)).toString(16)).toBe('e109d528');
    // Random octets overdrive the output at sample 558; the reference wraps around where we
    // saturate, so the comparison stops just before.
    const random = lcgBytes(278, 7);
    const pcm2 = new Int16Array(556);
    new G722Decoder().decode(random, random.length, pcm2, 0);
    expect(fnv1a(int16Bytes(pcm2)).toString(16)).toBe('e300b494');
  });

  test('an overdriven decode saturates at full scale where the reference wraps around (sample 558)', () => {
    const pcm = new Int16Array(600);
    new G722Decoder().decode(lcgBytes(300, 7), 300, pcm, 0);
    expect(pcm[558]).toBe(32767);
  });

  test('the QMF pair delays the signal by 22 samples (1.4 ms)', () => {
    expect(CODEC_DELAY).toBe(22);
  });
});

describe('G722Codec (AudioCodec at the 16 kHz mixer rate)', () => {
  test.each([
    [440, 40],
    [1000, 35],
    [3000, 30],
  ])('a %i Hz tone (lower band) survives encode -> decode: right frequency, SNR above %i dB', (freq, minSnr) => {
    const input = sineTone(freq, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES * 50, 8000);
    const output = roundTrip(input);
    expect(output.length).toBe(input.length);
    expect(dominantFrequency(output.subarray(3200), MIX_SAMPLE_RATE)).toBe(freq);
    expect(snrDb(input, output, CODEC_DELAY, 3200, 15000)).toBeGreaterThan(minSnr);
  });

  test('a 6000 Hz tone goes through the 2-bit upper band: right frequency, SNR above 20 dB', () => {
    const input = sineTone(6000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES * 50, 8000);
    const output = roundTrip(input);
    expect(dominantFrequency(output.subarray(3200), MIX_SAMPLE_RATE)).toBe(6000);
    expect(snrDb(input, output, CODEC_DELAY, 3200, 15000)).toBeGreaterThan(20);
  });

  test('unity gain: a quiet and a loud tone come back at the level they went in (within 0.5 dB)', () => {
    for (const amp of [500, 30000]) {
      const input = sineTone(1000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES * 25, amp);
      const output = roundTrip(input);
      const ratio = rms(output.subarray(3200)) / rms(input.subarray(3200));
      expect({ amp, ok: Math.abs(20 * Math.log10(ratio)) < 0.5 }).toEqual({ amp, ok: true });
    }
  });

  // G.722 has no idle code: at the smallest step size the lowest decision levels round to 0, so
  // digital silence settles into a tiny limit cycle (the reference produces the very same octets).
  test('silence encodes to the standard idle pattern (small codes only) and decodes to near silence', () => {
    const codec = new G722Codec();
    const zero = new Int16Array(MIX_FRAME_SAMPLES);
    const payloads = Array.from({ length: 10 }, () => codec.encode(zero));
    expect(fnv1a(Buffer.concat(payloads))).toBe(3266759286);
    // upper band always code 3 (smallest positive step); lower band never a large-step code
    expect(payloads.every((p) => p.every((octet) => octet >> 6 === 3 && (octet & 0x3f) >= 16))).toBe(true);
    const out = new Int16Array(MIX_FRAME_SAMPLES * 10);
    let n = 0;
    for (const p of payloads) n += codec.decode(p, out, n);
    expect(n).toBe(out.length);
    expect(Math.max(...Array.from(out, Math.abs))).toBeLessThanOrEqual(4);
  });

  test('RTP framing (RFC 3551 4.5.2): clock 8000, 160 units and 160 octets per 20 ms, 2 samples per octet', () => {
    const codec = new G722Codec();
    expect([codec.name, codec.clockRate, codec.rtpSamplesPer20ms]).toEqual(['G722', 8000, 160]);
    const payload = codec.encode(sineTone(1000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES));
    expect(payload.length).toBe(160);
    expect(codec.samplesIn(payload)).toBe(320);
    expect(codec.samplesIn(Buffer.alloc(MAX_DECODED_SAMPLES / 2))).toBe(MAX_DECODED_SAMPLES);
    expect(codec.samplesIn(Buffer.alloc(MAX_DECODED_SAMPLES / 2 + 1))).toBe(0);
    expect(codec.samplesIn(Buffer.alloc(0))).toBe(0);
    expect(codec.decode(payload, new Int16Array(320), 0)).toBe(320);
    expect(codec.encodeCount).toBe(1);
  });

  test('random octets decode without throwing, never past the buffer, and the decoder recovers afterwards', () => {
    const codec = new G722Codec();
    const out = new Int16Array(MIX_FRAME_SAMPLES + 8).fill(12345);
    for (let i = 0; i < 50; i++) {
      const junk = lcgBytes(1 + ((i * 37) % 300), i + 1);
      expect(() => codec.decode(junk, out, 0)).not.toThrow();
    }
    // Short room: writes whole sample pairs up to the end, returns what it wrote.
    const tail = new Int16Array(11).fill(7);
    expect(codec.decode(lcgBytes(160, 3), tail, 4)).toBe(6);
    expect(tail[10]).toBe(7);
    expect(codec.decode(lcgBytes(160, 3), tail, 11)).toBe(0);
    expect(codec.decode(lcgBytes(160, 3), tail, -1)).toBe(0);
    expect(codec.decode(Buffer.alloc(0), tail, 0)).toBe(0);
    // ADPCM state adapts back: a clean tone afterwards is heard cleanly again.
    const enc = new G722Codec();
    const input = sineTone(1000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES * 25, 8000);
    const heard = new Int16Array(input.length);
    let n = 0;
    for (let i = 0; i < input.length; i += MIX_FRAME_SAMPLES) {
      n += codec.decode(enc.encode(input.subarray(i, i + MIX_FRAME_SAMPLES)), heard, n);
    }
    expect(snrDb(input, heard, CODEC_DELAY, 4800, 7800)).toBeGreaterThan(30);
  });

  test('conceal() replays the last 20 ms fading to silence within 60 ms; a new packet resets the fade', () => {
    const codec = new G722Codec();
    const tone = sineTone(1000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES * 5, 8000);
    const out = new Int16Array(MIX_FRAME_SAMPLES);
    for (let i = 0; i < 5; i++) codec.decode(codec.encode(tone.subarray(i * 320, i * 320 + 320)), out, 0);
    const last = rms(out);
    const plc = new Int16Array(MIX_FRAME_SAMPLES * 4);
    for (let f = 0; f < 4; f++) expect(codec.conceal(plc, f * MIX_FRAME_SAMPLES, MIX_FRAME_SAMPLES)).toBe(320);
    const frameRms = [0, 1, 2, 3].map((f) => rms(plc.subarray(f * 320, f * 320 + 320)));
    expect(frameRms[0]).toBeGreaterThan(last * 0.6);
    expect(frameRms[0]).toBeLessThan(last);
    expect(frameRms[1]).toBeLessThan(frameRms[0] ?? 0);
    expect(frameRms[3]).toBe(0);
    expect(goertzelPower(plc.subarray(0, 320), MIX_SAMPLE_RATE, 1000)).toBeGreaterThan(1e5);
    expect(codec.conceal(plc, plc.length - 5, 320)).toBe(5);
    codec.decode(codec.encode(tone.subarray(0, 320)), out, 0);
    codec.conceal(plc, 0, 320);
    expect(rms(plc.subarray(0, 320))).toBeGreaterThan(0);
  });

  test('conceal() before any packet is silence', () => {
    const out = new Int16Array(320).fill(99);
    expect(new G722Codec().conceal(out, 0, 320)).toBe(320);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  test('two codec instances keep separate state (one per stream)', () => {
    const a = new G722Codec();
    const b = new G722Codec();
    const tone = sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000);
    a.encode(tone);
    const fresh = new G722Codec().encode(tone);
    expect(b.encode(tone).equals(fresh)).toBe(true);
    expect(a.encode(tone).equals(fresh)).toBe(false);
  });
});
