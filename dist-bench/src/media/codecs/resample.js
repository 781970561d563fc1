"use strict";
/**
 * Streaming 2x resamplers between G.711's 8 kHz and the mixer's 16 kHz, using one 7-tap halfband
 * filter (-1, 0, 9, 16, 9, 0, -1)/32: zero gain at 8 kHz, -25 dB at 6 kHz, no allocation per call.
 * Each instance carries filter history for exactly one stream: never share one between streams.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Downsampler2x = exports.Upsampler2x = void 0;
function clamp16(x) {
    return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}
/** 8 kHz -> 16 kHz. Latency: 2 input samples. */
class Upsampler2x {
    // The last three input samples x[n-1], x[n], x[n+1]; the next input is x[n+2].
    a = 0;
    b = 0;
    c = 0;
    /** Writes 2*n samples to out at offset (caller guarantees room). Returns samples written. */
    process(src, n, out, offset) {
        let a = this.a;
        let b = this.b;
        let c = this.c;
        let o = offset;
        for (let i = 0; i < n; i++) {
            const d = src[i] ?? 0;
            out[o++] = b;
            out[o++] = clamp16((9 * (b + c) - (a + d)) >> 4);
            a = b;
            b = c;
            c = d;
        }
        this.a = a;
        this.b = b;
        this.c = c;
        return 2 * n;
    }
    reset() {
        this.a = this.b = this.c = 0;
    }
}
exports.Upsampler2x = Upsampler2x;
const HISTORY = 6;
/** 16 kHz -> 8 kHz. Latency: 3 input samples. */
class Downsampler2x {
    ext;
    constructor(maxInput = 1920) {
        this.ext = new Int32Array(maxInput + HISTORY);
    }
    /** Reads n (even) samples from src, writes n/2 to out. Returns samples written. */
    process(src, n, out) {
        if (n + HISTORY > this.ext.length)
            this.ext = new Int32Array(n + HISTORY);
        const ext = this.ext;
        for (let i = 0; i < n; i++)
            ext[HISTORY + i] = src[i] ?? 0;
        const half = n >> 1;
        for (let j = 0; j < half; j++) {
            const c = 2 * j + 3;
            const acc = 16 * (ext[c] ?? 0) + 9 * ((ext[c - 1] ?? 0) + (ext[c + 1] ?? 0)) - ((ext[c - 3] ?? 0) + (ext[c + 3] ?? 0));
            out[j] = clamp16(acc >> 5);
        }
        // Keep the tail as history for the next call.
        ext.copyWithin(0, n, n + HISTORY);
        return half;
    }
    reset() {
        this.ext.fill(0);
    }
}
exports.Downsampler2x = Downsampler2x;
//# sourceMappingURL=resample.js.map