import { createHmac } from 'node:crypto';
import { checkJoinToken, mintJoinToken, verifyJoinToken, type TokenDecision } from './join-token';

const SECRET = 'join-token-secret-0123456789abcdef';
const NOW = 1_700_000_000_000; // ms
const NOW_S = NOW / 1000;
const b64url = (x: unknown): string => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** A JWT signed by hand (not by the code under test): header and payload as given, HS256 over them. */
function handSigned(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, secret = SECRET): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const good = { room: 'meet', name: 'Alice Host', role: 'host', iat: NOW_S, exp: NOW_S + 600 };
const reasonOf = (d: TokenDecision): string => (d.kind === 'refused' ? d.reason : d.kind);

describe('verifyJoinToken()', () => {
  it('a good token (signed independently of the minting code) gives its room, name, role and expiry', async () => {
    expect(await verifyJoinToken(handSigned(good), SECRET, NOW)).toEqual({
      kind: 'valid',
      claims: { room: 'meet', name: 'Alice Host', role: 'host', exp: NOW_S + 600 },
    });
  });

  it('mintJoinToken() makes a token that verifies (HS256, typ JWT, iat and exp)', async () => {
    const token = await mintJoinToken({ secret: SECRET, room: 'meet', name: ' Bob ', role: 'guest', ttlS: 3600, nowMs: NOW });
    const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as unknown);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toEqual({ room: 'meet', name: 'Bob', role: 'guest', iat: NOW_S, exp: NOW_S + 3600 });
    expect(await verifyJoinToken(token, SECRET, NOW + 3599_000)).toMatchObject({ kind: 'valid', claims: { name: 'Bob', role: 'guest' } });
  });

  it.each<[string, () => string, number, string]>([
    ['expired (beyond the 30 s clock tolerance)', () => handSigned({ ...good, exp: NOW_S - 31 }), NOW, 'expired'],
    ['not yet valid (nbf in the future)', () => handSigned({ ...good, nbf: NOW_S + 300 }), NOW, 'not-yet-valid'],
    ['signed with another secret', () => handSigned(good, undefined, 'some-other-secret-0123456789abcdef'), NOW, 'signature'],
    ['a signature byte changed', () => handSigned(good).replace(/\.([^.])([^.]*)$/, (_m, c: string, rest: string) => `.${c === 'A' ? 'B' : 'A'}${rest}`), NOW, 'signature'],
    ['alg none (unsigned)', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(good)}.`, NOW, 'signature'],
    ['alg HS512 (only HS256 is accepted)', () => {
      const input = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url(good)}`;
      return `${input}.${createHmac('sha512', SECRET).update(input).digest('base64url')}`;
    }, NOW, 'signature'],
    ['garbage', () => 'not a token', NOW, 'malformed'],
    ['three parts of garbage', () => 'abc.def.ghi', NOW, 'malformed'],
    ['an empty string', () => '', NOW, 'malformed'],
    ['over 4096 characters', () => `${'a'.repeat(4000)}.${'b'.repeat(100)}.c`, NOW, 'malformed'],
    ['no exp', () => handSigned({ room: 'meet', name: 'A', role: 'host' }), NOW, 'claims'],
    ['role other than host or guest', () => handSigned({ ...good, role: 'admin' }), NOW, 'claims'],
    ['no name', () => handSigned({ ...good, name: '  ' }), NOW, 'claims'],
    ['a name with control characters', () => handSigned({ ...good, name: 'A\u0007' }), NOW, 'claims'],
    ['no room', () => handSigned({ name: 'A', role: 'host', exp: NOW_S + 60 }), NOW, 'claims'],
  ])('refuses a token that is %s', async (_what, make, now, reason) => {
    const d = await verifyJoinToken(make(), SECRET, now);
    expect(reasonOf(d)).toBe(reason);
    if (d.kind === 'refused') expect(d.message).toMatch(/join token/);
  });

  it('tolerates 30 s of clock difference on exp and nbf; iat in the future is tolerated', async () => {
    expect(reasonOf(await verifyJoinToken(handSigned({ ...good, exp: NOW_S - 20 }), SECRET, NOW))).toBe('valid');
    expect(reasonOf(await verifyJoinToken(handSigned({ ...good, nbf: NOW_S + 20 }), SECRET, NOW))).toBe('valid');
    expect(reasonOf(await verifyJoinToken(handSigned({ ...good, iat: NOW_S + 3600 }), SECRET, NOW))).toBe('valid');
  });
});

describe('checkJoinToken(): the room and the config decide whether a token is needed', () => {
  const config = { secret: SECRET, required: false };
  const open = { name: 'meet', require_token: false };
  const locked = { name: 'meet', require_token: true };

  it('no token for a room without require_token (and join_tokens.required false): the PINs decide', async () => {
    expect(await checkJoinToken({ token: undefined, config, vmr: open, nowMs: NOW })).toEqual({ kind: 'none' });
    expect(await checkJoinToken({ token: undefined, config: undefined, vmr: open, nowMs: NOW })).toEqual({ kind: 'none' });
  });

  it('no token for a room with require_token, or anywhere with join_tokens.required: missing', async () => {
    expect(reasonOf(await checkJoinToken({ token: undefined, config, vmr: locked, nowMs: NOW }))).toBe('missing');
    expect(reasonOf(await checkJoinToken({ token: undefined, config: { ...config, required: true }, vmr: open, nowMs: NOW }))).toBe('missing');
  });

  it('a valid token for the room is accepted whether or not the room requires one (room names compare case-insensitively)', async () => {
    expect(await checkJoinToken({ token: handSigned(good), config, vmr: locked, nowMs: NOW })).toMatchObject({ kind: 'valid', claims: { role: 'host' } });
    expect(reasonOf(await checkJoinToken({ token: handSigned({ ...good, room: 'MEET' }), config, vmr: open, nowMs: NOW }))).toBe('valid');
  });

  it('a valid token for another room: wrong-room', async () => {
    const d = await checkJoinToken({ token: handSigned({ ...good, room: 'board' }), config, vmr: locked, nowMs: NOW });
    expect(d).toEqual({ kind: 'refused', reason: 'wrong-room', message: "the join token is for room 'board', not 'meet'" });
  });

  it('a bad token is refused even where none is required (never silently ignored)', async () => {
    expect(reasonOf(await checkJoinToken({ token: 'garbage', config, vmr: open, nowMs: NOW }))).toBe('malformed');
  });

  it('a token when the config has no join_tokens: disabled', async () => {
    expect(reasonOf(await checkJoinToken({ token: handSigned(good), config: undefined, vmr: open, nowMs: NOW }))).toBe('disabled');
  });
});
