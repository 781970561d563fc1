/**
 * Signed join tokens for browsers (JWT, HS256 only, with `jose`): room (VMR name), display name,
 * role (host|guest) and expiry; checked against `join_tokens` and the room's `require_token`, and
 * minted for operators. Pure apart from the HMAC: the time comes in as an argument. The only
 * module importing jose; never logs or returns a token or the secret.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import type { JoinTokensConfig } from '../config';

export type JoinTokenRole = 'host' | 'guest';

export interface JoinTokenClaims {
  room: string;
  name: string;
  role: JoinTokenRole;
  /** Expiry, unix seconds. */
  exp: number;
}

/** Why a join was refused for its token: the metric label and the admin log's reason. */
export const TOKEN_REFUSAL_REASONS = ['missing', 'malformed', 'signature', 'expired', 'not-yet-valid', 'wrong-room', 'claims', 'disabled'] as const;
export type TokenRefusalReason = (typeof TOKEN_REFUSAL_REASONS)[number];
/** The admin log's words for each refusal ("Browser refused: ..."). */
export const TOKEN_REFUSAL_TEXT: Readonly<Record<TokenRefusalReason, string>> = {
  missing: 'no join token for a room that requires one',
  malformed: 'malformed join token',
  signature: 'join token with a bad signature or algorithm',
  expired: 'expired join token',
  'not-yet-valid': 'join token not valid yet',
  'wrong-room': 'join token for another room',
  claims: 'join token without a valid room, name, role or expiry',
  disabled: 'join token, but join_tokens is not configured',
};

export type TokenDecision =
  /** No token, and none needed: the PINs (if any) decide. */
  | { kind: 'none' }
  | { kind: 'valid'; claims: JoinTokenClaims }
  | { kind: 'refused'; reason: TokenRefusalReason; message: string };

/** Accepted difference between the minting machine's clock and ours (exp, nbf). */
export const CLOCK_TOLERANCE_S = 30;
/** Tokens are short; a longer string is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;
const MAX_NAME_LENGTH = 64;

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const ClaimsSchema = z.object({
  room: z.string().min(1).max(63),
  name: z
    .string()
    .transform((s) => s.trim())
    .pipe(z.string().min(1).max(MAX_NAME_LENGTH).refine((s) => !CONTROL_RE.test(s))),
  role: z.enum(['host', 'guest']),
  exp: z.number().int(),
});

export interface JoinTokenCheck {
  /** The join message's token, if it carried one. */
  token: string | undefined;
  /** `join_tokens` of the config (undefined: tokens are not in use). */
  config: JoinTokensConfig | undefined;
  /** The VMR the join's alias found. */
  vmr: { name: string; require_token: boolean };
  /** Wall-clock time, ms since the epoch. */
  nowMs: number;
}

/** Decides what a join's token (or its absence) means for this room. Never throws. */
export async function checkJoinToken(c: JoinTokenCheck): Promise<TokenDecision> {
  const required = c.vmr.require_token || c.config?.required === true;
  if (c.token === undefined) {
    return required ? refused('missing', `room '${c.vmr.name}' needs an invitation link with a join token`) : { kind: 'none' };
  }
  if (!c.config) return refused('disabled', 'this service does not accept join tokens: open the link without one');
  const v = await verifyJoinToken(c.token, c.config.secret, c.nowMs);
  if (v.kind !== 'valid') return v;
  if (v.claims.room.toLowerCase() !== c.vmr.name.toLowerCase()) {
    return refused('wrong-room', `the join token is for room '${v.claims.room}', not '${c.vmr.name}'`);
  }
  return v;
}

/** Verifies the signature (HS256 with `secret`, nothing else), the times and the claims. */
export async function verifyJoinToken(token: string, secret: string, nowMs: number): Promise<Exclude<TokenDecision, { kind: 'none' }>> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    return refused('malformed', 'the join token is not a valid token (copy the whole link)');
  }
  let payload: unknown;
  try {
    const r = await jwtVerify(token, keyOf(secret), {
      algorithms: ['HS256'],
      currentDate: new Date(nowMs),
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['exp'],
    });
    payload = r.payload;
  } catch (err) {
    return refusalFor(err);
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) return refused('claims', 'the join token lacks a valid room, name, role (host or guest) or expiry');
  return { kind: 'valid', claims: claims.data };
}

export interface MintRequest {
  secret: string;
  room: string;
  name: string;
  role: JoinTokenRole;
  /** Lifetime from `nowMs`, seconds. */
  ttlS: number;
  /** Wall-clock time, ms since the epoch. */
  nowMs: number;
}

/** A signed token for one person and room (HS256, typ JWT, iat and exp set). */
export async function mintJoinToken(r: MintRequest): Promise<string> {
  const now = Math.floor(r.nowMs / 1000);
  const claims = ClaimsSchema.parse({ room: r.room, name: r.name, role: r.role, exp: now + Math.floor(r.ttlS) });
  return new SignJWT({ room: claims.room, name: claims.name, role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(claims.exp)
    .sign(keyOf(r.secret));
}

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

function refused(reason: TokenRefusalReason, message: string): { kind: 'refused'; reason: TokenRefusalReason; message: string } {
  return { kind: 'refused', reason, message };
}

function refusalFor(err: unknown): { kind: 'refused'; reason: TokenRefusalReason; message: string } {
  if (err instanceof joseErrors.JWTExpired) return refused('expired', 'the join token has expired: ask for a new link');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return refused('not-yet-valid', 'the join token is not valid yet');
    return refused('claims', 'the join token lacks a valid room, name, role (host or guest) or expiry');
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return refused('signature', 'the join token was not signed by this service');
  }
  return refused('malformed', 'the join token is not a valid token (copy the whole link)');
}
