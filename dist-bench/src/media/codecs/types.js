"use strict";
/**
 * The audio codec contract shared by the jitter buffer and the mixer, and the mixer's fixed PCM
 * format (16 kHz mono, 20 ms frames). Holds no state and must never import a codec library.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.MAX_DECODED_SAMPLES = exports.MIX_FRAME_SAMPLES = exports.MIX_FRAME_MS = exports.MIX_SAMPLE_RATE = exports.AUDIO_CODEC_NAMES = void 0;
exports.codecIndex = codecIndex;
/** Every codec name, in the order used to index per-codec arrays (see codecIndex). */
exports.AUDIO_CODEC_NAMES = ['PCMU', 'PCMA', 'opus', 'G722'];
/** The mixer works on 16 kHz mono: wideband enough for Opus talkers, a cheap x2 from G.711. */
exports.MIX_SAMPLE_RATE = 16000;
exports.MIX_FRAME_MS = 20;
exports.MIX_FRAME_SAMPLES = (exports.MIX_SAMPLE_RATE / 1000) * exports.MIX_FRAME_MS;
/** Longest payload we decode, in mixer samples: 120 ms, the Opus maximum (also bounds G.711). */
exports.MAX_DECODED_SAMPLES = (exports.MIX_SAMPLE_RATE / 1000) * 120;
const CODEC_INDEX = { PCMU: 0, PCMA: 1, opus: 2, G722: 3 };
/** Position of `name` in AUDIO_CODEC_NAMES (per-codec arrays are sized from its length). */
function codecIndex(name) {
    return CODEC_INDEX[name];
}
//# sourceMappingURL=types.js.map