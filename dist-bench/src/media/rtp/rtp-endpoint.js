"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.RtpEndpoint = exports.SSRC_SWITCH_SILENCE_MS = exports.RELATCH_SILENCE_MS = void 0;
/**
 * One plain RTP/AVP media endpoint for a SIP participant: a bound RTP/RTCP socket pair, symmetric
 * RTP latching (NAT), SSRC locking, RTCP SR/RR/SDES/BYE and counters. The packet path is plain
 * function calls and counters: no event, log line, await or callback-bearing send per packet.
 */
const node_net_1 = __importDefault(require("node:net"));
const node_crypto_1 = __importDefault(require("node:crypto"));
const common_1 = require("../../common");
const packet_1 = require("./packet");
const rtcp_1 = require("./rtcp");
const stats_1 = require("./stats");
/** A latched source may be replaced by another only after this much silence. */
exports.RELATCH_SILENCE_MS = 2000;
/** A locked SSRC may be replaced by another only after this much silence (peer restarted). */
exports.SSRC_SWITCH_SILENCE_MS = 500;
/** The transport address media is accepted from; one per flow (RTP, RTCP). */
class SourceLatch {
    address = null;
    port = 0;
    lastMs = 0;
    /** After setRemote(): the next packet may latch from anywhere. */
    open = false;
    /** 0 = from the latched source, 1 = (re)latched to this source, -1 = wrong source. */
    accept(address, port, now) {
        if (this.address === address && this.port === port) {
            this.lastMs = now;
            this.open = false;
            return 0;
        }
        if (this.address !== null && !this.open && now - this.lastMs < exports.RELATCH_SILENCE_MS)
            return -1;
        this.address = address;
        this.port = port;
        this.lastMs = now;
        this.open = false;
        return 1;
    }
    clear() {
        this.address = null;
        this.port = 0;
        this.open = false;
    }
}
const randomUint32 = () => node_crypto_1.default.randomBytes(4).readUInt32BE(0);
class RtpEndpoint {
    localAddress;
    rtpPort;
    rtcpPort;
    /** Our outgoing SSRC. */
    ssrc;
    /** Called synchronously for each accepted packet; the view shares the datagram's memory. */
    onRtp = null;
    pair;
    clock;
    logger;
    rtcpIntervalMs;
    cname;
    random;
    /** Unix ms minus clock ms, so NTP times (SR, RTT) follow the injected clock. */
    epochOffsetMs;
    remote = null;
    clockRate = 8000;
    acceptedPt = new Uint8Array(128);
    direction = 'sendrecv';
    hold = false;
    rtpLatch = new SourceLatch();
    rtcpLatch = new SourceLatch();
    sendAddress = '';
    sendPort = 0;
    remoteSsrc = -1;
    ssrcLastMs = 0;
    ssrcOpen = true;
    recv = null;
    seq;
    ts;
    lastSentTs = 0;
    lastSentMs = 0;
    sentSinceReport = false;
    packetsIn = 0;
    bytesIn = 0;
    packetsOut = 0;
    bytesOut = 0;
    payloadOctetsOut = 0;
    rtcpIn = 0;
    rtcpOut = 0;
    rtcpDropped = 0;
    dropped = {
        'wrong-source': 0,
        'unknown-ssrc': 0,
        'bad-pt': 0,
        malformed: 0,
        'before-remote': 0,
        direction: 0,
    };
    socketErrors = 0;
    callbackErrors = 0;
    rttMs = null;
    remoteReport = null;
    timer = null;
    closing = null;
    static async open(opts) {
        const pair = await opts.allocator.allocate(opts.address);
        return new RtpEndpoint(pair, opts);
    }
    constructor(pair, opts) {
        this.pair = pair;
        this.localAddress = pair.address;
        this.rtpPort = pair.rtpPort;
        this.rtcpPort = pair.rtcpPort;
        this.clock = opts.clock;
        this.logger = opts.logger.child({ rtpPort: pair.rtpPort });
        this.rtcpIntervalMs = opts.rtcpIntervalMs ?? 5000;
        this.cname = opts.cname ?? `confnode-${node_crypto_1.default.randomBytes(6).toString('hex')}`;
        this.random = opts.random ?? Math.random;
        this.epochOffsetMs = Date.now() - opts.clock.now();
        this.ssrc = randomUint32();
        this.seq = node_crypto_1.default.randomInt(0x10000);
        this.ts = randomUint32();
        pair.rtp.on('message', this.onRtpSocketMessage);
        pair.rtcp.on('message', this.onRtcpSocketMessage);
        pair.rtp.on('error', this.onSocketError);
        pair.rtcp.on('error', this.onSocketError);
        this.scheduleReport(0.5);
    }
    /** Sets or changes (re-INVITE) the peer; the next accepted packet may latch from anywhere. */
    setRemote(r) {
        if (node_net_1.default.isIP(r.address) === 0)
            throw new common_1.ConfnodeError('bad-request', `RTP address is not an IP: ${r.address}`);
        const badPort = (p) => !Number.isInteger(p) || p < 0 || p > 65535;
        if (badPort(r.rtpPort) || (r.rtcpPort !== undefined && badPort(r.rtcpPort))) {
            throw new common_1.ConfnodeError('bad-request', `bad RTP port ${r.rtpPort}/${String(r.rtcpPort)}`);
        }
        const prev = this.remote;
        const moved = !prev || prev.address !== r.address || prev.rtpPort !== r.rtpPort || prev.rtcpPort !== r.rtcpPort;
        this.remote = { ...r, payloadTypes: [...r.payloadTypes] };
        this.clockRate = r.clockRate ?? 8000;
        this.acceptedPt.fill(0);
        for (const pt of r.payloadTypes)
            if (pt >= 0 && pt < 128)
                this.acceptedPt[pt] = 1;
        this.hold = r.address === '0.0.0.0' || r.address === '::' || r.rtpPort === 0;
        for (const latch of [this.rtpLatch, this.rtcpLatch]) {
            // A new SDP address is where to send until the peer's media shows where it really is.
            if (moved)
                latch.clear();
            else
                latch.open = true;
        }
        this.ssrcOpen = true;
        this.updateSendTarget();
    }
    setDirection(direction) {
        this.direction = direction;
    }
    /** The timestamp the next sendRtp() will carry (for RFC 4733 events that start "now"). */
    get timestamp() {
        return this.ts;
    }
    /** Advances the timeline without sending (silence suppressed, or time spent sending events). */
    skipTimestamp(step) {
        this.ts = (this.ts + step) >>> 0;
    }
    /** Sends one packet stamped with our timeline, then advances it by `timestampStep`. */
    sendRtp(payloadType, payload, timestampStep, marker = false) {
        const ts = this.ts;
        this.ts = (ts + timestampStep) >>> 0;
        return this.transmit(payloadType, payload, ts, marker);
    }
    /** Sends one packet with an explicit timestamp (RFC 4733 events); the timeline is unchanged. */
    sendRtpRaw(payloadType, payload, timestamp, marker) {
        return this.transmit(payloadType, payload, timestamp >>> 0, marker);
    }
    stats() {
        const recv = this.recv;
        return {
            packetsIn: this.packetsIn,
            bytesIn: this.bytesIn,
            packetsOut: this.packetsOut,
            bytesOut: this.bytesOut,
            rtcpIn: this.rtcpIn,
            rtcpOut: this.rtcpOut,
            rtcpDropped: this.rtcpDropped,
            dropped: { ...this.dropped },
            socketErrors: this.socketErrors,
            callbackErrors: this.callbackErrors,
            localSsrc: this.ssrc,
            remoteSsrc: this.remoteSsrc < 0 ? null : this.remoteSsrc,
            latched: this.rtpLatch.address === null ? null : { address: this.rtpLatch.address, port: this.rtpLatch.port },
            lost: recv ? recv.lost : 0,
            jitter: recv ? recv.jitter : 0,
            jitterMs: recv ? recv.jitterMs : 0,
            rttMs: this.rttMs,
            remoteReport: this.remoteReport && { ...this.remoteReport },
        };
    }
    get closed() {
        return this.closing !== null;
    }
    /** Sends RTCP BYE, closes both sockets and frees the ports. Idempotent. */
    close() {
        this.closing ??= this.doClose();
        return this.closing;
    }
    async doClose() {
        this.timer?.cancel();
        this.timer = null;
        this.onRtp = null;
        const target = this.rtcpTarget();
        if (target) {
            const bye = (0, rtcp_1.buildRtcp)([this.makeReport(), { type: 'bye', ssrcs: [this.ssrc] }]);
            // With a callback here (not on the hot path) so the socket is not closed under the send.
            await new Promise((resolve) => target.socket.send(bye, target.port, target.address, () => resolve()));
            this.rtcpOut++;
        }
        await this.pair.release();
    }
    // ---------------------------------------------------------------- receive path
    onRtpSocketMessage = (msg, rinfo) => {
        // RFC 5761: demultiplex on every packet; RTP payload types 64-95 are never negotiated.
        if ((0, packet_1.isRtcp)(msg)) {
            this.handleRtcp(msg, rinfo, true);
            return;
        }
        const pkt = (0, packet_1.parseRtp)(msg);
        if (pkt === null) {
            this.dropped.malformed++;
            return;
        }
        if (this.remote === null) {
            this.dropped['before-remote']++;
            return;
        }
        if (this.acceptedPt[pkt.payloadType] !== 1) {
            this.dropped['bad-pt']++;
            return;
        }
        const now = this.clock.now();
        const latched = this.rtpLatch.accept(rinfo.address, rinfo.port, now);
        if (latched < 0) {
            this.dropped['wrong-source']++;
            return;
        }
        if (latched > 0) {
            this.ssrcOpen = true; // a new source is a new stream
            this.updateSendTarget();
        }
        if (pkt.ssrc !== this.remoteSsrc && !this.switchSsrc(pkt.ssrc, now)) {
            this.dropped['unknown-ssrc']++;
            return;
        }
        this.ssrcLastMs = now;
        this.packetsIn++;
        this.bytesIn += msg.length;
        this.recv?.update(pkt.sequence, pkt.timestamp, now);
        if (this.direction === 'sendonly' || this.direction === 'inactive') {
            this.dropped.direction++;
            return;
        }
        const cb = this.onRtp;
        if (cb === null)
            return;
        try {
            cb(pkt, this);
        }
        catch (err) {
            if (this.callbackErrors++ === 0)
                this.logger.error({ err: (0, common_1.errorMessage)(err) }, 'onRtp callback threw');
        }
    };
    switchSsrc(ssrc, now) {
        if (this.remoteSsrc >= 0 && !this.ssrcOpen && now - this.ssrcLastMs < exports.SSRC_SWITCH_SILENCE_MS)
            return false;
        this.remoteSsrc = ssrc;
        this.ssrcOpen = false;
        this.recv = new stats_1.RtpReceiveStats({ clockRate: this.clockRate });
        return true;
    }
    onRtcpSocketMessage = (msg, rinfo) => {
        this.handleRtcp(msg, rinfo, false);
    };
    handleRtcp(msg, rinfo, muxed) {
        if (this.remote === null || !this.acceptRtcpSource(rinfo, muxed)) {
            this.rtcpDropped++;
            return;
        }
        const packets = (0, rtcp_1.parseRtcp)(msg);
        if (packets.length === 0) {
            this.rtcpDropped++;
            return;
        }
        this.rtcpIn++;
        const now = this.clock.now();
        for (const p of packets)
            this.applyRtcp(p, now);
    }
    /** Muxed RTCP must come from the latched RTP source; separate RTCP latches on its own port. */
    acceptRtcpSource(rinfo, muxed) {
        const rtp = this.rtpLatch;
        if (muxed)
            return rtp.address === rinfo.address && rtp.port === rinfo.port;
        if (rtp.address !== null && rtp.address !== rinfo.address)
            return false;
        const latched = this.rtcpLatch.accept(rinfo.address, rinfo.port, this.clock.now());
        if (latched > 0)
            this.updateSendTarget();
        return latched >= 0;
    }
    applyRtcp(p, now) {
        if (p.type === 'sr' || p.type === 'rr') {
            if (p.type === 'sr' && p.ssrc === this.remoteSsrc)
                this.recv?.onSenderReport(p.ntpSec, p.ntpFrac, now);
            for (const block of p.reports)
                if (block.ssrc === this.ssrc)
                    this.applyReportBlock(block, now);
        }
        else if (p.type === 'bye' && p.ssrcs.includes(this.remoteSsrc)) {
            this.ssrcOpen = true; // the stream ended; a new SSRC may take over at once
        }
    }
    applyReportBlock(block, now) {
        this.remoteReport = {
            fractionLost: block.fractionLost / 256,
            cumulativeLost: block.cumulativeLost,
            jitter: block.jitter,
        };
        const ntp = (0, rtcp_1.ntpFromUnixMs)(now + this.epochOffsetMs);
        const rtt = (0, stats_1.rttFromReportBlock)(block, (0, rtcp_1.ntpMiddle32)(ntp.sec, ntp.frac));
        if (rtt !== undefined)
            this.rttMs = rtt;
    }
    onSocketError = (err) => {
        if (this.socketErrors++ === 0)
            this.logger.warn({ err: (0, common_1.errorMessage)(err) }, 'RTP socket error (logged once)');
    };
    // ---------------------------------------------------------------- send path
    updateSendTarget() {
        const r = this.remote;
        if (r === null || this.hold) {
            this.sendPort = 0;
            return;
        }
        const latch = this.rtpLatch;
        this.sendAddress = latch.address ?? r.address;
        this.sendPort = latch.address === null ? r.rtpPort : latch.port;
    }
    transmit(payloadType, payload, timestamp, marker) {
        if (this.sendPort === 0 || this.closing !== null)
            return false;
        if (this.direction === 'recvonly' || this.direction === 'inactive')
            return false;
        const buf = (0, packet_1.buildRtp)(payloadType, marker, this.seq, timestamp, this.ssrc, payload);
        this.seq = (this.seq + 1) & 0xffff;
        this.pair.rtp.send(buf, this.sendPort, this.sendAddress);
        this.packetsOut++;
        this.bytesOut += buf.length;
        this.payloadOctetsOut += payload.length;
        this.lastSentTs = timestamp;
        this.lastSentMs = this.clock.now();
        this.sentSinceReport = true;
        return true;
    }
    rtcpTarget() {
        const r = this.remote;
        if (r === null || this.hold)
            return null;
        if (r.rtcpMux)
            return this.sendPort === 0 ? null : { socket: this.pair.rtp, address: this.sendAddress, port: this.sendPort };
        const latch = this.rtcpLatch;
        if (latch.address !== null)
            return { socket: this.pair.rtcp, address: latch.address, port: latch.port };
        return { socket: this.pair.rtcp, address: r.address, port: r.rtcpPort ?? r.rtpPort + 1 };
    }
    /** RFC 3550 6.2: interval randomised over [0.5, 1.5] x the mean; the first one shorter. */
    scheduleReport(factor = 1) {
        const delay = this.rtcpIntervalMs * factor * (0.5 + this.random());
        this.timer = this.clock.setTimeout(() => {
            this.timer = null;
            if (this.closing !== null)
                return;
            this.sendReport();
            this.scheduleReport();
        }, delay);
    }
    sendReport() {
        const target = this.rtcpTarget();
        if (!target)
            return;
        const buf = (0, rtcp_1.buildRtcp)([this.makeReport(), { type: 'sdes', chunks: [{ ssrc: this.ssrc, cname: this.cname }] }]);
        target.socket.send(buf, target.port, target.address);
        this.rtcpOut++;
    }
    /** SR when we sent RTP since the last report, else RR; one block about the remote SSRC. */
    makeReport() {
        const now = this.clock.now();
        const reports = this.recv && this.remoteSsrc >= 0 ? [this.recv.makeReportBlock(this.remoteSsrc, now)] : [];
        if (!this.sentSinceReport)
            return { type: 'rr', ssrc: this.ssrc, reports };
        this.sentSinceReport = false;
        const ntp = (0, rtcp_1.ntpFromUnixMs)(now + this.epochOffsetMs);
        const elapsedUnits = Math.round(((now - this.lastSentMs) * this.clockRate) / 1000);
        return {
            type: 'sr',
            ssrc: this.ssrc,
            ntpSec: ntp.sec,
            ntpFrac: ntp.frac,
            rtpTimestamp: (this.lastSentTs + elapsedUnits) >>> 0,
            packetCount: this.packetsOut >>> 0,
            octetCount: this.payloadOctetsOut >>> 0,
            reports,
        };
    }
}
exports.RtpEndpoint = RtpEndpoint;
//# sourceMappingURL=rtp-endpoint.js.map