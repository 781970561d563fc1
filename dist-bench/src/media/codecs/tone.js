"use strict";
/**
 * Signal measurement helpers for tests and recordings: RMS, Goertzel power at one frequency, and
 * the dominant frequency. Test-and-tooling code: never call it on the packet path.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.rms = rms;
exports.goertzelPower = goertzelPower;
exports.dominantFrequency = dominantFrequency;
exports.sineTone = sineTone;
function rms(samples) {
    if (samples.length === 0)
        return 0;
    let acc = 0;
    for (let i = 0; i < samples.length; i++) {
        const s = samples[i] ?? 0;
        acc += s * s;
    }
    return Math.sqrt(acc / samples.length);
}
function hannWindowed(samples) {
    const n = samples.length;
    const out = new Float64Array(n);
    const step = (2 * Math.PI) / Math.max(1, n - 1);
    for (let i = 0; i < n; i++)
        out[i] = (samples[i] ?? 0) * (0.5 - 0.5 * Math.cos(step * i));
    return out;
}
function goertzelRaw(windowed, sampleRate, freq) {
    const n = windowed.length;
    if (n === 0)
        return 0;
    const coeff = 2 * Math.cos((2 * Math.PI * freq) / sampleRate);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
        const s0 = (windowed[i] ?? 0) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
}
/**
 * Power of `freq` in `samples` (Goertzel on a Hann-windowed copy, so a strong tone does not leak
 * into a neighbour's bin). A sine of amplitude A at `freq` gives about A^2 / 16.
 */
function goertzelPower(samples, sampleRate, freq) {
    return goertzelRaw(hannWindowed(samples), sampleRate, freq);
}
/** Longest stretch analysed; longer inputs are measured on their middle part. */
const MAX_ANALYSED = 16384;
/**
 * The frequency (Hz, 1 Hz resolution) with the most energy between minHz and maxHz: a 10 Hz
 * coarse Goertzel scan refined around the best bin. Returns 0 for silence.
 */
function dominantFrequency(samples, sampleRate, minHz = 50, maxHz = sampleRate / 2 - 50) {
    let view = samples;
    if (samples.length > MAX_ANALYSED) {
        const start = (samples.length - MAX_ANALYSED) >> 1;
        view = samples.subarray(start, start + MAX_ANALYSED);
    }
    if (rms(view) < 1)
        return 0;
    const windowed = hannWindowed(view);
    let best = 0;
    let bestPower = -1;
    for (let f = minHz; f <= maxHz; f += 10) {
        const p = goertzelRaw(windowed, sampleRate, f);
        if (p > bestPower) {
            bestPower = p;
            best = f;
        }
    }
    const coarse = best;
    for (let f = Math.max(minHz, coarse - 10); f <= Math.min(maxHz, coarse + 10); f++) {
        const p = goertzelRaw(windowed, sampleRate, f);
        if (p > bestPower) {
            bestPower = p;
            best = f;
        }
    }
    return best;
}
/** A sine tone as int16 samples; `startSample` lets a caller continue a tone across frames. */
function sineTone(freq, sampleRate, count, amplitude = 8000, startSample = 0) {
    const out = new Int16Array(count);
    const w = (2 * Math.PI * freq) / sampleRate;
    for (let i = 0; i < count; i++)
        out[i] = Math.round(amplitude * Math.sin(w * (startSample + i)));
    return out;
}
//# sourceMappingURL=tone.js.map