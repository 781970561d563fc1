/**
 * RTCP payload-specific feedback for keyframes (pure): Picture Loss Indication (RFC 4585 6.3.1,
 * PSFB FMT 1) and Full Intra Request (RFC 5104 4.3.1, PSFB FMT 4), built as RtcpPacket values for
 * buildRtcp() and recognised in parsed packets. Never throws on short bodies.
 */
import type { RtcpPacket, UnknownRtcp } from './rtcp';

export const RTCP_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

export function buildPli(senderSsrc: number, mediaSsrc: number): UnknownRtcp {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(senderSsrc >>> 0, 0);
  body.writeUInt32BE(mediaSsrc >>> 0, 4);
  return { type: 'unknown', packetType: RTCP_PSFB, count: FMT_PLI, body };
}

/** FIR carries the target SSRC in its FCI with a command sequence number (one per new request). */
export function buildFir(senderSsrc: number, mediaSsrc: number, seqNr: number): UnknownRtcp {
  const body = Buffer.alloc(16);
  body.writeUInt32BE(senderSsrc >>> 0, 0);
  body.writeUInt32BE(0, 4); // media source SSRC is unused in FIR
  body.writeUInt32BE(mediaSsrc >>> 0, 8);
  body[12] = seqNr & 0xff;
  return { type: 'unknown', packetType: RTCP_PSFB, count: FMT_FIR, body };
}

/**
 * The SSRC a PLI or FIR asks a keyframe of, or undefined when the packet is no keyframe request.
 * (A PLI's media SSRC; each FIR FCI entry's SSRC, the first that matches `ourSsrc` if given.)
 */
export function keyframeRequestTarget(p: RtcpPacket, ourSsrc?: number): number | undefined {
  if (p.type !== 'unknown' || p.packetType !== RTCP_PSFB) return undefined;
  const b = p.body;
  if (p.count === FMT_PLI && b.length >= 8) return b.readUInt32BE(4);
  if (p.count === FMT_FIR) {
    let first: number | undefined;
    for (let i = 8; i + 8 <= b.length; i += 8) {
      const ssrc = b.readUInt32BE(i);
      if (ourSsrc === undefined || ssrc === ourSsrc >>> 0) return ssrc;
      first ??= ssrc;
    }
    return ourSsrc === undefined ? first : undefined;
  }
  return undefined;
}
