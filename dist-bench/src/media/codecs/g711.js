"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.G711Codec = exports.ALAW_ENCODE = exports.ULAW_ENCODE = exports.ALAW_DECODE = exports.ULAW_DECODE = exports.PCMA_SILENCE = exports.PCMU_SILENCE = void 0;
exports.encodeUlaw = encodeUlaw;
exports.encodeAlaw = encodeAlaw;
/**
 * ITU-T G.711 u-law (PCMU) and A-law (PCMA): 256-entry decode tables and 65536-entry encode
 * tables built once at load, plus the 8 <-> 16 kHz resampling. Never allocates per sample, never
 * throws on network input.
 */
const resample_1 = require("./resample");
const types_1 = require("./types");
/** u-law silence (+0) and A-law silence (+8, the code closest to zero). */
exports.PCMU_SILENCE = 0xff;
exports.PCMA_SILENCE = 0xd5;
function ulawDecodeByte(code) {
    const u = ~code & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
    return u & 0x80 ? -magnitude : magnitude;
}
function ulawEncodeSample(sample) {
    const BIAS = 0x84;
    const CLIP = 32635;
    let sign = 0;
    let x = sample;
    if (x < 0) {
        sign = 0x80;
        x = -x;
    }
    if (x > CLIP)
        x = CLIP;
    x += BIAS;
    let exponent = 7;
    for (let mask = 0x4000; exponent > 0 && (x & mask) === 0; mask >>= 1)
        exponent--;
    const mantissa = (x >> (exponent + 3)) & 0x0f;
    return ~(sign | (exponent << 4) | mantissa) & 0xff;
}
function alawDecodeByte(code) {
    const a = code ^ 0x55;
    const exponent = (a >> 4) & 0x07;
    const mantissa = a & 0x0f;
    const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
    return a & 0x80 ? magnitude : -magnitude;
}
function alawEncodeSample(sample) {
    // A-law works on 13 bits; negative values are coded as one's complement magnitude.
    let mask;
    let x = sample >> 3;
    if (x >= 0) {
        mask = 0xd5;
    }
    else {
        mask = 0x55;
        x = -x - 1;
    }
    if (x > 0xfff)
        x = 0xfff;
    let code;
    if (x < 32) {
        code = x >> 1;
    }
    else {
        let exponent = 1;
        while (exponent < 7 && x >= 32 << exponent)
            exponent++;
        code = (exponent << 4) | ((x >> exponent) & 0x0f);
    }
    return (code ^ mask) & 0xff;
}
function buildDecodeTable(decode) {
    const t = new Int16Array(256);
    for (let i = 0; i < 256; i++)
        t[i] = decode(i);
    return t;
}
function buildEncodeTable(encode) {
    // Indexed by the 16-bit two's complement pattern (sample & 0xffff).
    const t = new Uint8Array(65536);
    for (let i = 0; i < 65536; i++)
        t[i] = encode(i >= 32768 ? i - 65536 : i);
    return t;
}
exports.ULAW_DECODE = buildDecodeTable(ulawDecodeByte);
exports.ALAW_DECODE = buildDecodeTable(alawDecodeByte);
exports.ULAW_ENCODE = buildEncodeTable(ulawEncodeSample);
exports.ALAW_ENCODE = buildEncodeTable(alawEncodeSample);
// Scratch for the 8 kHz leg; safe to share because decode/encode never re-enter.
const narrow = new Int16Array(types_1.MAX_DECODED_SAMPLES);
/** One G.711 stream direction pair: decode keeps upsampler state, encode keeps downsampler state. */
class G711Codec {
    name;
    clockRate = 8000;
    rtpSamplesPer20ms = 160;
    encodes = 0;
    up = new resample_1.Upsampler2x();
    down = new resample_1.Downsampler2x(types_1.MIX_FRAME_SAMPLES * 3);
    decodeTable;
    encodeTable;
    silence;
    constructor(name) {
        this.name = name;
        const mu = name === 'PCMU';
        this.decodeTable = mu ? exports.ULAW_DECODE : exports.ALAW_DECODE;
        this.encodeTable = mu ? exports.ULAW_ENCODE : exports.ALAW_ENCODE;
        this.silence = mu ? exports.PCMU_SILENCE : exports.PCMA_SILENCE;
    }
    get encodeCount() {
        return this.encodes;
    }
    samplesIn(payload) {
        const n = payload.length * 2;
        return n > types_1.MAX_DECODED_SAMPLES ? 0 : n;
    }
    decode(payload, out, offset) {
        const room = (out.length - offset) >> 1;
        const n = Math.min(payload.length, room, types_1.MAX_DECODED_SAMPLES >> 1);
        const table = this.decodeTable;
        for (let i = 0; i < n; i++)
            narrow[i] = table[payload[i] ?? this.silence] ?? 0;
        return this.up.process(narrow, n, out, offset);
    }
    conceal(out, offset, samples) {
        // Silence through the upsampler keeps its history continuous (no click on the next packet).
        const n = Math.min(samples >> 1, (out.length - offset) >> 1, types_1.MAX_DECODED_SAMPLES >> 1);
        narrow.fill(0, 0, n);
        return this.up.process(narrow, n, out, offset);
    }
    encode(pcm) {
        this.encodes++;
        const n = this.down.process(pcm, pcm.length & ~1, narrow);
        const bytes = Buffer.allocUnsafe(n);
        const table = this.encodeTable;
        for (let i = 0; i < n; i++)
            bytes[i] = table[(narrow[i] ?? 0) & 0xffff] ?? this.silence;
        return bytes;
    }
    close() {
        this.up.reset();
        this.down.reset();
    }
}
exports.G711Codec = G711Codec;
/** Encodes one 8 kHz sample (tests and tools; the codec uses the tables). */
function encodeUlaw(sample) {
    return exports.ULAW_ENCODE[sample & 0xffff] ?? exports.PCMU_SILENCE;
}
function encodeAlaw(sample) {
    return exports.ALAW_ENCODE[sample & 0xffff] ?? exports.PCMA_SILENCE;
}
//# sourceMappingURL=g711.js.map