/**
 * The send half of our browser media path: a packet for a viewer goes from the SFU to the wire
 * without werift's sender. werift's `RTCRtpSender.sendRtp` clones each packet, rebuilds its header
 * extensions through closures and a sort, computes an NTP time through strings and BigInt, and
 * chains promises; its UDP send passes a host string to dgram (a lookup per datagram). That was
 * most of the ~150 us of CPU a forwarded packet cost (issue 13). Here a packet costs: the header
 * written byte by byte straight into the thread's batched send (native/rtpio) on werift's own ICE
 * socket to the nominated pair (the sender's SSRC, payload type and sequence/timestamp offsets, the
 * mid and abs-send-time extensions werift would write), then our SRTP (native/srtp) encrypting the
 * source's payload from where it lies into the batch and tagging it there: one native call, no
 * Buffer, no per-viewer packet object (the SFU's packet is read, never kept).
 *
 * werift stays the owner of everything else, so its state is kept as it would keep it: the
 * sender's sequence, timestamp, packet and octet counts and the (NTP, RTP) pair its sender reports
 * use (NTP refreshed every 50 ms, a correct 32.32 fixed point, with the RTP time of the same
 * packet), its retransmission cache (werift answers NACKs from it: see RetransmitCache), its RTCP
 * loop, the transport's and the ICE pair's counters. Whenever a condition of this path does not
 * hold (werift's SRTP in place, a TURN relay pair, an extension it does not write, RED, a pending
 * continuity rewrite, consent expired), `send` returns false and the caller uses werift's sender.
 */
import { performance } from 'node:perf_hooks';
import type { RTCDtlsTransport, RTCRtpSender, RtpPacket } from 'werift';
import { foreignUdpSender, type ForeignUdpSender } from '../rtp/udp-io';
import { ourSrtpSender } from './srtp-session';
import { viewerPacket } from './viewer-packet';

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

/** Unix ms at performance.now() 0 (a getter each time it is read: read once; the global `performance` is a getter too). */
const TIME_ORIGIN_MS = performance.timeOrigin;

/** The NTP time at `now` (performance.now()) as werift's sender keeps it (64-bit 32.32 fixed point). */
function ntpAt(now: number): bigint {
  const ms = TIME_ORIGIN_MS + now;
  const sec = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - sec * 1000) / 1000) * 0x100000000);
  return (BigInt(sec + NTP_EPOCH_OFFSET_S) << 32n) | BigInt(frac >>> 0);
}

/** What of a forwarded packet goes out (the SFU's MediaPacket: read during send, never kept). */
export interface ForwardedRtp {
  readonly sequence: number;
  readonly timestamp: number;
  readonly marker: boolean;
  readonly payload: Buffer;
}

/** The slot of an array index key in werift's rtpCache, or -1 for any other key. */
function slotOf(key: string | symbol): number {
  if (typeof key !== 'string') return -1;
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < RTP_HISTORY_SIZE ? n : -1;
}

/**
 * werift's retransmission cache (`sender.rtpCache`, read only by its NACK handler as
 * `rtpCache[seq % 128]`) for a sender our path feeds, kept compact: per slot the sequence number,
 * timestamp, marker and payload type in one Int32Array and the payload in an array, written in
 * order, so a send writes a few numbers next to the ones it wrote last (a packet object per slot
 * cost a cache miss or three per viewer per packet). The Proxy put in werift's place builds a
 * packet only when werift reads a slot (a NACK); what werift's own sender stores there is kept as
 * werift stored it, until our path writes that slot again.
 */
class RetransmitCache {
  /** The object werift's sender holds as its rtpCache. */
  readonly view: RtpPacket[];
  /** Per slot: sequence number (-1: empty), timestamp, marker << 7 | payload type. */
  private readonly fields = new Int32Array(RTP_HISTORY_SIZE * 3).fill(-1);
  private readonly payloads: Array<Buffer | undefined> = new Array<Buffer | undefined>(RTP_HISTORY_SIZE).fill(undefined);
  /** Packets werift's own sender put in a slot since our last write to it. */
  private readonly theirs: Array<RtpPacket | undefined> = new Array<RtpPacket | undefined>(RTP_HISTORY_SIZE).fill(undefined);
  private ssrc = 0;

