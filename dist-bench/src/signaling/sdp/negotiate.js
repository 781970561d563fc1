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
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.parseSdp = parseSdp;
exports.describePayload = describePayload;
exports.answerDirection = answerDirection;
exports.negotiateOffer = negotiateOffer;
exports.negotiateAnswer = negotiateAnswer;
/**
 * SDP offer/answer (RFC 3264) for plain RTP/AVP audio: picks the first codec of the offer that we
 * support (the offerer's preference wins), telephone-event (RFC 4733), the remote address, RTCP
 * port or rtcp-mux, and hold. Pure: parses with sdp-transform, never touches sockets.
 */
const sdpTransform = __importStar(require("sdp-transform"));
const common_1 = require("../../common");
/** RFC 3551 static audio payload types we may see without an rtpmap. */
const STATIC_AUDIO = {
    0: { name: 'PCMU', clockRate: 8000, channels: 1 },
    3: { name: 'GSM', clockRate: 8000, channels: 1 },
    4: { name: 'G723', clockRate: 8000, channels: 1 },
    8: { name: 'PCMA', clockRate: 8000, channels: 1 },
    9: { name: 'G722', clockRate: 8000, channels: 1 },
    18: { name: 'G729', clockRate: 8000, channels: 1 },
};
const MAX_SDP_BYTES = 16384;
function parseSdp(sdp) {
    if (sdp.length > MAX_SDP_BYTES)
        throw new common_1.ConfnodeError('bad-request', 'SDP too large');
    let parsed;
    try {
        parsed = sdpTransform.parse(sdp);
    }
    catch (err) {
        throw new common_1.ConfnodeError('bad-request', 'SDP does not parse', { cause: err });
    }
    if (parsed.version !== 0 || !Array.isArray(parsed.media)) {
        throw new common_1.ConfnodeError('bad-request', 'SDP without v=0 or media');
    }
    return parsed;
}
function payloadList(m) {
    return String(m.payloads ?? '')
        .trim()
        .split(/\s+/)
        .filter((p) => /^\d{1,3}$/.test(p))
        .map(Number)
        .filter((p) => p <= 127);
}
/** Codec description of one payload type of an m-line (rtpmap first, then the static table). */
function describePayload(m, pt) {
    const map = (m.rtp ?? []).find((r) => r.payload === pt);
    const fmtp = (m.fmtp ?? []).find((f) => f.payload === pt)?.config;
    if (map) {
        const channels = map.encoding ? Number(map.encoding) || 1 : 1;
        return { name: map.codec, payloadType: pt, clockRate: map.rate ?? 8000, channels, ...(fmtp ? { fmtp } : {}) };
    }
    const st = STATIC_AUDIO[pt];
    return st ? { ...st, payloadType: pt } : undefined;
}
function matchesCapability(c, cap) {
    if (c.name.toLowerCase() !== cap.name.toLowerCase() || c.clockRate !== cap.clockRate)
        return false;
    // Opus is always signalled as opus/48000/2 (RFC 7587); mono codecs may omit the channel count.
    return cap.name.toLowerCase() === 'opus' ? true : c.channels === cap.channels;
}
function directionOf(m, session) {
    const d = m.direction ?? session.direction;
    return d ?? 'sendrecv';
}
function answerDirection(remote) {
    switch (remote) {
        case 'sendonly':
            return 'recvonly';
        case 'recvonly':
            return 'sendonly';
        default:
            return remote;
    }
}
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function validAddress(ip) {
    const v4 = IPV4.exec(ip);
    if (v4)
        return v4.slice(1).every((o) => Number(o) <= 255);
    return /^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':');
}
function negotiateAudioLine(m, mid, session, caps) {
    const formats = String(m.payloads ?? '');
    const reject = (reason) => ({
        kind: 'rejected',
        type: m.type,
        protocol: m.protocol,
        formats,
        reason,
    });
    if (m.port === 0)
        return reject('disabled by offerer');
    if (m.protocol !== 'RTP/AVP' && m.protocol !== 'RTP/AVPF')
        return reject(`unsupported profile ${m.protocol}`);
    const address = m.connection?.ip ?? session.connection?.ip;
    if (!address || !validAddress(address))
        return reject('no valid connection address');
    if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535)
        return reject('bad port');
    const offered = payloadList(m)
        .map((pt) => describePayload(m, pt))
        .filter((c) => c !== undefined);
    const codec = offered.find((c) => caps.some((cap) => matchesCapability(c, cap)));
    if (!codec)
        return reject('no common codec');
    const events = offered.filter((c) => c.name.toLowerCase() === 'telephone-event');
    const telephoneEvent = events.find((e) => e.clockRate === codec.clockRate) ?? events[0];
    const rtcpMux = m.rtcpMux === 'rtcp-mux';
    const rtcpPort = rtcpMux ? undefined : (m.rtcp?.port ?? m.port + 1);
    const remoteDirection = directionOf(m, session);
    const audio = {
        mid,
        codec,
        ...(telephoneEvent ? { telephoneEvent } : {}),
        remote: { address, rtpPort: m.port, ...(rtcpPort !== undefined ? { rtcpPort } : {}), rtcpMux },
        remoteDirection,
        onHold: remoteDirection === 'sendonly' || remoteDirection === 'inactive' || address === '0.0.0.0',
        ...(m.ptime ? { ptime: m.ptime } : {}),
    };
    return { kind: 'audio', audio };
}
/**
 * Negotiates an offer against our audio capabilities. Only the first usable audio m-line is
 * accepted; every other m-line is rejected (video arrives with a later issue).
 * Throws ConfnodeError('no-common-codec') when no audio stream can be accepted (SIP 488).
 */
function negotiateOffer(sdp, caps) {
    const session = parseSdp(sdp);
    let audio;
    const media = session.media.map((m, mid) => {
        if (m.type !== 'audio') {
            return { kind: 'rejected', type: m.type, protocol: m.protocol, formats: String(m.payloads ?? ''), reason: 'media type not supported' };
        }
        if (audio) {
            return { kind: 'rejected', type: m.type, protocol: m.protocol, formats: String(m.payloads ?? ''), reason: 'second audio stream' };
        }
        const outcome = negotiateAudioLine(m, mid, session, caps);
        if (outcome.kind === 'audio')
            audio = outcome.audio;
        return outcome;
    });
    if (!audio) {
        const reasons = media.map((o) => (o.kind === 'rejected' ? `${o.type}: ${o.reason}` : '')).join('; ');
        throw new common_1.ConfnodeError('no-common-codec', `no acceptable audio stream (${reasons || 'no media'})`);
    }
    return { audio, media };
}
/**
 * Reads the answer to an offer we made (offerless INVITE: our offer in the 200, the answer in
 * the ACK). The answerer must pick from what we offered.
 */
function negotiateAnswer(sdp, caps) {
    return negotiateOffer(sdp, caps).audio;
}
//# sourceMappingURL=negotiate.js.map