/**
 * The backplane's packet formats (pure): the RTP header of a relayed stream (its backplane SSRC,
 * a fixed payload type per kind, an RFC 6464 level element only on digital silence), generic
 * NACK (RFC 4585 6.2.1) built and read, and a retransmission ring. Never throws on network bytes.
 */
import { RTP_HEADER_SIZE, writeRtpHeader, type RtcpPacket, type RtpView, type UnknownRtcp } from './deps';

/**
 * Payload types on the link (the codec is in the announcement, not in the packet). Outside
 * 64-95, so RTP and RTCP share the socket by RFC 5761 even with the marker bit.
 */
export const BACKPLANE_PT = { audio: 96, video: 97 } as const;

export const RTCP_RTPFB = 205;
const FMT_NACK = 1;
/** RFC 8285 one-byte header extension profile, and the ID we give the RFC 6464 level element. */
const ONE_BYTE_PROFILE = 0xbede;
const LEVEL_ID = 1;
const SILENT_LEVEL = 127;
/** Header with the level element: 12 + 4 (extension header) + 4 (element, padded). */
export const MAX_MEDIA_HEADER = RTP_HEADER_SIZE + 8;

/** Writes a relayed packet's header at 0; returns its length. `silent`: digital silence (RFC 6464 level 127). */
export function writeMediaHeader(buf: Buffer, pt: number, marker: boolean, seq: number, timestamp: number, ssrc: number, silent: boolean): number {
  writeRtpHeader(buf, 0, pt, marker, seq, timestamp, ssrc);
  if (!silent) return RTP_HEADER_SIZE;
  buf[0] = 0x90; // version 2 with the extension bit
  buf.writeUInt16BE(ONE_BYTE_PROFILE, 12);
  buf.writeUInt16BE(1, 14); // one 32-bit word of elements
  buf[16] = (LEVEL_ID << 4) | 0; // ID 1, one byte of data
  buf[17] = SILENT_LEVEL; // V=0, level 127: digital silence
  buf[18] = 0;
  buf[19] = 0;
  return MAX_MEDIA_HEADER;
}

/** Whether a received packet carries our digital-silence level element. */
export function isSilent(view: RtpView): boolean {
  if (view.extensionProfile !== ONE_BYTE_PROFILE || view.extensionLength < 2) return false;
  const b = view.buffer;
  const off = view.extensionOffset;
  return (b[off] as number) >> 4 === LEVEL_ID && ((b[off + 1] as number) & 0x7f) === SILENT_LEVEL;
}

/** Generic NACK of `seqs` (in send order) as PID/BLP pairs; seqs more than 16 after a PID start a new pair. */
export function buildNack(senderSsrc: number, mediaSsrc: number, seqs: readonly number[]): UnknownRtcp {
  const pairs: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = pairs[pairs.length - 1];
    const d = last ? (seq - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else pairs.push([seq & 0xffff, 0]);
  }
  const body = Buffer.alloc(8 + pairs.length * 4);
  body.writeUInt32BE(senderSsrc >>> 0, 0);
  body.writeUInt32BE(mediaSsrc >>> 0, 4);
  pairs.forEach(([pid, blp], i) => {
    body.writeUInt16BE(pid, 8 + i * 4);
    body.writeUInt16BE(blp, 10 + i * 4);
  });
  return { type: 'unknown', packetType: RTCP_RTPFB, count: FMT_NACK, body };
}

/** The media SSRC and sequence numbers a generic NACK asks for (at most `max`), or undefined. */
export function readNack(p: RtcpPacket, max = 256): { mediaSsrc: number; seqs: number[] } | undefined {
  if (p.type !== 'unknown' || p.packetType !== RTCP_RTPFB || p.count !== FMT_NACK || p.body.length < 12) return undefined;
  const b = p.body;
  const seqs: number[] = [];
  for (let off = 8; off + 4 <= b.length && seqs.length < max; off += 4) {
    const pid = b.readUInt16BE(off);
    const blp = b.readUInt16BE(off + 2);
    seqs.push(pid);
    for (let i = 0; i < 16 && seqs.length < max; i++) if (blp & (1 << i)) seqs.push((pid + i + 1) & 0xffff);
  }
  return { mediaSsrc: b.readUInt32BE(4), seqs };
}

/** The last `size` protected packets of a stream by sequence number (for NACK); size a power of two. */
export class RetransmitRing {
  private readonly seqs: Int32Array;
  private readonly packets: Array<Buffer | undefined>;
  private readonly mask: number;

  constructor(size: number) {
    if (size <= 0 || (size & (size - 1)) !== 0) throw new RangeError('ring size must be a power of two');
    this.mask = size - 1;
    this.seqs = new Int32Array(size).fill(-1);
    this.packets = new Array<Buffer | undefined>(size);
  }

  put(seq: number, packet: Buffer): void {
    const i = seq & this.mask;
    this.seqs[i] = seq;
    this.packets[i] = packet;
  }

  get(seq: number): Buffer | undefined {
    const i = seq & this.mask;
    return this.seqs[i] === seq ? this.packets[i] : undefined;
  }

  has(seq: number): boolean {
    return this.seqs[seq & this.mask] === seq;
  }
}
