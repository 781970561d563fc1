/**
 * SRTP and SRTCP (RFC 3711) with AES_CM_128_HMAC_SHA1_80 (and _32: a 4-byte SRTP tag), for
 * browsers (WebRTC, keys from DTLS), backplane links and SDES-keyed SIP media: session keys
 * derived once per context (key derivation rate 0), the AES-CM and HMAC-SHA1 transform keyed once
 * per session key (srtp-engine.ts: native/srtp, or Node's crypto per packet), ROC estimation and a
 * 64-packet replay window per SSRC, the SRTCP index with its E bit. Never returns bytes
 * that failed authentication, never changes its state for a packet that did not authenticate,
 * never throws on bytes from the network, never logs or exposes a key.
 */
import { createCipheriv } from 'node:crypto';
import { ConfnodeError } from '../../common';
import { keyedCrypto, writeAesCmIv, type SrtpEngineKind, type SrtpKeyedCrypto } from './srtp-engine';

export { writeAesCmIv };

export const SRTP_MASTER_KEY_BYTES = 16;
export const SRTP_MASTER_SALT_BYTES = 14;

/** One direction's SRTP master key and salt (AES_CM_128 suites). */
export interface SrtpMasterKey {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

/** Lengths of keys that crossed a thread or a schema: anything else is refused, never padded. */
export function checkMasterKey(k: SrtpMasterKey, what: string): void {
  if (!(k.key instanceof Uint8Array) || k.key.length !== SRTP_MASTER_KEY_BYTES || !(k.salt instanceof Uint8Array) || k.salt.length !== SRTP_MASTER_SALT_BYTES) {
    throw new ConfnodeError('bad-request', `${what}: an SRTP master key is ${SRTP_MASTER_KEY_BYTES} bytes and its salt ${SRTP_MASTER_SALT_BYTES}`);
  }
}

/** The SRTP tag of AES_CM_128_HMAC_SHA1_80, and always the SRTCP tag (RFC 4568 6.2.1). */
export const SRTP_AUTH_TAG_BYTES = 10;
/** The SRTP tag of AES_CM_128_HMAC_SHA1_32. */
export const SRTP_AUTH_TAG_BYTES_32 = 4;
/** E bit and 31-bit SRTCP index, between an SRTCP packet and its tag. */
export const SRTCP_TRAILER_BYTES = 4;
/** Packets behind the highest index that can still be accepted once each (RFC 3711 3.3.2). */
export const REPLAY_WINDOW = 64;

/** RFC 3711 4.3.2 key derivation labels. */
export const SRTP_LABELS = { rtpCipher: 0, rtpAuth: 1, rtpSalt: 2, rtcpCipher: 3, rtcpAuth: 4, rtcpSalt: 5 } as const;

const AUTH_KEY_BYTES = 20;
const RTP_HEADER_BYTES = 12;
const RTCP_HEADER_BYTES = 8;
const SRTCP_INDEX_MAX = 0x7fffffff;
const E_BIT = 0x80000000;

/** Why an incoming packet was refused. */
export type SrtpFailure = 'malformed' | 'auth' | 'replay';

/** The session keys of one of SRTP or SRTCP. */
export interface SrtpSessionKeys {
  readonly cipherKey: Buffer;
  readonly authKey: Buffer;
  readonly salt: Buffer;
}

export interface SrtpContextOptions {
  /** SSRCs with receive state at once; packets of more are refused (default 1024). */
  maxSsrcs?: number;
  /** ROCs tried for the first packet of an SSRC (default 4; 1 is RFC 3711's plain 0). */
  firstRocGuesses?: number;
  /** The SRTP tag length: 10 (_80, default) or 4 (_32); SRTCP's is always 10. */
  rtpTagBytes?: 10 | 4;
  /** The transform's implementation (tests); default: native/srtp when it loads. */
  engine?: SrtpEngineKind;
}

/** RFC 3711 4.3.1 with kdr 0: AES-CM keyed with the master key over (label << 48) XOR salt. */
export function deriveSessionKey(master: SrtpMasterKey, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  Buffer.from(master.salt).copy(iv, 0, 0, SRTP_MASTER_SALT_BYTES);
  // key_id = label || r (48 bits of zero) is right-aligned in the 112-bit salt: byte 7.
  iv[7] = (iv[7] as number) ^ label;
  return createCipheriv('aes-128-ctr', Buffer.from(master.key), iv).update(Buffer.alloc(length));
}

export function deriveSessionKeys(master: SrtpMasterKey, rtcp: boolean): SrtpSessionKeys {
  const base = rtcp ? SRTP_LABELS.rtcpCipher : SRTP_LABELS.rtpCipher;
  return {
    cipherKey: deriveSessionKey(master, base, SRTP_MASTER_KEY_BYTES),
    authKey: deriveSessionKey(master, base + 1, AUTH_KEY_BYTES),
    salt: deriveSessionKey(master, base + 2, SRTP_MASTER_SALT_BYTES),
  };
}

/** `length` bytes of AES-CM keystream for a packet (tests and tools: RFC 3711 B.2). */
export function aesCmKeystream(cipherKey: Buffer, salt: Buffer, ssrc: number, roc: number, seq: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  writeAesCmIv(iv, salt, ssrc, roc, seq);
  return createCipheriv('aes-128-ctr', cipherKey, iv).update(Buffer.alloc(length));
}

/**
 * RFC 3711 3.3.1 (appendix A): the 48-bit index of a packet with sequence `seq`, given the highest
 * index seen so far. May be negative (a packet from before the first one seen).
 */
export function estimateIndex(highest: number, seq: number): number {
  const roc = Math.floor(highest / 0x10000);
  const sl = highest - roc * 0x10000;
  let v = roc;
  if (sl < 0x8000) {
    if (seq - sl > 0x8000) v = roc - 1;
  } else if (sl - 0x8000 > seq) {
    v = roc + 1;
  }
  return v * 0x10000 + seq;
}

/** Length of a well-formed RTP header in buf[0, end), or -1. */
export function rtpHeaderLength(buf: Buffer, end: number): number {
  if (end < RTP_HEADER_BYTES) return -1;
  const b0 = buf[0] as number;
  if (b0 >> 6 !== 2) return -1;
  let off = RTP_HEADER_BYTES + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (off + 4 > end) return -1;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
  }
  return off > end ? -1 : off;
}

