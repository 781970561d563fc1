import { ALAW_DECODE, G711Codec, ULAW_DECODE, encodeAlaw, encodeUlaw } from './g711';
import { dominantFrequency, goertzelPower, rms, sineTone } from './tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from './types';

describe('G.711 tables (ITU-T G.711)', () => {
  test.each([
    [0xff, 0],
    [0x7f, 0],
    [0x00, -32124],
    [0x80, 32124],
    [0xfe, 8],
    [0x7e, -8],
  ])('u-law %s decodes to %s', (code, value) => {
    expect(ULAW_DECODE[code]).toBe(value);
  });

  test.each([
    [0xd5, 8],
    [0x55, -8],
    [0xaa, 32256],
    [0x2a, -32256],
    [0xd4, 24],
  ])('A-law %s decodes to %s', (code, value) => {
    expect(ALAW_DECODE[code]).toBe(value);
  });

  test('u-law: every code survives decode -> encode (the two zeros map to +0 = 0xFF)', () => {
    for (let code = 0; code < 256; code++) {
      const back = encodeUlaw(ULAW_DECODE[code] ?? 0);
      expect(back).toBe(code === 0x7f ? 0xff : code);
    }
  });

  test('A-law: every code survives decode -> encode', () => {
    for (let code = 0; code < 256; code++) expect(encodeAlaw(ALAW_DECODE[code] ?? 0)).toBe(code);
  });

  test('encode is monotonic: a louder sample never gets a quieter code', () => {
    let prevU = -Infinity;
    let prevA = -Infinity;
    for (let x = -32768; x <= 32767; x += 7) {
      const u = ULAW_DECODE[encodeUlaw(x)] ?? 0;
      const a = ALAW_DECODE[encodeAlaw(x)] ?? 0;
      expect(u).toBeGreaterThanOrEqual(prevU);
      expect(a).toBeGreaterThanOrEqual(prevA);
      prevU = u;
      prevA = a;
    }
  });

  test('quantisation error stays within half a step (about 3% of the value above the first segment)', () => {
    for (const x of [100, 1000, 5000, 20000, -20000, -777]) {
      expect(Math.abs((ULAW_DECODE[encodeUlaw(x)] ?? 0) - x)).toBeLessThanOrEqual(Math.max(8, Math.abs(x) * 0.035));
      expect(Math.abs((ALAW_DECODE[encodeAlaw(x)] ?? 0) - x)).toBeLessThanOrEqual(Math.max(16, Math.abs(x) * 0.035));
    }
  });
});

describe('G711Codec at the 16 kHz mixer rate', () => {
  test.each(['PCMU', 'PCMA'] as const)('%s: 20 ms payload is 160 bytes and 320 mixer samples', (name) => {
    const codec = new G711Codec(name);
    const payload = codec.encode(new Int16Array(MIX_FRAME_SAMPLES));
    expect(payload.length).toBe(160);
    expect(codec.samplesIn(payload)).toBe(320);
    expect(codec.rtpSamplesPer20ms).toBe(160);
    expect(payload.every((b) => b === (name === 'PCMU' ? 0xff : 0xd5))).toBe(true);
  });

  test.each(['PCMU', 'PCMA'] as const)('%s: a 440 Hz tone keeps its pitch and level through encode/decode', (name) => {
    const tx = new G711Codec(name);
    const rx = new G711Codec(name);
    const frames = 25;
    const out = new Int16Array(frames * MIX_FRAME_SAMPLES);
    let o = 0;
    for (let f = 0; f < frames; f++) {
      const pcm = sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 10000, f * MIX_FRAME_SAMPLES);
      o += rx.decode(tx.encode(pcm), out, o);
    }
    expect(o).toBe(out.length);
    const steady = out.subarray(MIX_FRAME_SAMPLES);
    expect(dominantFrequency(steady, MIX_SAMPLE_RATE)).toBeGreaterThanOrEqual(438);
    expect(dominantFrequency(steady, MIX_SAMPLE_RATE)).toBeLessThanOrEqual(442);
    expect(rms(steady) / (10000 / Math.SQRT2)).toBeGreaterThan(0.95);
    expect(rms(steady) / (10000 / Math.SQRT2)).toBeLessThan(1.05);
  });

  test('downsampling rejects content above 4 kHz instead of aliasing it (6 kHz tone at -20 dB or less)', () => {
    const tx = new G711Codec('PCMU');
    const rx = new G711Codec('PCMU');
    const out = new Int16Array(10 * MIX_FRAME_SAMPLES);
    for (let f = 0, o = 0; f < 10; f++) {
      o += rx.decode(tx.encode(sineTone(6000, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 10000, f * MIX_FRAME_SAMPLES)), out, o);
    }
    expect(rms(out.subarray(MIX_FRAME_SAMPLES))).toBeLessThan(10000 / Math.SQRT2 / 10);
  });

  test('decode never writes past the output and rejects payloads over 120 ms', () => {
    const codec = new G711Codec('PCMA');
    const out = new Int16Array(100);
    expect(codec.decode(Buffer.alloc(160, 0xd5), out, 90)).toBe(10);
    expect(codec.samplesIn(Buffer.alloc(961))).toBe(0);
  });

  test('conceal writes silence of the requested length', () => {
    const codec = new G711Codec('PCMU');
    const out = new Int16Array(320).fill(123);
    expect(codec.conceal(out, 0, 320)).toBe(320);
    expect(goertzelPower(out, MIX_SAMPLE_RATE, 440)).toBe(0);
  });
});
