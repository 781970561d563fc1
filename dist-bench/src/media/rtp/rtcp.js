"use strict";
/**
 * RTCP (RFC 3550 section 6) building and parsing for plain RTP endpoints: SR, RR, SDES CNAME,
 * BYE and compound packets. Parsing never throws on network bytes: it returns every packet it
 * could read, skips unknown types by their length, and stops at the first inconsistency.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.RTCP_BYE = exports.RTCP_SDES = exports.RTCP_RR = exports.RTCP_SR = void 0;
exports.ntpFromUnixMs = ntpFromUnixMs;
exports.ntpMiddle32 = ntpMiddle32;
exports.buildRtcp = buildRtcp;
exports.parseRtcp = parseRtcp;
exports.RTCP_SR = 200;
exports.RTCP_RR = 201;
exports.RTCP_SDES = 202;
exports.RTCP_BYE = 203;
/** Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch). */
const NTP_UNIX_OFFSET_S = 2208988800;
const REPORT_BLOCK_SIZE = 24;
const MAX_COUNT = 31;
/** NTP timestamp for a Unix time in milliseconds (fractions kept to the millisecond's precision). */
function ntpFromUnixMs(unixMs) {
    const totalSec = Math.floor(unixMs / 1000);
    const ms = unixMs - totalSec * 1000;
    return { sec: (totalSec + NTP_UNIX_OFFSET_S) >>> 0, frac: Math.floor((ms / 1000) * 0x100000000) >>> 0 };
}
/** The middle 32 bits of an NTP timestamp: the unit of LSR and of RTT arithmetic (1/65536 s). */
function ntpMiddle32(sec, frac) {
    return (((sec & 0xffff) << 16) | (frac >>> 16)) >>> 0;
}
// ---------------------------------------------------------------- building
function sdesChunkSize(chunk) {
    const cnameLen = chunk.cname === undefined ? 0 : Math.min(255, Buffer.byteLength(chunk.cname));
    const items = chunk.cname === undefined ? 0 : 2 + cnameLen;
    // SSRC + items + at least one null octet, padded to a 32-bit boundary.
    return 4 + (((items + 1 + 3) >> 2) << 2);
}
function packetSize(p) {
    switch (p.type) {
        case 'sr':
            return 28 + Math.min(MAX_COUNT, p.reports.length) * REPORT_BLOCK_SIZE;
        case 'rr':
            return 8 + Math.min(MAX_COUNT, p.reports.length) * REPORT_BLOCK_SIZE;
        case 'sdes':
            return 4 + p.chunks.slice(0, MAX_COUNT).reduce((n, c) => n + sdesChunkSize(c), 0);
        case 'bye': {
            const reasonLen = p.reason === undefined ? 0 : 1 + Math.min(255, Buffer.byteLength(p.reason));
            return 4 + Math.min(MAX_COUNT, p.ssrcs.length) * 4 + (((reasonLen + 3) >> 2) << 2);
        }
        case 'unknown':
            return 4 + (((p.body.length + 3) >> 2) << 2);
    }
}
function writeCommonHeader(buf, offset, count, packetType, size) {
    buf[offset] = 0x80 | (count & 0x1f);
    buf[offset + 1] = packetType & 0xff;
    buf.writeUInt16BE(size / 4 - 1, offset + 2);
}
function writeReportBlocks(buf, offset, blocks) {
    for (const b of blocks) {
        buf.writeUInt32BE(b.ssrc >>> 0, offset);
        const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(b.cumulativeLost)));
        buf.writeUInt32BE((((b.fractionLost & 0xff) << 24) | (lost & 0xffffff)) >>> 0, offset + 4);
        buf.writeUInt32BE(b.highestSeq >>> 0, offset + 8);
        buf.writeUInt32BE(b.jitter >>> 0, offset + 12);
        buf.writeUInt32BE(b.lsr >>> 0, offset + 16);
        buf.writeUInt32BE(b.dlsr >>> 0, offset + 20);
        offset += REPORT_BLOCK_SIZE;
    }
}
function writeSdes(buf, offset, p) {
    for (const chunk of p.chunks.slice(0, MAX_COUNT)) {
        const size = sdesChunkSize(chunk);
        buf.fill(0, offset, offset + size);
        buf.writeUInt32BE(chunk.ssrc >>> 0, offset);
        if (chunk.cname !== undefined) {
            const text = Buffer.from(chunk.cname).subarray(0, 255);
            buf[offset + 4] = 1;
            buf[offset + 5] = text.length;
            text.copy(buf, offset + 6);
        }
        offset += size;
    }
}
function writeBye(buf, offset, p, size) {
    const end = offset + size - 4;
    buf.fill(0, offset, end);
    for (const ssrc of p.ssrcs.slice(0, MAX_COUNT)) {
        buf.writeUInt32BE(ssrc >>> 0, offset);
        offset += 4;
    }
    if (p.reason !== undefined) {
        const text = Buffer.from(p.reason).subarray(0, 255);
        buf[offset] = text.length;
        text.copy(buf, offset + 1);
    }
}
function writePacket(buf, offset, p, size) {
    const body = offset + 4;
    switch (p.type) {
        case 'sr': {
            const blocks = p.reports.slice(0, MAX_COUNT);
            writeCommonHeader(buf, offset, blocks.length, exports.RTCP_SR, size);
            buf.writeUInt32BE(p.ssrc >>> 0, body);
            buf.writeUInt32BE(p.ntpSec >>> 0, body + 4);
            buf.writeUInt32BE(p.ntpFrac >>> 0, body + 8);
            buf.writeUInt32BE(p.rtpTimestamp >>> 0, body + 12);
            buf.writeUInt32BE(p.packetCount >>> 0, body + 16);
            buf.writeUInt32BE(p.octetCount >>> 0, body + 20);
            writeReportBlocks(buf, body + 24, blocks);
            return;
        }
        case 'rr': {
            const blocks = p.reports.slice(0, MAX_COUNT);
            writeCommonHeader(buf, offset, blocks.length, exports.RTCP_RR, size);
            buf.writeUInt32BE(p.ssrc >>> 0, body);
            writeReportBlocks(buf, body + 4, blocks);
            return;
        }
        case 'sdes':
            writeCommonHeader(buf, offset, Math.min(MAX_COUNT, p.chunks.length), exports.RTCP_SDES, size);
            writeSdes(buf, body, p);
            return;
        case 'bye':
            writeCommonHeader(buf, offset, Math.min(MAX_COUNT, p.ssrcs.length), exports.RTCP_BYE, size);
            writeBye(buf, body, p, size);
            return;
        case 'unknown':
            writeCommonHeader(buf, offset, p.count, p.packetType, size);
            buf.fill(0, body, offset + size);
            p.body.copy(buf, body);
            return;
    }
}
/**
 * Builds one (compound, RFC 3550 6.1) RTCP datagram in a single allocation. More than 31 report
 * blocks, SDES chunks or BYE SSRCs are cut at 31 (the count field has 5 bits).
 */