  constructor() {
    this.view = new Proxy<RtpPacket[]>([], {
      get: (target, key, receiver) => {
        const slot = slotOf(key);
        return slot < 0 ? Reflect.get(target, key, receiver) : this.packetAt(slot);
      },
      set: (target, key, value, receiver) => {
        const slot = slotOf(key);
        if (slot < 0) return Reflect.set(target, key, value, receiver);
        this.theirs[slot] = value as RtpPacket | undefined;
        return true;
      },
    });
  }

  /** Becomes `s`'s rtpCache, taking what werift's array held (werift replaces it on a continuity reset). */
  adopt(s: SenderInternals): void {
    const before = s.rtpCache;
    this.fields.fill(-1);
    this.payloads.fill(undefined);
    for (let i = 0; i < RTP_HISTORY_SIZE; i++) this.theirs[i] = before[i];
    s.rtpCache = this.view;
  }

  /** A packet our path sent, as werift would have cached it (no header extensions). */
  put(seq: number, timestamp: number, b1: number, ssrc: number, payload: Buffer): void {
    const slot = seq & (RTP_HISTORY_SIZE - 1);
    const f = this.fields;
    const at = slot * 3;
    f[at] = seq;
    f[at + 1] = timestamp;
    f[at + 2] = b1;
    this.payloads[slot] = payload;
    this.theirs[slot] = undefined;
    this.ssrc = ssrc;
  }

  private packetAt(slot: number): RtpPacket | undefined {
    const theirs = this.theirs[slot];
    if (theirs) return theirs;
    const at = slot * 3;
    const seq = this.fields[at] as number;
    const payload = this.payloads[slot];
    if (seq < 0 || !payload) return undefined;
    const b1 = this.fields[at + 2] as number;
    return viewerPacket(b1 & 0x7f, (b1 & 0x80) !== 0, seq, (this.fields[at + 1] as number) >>> 0, this.ssrc, payload);
  }
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
  /**
   * The header's bytes after the fixed 12 (RFC 8285 one-byte extensions: 0xBEDE, the length, the
   * mid and abs-send-time elements in id order as werift sorts them, zero padding), written once;
   * each packet copies them and fills in abs-send-time at `absAt` (-1: not negotiated).
   */
  private readonly ext: Uint8Array;
  private readonly absAt: number;
  private readonly headerLen: number;
  private socket: object | null = null;
  private out: ForeignUdpSender | null = null;
  private lastNtpAt = Number.NEGATIVE_INFINITY;
  private readonly cache = new RetransmitCache();

