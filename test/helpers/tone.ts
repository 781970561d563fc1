/**
 * Tone analysis for recordings made by real peers, on top of the project's measurement helpers
 * (src/media/codecs/tone.ts: Goertzel power, RMS, dominant frequency): picks the steady middle of
 * a recording and reports the power of the tones a mix must (or must not) hold. Pure, no I/O.
 */
import { dominantFrequency, goertzelPower, rms } from '../../src/media/codecs/tone';

export { dominantFrequency, goertzelPower, rms };

/** The middle `seconds` of a recording (skips call setup and teardown). */
export function middle(samples: Int16Array, sampleRate: number, seconds: number): Int16Array {
  const want = Math.min(samples.length, Math.floor(seconds * sampleRate));
  const start = Math.floor((samples.length - want) / 2);
  return samples.subarray(start, start + want);
}

export interface ToneReport {
  rms: number;
  dominant: number;
  /** Goertzel power per asked frequency. */
  power: Record<number, number>;
}

export function toneReport(samples: Int16Array, sampleRate: number, freqs: readonly number[]): ToneReport {
  const power: Record<number, number> = {};
  for (const f of freqs) power[f] = goertzelPower(samples, sampleRate, f);
  return { rms: rms(samples), dominant: dominantFrequency(samples, sampleRate, 100, Math.min(4000, sampleRate / 2 - 50)), power };
}
