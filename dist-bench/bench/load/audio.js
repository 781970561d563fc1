"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.OWN_MARGIN_DB = exports.PRESENT_DB = exports.TONE_AMPLITUDE = exports.CODECS = void 0;
exports.toneFrequency = toneFrequency;
exports.pcmuToneFrames = pcmuToneFrames;
exports.opusToneFrames = opusToneFrames;
exports.toneFrames = toneFrames;
exports.decodePayloads = decodePayloads;
exports.checkTones = checkTones;
/**
 * Load-generator audio: pre-encoded 20 ms tone frames that loop seamlessly (PCMU from the G.711
 * table, Opus through @discordjs/opus once at start), and decoders plus a Goertzel tone check for
 * what a participant received. Encoding happens only at start: never encode on the send path.
 */
const opus_1 = require("@discordjs/opus");
const g711_1 = require("../../src/media/codecs/g711");
const tone_1 = require("../../src/media/codecs/tone");
exports.CODECS = {
    PCMU: {
        name: 'PCMU',
        payloadType: 0,
        clockRate: 8000,
        samplesPer20ms: 160,
        sdpFormats: '0',
        sdpAttributes: ['a=rtpmap:0 PCMU/8000'],
    },
    opus: {
        name: 'opus',
        payloadType: 111,
        clockRate: 48000,
        samplesPer20ms: 960,
        sdpFormats: '111',
        sdpAttributes: ['a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=20;useinbandfec=0'],
    },
};
/** Amplitude of each participant's tone: three summed stay far from clipping. */
exports.TONE_AMPLITUDE = 6000;
/** Tone of participant `k` (0-based) of a room: 300, 400, 500, 600 Hz... */
function toneFrequency(k) {
    return 300 + 100 * k;
}
/**
 * One second of `freq` Hz (an integer number of cycles, so the loop has no phase jump) cut into
 * 50 G.711 u-law frames of 160 bytes.
 */
function pcmuToneFrames(freq, amplitude = exports.TONE_AMPLITUDE) {
    const pcm = (0, tone_1.sineTone)(freq, 8000, 8000, amplitude);
    const frames = [];
    for (let f = 0; f < 50; f++) {
        const b = Buffer.allocUnsafe(160);
        for (let i = 0; i < 160; i++)
            b[i] = (0, g711_1.encodeUlaw)(pcm[f * 160 + i] ?? 0);
        frames.push(b);
    }
    return frames;
}
/** `seconds` of `freq` Hz at 48 kHz mono encoded as 20 ms Opus frames (32 kbit/s). */
function opusToneFrames(freq, seconds = 2, amplitude = exports.TONE_AMPLITUDE) {
    const enc = new opus_1.OpusEncoder(48000, 1);
    enc.setBitrate(32000);
    const pcm = (0, tone_1.sineTone)(freq, 48000, 48000 * seconds, amplitude);
    const frames = [];
    for (let f = 0; f < seconds * 50; f++) {
        const slice = pcm.subarray(f * 960, (f + 1) * 960);
        frames.push(Buffer.from(enc.encode(Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength))));
    }
    return frames;
}
/** Frames for participant `k` in `codec`, cached: every room shares the same four tones. */
const frameCache = new Map();
function toneFrames(codec, k) {
    const key = `${codec}:${k}`;
    let frames = frameCache.get(key);
    if (!frames) {
        frames = codec === 'PCMU' ? pcmuToneFrames(toneFrequency(k)) : opusToneFrames(toneFrequency(k));
        frameCache.set(key, frames);
    }
    return frames;
}
/** Decodes consecutive received payloads (in sequence order) to 16-bit PCM. */
function decodePayloads(codec, payloads) {
    if (codec === 'PCMU') {
        const total = payloads.reduce((n, p) => n + p.length, 0);
        const out = new Int16Array(total);
        let at = 0;
        for (const p of payloads)
            for (let i = 0; i < p.length; i++)
                out[at++] = g711_1.ULAW_DECODE[p[i] ?? 0xff] ?? 0;
        return { samples: out, sampleRate: 8000 };
    }
    // A fresh decoder per check: its state must follow this listener's stream only.
    const dec = new opus_1.OpusEncoder(16000, 1);
    const parts = [];
    for (const p of payloads) {
        try {
            const pcm = dec.decode(p);
            parts.push(new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength)));
        }
        catch {
            parts.push(new Int16Array(320));
        }
    }
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
        out.set(p, at);
        at += p.length;
    }
    return { samples: out, sampleRate: 16000 };
}
/** A tone counts as present above this (dB relative to TONE_AMPLITUDE's expected power). */
exports.PRESENT_DB = -20;
/** The listener's own tone must be this far below the weakest other tone. */
exports.OWN_MARGIN_DB = 20;
function db(power) {
    const ref = (exports.TONE_AMPLITUDE * exports.TONE_AMPLITUDE) / 16; // goertzelPower of a full bench tone
    return power <= 0 ? -200 : 10 * Math.log10(power / ref);
}
/**
 * Goertzel check of a listener's decoded audio: every other participant's tone is present (above
 * PRESENT_DB) and its own tone is at least OWN_MARGIN_DB below the weakest of them.
 */
function checkTones(audio, ownFreq, otherFreqs) {
    const othersDb = otherFreqs.map((f) => Math.round(db((0, tone_1.goertzelPower)(audio.samples, audio.sampleRate, f)) * 10) / 10);
    const ownDb = Math.round(db((0, tone_1.goertzelPower)(audio.samples, audio.sampleRate, ownFreq)) * 10) / 10;
    if (audio.samples.length < audio.sampleRate / 4) {
        return { ok: false, othersDb, ownDb, reason: `only ${audio.samples.length} samples received` };
    }
    const weakest = Math.min(...othersDb);
    if (weakest < exports.PRESENT_DB)
        return { ok: false, othersDb, ownDb, reason: `a peer tone is missing (${weakest} dB)` };
    if (ownDb > weakest - exports.OWN_MARGIN_DB)
        return { ok: false, othersDb, ownDb, reason: `own tone audible (${ownDb} dB)` };
    return { ok: true, othersDb, ownDb };
}
//# sourceMappingURL=audio.js.map