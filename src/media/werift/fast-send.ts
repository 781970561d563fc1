/**
 * The send half of our browser media path: a packet for a viewer goes from the SFU to the wire
 * without werift's sender. werift's `RTCRtpSender.sendRtp` clones each packet, rebuilds its header
 * extensions through closures and a sort, computes an NTP time through strings and BigInt, and
 * chains promises; its UDP send passes a host string to dgram (a lookup per datagram). That was
 * most of the ~150 us of CPU a forwarded packet cost (issue 13). Here a packet costs: the header
 * written into a Buffer by hand (the sender's SSRC, payload type and sequence/timestamp offsets,
 * the mid and abs-send-time extensions werift would write), our SRTP (native/srtp), and a place in
 * the thread's batched send (native/rtpio) on werift's own ICE socket to the nominated pair.
 *
 * werift stays the owner of everything else, so its state is kept as it would keep it: the
 * sender's sequence, timestamp, packet and octet counts and the (NTP, RTP) pair its sender reports
 * use (NTP refreshed every 50 ms, a correct 32.32 fixed point, with the RTP time of the same
 * packet), its retransmission cache (NACKs are answered by werift from it), its RTCP loop, the
 * transport's and the ICE pair's counters. Whenever a condition of this path does not hold
 * (werift's SRTP in place, a TURN relay pair, an extension it does not write, RED, a pending
 * continuity rewrite, consent expired), `send` returns false and the caller uses werift's sender.
 */
import type { RTCDtlsTransport, RTCRtpSender, RtpPacket } from 'werift';
import { foreignUdpSender, type ForeignUdpSender } from '../rtp/udp-io';
import type { SrtpContext } from '../rtp/srtp';
import { ourSrtpSender } from './srtp-session';

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const ABS_SEND_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
/** Extensions werift's sender would write that this path does not: their presence means werift's path. */
const UNSUPPORTED_URIS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
]);
/** werift 0.25.2 rtpSender.js RTP_HISTORY_SIZE: its NACK handler looks packets up modulo this. */
const RTP_HISTORY_SIZE = 128;
const NTP_REFRESH_MS = 50;
/** Seconds from 1900 (NTP) to 1970 (Unix). */
const NTP_EPOCH_OFFSET_S = 2208988800;

interface SenderInternals {
  ssrc: number;
  seqOffset: number;
  timestampOffset: number;
  sequenceNumber?: number;
  timestamp?: number;
  headerExtensions: Array<{ id: number; uri: string }>;
  mid?: string;
  redRedundantPayloadType?: number;
  rtpContinuityPending: boolean;
  pendingRtpEnabled: boolean;
  stopped: boolean;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  octetCount: number;
  packetCount: number;
  headerBytesSent: number;
  rtpCache: RtpPacket[];
  rtcpRunning: boolean;
  runRtcp(): Promise<void>;
  dtlsTransport?: RTCDtlsTransport;
}

interface PairInternals {
  remoteAddr: [string, number];
  packetsSent: number;
  bytesSent: number;
  protocol: { transport?: { socket?: object; closed?: boolean } };
}

interface ConnectionInternals {
  nominated?: PairInternals;
  canSendApplicationData(): boolean;
}

/** The fd of a Node dgram socket (werift's ICE socket), without the deprecated `_handle` getter. */
function dgramFd(socket: object): number {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (!state) return -1;
  const fd = (socket as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** The NTP time now as werift's sender keeps it (64-bit 32.32 fixed point). */
function ntpNow(): bigint {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - sec * 1000) / 1000) * 0x100000000);
  return (BigInt(sec + NTP_EPOCH_OFFSET_S) << 32n) | BigInt(frac >>> 0);
}

/** abs-send-time: 24 bits of 6.18 fixed-point seconds. */
function absSendTimeNow(): number {
  return Math.floor(((performance.timeOrigin + performance.now()) / 1000) * 262144) & 0xffffff;
}

/** Why packets went through werift's sender instead (counts, for the endpoint's close log). */
export interface FastSendDeclines {
  state: number;
  srtp: number;
  consent: number;
  socket: number;
}

export class FastRtpSender {
  /** Packets sent by this path (the rest went through werift's sender). */
  sent = 0;
  readonly declined: FastSendDeclines = { state: 0, srtp: 0, consent: 0, socket: 0 };
  private readonly sender: SenderInternals;
  private readonly midId: number;
  private readonly mid: Buffer | null;
  private readonly absId: number;
  /** Bytes of extension elements, and the header's length with them (padded to 32-bit words). */
  private readonly extBytes: number;
  private readonly headerLen: number;
  private socket: object | null = null;
  private out: ForeignUdpSender | null = null;
  private lastNtpAt = Number.NEGATIVE_INFINITY;

  private constructor(sender: SenderInternals) {
    this.sender = sender;
    let midId = 0;
    let absId = 0;
    for (const ext of sender.headerExtensions) {
      if (ext.uri === MID_URI && sender.mid) midId = ext.id;
      if (ext.uri === ABS_SEND_TIME_URI) absId = ext.id;
    }
    this.midId = midId;
    this.mid = midId > 0 && sender.mid ? Buffer.from(sender.mid) : null;
    this.absId = absId;
    this.extBytes = (this.mid ? 1 + this.mid.length : 0) + (absId > 0 ? 4 : 0);
    this.headerLen = 12 + (this.extBytes > 0 ? 4 + ((this.extBytes + 3) >> 2) * 4 : 0);
  }

