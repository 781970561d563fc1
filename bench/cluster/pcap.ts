/**
 * Pure reading of a tcpdump capture (libpcap file, micro- or nanosecond timestamps, Ethernet or
 * Linux cooked link types): the IPv4 UDP datagrams with their kernel timestamps and the RTP header
 * fields the backplane bench matches on. Never touches files or sockets: the bytes are an argument.
 */

/** One captured IPv4 UDP datagram. */
export interface UdpRecord {
  /** Kernel timestamp of the capture, ns since the epoch (as a float: ns precision is kept below 2^53 ns, year 2255). */
  tNs: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_SLL = 113;
const LINK_SLL2 = 276;

interface Header {
  read32: (b: Buffer, o: number) => number;
  nanos: boolean;
  linkType: number;
}

function fileHeader(buf: Buffer): Header {
  if (buf.length < 24) throw new Error('pcap: shorter than its file header');
  const magicLe = buf.readUInt32LE(0);
  const magicBe = buf.readUInt32BE(0);
  const known: Record<number, boolean> = { 0xa1b2c3d4: false, 0xa1b23c4d: true };
  const le = magicLe in known;
  if (!le && !(magicBe in known)) throw new Error(`pcap: unknown magic 0x${magicLe.toString(16)}`);
  const read32 = le ? (b: Buffer, o: number): number => b.readUInt32LE(o) : (b: Buffer, o: number): number => b.readUInt32BE(o);
  return { read32, nanos: known[le ? magicLe : magicBe] === true, linkType: read32(buf, 20) & 0xffff };
}

/** Offset of the IPv4 header in a frame of the link type, or -1 when the frame is not IPv4. */
function ipOffset(frame: Buffer, linkType: number): number {
  if (linkType === LINK_ETHERNET) return frame.length >= 14 && frame.readUInt16BE(12) === 0x0800 ? 14 : -1;
  if (linkType === LINK_SLL) return frame.length >= 16 && frame.readUInt16BE(14) === 0x0800 ? 16 : -1;
  if (linkType === LINK_SLL2) return frame.length >= 20 && frame.readUInt16BE(0) === 0x0800 ? 20 : -1;
  if (linkType === LINK_RAW) return 0;
  return -1;
}

function udpOf(frame: Buffer, linkType: number): Omit<UdpRecord, 'tNs'> | undefined {
  const ip = ipOffset(frame, linkType);
  if (ip < 0 || frame.length < ip + 20) return undefined;
  const vihl = frame[ip] ?? 0;
  if (vihl >> 4 !== 4 || frame[ip + 9] !== 17) return undefined;
  // Fragments other than the first carry no UDP header.
  if ((frame.readUInt16BE(ip + 6) & 0x1fff) !== 0) return undefined;
  const udp = ip + (vihl & 0x0f) * 4;
  if (frame.length < udp + 8) return undefined;
  const len = frame.readUInt16BE(udp + 4);
  const end = Math.min(frame.length, udp + Math.max(8, len));
  return { srcPort: frame.readUInt16BE(udp), dstPort: frame.readUInt16BE(udp + 2), payload: frame.subarray(udp + 8, end) };
}

/** Every IPv4 UDP datagram of a capture, in file order; a truncated last record is ignored. */
export function parsePcap(buf: Buffer): UdpRecord[] {
  const h = fileHeader(buf);
  const out: UdpRecord[] = [];
  let o = 24;
  while (o + 16 <= buf.length) {
    const sec = h.read32(buf, o);
    const frac = h.read32(buf, o + 4);
    const incl = h.read32(buf, o + 8);
    if (o + 16 + incl > buf.length) break;
    const udp = udpOf(buf.subarray(o + 16, o + 16 + incl), h.linkType);
    if (udp) out.push({ tNs: sec * 1e9 + (h.nanos ? frac : frac * 1000), ...udp });
    o += 16 + incl;
  }
  return out;
}

/** The RTP header fields the bench matches on; undefined for RTCP (PT 72-76 once the marker bit is masked) and non-RTP. */
export interface RtpHead {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
}

export function rtpHead(payload: Buffer): RtpHead | undefined {
  if (payload.length < 12 || (payload[0] ?? 0) >> 6 !== 2) return undefined;
  const pt = (payload[1] ?? 0) & 0x7f;
  if (pt >= 72 && pt <= 76) return undefined;
  return { payloadType: pt, sequence: payload.readUInt16BE(2), timestamp: payload.readUInt32BE(4), ssrc: payload.readUInt32BE(8) };
}
