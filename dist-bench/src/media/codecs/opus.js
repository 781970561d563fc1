"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.OpusCodec = exports.OPUS_DEFAULT_BITRATE = exports.OPUS_DEFAULT_COMPLEXITY = void 0;
exports.opusPacketSamples = opusPacketSamples;
/**
 * Opus (RFC 6716 / RFC 7587) through @discordjs/opus, decoding and encoding at the mixer's
 * 16 kHz mono; the RTP clock stays 48 kHz. The only file that imports @discordjs/opus: never
 * let a native exception escape to the packet path.
 */
const opus_1 = require("@discordjs/opus");
const types_1 = require("./types");
const OPUS_SET_APPLICATION_REQUEST = 4000;
const OPUS_APPLICATION_VOIP = 2048;
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_COMPLEXITY_REQUEST = 4010;
/**
 * Measured at 16 kHz mono, 32 kbit/s, CPU ms per 20 ms frame (libopus via @discordjs/opus):
 * 'audio' (CELT) c0 0.02, c2-c3 0.035, c5 0.07, c8-c10 0.09; 'voip' (SILK) c0 0.04, c2 0.08,
 * c5 0.14, c10 0.10. CELT at complexity 3 costs a quarter of SILK at 5 and sounds fine for a mix
 * (speech and music alike), so it is the default; 'voip' is there for low bitrates.
 */
exports.OPUS_DEFAULT_COMPLEXITY = 3;
exports.OPUS_DEFAULT_BITRATE = 32000;
// Frame duration per TOC config (RFC 6716 section 3.1), in tenths of a millisecond.
const TOC_FRAME_TENTHS_MS = [
    100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 400, 600, // SILK NB/MB/WB
    100, 200, 100, 200, // Hybrid SWB/FB
    25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, // CELT
];
/**
 * Samples (at `sampleRate`) carried by an Opus packet, from its TOC byte and frame count
 * (RFC 6716 section 3.2); 0 if malformed or longer than 120 ms.
 */
function opusPacketSamples(packet, sampleRate = types_1.MIX_SAMPLE_RATE) {
    const toc = packet[0];
    if (toc === undefined)
        return 0;
    const tenths = TOC_FRAME_TENTHS_MS[toc >> 3] ?? 0;
    const code = toc & 0x03;
    let frames;
    if (code === 0)
        frames = 1;
    else if (code === 3) {
        const countByte = packet[1];
        if (countByte === undefined)
            return 0;
        frames = countByte & 0x3f;
    }
    else
        frames = 2;
    const totalTenths = tenths * frames;
    if (frames === 0 || totalTenths > 1200)
        return 0;
    return (totalTenths * sampleRate) / 10000;
}
const EMPTY = Buffer.alloc(0);
class OpusCodec {
    name = 'opus';
    clockRate = 48000;
    rtpSamplesPer20ms = 960;
    native = new opus_1.OpusEncoder(types_1.MIX_SAMPLE_RATE, 1);
    encoderReady = false;
    decodedAny = false;
    encodes = 0;
    complexity;
    bitrate;
    application;
    // Encoder input: an Int16Array view over a Buffer the native side reads directly.
    pcmBytes = Buffer.alloc(types_1.MIX_FRAME_SAMPLES * 2);
    pcmView = new Int16Array(this.pcmBytes.buffer, this.pcmBytes.byteOffset, types_1.MIX_FRAME_SAMPLES);
    // Byte view of the last decode target, cached so steady-state decode allocates nothing of ours.
    outTarget;
    outBytes = new Uint8Array(0);
    constructor(options = {}) {
        this.complexity = Math.max(0, Math.min(10, Math.round(options.complexity ?? exports.OPUS_DEFAULT_COMPLEXITY)));
        this.bitrate = Math.max(6000, Math.min(128000, Math.round(options.bitrate ?? exports.OPUS_DEFAULT_BITRATE)));
        this.application = options.application ?? 'audio';
    }
    get encodeCount() {
        return this.encodes;
    }
    samplesIn(payload) {
        const n = opusPacketSamples(payload, types_1.MIX_SAMPLE_RATE);
        return n > types_1.MAX_DECODED_SAMPLES ? 0 : n;
    }
    decode(payload, out, offset) {
        if (payload.length === 0)
            return 0;
        let pcm;
        try {
            pcm = this.native.decode(payload);
        }
        catch {
            return 0;
        }
        this.decodedAny = true;
        return this.copyOut(pcm, out, offset, pcm.length >> 1);
    }
    conceal(out, offset, samples) {
        const n = Math.min(samples, out.length - offset);
        if (n <= 0)
            return 0;
        if (this.decodedAny) {
            try {
                // An empty packet asks libopus for PLC. The binding asks for its maximum frame (360 ms);
                // we keep only what the gap needs: the decoder just believes a longer gap happened.
                const pcm = this.native.decode(EMPTY);
                if (pcm.length >= n * 2)
                    return this.copyOut(pcm, out, offset, n);
            }
            catch {
                // fall through to silence
            }
        }
        out.fill(0, offset, offset + n);
        return n;
    }
    encode(pcm) {
        if (!this.encoderReady)
            this.setUpEncoder();
        this.encodes++;
        this.pcmView.set(pcm.length === types_1.MIX_FRAME_SAMPLES ? pcm : pcm.subarray(0, types_1.MIX_FRAME_SAMPLES));
        return this.native.encode(this.pcmBytes);
    }
    close() {
        // The native object frees its state when collected; drop our references early.
        this.outTarget = undefined;
        this.outBytes = new Uint8Array(0);
    }
    setUpEncoder() {
        const app = this.application === 'voip' ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO;
        this.native.applyEncoderCTL(OPUS_SET_APPLICATION_REQUEST, app);
        this.native.applyEncoderCTL(OPUS_SET_COMPLEXITY_REQUEST, this.complexity);
        this.native.setBitrate(this.bitrate);
        this.encoderReady = true;
    }
    copyOut(pcm, out, offset, samples) {
        const n = Math.min(samples, out.length - offset);
        if (n <= 0)
            return 0;
        if (out !== this.outTarget) {
            this.outTarget = out;
            this.outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        }
        // Native PCM is little-endian int16, as is every platform Node supports for this addon.
        pcm.copy(this.outBytes, offset * 2, 0, n * 2);
        return n;
    }
}
exports.OpusCodec = OpusCodec;
//# sourceMappingURL=opus.js.map