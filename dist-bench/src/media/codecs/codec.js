"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __exportStar = (this && this.__exportStar) || function(m, exports) {
    for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) __createBinding(exports, m, p);
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.createAudioCodec = createAudioCodec;
exports.audioCodecFactory = audioCodecFactory;
exports.audioCodecNameOf = audioCodecNameOf;
/**
 * Codec factory: the one place that maps a negotiated codec name to an AudioCodec instance.
 * Every instance carries per-stream state, so never share one between two streams.
 */
const g711_1 = require("./g711");
const g722_1 = require("./g722");
const opus_1 = require("./opus");
__exportStar(require("./types"), exports);
function createAudioCodec(name, options = {}) {
    switch (name) {
        case 'PCMU':
        case 'PCMA':
            return new g711_1.G711Codec(name);
        case 'G722':
            return new g722_1.G722Codec();
        case 'opus':
            return new opus_1.OpusCodec({
                complexity: options.opusComplexity,
                bitrate: options.opusBitrate,
                application: options.opusApplication,
            });
    }
}
/** A factory with fixed options, the shape the mixer takes. */
function audioCodecFactory(options = {}) {
    return (name) => createAudioCodec(name, options);
}
/**
 * Maps an SDP rtpmap encoding name (case-insensitive, RFC 4566) and clock rate to our codec
 * name; undefined for anything the mixer cannot decode (G.729, telephone-event, ...).
 */
function audioCodecNameOf(encodingName, clockRate) {
    const n = encodingName.toUpperCase();
    if ((n === 'PCMU' || n === 'PCMA') && (clockRate === undefined || clockRate === 8000))
        return n;
    if (n === 'OPUS' && (clockRate === undefined || clockRate === 48000))
        return 'opus';
    // RFC 3551 4.5.2: G.722 samples at 16 kHz but its RTP clock is 8000 (a historical error kept).
    if (n === 'G722' && (clockRate === undefined || clockRate === 8000))
        return 'G722';
    return undefined;
}
//# sourceMappingURL=codec.js.map