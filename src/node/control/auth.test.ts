import {
  HANDSHAKE_HEADERS as H,
  ReplayCache,
  deriveControlKey,
  frameMac,
  handshakeHeaders,
  signAccept,
  verifyAccept,
  verifyFrameMac,
  verifyHandshake,
  type AuthRefusal,
  type HandshakeClaims,
  type IncomingHeaders,
} from './auth';

const SECRET = 'cluster-secret-0123456789';
const KEY = deriveControlKey(SECRET);
const NOW = 1_700_000_000_000;
const NONCE = 'bm9uY2Utbm9uY2Utbm9uY2U';
const claims = (over: Partial<HandshakeClaims> = {}): HandshakeClaims => ({ from: 'USConf01', to: 'USConf02', ts: NOW, nonce: NONCE, ...over });
const known = new Set(['USConf01', 'USConf02', 'USConf03']);

function check(headers: IncomingHeaders, replay = new ReplayCache(), now = NOW): ReturnType<typeof verifyHandshake> {
  return verifyHandshake(headers, { key: KEY, self: 'USConf02', now, isKnownNode: (n) => known.has(n), replay });
}

function without(headers: Record<string, string>, name: string): Record<string, string> {
  const out = { ...headers };
  delete out[name];
  return out;
}

describe('control channel authentication (issue 10 D3: HMAC over node, timestamp and nonce)', () => {
  it('the key is derived from the secret with HKDF: 32 bytes, stable, different per secret', () => {
    expect(KEY).toHaveLength(32);
    expect(deriveControlKey(SECRET).equals(KEY)).toBe(true);
    expect(deriveControlKey(`${SECRET}x`).equals(KEY)).toBe(false);
    expect(KEY.equals(Buffer.from(SECRET.padEnd(32).slice(0, 32)))).toBe(false);
  });

  it('a handshake signed with the cluster secret, for this node, within the window is accepted', () => {
    const v = check(handshakeHeaders(KEY, claims()));
    expect(v).toEqual({ ok: true, claims: claims() });
  });

  const good = handshakeHeaders(KEY, claims());
  const table: Array<[string, IncomingHeaders, AuthRefusal]> = [
    ['no headers at all', {}, 'missing'],
    ['no signature', without(good, H.sig), 'missing'],
    ['no node', without(good, H.node), 'missing'],
    ['no timestamp', without(good, H.ts), 'missing'],
    ['no nonce', without(good, H.nonce), 'missing'],
    ['a timestamp that is not a number', { ...good, [H.ts]: '12e9' }, 'missing'],
    ['a nonce too short to be random', { ...good, [H.nonce]: 'abc' }, 'missing'],
    ['a signature of the wrong length', { ...good, [H.sig]: good[H.sig]?.slice(1) ?? '' }, 'missing'],
    ['a header sent twice', { ...good, [H.sig]: [good[H.sig] ?? '', good[H.sig] ?? ''] }, 'missing'],
    ['a node name with a slash', { ...good, [H.node]: 'a/b' }, 'missing'],
    ['a wrong secret', handshakeHeaders(deriveControlKey('another-secret-0123456'), claims()), 'bad-signature'],
    ['a signature made for another node', handshakeHeaders(KEY, claims({ to: 'USConf03' })), 'bad-signature'],
    ['a signature over another nonce', { ...handshakeHeaders(KEY, claims({ nonce: 'b3RoZXItbm9uY2Utbm9uY2U' })), [H.nonce]: NONCE }, 'bad-signature'],
    ['a signature over another timestamp', { ...good, [H.ts]: String(NOW + 1) }, 'bad-signature'],
    ['a timestamp 31 s old', handshakeHeaders(KEY, claims({ ts: NOW - 31_000 })), 'stale'],
    ['a timestamp 31 s ahead', handshakeHeaders(KEY, claims({ ts: NOW + 31_000 })), 'stale'],
    ['a node that is not in the cluster', handshakeHeaders(KEY, claims({ from: 'Intruder' })), 'unknown-node'],
    ['this node itself (a reflected handshake)', handshakeHeaders(KEY, claims({ from: 'USConf02' })), 'unknown-node'],
  ];
  it.each(table)('a handshake with %s is refused', (_what, headers, reason) => {
    const v = check(headers);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toBe(reason);
  });

  it('a timestamp exactly 30 s off is still fresh', () => {
    expect(check(handshakeHeaders(KEY, claims({ ts: NOW - 30_000 }))).ok).toBe(true);
    expect(check(handshakeHeaders(KEY, claims({ ts: NOW + 30_000 }))).ok).toBe(true);
  });

  it('a replayed nonce is refused within the window, and only signed handshakes are remembered', () => {
    const replay = new ReplayCache();
    expect(check(handshakeHeaders(deriveControlKey('another-secret-0123456'), claims()), replay).ok).toBe(false);
    expect(replay.size).toBe(0);
    expect(check(good, replay).ok).toBe(true);
    const again = check(good, replay, NOW + 10_000);
    expect(again).toMatchObject({ ok: false, reason: 'replay' });
    // After the window the same headers are stale, so the nonce need not be remembered any more.
    expect(check(good, replay, NOW + 31_000)).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('the replay cache is bounded: expired nonces are pruned, and when full of live ones it refuses', () => {
    const replay = new ReplayCache(3, 30_000);
    expect(['n1', 'n2', 'n3'].map((n) => replay.remember(n, 0))).toEqual([true, true, true]);
    expect(replay.remember('n4', 1000)).toBe(false);
    expect(replay.remember('n4', 60_000)).toBe(true); // the first three expired at 2 windows
    expect(replay.size).toBe(1);
    expect(replay.remember('n4', 60_001)).toBe(false);
  });

  it("the dialer accepts only the acceptor's proof for its own nonce, node and secret", () => {
    const c = claims();
    const reply = { [H.node]: 'USConf02', [H.sig]: signAccept(KEY, 'USConf02', c) };
    expect(verifyAccept(KEY, 'USConf02', c, reply)).toBe(true);
    expect(verifyAccept(KEY, 'USConf03', c, reply)).toBe(false);
    expect(verifyAccept(KEY, 'USConf02', claims({ nonce: 'b3RoZXItbm9uY2Utbm9uY2U' }), reply)).toBe(false);
    expect(verifyAccept(deriveControlKey('another-secret-0123456'), 'USConf02', c, reply)).toBe(false);
    expect(verifyAccept(KEY, 'USConf02', c, { [H.node]: 'USConf02' })).toBe(false);
    expect(verifyAccept(KEY, 'USConf02', c, { [H.node]: 'USConf02', [H.sig]: 'short' })).toBe(false);
  });

  it('a frame MAC covers the bytes, the sequence number, both names and the link nonce', () => {
    const ctx = { sender: 'USConf01', receiver: 'USConf02', nonce: NONCE, seq: 7 };
    const body = Buffer.from('{"kind":"evt","name":"x","data":1}');
    const mac = frameMac(KEY, ctx, body);
    expect(verifyFrameMac(KEY, ctx, body, mac)).toBe(true);
    expect(verifyFrameMac(KEY, { ...ctx, seq: 8 }, body, mac)).toBe(false);
    expect(verifyFrameMac(KEY, { ...ctx, sender: 'USConf02', receiver: 'USConf01' }, body, mac)).toBe(false);
    expect(verifyFrameMac(KEY, { ...ctx, nonce: 'b3RoZXItbm9uY2Utbm9uY2U' }, body, mac)).toBe(false);
    expect(verifyFrameMac(KEY, ctx, Buffer.from('{"kind":"evt","name":"x","data":2}'), mac)).toBe(false);
    expect(verifyFrameMac(KEY, ctx, body, mac.subarray(1))).toBe(false);
  });
});
