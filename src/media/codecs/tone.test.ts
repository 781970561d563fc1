import { dominantFrequency, goertzelPower, rms, sineTone } from './tone';

describe('tone helpers', () => {
  test('rms of a sine is amplitude / sqrt(2); of silence is 0', () => {
    expect(rms(sineTone(1000, 16000, 16000, 10000))).toBeCloseTo(10000 / Math.SQRT2, -1);
    expect(rms(new Int16Array(100))).toBe(0);
  });

  test.each([440, 700, 1000, 3150])('dominantFrequency finds %i Hz within 1 Hz', (f) => {
    expect(Math.abs(dominantFrequency(sineTone(f, 16000, 8000), 16000) - f)).toBeLessThanOrEqual(1);
  });

  test('dominantFrequency picks the louder of two tones and returns 0 for silence', () => {
    const a = sineTone(440, 8000, 8000, 3000);
    const b = sineTone(1000, 8000, 8000, 9000);
    const mix = a.map((x, i) => x + (b[i] ?? 0));
    expect(dominantFrequency(mix, 8000)).toBe(1000);
    expect(dominantFrequency(new Int16Array(800), 8000)).toBe(0);
  });

  test('goertzelPower separates a present tone from an absent one by more than 40 dB', () => {
    const s = sineTone(700, 16000, 3200, 8000);
    expect(goertzelPower(s, 16000, 700)).toBeCloseTo((8000 * 8000) / 16, -4);
    expect(goertzelPower(s, 16000, 700) / goertzelPower(s, 16000, 1000)).toBeGreaterThan(1e4);
  });
});
