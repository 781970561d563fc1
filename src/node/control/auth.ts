/**
 * Authentication of the inter-node control channel with the cluster secret (pure: time, nonces
 * and the replay cache are arguments): HMAC-SHA256 handshakes on the WebSocket upgrade, the
 * acceptor's proof in its reply, and a MAC on every frame. Never compares MACs with `===`.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** HKDF info of the control key; other uses of the secret (backplane SRTP) take their own. */
export const CONTROL_HKDF_INFO = 'confnode control v1';
/** A handshake whose timestamp is further than this from ours is stale. */
export const HANDSHAKE_WINDOW_MS = 30_000;
/** Bytes of every MAC (HMAC-SHA256). */
export const MAC_BYTES = 32;

export const HANDSHAKE_HEADERS = {
  node: 'x-confnode-node',
  ts: 'x-confnode-ts',
  nonce: 'x-confnode-nonce',
  sig: 'x-confnode-sig',
} as const;

/** Why a handshake was refused (one counter each). */
export type AuthRefusal = 'missing' | 'bad-signature' | 'stale' | 'replay' | 'unknown-node';
export const AUTH_REFUSALS: readonly AuthRefusal[] = ['missing', 'bad-signature', 'stale', 'replay', 'unknown-node'];

/** The signed claims of a handshake: who dials whom, when, and a fresh nonce. */
export interface HandshakeClaims {
  from: string;
  to: string;
  /** Wall-clock milliseconds since the epoch (compared between machines). */
  ts: number;
  nonce: string;
}

export type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

export function deriveControlKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), CONTROL_HKDF_INFO, 32));
}

/** HMAC over length-prefixed parts, so no two different part lists give the same input. */
function mac(key: Buffer, parts: ReadonlyArray<string | Buffer>): Buffer {
  const h = createHmac('sha256', key);
  const len = Buffer.alloc(4);
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    len.writeUInt32BE(bytes.length, 0);
    h.update(len);
    h.update(bytes);
  }
  return h.digest();
}

function sameMac(expected: Buffer, given: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(expected, given);
}

/** The dialing side's signature; it names the node dialed, so it cannot be replayed to another. */
export function signHandshake(key: Buffer, c: HandshakeClaims): string {
  return mac(key, ['hello', c.from, c.to, String(c.ts), c.nonce]).toString('base64url');
}

/** The acceptor's proof, bound to the dialer's nonce: the dialer knows it reached `server`. */
export function signAccept(key: Buffer, server: string, c: HandshakeClaims): string {
  return mac(key, ['accept', server, c.from, String(c.ts), c.nonce]).toString('base64url');
}

/** The four request headers of a handshake. */
export function handshakeHeaders(key: Buffer, c: HandshakeClaims): Record<string, string> {
  return {
    [HANDSHAKE_HEADERS.node]: c.from,
    [HANDSHAKE_HEADERS.ts]: String(c.ts),
    [HANDSHAKE_HEADERS.nonce]: c.nonce,
    [HANDSHAKE_HEADERS.sig]: signHandshake(key, c),
  };
}