/** Indices of one SSRC accepted so far: the highest, and which of the 64 below it were seen. */
class ReplayState {
  highest = -1;
  /** seen[i % 64] === i when index i was accepted (slots of older indices are simply stale). */
  private readonly seen = new Float64Array(REPLAY_WINDOW).fill(-1);

  isReplay(index: number): boolean {
    if (this.highest < 0 || index > this.highest) return false;
    if (this.highest - index >= REPLAY_WINDOW) return true;
    return this.seen[index % REPLAY_WINDOW] === index;
  }

  accept(index: number): void {
    if (index > this.highest) this.highest = index;
    this.seen[index % REPLAY_WINDOW] = index;
  }
}

/**
 * One direction's crypto context (one master key): protects what this side sends, or unprotects
 * what it receives, per SSRC. A link holds one of each.
 */
export class SrtpContext {
  private readonly rtp: SrtpKeyedCrypto;
  private readonly rtcp: SrtpKeyedCrypto;
  private readonly maxSsrcs: number;
  private readonly firstRocGuesses: number;
  private readonly rtpTagBytes: number;
  /** SSRC -> highest index protected (sending side). */
  private readonly sendRtp = new Map<number, number>();
  /** SSRC -> next SRTCP index (sending side). */
  private readonly sendRtcp = new Map<number, number>();
  private readonly recvRtp = new Map<number, ReplayState>();
  private readonly recvRtcp = new Map<number, ReplayState>();

  constructor(master: SrtpMasterKey, opts: SrtpContextOptions = {}) {
    checkMasterKey(master, 'SRTP context');
    this.rtp = keyedCrypto(deriveSessionKeys(master, false), opts.engine);
    this.rtcp = keyedCrypto(deriveSessionKeys(master, true), opts.engine);
    this.maxSsrcs = opts.maxSsrcs ?? 1024;
    this.firstRocGuesses = Math.max(1, opts.firstRocGuesses ?? 4);
    this.rtpTagBytes = opts.rtpTagBytes === SRTP_AUTH_TAG_BYTES_32 ? SRTP_AUTH_TAG_BYTES_32 : SRTP_AUTH_TAG_BYTES;
  }

  /** Protects one RTP packet of ours (throws only on a packet we built wrongly). */
  protectRtp(packet: Buffer): Buffer {
    const hl = rtpHeaderLength(packet, packet.length);
    if (hl < 0) throw new ConfnodeError('internal', 'SRTP: not an RTP packet');
    return this.protectRtpParts(packet.subarray(0, hl), packet.subarray(hl));
  }

  /** Protects a packet given as its header and payload: one new Buffer, header || E(payload) || tag. */
  protectRtpParts(header: Buffer, payload: Buffer): Buffer {
    const hl = header.length;
    const out = Buffer.allocUnsafe(hl + payload.length + this.rtpTagBytes);
    header.copy(out, 0);
    this.protectRtpAt(out, 0, hl, payload);
    return out;
  }

  /** The SRTP tag length of this context's RTP packets (bytes after the payload). */
  get rtpTagLength(): number {
    return this.rtpTagBytes;
  }

  /**
   * Protects a packet laid out in the caller's buffer (a send batch: nothing is allocated): its
   * header is buf[start, start+hl), already written; the payload is encrypted from `payload`
   * straight into buf after the header (no plain copy first), the tag after it. buf must hold
   * hl + payload.length + rtpTagLength bytes from start; `payload` is either exactly where it goes
   * (in place) or outside that range.
   */
  protectRtpAt(buf: Buffer, start: number, hl: number, payload: Uint8Array): void {
    const ssrc = buf.readUInt32BE(start + 8);
    const seq = buf.readUInt16BE(start + 2);
    const roc = Math.floor(this.nextSendIndex(ssrc, seq) / 0x10000);
    this.rtp.sealRtp(buf, start, hl, payload, roc, this.rtpTagBytes);
  }

