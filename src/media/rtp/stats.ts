/**
 * Receive statistics for one RTP source per RFC 3550 appendix A (sequence extension, loss,
 * interarrival jitter, report blocks) and RTT from RR blocks (6.4.1). Pure: arrival times come in
 * as arguments, in milliseconds of the caller's clock; never reads a clock or allocates per packet.
 */
import type { ReportBlock } from './rtcp';

const RTP_SEQ_MOD = 0x10000;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

export interface ReceiveStatsOptions {
  /** RTP clock rate of the source (8000 for PCMU/PCMA/G.722, 48000 for Opus). */
  clockRate: number;
  /**
   * Sequential packets needed before a new source counts as valid (A.1 MIN_SEQUENTIAL);
   * 0 accepts the first packet (the endpoint already validates source and SSRC).
   */
  probation?: number;
}

/** One source's receive state; create a new one when the SSRC changes. */
export class RtpReceiveStats {
  private readonly clockRate: number;
  private readonly minSequential: number;
  private probation: number;
  private started = false;
  private maxSeq = 0;
  private cycles = 0;
  private baseSeq = 0;
  private badSeq = RTP_SEQ_MOD + 1;
  private receivedCount = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private jitterValue = 0;
  private hasTransit = false;
  private lastArrivalUnits = 0;
  private lastTimestamp = 0;
  private lastSrMiddle = 0;
  private lastSrArrivalMs = 0;
  private hasSr = false;

  constructor(opts: ReceiveStatsOptions) {
    this.clockRate = opts.clockRate;
    this.minSequential = Math.max(0, opts.probation ?? 0);
    this.probation = this.minSequential;
  }

  /**
   * Counts one packet. Returns false while the source is on probation or after a jump too large
   * to be believed (A.1: the next packet confirms the jump and restarts the sequence).
   */
  update(seq: number, timestamp: number, arrivalMs: number): boolean {
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
    if (!this.updateSeq(seq)) return false;
    this.updateJitter(timestamp, arrivalMs);
    return true;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.receivedCount = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }

  private updateSeq(seq: number): boolean {
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
      } else {
        this.probation = this.minSequential - 1;
        this.maxSeq = seq;
      }
      return false;
    }
    if (udelta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      if (seq === this.badSeq) {
        // Two sequential packets after a big jump: the sender restarted; believe it.
        this.initSeq(seq);
        this.hasTransit = false;
      } else {
        this.badSeq = (seq + 1) & 0xffff;
        return false;
      }
    }
    // else: duplicate or reordered within MAX_MISORDER, counted but max unchanged.
    this.receivedCount++;
    return true;
  }

  /** A.8: J += (|D| - J) / 16, with D computed modulo 2^32 so timestamp wrap does not spike it. */
  private updateJitter(timestamp: number, arrivalMs: number): void {
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
  onSenderReport(ntpSec: number, ntpFrac: number, arrivalMs: number): void {
    this.lastSrMiddle = (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
    this.lastSrArrivalMs = arrivalMs;
    this.hasSr = true;
  }

  get received(): number {
    return this.receivedCount;
  }

  /** Extended highest sequence number received. */
  get extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.started ? this.extendedMax - this.baseSeq + 1 : 0;
  }

  /** Cumulative lost (A.3); negative when duplicates outnumber losses. */
  get lost(): number {
    return this.expected - this.receivedCount;
  }

  /** Interarrival jitter in timestamp units. */
  get jitter(): number {
    return Math.floor(this.jitterValue);
  }

  get jitterMs(): number {
    return (this.jitterValue * 1000) / this.clockRate;
  }

  /**
   * Report block for this source (A.3), and starts the next reporting interval: the fraction
   * lost covers the packets since the previous call.
   */
  makeReportBlock(ssrc: number, nowMs: number): ReportBlock {
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.receivedCount - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.receivedCount;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost =
      expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
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

/**
 * RTT in ms from a received report block (RFC 3550 6.4.1: A - LSR - DLSR), where `arrivalMiddle`
 * is the middle 32 bits of our NTP time when the report arrived. Undefined when the block names
 * no SR of ours or the result is not plausible (negative, i.e. clocks or fields are off).
 */
export function rttFromReportBlock(block: ReportBlock, arrivalMiddle: number): number | undefined {
  if (block.lsr === 0) return undefined;
  const units = (arrivalMiddle - block.lsr - block.dlsr) | 0;
  if (units < 0) return undefined;
  return (units * 1000) / 65536;
}
