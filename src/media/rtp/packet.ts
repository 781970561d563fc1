/**
 * Zero-copy RTP (RFC 3550) header parsing and single-allocation packet building for the plain
 * RTP/AVP path, which must carry hundreds of SIP participants per core: fields are read straight
 * from the Buffer, the payload is a subarray. It never throws on network bytes (garbage -> null).
 * werift's packet classes allocate per field and stay reserved for the WebRTC side (media/werift/).
 */

export const RTP_HEADER_SIZE = 12;

/** A parsed RTP packet; `payload` and `buffer` share memory with the received datagram. */
export interface RtpView {
  payloadType: number;
  marker: boolean;
  /** 16-bit sequence number. */
  sequence: number;
  /** 32-bit timestamp, unsigned. */
  timestamp: number;
  /** 32-bit SSRC, unsigned. */
  ssrc: number;
  csrcCount: number;
  /**
   * Header extension (RFC 3550 5.3.1), kept reachable for RFC 8285 elements such as the
   * RFC 6464 audio level: `extensionProfile` is 0xBEDE (one-byte) or 0x100x (two-byte) elements;
   * the data is buffer[extensionOffset, extensionOffset + extensionLength). -1/0 when absent.
   */
  extensionProfile: number;
  extensionOffset: number;
  extensionLength: number;
  /** Payload without header and padding. */
  payload: Buffer;
  /** The whole datagram, unchanged (for relaying without rebuilding). */
  buffer: Buffer;
}

/**
 * Parses an RTP packet without copying. Returns null for anything that is not a well-formed
 * version 2 RTP packet (short, bad CSRC/extension lengths, bad padding).
 */
export function parseRtp(buf: Buffer): RtpView | null {
  const view = emptyRtpView();
  return parseRtpInto(buf, view) ? view : null;
}

const NONE = Buffer.alloc(0);

/** A view to reuse with parseRtpInto (one per receiving endpoint, not one per packet). */
export function emptyRtpView(): RtpView {
  return {
    payloadType: 0,
    marker: false,
    sequence: 0,
    timestamp: 0,
    ssrc: 0,
    csrcCount: 0,
    extensionProfile: -1,
    extensionOffset: -1,
    extensionLength: 0,
    payload: NONE,
    buffer: NONE,
  };
}

/** parseRtp into an existing view; false (view unspecified) for what parseRtp rejects. */
export function parseRtpInto(buf: Buffer, view: RtpView): boolean {
  const len = buf.length;
  if (len < RTP_HEADER_SIZE) return false;
  const b0 = buf[0] as number;
  if (b0 >> 6 !== 2) return false;
  const b1 = buf[1] as number;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_SIZE + csrcCount * 4;
  if (offset > len) return false;

  let extensionProfile = -1;
  let extensionOffset = -1;
  let extensionLength = 0;
  if (b0 & 0x10) {
    if (offset + 4 > len) return false;
    extensionProfile = buf.readUInt16BE(offset);
    extensionLength = buf.readUInt16BE(offset + 2) * 4;
    extensionOffset = offset + 4;
    offset = extensionOffset + extensionLength;
    if (offset > len) return false;
  }

  let end = len;
  if (b0 & 0x20) {
    // RFC 3550 5.1: the last octet counts the padding, itself included, so it is at least 1.
    const pad = buf[len - 1] as number;
    if (pad === 0 || offset + pad > len) return false;
    end = len - pad;
  }

  view.payloadType = b1 & 0x7f;
  view.marker = (b1 & 0x80) !== 0;
  view.sequence = buf.readUInt16BE(2);
  view.timestamp = buf.readUInt32BE(4);
  view.ssrc = buf.readUInt32BE(8);
  view.csrcCount = csrcCount;
  view.extensionProfile = extensionProfile;
  view.extensionOffset = extensionOffset;
  view.extensionLength = extensionLength;
  view.payload = buf.subarray(offset, end);
  view.buffer = buf;
  return true;
}

/**
 * RFC 5761 section 4 demultiplexing for rtcp-mux: a second octet in 192..223 (RTP payload types
 * 64-95 with the marker bit) is RTCP. Checks the version too, so garbage is neither.
 */
export function isRtcp(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  return b0 >> 6 === 2 && b1 >= 192 && b1 <= 223;
}

/**
 * Writes a 12-byte RTP header (no CSRC, no extension, no padding) at `offset`; returns the
 * offset just after it. Values are masked, so out-of-range numbers wrap rather than throw.
 */
export function writeRtpHeader(
  buf: Buffer,
  offset: number,
  payloadType: number,
  marker: boolean,
  sequence: number,
  timestamp: number,
  ssrc: number,
): number {
  buf[offset] = 0x80;
  buf[offset + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf.writeUInt16BE(sequence & 0xffff, offset + 2);
  buf.writeUInt32BE(timestamp >>> 0, offset + 4);
  buf.writeUInt32BE(ssrc >>> 0, offset + 8);
  return offset + RTP_HEADER_SIZE;
}

/** Builds one RTP packet in a single allocation (pooled for small sizes): header + payload copy. */
export function buildRtp(
  payloadType: number,
  marker: boolean,
  sequence: number,
  timestamp: number,
  ssrc: number,
  payload: Buffer,
): Buffer {
  const out = Buffer.allocUnsafe(RTP_HEADER_SIZE + payload.length);
  writeRtpHeader(out, 0, payloadType, marker, sequence, timestamp, ssrc);
  payload.copy(out, RTP_HEADER_SIZE);
  return out;
}