  /** The plain RTP packet (a new Buffer), or why it was refused. */
  unprotectRtp(packet: Buffer): Buffer | SrtpFailure {
    const end = packet.length - this.rtpTagBytes;
    const hl = rtpHeaderLength(packet, end);
    if (hl < 0) return 'malformed';
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const state = this.recvRtp.get(ssrc);
    if (!state && this.recvRtp.size >= this.maxSsrcs) return 'malformed';
    let index: number;
    if (state) {
      index = estimateIndex(state.highest, seq);
      if (index < 0 || state.isReplay(index)) return 'replay';
    } else {
      const guess = this.firstRoc(packet, end);
      if (guess < 0) return 'auth';
      index = guess * 0x10000 + seq;
    }
    const roc = Math.floor(index / 0x10000);
    const out = Buffer.allocUnsafe(end);
    if (!this.rtp.open(packet, hl, end, end, out, ssrc, roc, seq, roc, this.rtpTagBytes, true)) return 'auth';
    let s = state;
    if (!s) {
      s = new ReplayState();
      this.recvRtp.set(ssrc, s);
    }
    s.accept(index);
    return out;
  }

  /** Protects one (compound) RTCP packet of ours: encrypted after the sender SSRC, E bit set. */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < RTCP_HEADER_BYTES) throw new ConfnodeError('internal', 'SRTCP: packet too short');
    const ssrc = packet.readUInt32BE(4);
    const index = this.sendRtcp.get(ssrc) ?? 0;
    this.sendRtcp.set(ssrc, index >= SRTCP_INDEX_MAX ? 0 : index + 1);
    const len = packet.length;
    const out = Buffer.allocUnsafe(len + SRTCP_TRAILER_BYTES + SRTP_AUTH_TAG_BYTES);
    packet.copy(out, 0);
    out.writeUInt32BE((E_BIT | index) >>> 0, len);
    this.rtcp.seal(out, RTCP_HEADER_BYTES, len, out, ssrc, index >>> 16, index & 0xffff, len + SRTCP_TRAILER_BYTES, -1, SRTP_AUTH_TAG_BYTES);
    return out;
  }

  /** The plain (compound) RTCP packet (a new Buffer), or why it was refused. */
  unprotectRtcp(packet: Buffer): Buffer | SrtpFailure {
    const authEnd = packet.length - SRTP_AUTH_TAG_BYTES;
    const end = authEnd - SRTCP_TRAILER_BYTES;
    if (end < RTCP_HEADER_BYTES || (packet[0] as number) >> 6 !== 2) return 'malformed';
    const ssrc = packet.readUInt32BE(4);
    const word = packet.readUInt32BE(end);
    const index = word & SRTCP_INDEX_MAX;
    const state = this.recvRtcp.get(ssrc);
    if (!state && this.recvRtcp.size >= this.maxSsrcs) return 'malformed';
    if (state?.isReplay(index)) return 'replay';
    const out = Buffer.allocUnsafe(end);
    const decrypt = (word & E_BIT) !== 0;
    if (!this.rtcp.open(packet, RTCP_HEADER_BYTES, end, authEnd, out, ssrc, index >>> 16, index & 0xffff, -1, SRTP_AUTH_TAG_BYTES, decrypt)) return 'auth';
    let s = state;
    if (!s) {
      s = new ReplayState();
      this.recvRtcp.set(ssrc, s);
    }
    s.accept(index);
    return out;
  }

  /** The far side retracted this stream: its receive state goes (its SSRC is never reused). */
  forget(ssrc: number): void {
    this.recvRtp.delete(ssrc);
    this.sendRtp.delete(ssrc);
  }

  private nextSendIndex(ssrc: number, seq: number): number {
    const highest = this.sendRtp.get(ssrc);
    if (highest === undefined) {
      this.sendRtp.set(ssrc, seq);
      return seq;
    }
    const index = estimateIndex(highest, seq);
    if (index < 0) return seq;
    if (index > highest) this.sendRtp.set(ssrc, index);
    return index;
  }

  /**
   * The ROC of the first packet seen of an SSRC: 0 by RFC 3711 3.3.1, unless the sender wrapped
   * before we heard of the stream (its announcement came late): the next few ROCs are tried too,
   * each a full authentication, so a guess is never accepted on faith. -1: none authenticates.
   */
  private firstRoc(packet: Buffer, end: number): number {
    for (let roc = 0; roc < this.firstRocGuesses; roc++) if (this.rtp.verify(packet, end, roc, this.rtpTagBytes)) return roc;
    return -1;
  }
}
