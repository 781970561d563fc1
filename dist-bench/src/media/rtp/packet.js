"use strict";
/**
 * Zero-copy RTP (RFC 3550) header parsing and single-allocation packet building for the plain
 * RTP/AVP path, which must carry hundreds of SIP participants per core: fields are read straight
 * from the Buffer, the payload is a subarray. It never throws on network bytes (garbage -> null).
 * werift's packet classes allocate per field and stay reserved for the WebRTC side (media/werift/).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.RTP_HEADER_SIZE = void 0;
exports.parseRtp = parseRtp;
exports.isRtcp = isRtcp;
exports.writeRtpHeader = writeRtpHeader;
exports.buildRtp = buildRtp;
exports.RTP_HEADER_SIZE = 12;
/**
 * Parses an RTP packet without copying. Returns null for anything that is not a well-formed
 * version 2 RTP packet (short, bad CSRC/extension lengths, bad padding).
 */
function parseRtp(buf) {
    const len = buf.length;
    if (len < exports.RTP_HEADER_SIZE)
        return null;
    const b0 = buf[0];
    if (b0 >> 6 !== 2)
        return null;
    const b1 = buf[1];
    const csrcCount = b0 & 0x0f;
    let offset = exports.RTP_HEADER_SIZE + csrcCount * 4;
    if (offset > len)
        return null;
    let extensionProfile = -1;
    let extensionOffset = -1;
    let extensionLength = 0;
    if (b0 & 0x10) {
        if (offset + 4 > len)
            return null;
        extensionProfile = buf.readUInt16BE(offset);
        extensionLength = buf.readUInt16BE(offset + 2) * 4;
        extensionOffset = offset + 4;
        offset = extensionOffset + extensionLength;
        if (offset > len)
            return null;
    }
    let end = len;
    if (b0 & 0x20) {
        // RFC 3550 5.1: the last octet counts the padding, itself included, so it is at least 1.
        const pad = buf[len - 1];
        if (pad === 0 || offset + pad > len)
            return null;
        end = len - pad;
    }
    return {
        payloadType: b1 & 0x7f,
        marker: (b1 & 0x80) !== 0,
        sequence: buf.readUInt16BE(2),
        timestamp: buf.readUInt32BE(4),
        ssrc: buf.readUInt32BE(8),
        csrcCount,
        extensionProfile,
        extensionOffset,
        extensionLength,
        payload: buf.subarray(offset, end),
        buffer: buf,
    };
}
/**
 * RFC 5761 section 4 demultiplexing for rtcp-mux: a second octet in 192..223 (RTP payload types
 * 64-95 with the marker bit) is RTCP. Checks the version too, so garbage is neither.
 */
function isRtcp(buf) {
    if (buf.length < 8)
        return false;
    const b0 = buf[0];
    const b1 = buf[1];
    return b0 >> 6 === 2 && b1 >= 192 && b1 <= 223;
}
/**
 * Writes a 12-byte RTP header (no CSRC, no extension, no padding) at `offset`; returns the
 * offset just after it. Values are masked, so out-of-range numbers wrap rather than throw.
 */
function writeRtpHeader(buf, offset, payloadType, marker, sequence, timestamp, ssrc) {
    buf[offset] = 0x80;
    buf[offset + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf.writeUInt16BE(sequence & 0xffff, offset + 2);
    buf.writeUInt32BE(timestamp >>> 0, offset + 4);
    buf.writeUInt32BE(ssrc >>> 0, offset + 8);
    return offset + exports.RTP_HEADER_SIZE;
}
/** Builds one RTP packet in a single allocation (pooled for small sizes): header + payload copy. */
function buildRtp(payloadType, marker, sequence, timestamp, ssrc, payload) {
    const out = Buffer.allocUnsafe(exports.RTP_HEADER_SIZE + payload.length);
    writeRtpHeader(out, 0, payloadType, marker, sequence, timestamp, ssrc);
    payload.copy(out, exports.RTP_HEADER_SIZE);
    return out;
}
//# sourceMappingURL=packet.js.map