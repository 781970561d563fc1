"use strict";
/**
 * Output protection for a 32-bit mix: a frame-rate gain limiter (instant attack ramped across the
 * frame, slow release) plus a soft knee as the last guard, so loud sums never wrap around and
 * normal speech passes untouched. One instance per output stream; never allocates.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Limiter = void 0;
exports.softClip = softClip;
/** Samples below this pass bit-exact; above it the soft knee bends them under full scale. */
const KNEE = 28000;
const HEADROOM = 32767 - KNEE;
/** Peak the gain stage aims for, leaving the knee little to do. */
const CEILING = 30000;
/** Fraction of the distance to unity gain recovered per 20 ms frame (about 0.7 s time constant). */
const RELEASE = 0.03;
class Limiter {
    gain = 1;
    /** Frames in which the gain stage was below unity (for stats). */
    limitedFrames = 0;
    get currentGain() {
        return this.gain;
    }
    /** Reads n samples of src, writes the limited result to dst. */
    process(src, dst, n) {
        let peak = 0;
        for (let i = 0; i < n; i++) {
            const v = src[i] ?? 0;
            const a = v < 0 ? -v : v;
            if (a > peak)
                peak = a;
        }
        const start = this.gain;
        if (start === 1 && peak <= KNEE) {
            for (let i = 0; i < n; i++)
                dst[i] = src[i] ?? 0;
            return;
        }
        const wanted = peak > CEILING ? CEILING / peak : 1;
        const released = start + (1 - start) * RELEASE;
        let end = wanted < released ? wanted : released;
        if (end > 0.9999)
            end = 1;
        this.gain = end;
        if (end < 1)
            this.limitedFrames++;
        const step = (end - start) / n;
        let g = start;
        for (let i = 0; i < n; i++) {
            g += step;
            dst[i] = softClip((src[i] ?? 0) * g);
        }
    }
    reset() {
        this.gain = 1;
    }
}
exports.Limiter = Limiter;
/** Identity below the knee, then a tanh bend that approaches but never exceeds full scale. */
function softClip(x) {
    if (x > KNEE)
        return Math.round(KNEE + HEADROOM * Math.tanh((x - KNEE) / HEADROOM));
    if (x < -KNEE)
        return -Math.round(KNEE + HEADROOM * Math.tanh((-x - KNEE) / HEADROOM));
    return Math.round(x);
}
//# sourceMappingURL=limiter.js.map