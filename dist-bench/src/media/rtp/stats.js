"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.RtpReceiveStats = void 0;
exports.rttFromReportBlock = rttFromReportBlock;
const RTP_SEQ_MOD = 0x10000;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/** One source's receive state; create a new one when the SSRC changes. */
class RtpReceiveStats {
    clockRate;
    minSequential;
    probation;
    started = false;
    maxSeq = 0;
    cycles = 0;
    baseSeq = 0;
    badSeq = RTP_SEQ_MOD + 1;
    receivedCount = 0;
    expectedPrior = 0;
    receivedPrior = 0;
    jitterValue = 0;
    hasTransit = false;
    lastArrivalUnits = 0;
    lastTimestamp = 0;
    lastSrMiddle = 0;
    lastSrArrivalMs = 0;
    hasSr = false;
    constructor(opts) {
        this.clockRate = opts.clockRate;
        this.minSequential = Math.max(0, opts.probation ?? 0);
        this.probation = this.minSequential;
    }
    /**
     * Counts one packet. Returns false while the source is on probation or after a jump too large
     * to be believed (A.1: the next packet confirms the jump and restarts the sequence).
     */
    update(seq, timestamp, arrivalMs) {
        if (!this.started) {
            this.started = true;
            this.initSeq(seq);
            this.maxSeq = (seq - 1) & 0xffff;
            if (this.minSequential === 0) {
                this.maxSeq = seq;
                this.receivedCount = 1;
                this.updateJitter(timestamp, arrivalMs);
                return true;
            }
        }
        if (!this.updateSeq(seq))
            return false;
        this.updateJitter(timestamp, arrivalMs);
        return true;
    }
    initSeq(seq) {
        this.baseSeq = seq;
        this.maxSeq = seq;
        this.badSeq = RTP_SEQ_MOD + 1;
        this.cycles = 0;
        this.receivedCount = 0;
        this.receivedPrior = 0;
        this.expectedPrior = 0;
    }
    updateSeq(seq) {
        const udelta = (seq - this.maxSeq) & 0xffff;
        if (this.probation > 0) {
            if (seq === ((this.maxSeq + 1) & 0xffff)) {
                this.probation--;
                this.maxSeq = seq;
                if (this.probation === 0) {
                    this.initSeq(seq);
                    this.receivedCount++;
                    return true;
                }
            }
            else {
                this.probation = this.minSequential - 1;
                this.maxSeq = seq;
            }
            return false;
        }
        if (udelta < MAX_DROPOUT) {
            if (seq < this.maxSeq)
                this.cycles += RTP_SEQ_MOD;
            this.maxSeq = seq;
        }
        else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
            if (seq === this.badSeq) {
                // Two sequential packets after a big jump: the sender restarted; believe it.
                this.initSeq(seq);
                this.hasTransit = false;
            }
            else {
                this.badSeq = (seq + 1) & 0xffff;
                return false;
            }
        }
        // else: duplicate or reordered within MAX_MISORDER, counted but max unchanged.
        this.receivedCount++;
        return true;
    }
    /** A.8: J += (|D| - J) / 16, with D computed modulo 2^32 so timestamp wrap does not spike it. */
    updateJitter(timestamp, arrivalMs) {
        const arrivalUnits = (arrivalMs * this.clockRate) / 1000;
        if (this.hasTransit) {
            const tsDelta = (timestamp - this.lastTimestamp) | 0;
            const d = arrivalUnits - this.lastArrivalUnits - tsDelta;
            this.jitterValue += (Math.abs(d) - this.jitterValue) / 16;
        }
        this.hasTransit = true;
        this.lastArrivalUnits = arrivalUnits;
        this.lastTimestamp = timestamp;
    }
    /** Remembers a sender report from this source for LSR/DLSR (6.4.1). */
    onSenderReport(ntpSec, ntpFrac, arrivalMs) {
        this.lastSrMiddle = (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
        this.lastSrArrivalMs = arrivalMs;
        this.hasSr = true;
    }
    get received() {
        return this.receivedCount;
    }
    /** Extended highest sequence number received. */
    get extendedMax() {
        return this.cycles + this.maxSeq;
    }
    get expected() {
        return this.started ? this.extendedMax - this.baseSeq + 1 : 0;
    }
    /** Cumulative lost (A.3); negative when duplicates outnumber losses. */
    get lost() {
        return this.expected - this.receivedCount;
    }
    /** Interarrival jitter in timestamp units. */
    get jitter() {
        return Math.floor(this.jitterValue);
    }
    get jitterMs() {
        return (this.jitterValue * 1000) / this.clockRate;
    }
    /**
     * Report block for this source (A.3), and starts the next reporting interval: the fraction
     * lost covers the packets since the previous call.
     */
    makeReportBlock(ssrc, nowMs) {
        const expected = this.expected;
        const expectedInterval = expected - this.expectedPrior;
        const receivedInterval = this.receivedCount - this.receivedPrior;
        this.expectedPrior = expected;
        this.receivedPrior = this.receivedCount;
        const lostInterval = expectedInterval - receivedInterval;
        const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
        const dlsr = this.hasSr ? Math.max(0, Math.round(((nowMs - this.lastSrArrivalMs) * 65536) / 1000)) : 0;
        return {
            ssrc,
            fractionLost,
            cumulativeLost: Math.max(-0x800000, Math.min(0x7fffff, this.lost)),
            highestSeq: this.extendedMax >>> 0,
            jitter: this.jitter >>> 0,
            lsr: this.hasSr ? this.lastSrMiddle : 0,
            dlsr: this.hasSr ? dlsr >>> 0 : 0,
        };
    }
}
exports.RtpReceiveStats = RtpReceiveStats;
/**
 * RTT in ms from a received report block (RFC 3550 6.4.1: A - LSR - DLSR), where `arrivalMiddle`
 * is the middle 32 bits of our NTP time when the report arrived. Undefined when the block names
 * no SR of ours or the result is not plausible (negative, i.e. clocks or fields are off).
 */
function rttFromReportBlock(block, arrivalMiddle) {
    if (block.lsr === 0)
        return undefined;
    const units = (arrivalMiddle - block.lsr - block.dlsr) | 0;
    if (units < 0)
        return undefined;
    return (units * 1000) / 65536;
}
//# sourceMappingURL=stats.js.map