"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Participant = void 0;
exports.rtpPayload = rtpPayload;
/**
 * One simulated plain-RTP participant of the load generator: its own UDP socket on 127.0.0.1,
 * sends a pre-encoded tone frame per call of sendFrame() with correct sequence numbers and
 * timestamps, and measures the mixed packets it receives (count, inter-arrival deviation from
 * 20 ms, and optionally the last payloads for a tone check). Never allocates more than one
 * 12-byte header per packet sent; never trusts received bytes past the RTP header checks.
 */
const node_dgram_1 = require("node:dgram");
const node_net_1 = require("node:net");
const audio_1 = require("./audio");
const stats_1 = require("./stats");
/** dgram resolves even IP literals through dns.lookup unless told otherwise: skip it. */
const literalLookup = ((host, _o, cb) => cb(null, host, (0, node_net_1.isIP)(host) || 4));
const MAX_DEVIATIONS = 4096;
const KEEP_PAYLOADS = 60;
/** Payload of an RTP datagram, or undefined if it is not RTP v2 (RTCP, garbage). */
function rtpPayload(msg) {
    if (msg.length < 12)
        return undefined;
    const b0 = msg[0] ?? 0;
    if (b0 >> 6 !== 2)
        return undefined;
    const pt = (msg[1] ?? 0) & 0x7f;
    if (pt >= 72 && pt <= 79)
        return undefined; // RTCP on a muxed port
    let off = 12 + (b0 & 0x0f) * 4;
    if (b0 & 0x10) {
        if (off + 4 > msg.length)
            return undefined;
        off += 4 + msg.readUInt16BE(off + 2) * 4;
    }
    let end = msg.length;
    if (b0 & 0x20)
        end -= msg[msg.length - 1] ?? 0;
    if (off > end)
        return undefined;
    return msg.subarray(off, end);
}
class Participant {
    room;
    k;
    sampled;
    sock;
    frames;
    payloadType;
    tsStep;
    ssrc;
    seq;
    ts;
    frameIndex = 0;
    target;
    sent = 0;
    // Window measurement.
    measuring = false;
    received = 0;
    receivedTotal = 0;
    lastArrival = -1;
    deviations = new Float32Array(MAX_DEVIATIONS);
    deviationCount = 0;
    /** Inter-arrivals over 30 ms (a missed mix tick) and under 10 ms (a catch-up burst). */
    gaps = 0;
    bunched = 0;
    pooled;
    /** Last payloads received in the window (copies), for the tone check; only when sampled. */
    kept = [];
    constructor(sock, room, k, codec, frames, sampled) {
        this.room = room;
        this.k = k;
        this.sampled = sampled;
        this.sock = sock;
        this.frames = frames;
        this.payloadType = audio_1.CODECS[codec].payloadType;
        this.tsStep = audio_1.CODECS[codec].samplesPer20ms;
        // Deterministic per participant, distinct enough: the node keys nothing on them but SSRC.
        this.ssrc = (0x10000000 + (hashRoom(room) * 16 + k) * 7919) >>> 0;
        this.seq = (k * 1000 + 17) & 0xffff;
        this.ts = (k * 100_000) >>> 0;
        sock.on('message', (msg) => this.onMessage(msg));
    }
    static open(room, k, codec, frames, sampled) {
        return new Promise((resolve, reject) => {
            const sock = (0, node_dgram_1.createSocket)({ type: 'udp4', lookup: literalLookup });
            sock.once('error', reject);
            sock.bind(0, '127.0.0.1', () => resolve(new Participant(sock, room, k, codec, frames, sampled)));
        });
    }
    get localPort() {
        return this.sock.address().port;
    }
    start(target) {
        this.target = target;
    }
    stop() {
        this.target = undefined;
    }
    sendFrame() {
        const t = this.target;
        if (!t)
            return;
        const header = Buffer.allocUnsafe(12);
        header[0] = 0x80;
        header[1] = this.payloadType | (this.sent === 0 ? 0x80 : 0);
        header.writeUInt16BE(this.seq, 2);
        header.writeUInt32BE(this.ts, 4);
        header.writeUInt32BE(this.ssrc, 8);
        const payload = this.frames[this.frameIndex];
        this.sock.send([header, payload], t.port, t.address);
        this.seq = (this.seq + 1) & 0xffff;
        this.ts = (this.ts + this.tsStep) >>> 0;
        this.frameIndex = (this.frameIndex + 1) % this.frames.length;
        this.sent++;
    }
    beginWindow(pooled) {
        this.measuring = true;
        this.pooled = pooled;
        this.received = 0;
        this.deviationCount = 0;
        this.gaps = 0;
        this.bunched = 0;
        this.lastArrival = -1;
        this.kept.length = 0;
    }
    endWindow() {
        this.measuring = false;
        this.pooled = undefined;
    }
    onMessage(msg) {
        const payload = rtpPayload(msg);
        if (!payload)
            return;
        this.receivedTotal++;
        if (!this.measuring)
            return;
        const now = performance.now();
        this.received++;
        if (this.lastArrival >= 0) {
            const gap = now - this.lastArrival;
            if (gap > 30)
                this.gaps++;
            else if (gap < 10)
                this.bunched++;
            const dev = Math.abs(gap - 20);
            if (this.deviationCount < MAX_DEVIATIONS)
                this.deviations[this.deviationCount++] = dev;
            if (this.pooled)
                (0, stats_1.recordDeviation)(this.pooled, dev);
        }
        this.lastArrival = now;
        if (this.sampled) {
            this.kept.push(Buffer.from(payload));
            if (this.kept.length > KEEP_PAYLOADS)
                this.kept.shift();
        }
    }
    close() {
        this.stop();
        return new Promise((resolve) => {
            try {
                this.sock.close(() => resolve());
            }
            catch {
                resolve();
            }
        });
    }
}
exports.Participant = Participant;
function hashRoom(room) {
    let h = 0;
    for (let i = 0; i < room.length && i < 64; i++)
        h = (h * 31 + room.charCodeAt(i)) & 0xfffff;
    return h;
}
//# sourceMappingURL=participant.js.map