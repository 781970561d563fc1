"use strict";
/**
 * Audio levels in dBov (0 = full-scale square wave, -127 = silence, as RFC 6464 counts them):
 * frame energy for the talker choice and the active speaker, and RFC 6464 header values.
 * Pure arithmetic; never allocates.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.SILENCE_DBOV = void 0;
exports.frameLevelDbov = frameLevelDbov;
exports.parseRfc6464Level = parseRfc6464Level;
exports.rfc6464Dbov = rfc6464Dbov;
exports.SILENCE_DBOV = -127;
/** Level of the first n samples of a frame, in dBov, floored at -127. */
function frameLevelDbov(pcm, n = pcm.length) {
    if (n <= 0)
        return exports.SILENCE_DBOV;
    let acc = 0;
    for (let i = 0; i < n; i++) {
        const s = pcm[i] ?? 0;
        acc += s * s;
    }
    if (acc === 0)
        return exports.SILENCE_DBOV;
    const db = 10 * Math.log10(acc / n / (32768 * 32768));
    return db < exports.SILENCE_DBOV ? exports.SILENCE_DBOV : db;
}
/**
 * RFC 6464 one-byte audio level (section 3): V flag in the top bit, level 0..127 meaning -dBov.
 * Returns the level in dBov; `voice` is the sender's own VAD decision.
 */
function parseRfc6464Level(byte) {
    return { voice: (byte & 0x80) !== 0, dbov: -(byte & 0x7f) };
}
/** dBov for the packet path: the level part of an RFC 6464 byte without allocating. */
function rfc6464Dbov(byte) {
    return -(byte & 0x7f);
}
//# sourceMappingURL=levels.js.map