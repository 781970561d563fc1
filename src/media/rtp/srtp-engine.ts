/**
 * The keyed SRTP transform under every SrtpContext (srtp.ts): AES-CM with the RFC 3711 IV and the
 * HMAC-SHA1 tag, for one session key set (the cipher key, salt and auth key of SRTP or of SRTCP).
 *
 * Two implementations behind one interface:
 * - `native` (default when it loads): native/srtp, OpenSSL contexts keyed once per session key
 *   (the AES key schedule and the HMAC's inner and outer SHA-1 states), nothing allocated per
 *   packet.
 * - `js`: Node's crypto, a new Cipheriv and a new Hmac per packet; the fallback when the addon is
 *   not built, and the reference the native one is tested against.
 * `CONFNODE_SRTP=js|native` forces one (native: a context refuses to be made without the addon).
 * The caller lays out the packet; both keep no per-packet state: replay windows and ROCs are the
 * SrtpContext's.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfnodeError } from '../../common';

export type SrtpEngineKind = 'native' | 'js';

/** One session key set (RFC 3711 4.3): 16-byte cipher key, 14-byte salt, 20-byte auth key. */
export interface SrtpKeyMaterial {
  readonly cipherKey: Buffer;
  readonly salt: Buffer;
  readonly authKey: Buffer;
}

export interface SrtpKeyedCrypto {
  readonly kind: SrtpEngineKind;
  /**
   * dst[0,hl) = src[0,hl); dst[hl,end) = AES-CM(src[hl,end)) under IV(ssrc, high, low16); then
   * dst[authEnd, authEnd+tagLen) = HMAC-SHA1(dst[0,authEnd) || ROC when roc >= 0). The caller has
   * written dst[end, authEnd) (the SRTCP index) first. dst may be src.
   */
  seal(src: Buffer, hl: number, end: number, dst: Buffer, ssrc: number, high: number, low16: number, authEnd: number, roc: number, tagLen: number): void;
  /**
   * True when src[authEnd, +tagLen) is the tag of src[0,authEnd) || ROC (constant time); then
   * dst[0,end) holds the header and the payload, decrypted when `decrypt`. False: dst untouched.
   */
  open(src: Buffer, hl: number, end: number, authEnd: number, dst: Buffer, ssrc: number, high: number, low16: number, roc: number, tagLen: number, decrypt: boolean): boolean;
  /** The tag check alone. */
  verify(src: Buffer, authEnd: number, roc: number, tagLen: number): boolean;
  /**
   * One SRTP packet at buf[start, ...): its header buf[start, start+hl) is the caller's (SSRC and
   * sequence number are read from it), then AES-CM(payload) is written after it straight from
   * `payload` (no plain copy first), then the tag over both || ROC. `payload` is either exactly
   * buf[start+hl, ...) or outside it.
   */
  sealRtp(buf: Buffer, start: number, hl: number, payload: Uint8Array, roc: number, tagLen: number): void;
}

interface SrtpAddon {
  keys(cipherKey: Buffer, salt: Buffer, authKey: Buffer): unknown;
  seal(h: unknown, src: Buffer, hl: number, end: number, dst: Buffer, ssrc: number, high: number, low16: number, authEnd: number, roc: number, tagLen: number): void;
  open(h: unknown, src: Buffer, hl: number, end: number, authEnd: number, dst: Buffer, ssrc: number, high: number, low16: number, roc: number, tagLen: number, decrypt: boolean): boolean;
  verify(h: unknown, src: Buffer, authEnd: number, roc: number, tagLen: number): boolean;
  sealRtp(h: unknown, buf: Buffer, start: number, hl: number, payload: Uint8Array, roc: number, tagLen: number): void;
}

/** The addon beside the source tree: src/ or dist/ is three levels up from here, dist-bench/src/ four. */
const ADDON_PATHS = [3, 4].map((up) => path.join(__dirname, ...Array<string>(up).fill('..'), 'native', 'srtp', 'build', 'Release', 'srtp.node'));

let addon: SrtpAddon | null = null;
let addonError: string | null = null;
let tried = false;

function loadAddon(): SrtpAddon | null {
  if (tried) return addon;
  tried = true;
  const file = ADDON_PATHS.find((f) => fs.existsSync(f));
  if (!file) {
    addonError = `${ADDON_PATHS[0] ?? 'srtp.node'} is not built (npm run build:native)`;
    return null;
  }
  try {
    const mod = { exports: {} as unknown };
    process.dlopen(mod, file);
    const lib = mod.exports as Partial<SrtpAddon>;
    // A build older than its source lacks newer calls: refused as a whole (scripts/start rebuilds it).
    if (typeof lib.sealRtp !== 'function') addonError = `${file} is older than native/srtp/srtp.c (npm run build:native:srtp)`;
    else addon = lib as SrtpAddon;
  } catch (err) {
    addonError = err instanceof Error ? err.message : String(err);
  }
  return addon;
}

function wanted(): SrtpEngineKind | 'auto' {
  const v = process.env.CONFNODE_SRTP;
  return v === 'native' || v === 'js' ? v : 'auto';
}

/** Which engine new contexts of this thread use, and why not native when they don't. */
export function srtpEngineInfo(): { kind: SrtpEngineKind | 'unavailable'; reason?: string } {
  const want = wanted();
  if (want === 'js') return { kind: 'js', reason: 'CONFNODE_SRTP=js' };
  if (loadAddon()) return { kind: 'native' };
  const reason = `native/srtp not loaded: ${addonError ?? 'unknown'}`;
  return want === 'native' ? { kind: 'unavailable', reason: `CONFNODE_SRTP=native but ${reason}` } : { kind: 'js', reason };
}