  /** A fast path for `sender` with its negotiated extensions, or null when they need werift's. */
  static for(sender: RTCRtpSender): FastRtpSender | null {
    const s = sender as unknown as SenderInternals;
    if (!Array.isArray(s.headerExtensions) || s.pendingRtpEnabled || s.redRedundantPayloadType !== undefined) return null;
    if (s.headerExtensions.some((e) => UNSUPPORTED_URIS.has(e.uri) || e.id < 1 || e.id > 14)) return null;
    if (s.mid !== undefined && Buffer.byteLength(s.mid) > 16) return null;
    return new FastRtpSender(s);
  }

  /**
   * Sends a packet this sender now owns (a per-viewer packet: its header is rewritten in place and
   * it stays in werift's retransmission cache). False: nothing was done, use werift's sender.
   */
  send(pkt: RtpPacket, payloadType: number): boolean {
    const s = this.sender;
    const dtls = s.dtlsTransport;
    if (s.stopped || s.rtpContinuityPending || !dtls || dtls.state !== 'connected') return this.decline('state');
    const srtp = ourSrtpSender(dtls);
    if (!srtp) return this.decline('srtp');
    const connection = dtls.iceTransport.connection as unknown as ConnectionInternals;
    const pair = connection.nominated;
    if (!pair || !connection.canSendApplicationData()) return this.decline('consent');
    const out = this.outFor(pair);
    if (!out) return this.decline('socket');

    const header = pkt.header;
    const payload = pkt.payload;
    header.ssrc = s.ssrc;
    header.payloadType = payloadType;
    header.timestamp = (header.timestamp + s.timestampOffset) >>> 0;
    header.sequenceNumber = (header.sequenceNumber + s.seqOffset) & 0xffff;
    s.timestamp = header.timestamp;
    s.sequenceNumber = header.sequenceNumber;
    const now = performance.now();
    if (now - this.lastNtpAt >= NTP_REFRESH_MS) {
      this.lastNtpAt = now;
      s.ntpTimestamp = ntpNow();
      s.rtpTimestamp = header.timestamp;
    }
    // Written and protected in place in the thread's send batch: no Buffer of its own.
    const headerLen = this.headerLen;
    const length = headerLen + payload.length + srtp.rtpTagLength;
    const [address, port] = pair.remoteAddr;
    this.pkt = pkt;
    this.srtp = srtp;
    const queued = out.sendWritten(length, port, address, this.write);
    this.pkt = null;
    this.srtp = null;
    if (!queued) return this.decline('socket');
    s.octetCount += payload.length;
    s.packetCount = (s.packetCount + 1) >>> 0;
    s.headerBytesSent += headerLen;
    s.rtpCache[header.sequenceNumber % RTP_HISTORY_SIZE] = pkt;
    if (!s.rtcpRunning) void s.runRtcp();
    dtls.bytesSent += length;
    dtls.packetsSent++;
    pair.packetsSent++;
    pair.bytesSent += length;
    this.sent++;
    return true;
  }

  private decline(why: keyof FastSendDeclines): false {
    this.declined[why]++;
    return false;
  }

  /** Stops sending on the socket (its peer connection is closing). */
  close(): void {
    this.out?.stop();
    this.out = null;
    this.socket = null;
  }

  /** The batched sender on the pair's socket; null for a relay (TURN) pair or without native I/O. */
  private outFor(pair: PairInternals): ForeignUdpSender | null {
    const transport = pair.protocol.transport;
    const socket = transport?.socket;
    if (!socket || transport.closed) return null;
    if (socket !== this.socket) {
      this.out?.stop();
      this.socket = socket;
      const fd = dgramFd(socket);
      this.out = fd >= 0 ? foreignUdpSender(fd) : null;
    }
    // A socket our sends failed on (an address family it cannot reach, say) is werift's from then on.
    return this.out && this.out.errors === 0 ? this.out : null;
  }

  /** The packet being written by `write` (set only during send). */
  private pkt: RtpPacket | null = null;
  private srtp: SrtpContext | null = null;

  /** header (with the mid and abs-send-time extensions) || payload, protected, into `view`. */
  private readonly write = (view: Buffer): void => {
    const pkt = this.pkt;
    const srtp = this.srtp;
    if (!pkt || !srtp) return;
    const h = pkt.header;
    const headerLen = this.headerLen;
    view[0] = 0x80 | (this.extBytes > 0 ? 0x10 : 0);
    view[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
    view.writeUInt16BE(h.sequenceNumber, 2);
    view.writeUInt32BE(h.timestamp, 4);
    view.writeUInt32BE(h.ssrc, 8);
    if (this.extBytes > 0) {
      // RFC 8285 one-byte header extensions, in id order as werift sorts them, zero padded.
      view.writeUInt16BE(0xbede, 12);
      view.writeUInt16BE((headerLen - 16) >> 2, 14);
      view.fill(0, 16, headerLen);
      let off = 16;
      const mid = this.mid;
      const absFirst = this.absId > 0 && this.absId < this.midId;
      for (let i = 0; i < 2; i++) {
        const abs = (i === 0) === absFirst;
        if (abs && this.absId > 0) {
          view[off] = (this.absId << 4) | 2;
          view.writeUIntBE(absSendTimeNow(), off + 1, 3);
          off += 4;
        } else if (!abs && mid) {
          view[off] = (this.midId << 4) | (mid.length - 1);
          mid.copy(view, off + 1);
          off += 1 + mid.length;
        }
      }
    }
    const end = headerLen + pkt.payload.length;
    pkt.payload.copy(view, headerLen);
    srtp.protectRtpInPlace(view, headerLen, end);
  };
}