function buildRtcp(packets) {
    const sizes = packets.map(packetSize);
    const out = Buffer.allocUnsafe(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    packets.forEach((p, i) => {
        const size = sizes[i];
        writePacket(out, offset, p, size);
        offset += size;
    });
    return out;
}
// ---------------------------------------------------------------- parsing
function readReportBlocks(buf, offset, end, count) {
    const blocks = [];
    for (let i = 0; i < count && offset + REPORT_BLOCK_SIZE <= end; i++, offset += REPORT_BLOCK_SIZE) {
        const word = buf.readUInt32BE(offset + 4);
        const lost = word & 0xffffff;
        blocks.push({
            ssrc: buf.readUInt32BE(offset),
            fractionLost: word >>> 24,
            cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
            highestSeq: buf.readUInt32BE(offset + 8),
            jitter: buf.readUInt32BE(offset + 12),
            lsr: buf.readUInt32BE(offset + 16),
            dlsr: buf.readUInt32BE(offset + 20),
        });
    }
    return blocks;
}
function readSdes(buf, offset, end, count) {
    const chunks = [];
    for (let i = 0; i < count && offset + 4 <= end; i++) {
        const chunk = { ssrc: buf.readUInt32BE(offset) };
        let pos = offset + 4;
        // Items until the null item; each is type, length, text.
        while (pos < end && buf[pos] !== 0) {
            if (pos + 2 > end)
                break;
            const itemLen = buf[pos + 1];
            if (pos + 2 + itemLen > end)
                break;
            if (buf[pos] === 1)
                chunk.cname = buf.toString('utf8', pos + 2, pos + 2 + itemLen);
            pos += 2 + itemLen;
        }
        chunks.push(chunk);
        // Skip the null octet(s) up to the next 32-bit boundary.
        offset = ((pos + 1 - offset + 3) & ~3) + offset;
    }
    return { type: 'sdes', chunks };
}
function readBye(buf, offset, end, count) {
    const ssrcs = [];
    for (let i = 0; i < count && offset + 4 <= end; i++, offset += 4)
        ssrcs.push(buf.readUInt32BE(offset));
    const bye = { type: 'bye', ssrcs };
    if (offset < end) {
        const len = buf[offset];
        if (offset + 1 + len <= end)
            bye.reason = buf.toString('utf8', offset + 1, offset + 1 + len);
    }
    return bye;
}
function readPacket(buf, packetType, count, body, end) {
    switch (packetType) {
        case exports.RTCP_SR:
            if (body + 24 > end)
                return null;
            return {
                type: 'sr',
                ssrc: buf.readUInt32BE(body),
                ntpSec: buf.readUInt32BE(body + 4),
                ntpFrac: buf.readUInt32BE(body + 8),
                rtpTimestamp: buf.readUInt32BE(body + 12),
                packetCount: buf.readUInt32BE(body + 16),
                octetCount: buf.readUInt32BE(body + 20),
                reports: readReportBlocks(buf, body + 24, end, count),
            };
        case exports.RTCP_RR:
            if (body + 4 > end)
                return null;
            return { type: 'rr', ssrc: buf.readUInt32BE(body), reports: readReportBlocks(buf, body + 4, end, count) };
        case exports.RTCP_SDES:
            return readSdes(buf, body, end, count);
        case exports.RTCP_BYE:
            return readBye(buf, body, end, count);
        default:
            return { type: 'unknown', packetType, count, body: buf.subarray(body, end) };
    }
}
/**
 * Parses a (compound) RTCP datagram. Returns the packets read before the first inconsistency
 * (bad version, length past the end); never throws.
 */
function parseRtcp(buf) {
    const out = [];
    let offset = 0;
    while (offset + 4 <= buf.length) {
        const b0 = buf[offset];
        if (b0 >> 6 !== 2)
            break;
        const size = (buf.readUInt16BE(offset + 2) + 1) * 4;
        const next = offset + size;
        if (next > buf.length)
            break;
        let end = next;
        if (b0 & 0x20) {
            const pad = buf[next - 1];
            if (pad === 0 || pad > size - 4)
                break;
            end -= pad;
        }
        const packet = readPacket(buf, buf[offset + 1], b0 & 0x1f, offset + 4, end);
        if (packet)
            out.push(packet);
        offset = next;
    }
    return out;
}
//# sourceMappingURL=rtcp.js.map