class NativeKeyedCrypto implements SrtpKeyedCrypto {
  readonly kind = 'native' as const;
  private readonly h: unknown;

  constructor(
    private readonly lib: SrtpAddon,
    k: SrtpKeyMaterial,
  ) {
    this.h = lib.keys(k.cipherKey, k.salt, k.authKey);
  }

  seal(src: Buffer, hl: number, end: number, dst: Buffer, ssrc: number, high: number, low16: number, authEnd: number, roc: number, tagLen: number): void {
    this.lib.seal(this.h, src, hl, end, dst, ssrc, high, low16, authEnd, roc, tagLen);
  }

  open(src: Buffer, hl: number, end: number, authEnd: number, dst: Buffer, ssrc: number, high: number, low16: number, roc: number, tagLen: number, decrypt: boolean): boolean {
    return this.lib.open(this.h, src, hl, end, authEnd, dst, ssrc, high, low16, roc, tagLen, decrypt);
  }

  verify(src: Buffer, authEnd: number, roc: number, tagLen: number): boolean {
    return this.lib.verify(this.h, src, authEnd, roc, tagLen);
  }

  sealRtp(buf: Buffer, start: number, hl: number, payload: Uint8Array, roc: number, tagLen: number): void {
    this.lib.sealRtp(this.h, buf, start, hl, payload, roc, tagLen);
  }
}

/** RFC 3711 4.1.1: salt * 2^16 XOR SSRC * 2^64 XOR index * 2^16, index = high || low16. */
export function writeAesCmIv(iv: Buffer, salt: Buffer, ssrc: number, high: number, low16: number): void {
  salt.copy(iv, 0, 0, 14);
  iv[14] = 0;
  iv[15] = 0;
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  iv.writeUInt32BE((iv.readUInt32BE(8) ^ high) >>> 0, 8);
  iv.writeUInt16BE((iv.readUInt16BE(12) ^ low16) & 0xffff, 12);
}

class JsKeyedCrypto implements SrtpKeyedCrypto {
  readonly kind = 'js' as const;
  /** Scratch: copied by createCipheriv and Hmac.update. */
  private readonly iv = Buffer.alloc(16);
  private readonly word = Buffer.alloc(4);

  constructor(private readonly k: SrtpKeyMaterial) {}

  seal(src: Buffer, hl: number, end: number, dst: Buffer, ssrc: number, high: number, low16: number, authEnd: number, roc: number, tagLen: number): void {
    const enc = this.aesCm(src.subarray(hl, end), ssrc, high, low16);
    if (dst !== src) src.copy(dst, 0, 0, hl);
    enc.copy(dst, hl);
    this.tag(dst, authEnd, roc).copy(dst, authEnd, 0, tagLen);
  }

  open(src: Buffer, hl: number, end: number, authEnd: number, dst: Buffer, ssrc: number, high: number, low16: number, roc: number, tagLen: number, decrypt: boolean): boolean {
    if (!this.verify(src, authEnd, roc, tagLen)) return false;
    if (dst !== src) src.copy(dst, 0, 0, hl);
    if (decrypt) this.aesCm(src.subarray(hl, end), ssrc, high, low16).copy(dst, hl);
    else if (dst !== src) src.copy(dst, hl, hl, end);
    return true;
  }

  sealRtp(buf: Buffer, start: number, hl: number, payload: Uint8Array, roc: number, tagLen: number): void {
    const end = start + hl + payload.length;
    const view = buf.subarray(start);
    const seq = view.readUInt16BE(2);
    const enc = this.aesCm(payload, view.readUInt32BE(8), roc, seq);
    enc.copy(view, hl);
    this.tag(view, end - start, roc).copy(view, end - start, 0, tagLen);
  }

  verify(src: Buffer, authEnd: number, roc: number, tagLen: number): boolean {
    if (authEnd + tagLen > src.length) return false;
    return timingSafeEqual(this.tag(src, authEnd, roc).subarray(0, tagLen), src.subarray(authEnd, authEnd + tagLen));
  }

  private aesCm(data: Uint8Array, ssrc: number, high: number, low16: number): Buffer {
    writeAesCmIv(this.iv, this.k.salt, ssrc, high, low16);
    return createCipheriv('aes-128-ctr', this.k.cipherKey, this.iv).update(data);
  }

  private tag(buf: Buffer, end: number, roc: number): Buffer {
    const h = createHmac('sha1', this.k.authKey).update(buf.subarray(0, end));
    if (roc >= 0) {
      this.word.writeUInt32BE(roc >>> 0, 0);
      h.update(this.word);
    }
    return h.digest();
  }
}

/** A keyed transform for one session key set, on the engine asked for (default: this thread's). */
export function keyedCrypto(k: SrtpKeyMaterial, engine?: SrtpEngineKind): SrtpKeyedCrypto {
  const want = engine ?? wanted();
  if (want === 'js') return new JsKeyedCrypto(k);
  const lib = loadAddon();
  if (lib) return new NativeKeyedCrypto(lib, k);
  if (want === 'native') throw new ConfnodeError('internal', `SRTP engine native asked for but native/srtp did not load: ${addonError ?? ''}`);
  return new JsKeyedCrypto(k);
}
