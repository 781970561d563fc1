import type { RpcFrame } from '../../common';
import { MAC_BYTES, deriveControlKey, frameMac } from './auth';
import { reconnectDelay } from './backoff';
import { openFrame, sealFrame } from './frames';

const KEY = deriveControlKey('cluster-secret-0123456789');
const ctx = { sender: 'A', receiver: 'B', nonce: 'bm9uY2Utbm9uY2Utbm9uY2U', seq: 0 };

/** A message with a valid MAC around arbitrary bytes: what a peer with the secret but a bug sends. */
function signed(body: string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([frameMac(KEY, ctx, bytes), bytes]);
}

describe('control frames (issue 10 D3: every frame sealed and validated at the receiving end)', () => {
  const frames: RpcFrame[] = [
    { kind: 'req', id: 1, op: 'add', data: { a: 1 } },
    { kind: 'req', id: 2, op: 'ping', data: undefined },
    { kind: 'res', id: 1, ok: true, data: [1, 'x'] },
    { kind: 'res', id: 3, ok: false, code: 'capacity', message: 'full' },
    { kind: 'evt', name: 'announce', data: { stream: 's' } },
  ];
  it.each(frames.map((f) => [f.kind, f] as const))('a %s frame survives sealing and opening', (_k, frame) => {
    const opened = openFrame(KEY, ctx, sealFrame(KEY, ctx, frame));
    expect(opened).toEqual({ ok: true, frame });
  });

  it('a frame opened with the wrong sequence number, or altered by one byte, is refused', () => {
    const sealed = sealFrame(KEY, ctx, { kind: 'evt', name: 'x', data: 1 });
    expect(openFrame(KEY, { ...ctx, seq: 1 }, sealed).ok).toBe(false);
    const altered = Buffer.from(sealed);
    altered.writeUInt8(altered.readUInt8(altered.length - 2) ^ 1, altered.length - 2);
    expect(openFrame(KEY, ctx, altered).ok).toBe(false);
    expect(openFrame(KEY, ctx, sealed.subarray(0, MAC_BYTES)).ok).toBe(false);
  });

  const malformed: Array<[string, string]> = [
    ['not JSON', '{"kind":'],
    ['an unknown kind', '{"kind":"nope","id":1}'],
    ['a request id of 0', '{"kind":"req","id":0,"op":"x"}'],
    ['a fractional id', '{"kind":"req","id":1.5,"op":"x"}'],
    ['a request without op', '{"kind":"req","id":1}'],
    ['an extra key', '{"kind":"evt","name":"x","data":1,"extra":true}'],
    ['an error reply without message', '{"kind":"res","id":1,"ok":false,"code":"busy"}'],
    ['an op name of 65 characters', `{"kind":"req","id":1,"op":"${'o'.repeat(65)}"}`],
    ['a bare array', '[1,2]'],
  ];
  it.each(malformed)('a signed frame with %s is malformed', (_what, body) => {
    expect(openFrame(KEY, ctx, signed(body)).ok).toBe(false);
  });

  it("an error code that is not ours becomes 'internal'", () => {
    expect(openFrame(KEY, ctx, signed('{"kind":"res","id":1,"ok":false,"code":"rm -rf","message":"m"}'))).toEqual({
      ok: true,
      frame: { kind: 'res', id: 1, ok: false, code: 'internal', message: 'm' },
    });
  });

  it("a frame over the size bound, or with data that is not JSON, is refused at the sender as 'bad-request'", () => {
    expect(() => sealFrame(KEY, ctx, { kind: 'evt', name: 'x', data: 'y'.repeat(100) }, 100)).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => sealFrame(KEY, ctx, { kind: 'evt', name: 'x', data: 1n })).toThrow(expect.objectContaining({ code: 'bad-request' }));
  });
});

describe('reconnectDelay(): backoff with jitter, capped', () => {
  const policy = { baseMs: 100, maxMs: 1000 };
  const table: Array<[number, number, number]> = [
    [0, 0, 50],
    [0, 0.999, 100],
    [1, 0, 100],
    [2, 0.5, 300],
    [3, 1, 800],
    [4, 1, 1000],
    [50, 0, 500],
    [-1, 0, 50],
  ];
  it.each(table)('attempt %d with draw %d waits %d ms', (attempt, random, ms) => {
    expect(reconnectDelay(attempt, policy, random)).toBe(ms);
  });
});