/** Same alphabet as the config's node names. */
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const headerSchema = z.object({
  [HANDSHAKE_HEADERS.node]: z.string().regex(NODE_RE),
  [HANDSHAKE_HEADERS.ts]: z.string().regex(/^\d{1,16}$/),
  [HANDSHAKE_HEADERS.nonce]: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
  [HANDSHAKE_HEADERS.sig]: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

/**
 * Nonces of accepted handshakes until they can no longer be fresh. Bounded: when full of live
 * entries it refuses (it cannot prove a nonce new), which only nodes holding the secret can cause.
 */
export class ReplayCache {
  /** nonce -> expiry; expiries grow with insertion order, so the oldest are pruned first. */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly maxEntries = 10_000,
    readonly windowMs = HANDSHAKE_WINDOW_MS,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Records the nonce; false when it is known (a replay) or there is no room left. */
  remember(nonce: string, now: number): boolean {
    for (const [n, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(n);
    }
    if (this.seen.has(nonce) || this.seen.size >= this.maxEntries) return false;
    // A timestamp up to one window ahead stays acceptable until one window after it.
    this.seen.set(nonce, now + 2 * this.windowMs);
    return true;
  }
}

export interface HandshakeContext {
  key: Buffer;
  /** The node checking: handshakes must name it as the one dialed. */
  self: string;
  /** Wall-clock milliseconds. */
  now: number;
  isKnownNode(node: string): boolean;
  replay: ReplayCache;
}

export type HandshakeVerdict = { ok: true; claims: HandshakeClaims } | { ok: false; reason: AuthRefusal; detail: string };

/**
 * Checks an upgrade's headers: cheap checks first (shape, time, node), then the MAC, and only a
 * signed handshake may enter the replay cache (unauthenticated traffic cannot fill it).
 */
export function verifyHandshake(headers: IncomingHeaders, ctx: HandshakeContext): HandshakeVerdict {
  const parsed = headerSchema.safeParse(headers);
  if (!parsed.success) {
    const bad = parsed.error.issues.map((i) => String(i.path[0])).join(', ');
    return { ok: false, reason: 'missing', detail: `missing or malformed ${bad}` };
  }
  const h = parsed.data;
  const claims: HandshakeClaims = {
    from: h[HANDSHAKE_HEADERS.node],
    to: ctx.self,
    ts: Number(h[HANDSHAKE_HEADERS.ts]),
    nonce: h[HANDSHAKE_HEADERS.nonce],
  };
  const skew = ctx.now - claims.ts;
  if (Math.abs(skew) > ctx.replay.windowMs) {
    return { ok: false, reason: 'stale', detail: `timestamp ${Math.round(skew / 1000)} s off (window ${ctx.replay.windowMs / 1000} s)` };
  }
  if (claims.from === ctx.self || !ctx.isKnownNode(claims.from)) {
    return { ok: false, reason: 'unknown-node', detail: `node '${claims.from}' is not a peer of this cluster` };
  }
  if (!sameMac(mac(ctx.key, ['hello', claims.from, claims.to, String(claims.ts), claims.nonce]), Buffer.from(h[HANDSHAKE_HEADERS.sig], 'base64url'))) {
    return { ok: false, reason: 'bad-signature', detail: 'signature does not match (wrong secret, or signed for another node)' };
  }
  if (!ctx.replay.remember(claims.nonce, ctx.now)) {
    return { ok: false, reason: 'replay', detail: 'nonce already used within the window' };
  }
  return { ok: true, claims };
}

/** The dialer's check of the acceptor's reply headers: the node it meant to reach, with the secret. */
export function verifyAccept(key: Buffer, expectedServer: string, c: HandshakeClaims, headers: IncomingHeaders): boolean {
  const node = headers[HANDSHAKE_HEADERS.node];
  const sig = headers[HANDSHAKE_HEADERS.sig];
  if (node !== expectedServer || typeof sig !== 'string') return false;
  return sameMac(mac(key, ['accept', expectedServer, c.from, String(c.ts), c.nonce]), Buffer.from(sig, 'base64url'));
}

/** Who sends a frame on which link: frames are numbered per direction from 0. */
export interface FrameContext {
  sender: string;
  receiver: string;
  /** The link's handshake nonce: frames of one link are worthless on any other. */
  nonce: string;
  seq: number;
}

/**
 * MAC of one frame. The implicit sequence number makes a dropped, reordered, replayed or injected
 * frame fail, and the names make a frame reflected back to its sender fail.
 */
export function frameMac(key: Buffer, c: FrameContext, bytes: Buffer): Buffer {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(c.seq), 0);
  return mac(key, ['frame', c.sender, c.receiver, c.nonce, seq, bytes]);
}

export function verifyFrameMac(key: Buffer, c: FrameContext, bytes: Buffer, given: Buffer): boolean {
  return sameMac(frameMac(key, c, bytes), given);
}