  private constructor(sender: SenderInternals) {
    this.sender = sender;
    let midId = 0;
    let absId = 0;
    for (const ext of sender.headerExtensions) {
      if (ext.uri === MID_URI && sender.mid) midId = ext.id;
      if (ext.uri === ABS_SEND_TIME_URI) absId = ext.id;
    }
    const mid = midId > 0 && sender.mid ? Buffer.from(sender.mid) : null;
    const elements: Array<{ id: number; bytes: number[] }> = [];
    if (mid) elements.push({ id: midId, bytes: [(midId << 4) | (mid.length - 1), ...mid] });
    if (absId > 0) elements.push({ id: absId, bytes: [(absId << 4) | 2, 0, 0, 0] });
    elements.sort((a, b) => a.id - b.id);
    const extBytes = elements.reduce((n, e) => n + e.bytes.length, 0);
    const words = (extBytes + 3) >> 2;
    this.ext = new Uint8Array(extBytes > 0 ? 4 + words * 4 : 0);
    this.absAt = -1;
    if (extBytes > 0) {
      this.ext.set([0xbe, 0xde, words >> 8, words & 0xff]);
      let off = 4;
      for (const e of elements) {
        this.ext.set(e.bytes, off);
        if (e.id === absId) this.absAt = 12 + off + 1;
        off += e.bytes.length;
      }
    }
    this.headerLen = 12 + this.ext.length;
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
   * Sends a forwarded packet as `payloadType` on this sender's stream (`p` is only read, here and
   * now). False: nothing was done, use werift's sender.
   */
  send(p: ForwardedRtp, payloadType: number): boolean {
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

    const payload = p.payload;
    const headerLen = this.headerLen;
    const length = headerLen + payload.length + srtp.rtpTagLength;
    const remote = pair.remoteAddr;
    // Written and protected in place in the thread's send batch: no Buffer of its own.
    const at = out.reserveDatagram(length, remote[1], remote[0]);
    if (at < 0) return this.decline('socket');
    const b1 = (p.marker ? 0x80 : 0) | (payloadType & 0x7f);
    const seq = (p.sequence + s.seqOffset) & 0xffff;
    const timestamp = (p.timestamp + s.timestampOffset) >>> 0;
    const ssrc = s.ssrc;
    const now = performance.now();
    const buf = out.batchBuffer;
    this.writeHeader(buf, at, b1, seq, timestamp, ssrc, now);
    srtp.protectRtpAt(buf, at, headerLen, payload);

    s.timestamp = timestamp;
    s.sequenceNumber = seq;
    if (now - this.lastNtpAt >= NTP_REFRESH_MS) {
      this.lastNtpAt = now;
      s.ntpTimestamp = ntpAt(now);
      s.rtpTimestamp = timestamp;
    }
    s.octetCount += payload.length;
    s.packetCount = (s.packetCount + 1) >>> 0;
    s.headerBytesSent += headerLen;
    if (s.rtpCache !== this.cache.view) this.cache.adopt(s);
    this.cache.put(seq, timestamp, b1, ssrc, payload);
    if (!s.rtcpRunning) void s.runRtcp();
    dtls.bytesSent += length;
    dtls.packetsSent++;
    pair.packetsSent++;
    pair.bytesSent += length;
    this.sent++;
    return true;
  }

  /** Stops sending on the socket (its peer connection is closing). */
  close(): void {
    this.out?.stop();
    this.out = null;
    this.socket = null;
  }

  private decline(why: keyof FastSendDeclines): false {
    this.declined[why]++;
    return false;
  }

  /** The RTP header with our extensions at buf[at, at + headerLen); `b1` is its second byte (marker, payload type). */
  private writeHeader(buf: Buffer, at: number, b1: number, seq: number, timestamp: number, ssrc: number, now: number): void {
    const ext = this.ext;
    // Typed-array stores keep the low 8 bits of each value.
    buf[at] = ext.length > 0 ? 0x90 : 0x80;
    buf[at + 1] = b1;
    buf[at + 2] = seq >>> 8;
    buf[at + 3] = seq;
    buf[at + 4] = timestamp >>> 24;
    buf[at + 5] = timestamp >>> 16;
    buf[at + 6] = timestamp >>> 8;
    buf[at + 7] = timestamp;
    buf[at + 8] = ssrc >>> 24;
    buf[at + 9] = ssrc >>> 16;
    buf[at + 10] = ssrc >>> 8;
    buf[at + 11] = ssrc;
    const n = ext.length;
    for (let i = 0; i < n; i++) buf[at + 12 + i] = ext[i] as number;
    if (this.absAt > 0) {
      // abs-send-time: 24 bits of 6.18 fixed-point seconds.
      const abs = Math.floor(((TIME_ORIGIN_MS + now) / 1000) * 262144);
      const o = at + this.absAt;
      buf[o] = abs >>> 16;
      buf[o + 1] = abs >>> 8;
      buf[o + 2] = abs;
    }
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
}
