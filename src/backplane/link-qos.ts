/**
 * A link's RTCP reports (RFC 3550 6.4): the compound SR it sends about every second (a report
 * block per peer stream, and one about the peer's SR so RTT works even when one side sends no
 * media), and what it learns from the peer's reports (RTT from LSR/DLSR, the loss the peer saw).
 * Time comes in as arguments; never reads a clock or sends anything itself.
 */
import { ntpFromUnixMs, ntpMiddle32, rttFromReportBlock, type ReportBlock, type RtcpPacket } from './deps';
import type { InStream } from './link-streams';

const RTCP_CNAME = 'confnode-backplane';
/** Report blocks per RTCP packet (a 5-bit count). */
const MAX_REPORT_BLOCKS = 31;

export class LinkQos {
  /** From the last report block about our SR; undefined until one came. */
  rttMs: number | undefined;
  /** Worst fraction lost of our streams in the peer's last report. */
  lossOut = 0;
  /** The peer's last SR: its NTP middle 32 bits and when it arrived (our clock), for LSR/DLSR. */
  private peerSr: { middle: number; atMs: number } | undefined;
  private peerSsrc: number | undefined;

  /**
   * @param ssrc the link's own RTCP SSRC
   * @param epochMs wall-clock ms at clock time 0 (NTP times of our SRs)
   */
  constructor(
    readonly ssrc: number,
    private readonly epochMs: number,
  ) {}

  /** A packet of the peer's report; `ours(ssrc)` says whether a block is about a stream we send. */
  onPacket(p: RtcpPacket, nowMs: number, ours: (ssrc: number) => boolean): void {
    if (p.type === 'sr') {
      this.peerSr = { middle: ntpMiddle32(p.ntpSec, p.ntpFrac), atMs: nowMs };
      this.peerSsrc = p.ssrc;
    } else if (p.type !== 'rr') {
      return;
    }
    let loss = -1;
    for (const b of p.reports) {
      if (b.ssrc !== this.ssrc && !ours(b.ssrc)) continue;
      const rtt = rttFromReportBlock(b, this.ntpMiddle(nowMs));
      if (rtt !== undefined) this.rttMs = rtt;
      if (b.ssrc !== this.ssrc) loss = Math.max(loss, b.fractionLost / 256);
    }
    if (loss >= 0) this.lossOut = loss;
  }

  /** The compound report to send now: SR (link totals) with its blocks, and SDES. */
  report(nowMs: number, streams: Iterable<InStream>, packetsOut: number, bytesOut: number): RtcpPacket[] {
    const sr = this.peerSr;
    const lsr = sr ? sr.middle : 0;
    const dlsr = sr ? Math.max(0, Math.round(((nowMs - sr.atMs) * 65536) / 1000)) >>> 0 : 0;
    const reports: ReportBlock[] = [];
    if (this.peerSsrc !== undefined) reports.push({ ssrc: this.peerSsrc, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lsr, dlsr });
    for (const s of streams) {
      if (reports.length >= MAX_REPORT_BLOCKS) break;
      reports.push({ ...s.stats.makeReportBlock(s.announced.ssrc, nowMs), lsr, dlsr });
    }
    const ntp = ntpFromUnixMs(this.epochMs + nowMs);
    return [
      { type: 'sr', ssrc: this.ssrc, ntpSec: ntp.sec, ntpFrac: ntp.frac, rtpTimestamp: 0, packetCount: packetsOut >>> 0, octetCount: bytesOut >>> 0, reports },
      { type: 'sdes', chunks: [{ ssrc: this.ssrc, cname: RTCP_CNAME }] },
    ];
  }

  private ntpMiddle(nowMs: number): number {
    const ntp = ntpFromUnixMs(this.epochMs + nowMs);
    return ntpMiddle32(ntp.sec, ntp.frac);
  }
}
