/**
 * The control channel over real loopback sockets: nodes in this process, each on its own port,
 * and a TCP relay in between when a test needs a peer to vanish or freeze.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { ConfnodeError, asNodeId, silentLogger, type NodeId, type RpcFrame } from '../../common';
import { ControlChannel, type ControlChannelOptions, type ControlEvent, type ControlPeerAddress, type ControlProtocol } from './index';
import { deriveControlKey, handshakeHeaders, type HandshakeClaims } from './auth';
import { openFrame, sealFrame } from './frames';
import { CONTROL_PATH } from './ws-server';

type TestOps = {
  add: { req: { a: number; b: number }; res: number };
  whoami: { req: undefined; res: string };
  hang: { req: undefined; res: undefined };
  echo: { req: string; res: string };
};
type TestEvents = { announce: { stream: string } };

const protocol: ControlProtocol<TestOps, TestEvents> = {
  requests: { add: z.object({ a: z.number(), b: z.number() }).strict(), whoami: z.undefined(), hang: z.undefined(), echo: z.string() },
  replies: { add: z.number(), whoami: z.string(), hang: z.undefined(), echo: z.string() },
  events: { announce: z.object({ stream: z.string() }).strict() },
};

const SECRET = 'cluster-secret-0123456789';
const A = asNodeId('USConf01');
const B = asNodeId('USConf02');
const C = asNodeId('USConf03');

type Channel = ControlChannel<TestOps, TestEvents>;
type Options = Partial<ControlChannelOptions<TestOps, TestEvents>>;

/** Addresses of the cluster's nodes (filled as they listen), the channels to close, and what handlers saw. */
let addresses: Map<NodeId, ControlPeerAddress>;
let open: Channel[];
let served: string[];
let proxies: Relay[];

beforeEach(() => {
  // Known to the cluster before they listen (a raw client may speak as A); startNode sets the real port.
  addresses = new Map([A, B, C].map((n) => [n, { address: '127.0.0.1', port: 1 }]));
  open = [];
  served = [];
  proxies = [];
});

afterEach(async () => {
  // Relays first: a frozen one would make a node's close wait for a closing handshake.
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(open.map((c) => c.close()));
});

async function startNode(node: NodeId, options: Options = {}, port = 0): Promise<Channel> {
  const channel = await ControlChannel.open<TestOps, TestEvents>({
    node,
    secret: SECRET,
    listen: { address: '127.0.0.1', port },
    resolvePeer: (n) => addresses.get(n),
    protocol,
    handlers: (peer) => ({
      add: ({ a, b }) => {
        served.push(`${peer}->${node}:add`);
        return a + b;
      },
      whoami: () => {
        served.push(`${peer}->${node}:whoami`);
        return `${node} serving ${peer}`;
      },
      hang: () => {
        served.push(`${peer}->${node}:hang`);
        return new Promise<undefined>(() => undefined);
      },
      echo: (s) => s,
    }),
    logger: silentLogger,
    ...options,
  });
  open.push(channel);
  addresses.set(node, channel.address);
  return channel;
}

function nextEvent<K extends 'peerUp' | 'peerDown' | 'event'>(channel: Channel, name: K): Promise<unknown[]> {
  return new Promise((resolve) => {
    const off = channel.events.on(name, (...args: unknown[]) => {
      off();
      resolve(args);
    });
  });
}

async function rejection(p: Promise<unknown>): Promise<ConfnodeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfnodeError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** A WebSocket upgrade to `port` with the given headers: the HTTP status, or the open socket. */
function rawUpgrade(port: number, headers: Record<string, string>): Promise<{ ws?: WebSocket; error?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${CONTROL_PATH}`, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ ws }));
    ws.once('error', (err) => resolve({ error: err.message }));
  });
}

function claimsFor(from: string, to: string, over: Partial<HandshakeClaims> = {}): HandshakeClaims {
  return { from, to, ts: Date.now(), nonce: `nonce-${Math.random().toString(36).slice(2)}-0123456789`, ...over };
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** A TCP relay between a dialer and a node: `kill` cuts both sides, `freeze` stops forwarding. */
interface Relay {
  port: number;
  kill(): void;
  freeze(): void;
  close(): Promise<void>;
}

async function relay(target: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.on('data', (d) => frozen || outbound.write(d));
    outbound.on('data', (d) => frozen || inbound.write(d));
    inbound.on('close', () => frozen || outbound.destroy());
    outbound.on('close', () => frozen || inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const r: Relay = {
    port,
    kill: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  proxies.push(r);
  return r;
}

describe('ControlChannel (issue 10 D3: the control channel between nodes)', () => {
  it('a call works in both directions on the one socket the caller opened', async () => {
    const a = await startNode(A);
    const b = await startNode(B);
    await expect(a.call(B, 'add', { a: 2, b: 3 })).resolves.toBe(5);
    await expect(b.call(A, 'whoami', undefined)).resolves.toBe(`${A} serving ${B}`);
    expect(served).toEqual([`${A}->${B}:add`, `${B}->${A}:whoami`]);
    // B answered A's call and then called A back on the same socket: nobody dialed twice.
    expect(b.stats()).toMatchObject({ handshakesAccepted: 1, links: 1, calls: { ok: 1 }, served: { ok: 1 } });
    expect(a.stats()).toMatchObject({ handshakesAccepted: 0, links: 1, calls: { ok: 1 }, served: { ok: 1 }, framesOut: 2, framesIn: 2 });
    expect(a.peerState(B)).toBe('connected');
    expect(a.connectedPeers()).toEqual([B]);
  });

  it("a peer's typed events are raised with the sender's node name; invalid ones are dropped and counted", async () => {
    const a = await startNode(A);
    const b = await startNode(B);
    const got = nextEvent(b, 'event');
    await a.notify(B, 'announce', { stream: 'alice-audio' });
    const [event] = (await got) as [ControlEvent<TestEvents>];
    expect(event).toEqual({ from: A, name: 'announce', data: { stream: 'alice-audio' } });
    const seen: unknown[] = [];
    b.events.on('event', (e) => seen.push(e));
    await a.notify(B, 'announce', { stream: 7 } as unknown as { stream: string });
    await a.notify(B, 'nonsense' as 'announce', { stream: 'x' });
    await a.call(B, 'add', { a: 0, b: 0 }); // frames are in order: both events have arrived
    expect(seen).toEqual([]);
    expect(b.stats().badPayloads).toBe(2);
  });

  it('a request whose data fails its schema is refused as bad-request and never reaches the handler', async () => {
    const a = await startNode(A);
    await startNode(B);
    const err = await rejection(a.call(B, 'add', { a: 1, b: 'two' } as unknown as { a: number; b: number }));
    expect(err.code).toBe('bad-request');
    expect(served).toEqual([]);
    expect(a.stats().calls.failed).toBe(1);
  });

  it('a control request with a wrong or missing signature, a stale timestamp, a replayed nonce or an unknown node is refused with 401, counted, and reaches no handler', async () => {
    const b = await startNode(B);
    const ups: unknown[] = [];
    b.events.on('peerUp', (p) => ups.push(p));
    const key = deriveControlKey(SECRET);
    const port = b.address.port;
    const replayed = handshakeHeaders(key, claimsFor(A, B));
    const first = await rawUpgrade(port, replayed);
    expect(first.ws).toBeDefined();
    first.ws?.close();

    const attempts: Array<[string, Record<string, string>]> = [
      ['missing', {}],
      ['bad-signature', handshakeHeaders(deriveControlKey('another-secret-0123456'), claimsFor(A, B))],
      ['stale', handshakeHeaders(key, claimsFor(A, B, { ts: Date.now() - 31_000 }))],
      ['replay', replayed],
      ['unknown-node', handshakeHeaders(key, claimsFor('Intruder', B))],
    ];
    for (const [, headers] of attempts) {
      const res = await rawUpgrade(port, headers);
      expect(res.ws).toBeUndefined();
      expect(res.error).toMatch(/401/);
    }
    expect(b.stats().handshakesRefused).toEqual({ missing: 1, 'bad-signature': 1, stale: 1, replay: 1, 'unknown-node': 1 });
    expect(b.stats().handshakesAccepted).toBe(1);
    expect(ups).toEqual([A]); // the one good handshake
    expect(served).toEqual([]);
  });

  it("a node with another secret cannot call: its call fails 'unavailable' and the peer counts a bad signature", async () => {
    const rogue = await startNode(A, { secret: 'not-the-cluster-secret' });
    const b = await startNode(B);
    const err = await rejection(rogue.call(B, 'add', { a: 1, b: 1 }));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/401/);
    expect(b.stats().handshakesRefused['bad-signature']).toBe(1);
    expect(rogue.stats()).toMatchObject({ dialFailures: 1, calls: { unavailable: 1 } });
    expect(served).toEqual([]);
  });

  it('a malformed frame (text, forged MAC, or not an RPC frame) closes the socket with 1008 and is counted', async () => {
    const b = await startNode(B);
    const key = deriveControlKey(SECRET);
    const sends: Array<[string, (c: HandshakeClaims) => Buffer | string]> = [
      ['text', () => '{"kind":"req","id":1,"op":"add","data":{"a":1,"b":2}}'],
      ['forged MAC', () => Buffer.concat([Buffer.alloc(32), Buffer.from('{"kind":"evt","name":"announce","data":{"stream":"x"}}')])],
      ['not an RPC frame', (c) => sealFrame(key, { sender: A, receiver: B, nonce: c.nonce, seq: 0 }, { kind: 'nope', id: 1 } as unknown as RpcFrame)],
    ];
    for (const [what, make] of sends) {
      const claims = claimsFor(A, B);
      const { ws } = await rawUpgrade(b.address.port, handshakeHeaders(key, claims));
      if (!ws) throw new Error(`no socket for ${what}`);
      const closed = closeCode(ws);
      ws.send(make(claims));
      expect(await closed).toBe(1008);
    }
    expect(b.stats().badFrames).toBe(3);
    expect(b.stats().framesIn).toBe(0);
    expect(served).toEqual([]);
  });

  it('a well-formed frame from a hand-made client is served, so the refusals above are about the frames', async () => {
    const b = await startNode(B);
    const key = deriveControlKey(SECRET);
    const claims = claimsFor(A, B);
    const { ws } = await rawUpgrade(b.address.port, handshakeHeaders(key, claims));
    if (!ws) throw new Error('no socket');
    const reply = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
    ws.send(sealFrame(key, { sender: A, receiver: B, nonce: claims.nonce, seq: 0 }, { kind: 'req', id: 1, op: 'add', data: { a: 20, b: 22 } }));
    expect(openFrame(key, { sender: B, receiver: A, nonce: claims.nonce, seq: 0 }, await reply)).toEqual({
      ok: true,
      frame: { kind: 'res', id: 1, ok: true, data: 42 },
    });
    ws.close();
  });

  it('a frame over the size bound: the receiver closes the link (counted); a caller asking too much gets bad-request and keeps its link', async () => {
    const a = await startNode(A, { maxFrameBytes: 4096 });
    const b = await startNode(B, { maxFrameBytes: 4096 });
    const err = await rejection(a.call(B, 'echo', 'x'.repeat(5000)));
    expect(err.code).toBe('bad-request');
    await expect(a.call(B, 'echo', 'small')).resolves.toBe('small');
    const key = deriveControlKey(SECRET);
    const { ws } = await rawUpgrade(b.address.port, handshakeHeaders(key, claimsFor(C, B)));
    if (!ws) throw new Error('no socket');
    const closed = closeCode(ws);
    ws.send(Buffer.alloc(8192));
    expect(await closed).toBe(1009);
    expect(b.stats().badFrames).toBe(1);
  });

  it('every call has a timeout: a handler that never answers fails the call with timeout, and the link stays up', async () => {
    const a = await startNode(A);
    await startNode(B);
    const err = await rejection(a.call(B, 'hang', undefined, 200));
    expect(err.code).toBe('timeout');
    await expect(a.call(B, 'add', { a: 1, b: 1 })).resolves.toBe(2);
    expect(a.stats().calls).toEqual({ ok: 1, failed: 0, timeout: 1, unavailable: 0 });
  });

  it("a peer that goes away fails its pending calls with 'unavailable' at once, and later calls fail fast", async () => {
    const a = await startNode(A, { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    await startNode(B);
    const r = await relay(addresses.get(B)?.port ?? 0);
    addresses.set(B, { address: '127.0.0.1', port: r.port });
    await a.connect(B);
    const down = nextEvent(a, 'peerDown');
    const pending = rejection(a.call(B, 'hang', undefined, 60_000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.kill();
    expect((await pending).code).toBe('unavailable');
    expect((await down)[0]).toBe(B);
    expect(a.peerState(B)).toBe('backoff');
    expect((await rejection(a.call(B, 'add', { a: 1, b: 1 }, 60_000))).code).toBe('unavailable');
    expect(a.stats().calls.unavailable).toBe(2);
  });

  it("a peer that stops answering (no FIN) is found dead by pings and its pending calls fail 'unavailable'", async () => {
    const a = await startNode(A, { pingIntervalMs: 100 });
    await startNode(B);
    const r = await relay(addresses.get(B)?.port ?? 0);
    addresses.set(B, { address: '127.0.0.1', port: r.port });
    await a.connect(B);
    const pending = rejection(a.call(B, 'hang', undefined, 60_000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.freeze();
    const err = await pending;
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/pings/);
  });

  it('reconnects with backoff after the peer restarts, and calls work again', async () => {
    const a = await startNode(A, { backoff: { baseMs: 20, maxMs: 100 } });
    const b = await startNode(B);
    const port = b.address.port;
    await expect(a.call(B, 'add', { a: 1, b: 2 })).resolves.toBe(3);
    const down = nextEvent(a, 'peerDown');
    await b.close();
    await down;
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few refused dials while B is away
    const up = nextEvent(a, 'peerUp');
    const b2 = await startNode(B, {}, port);
    await up;
    expect(b2.stats().handshakesAccepted).toBe(1); // A dialed again on its own
    await expect(a.call(B, 'add', { a: 2, b: 2 })).resolves.toBe(4);
    expect(a.stats().dialFailures).toBeGreaterThan(0);
  });

  it('two nodes that dial each other at once both get a working channel, and their calls keep working', async () => {
    const a = await startNode(A);
    const b = await startNode(B);
    await Promise.all([a.connect(B), b.connect(A)]);
    const results = await Promise.all([a.call(B, 'add', { a: 1, b: 1 }), b.call(A, 'add', { a: 2, b: 2 }), a.call(B, 'whoami', undefined), b.call(A, 'whoami', undefined)]);
    expect(results).toEqual([2, 4, `${B} serving ${A}`, `${A} serving ${B}`]);
  });

  it("a node that is not in the cluster, or this node itself, cannot be called; close() is idempotent and later calls fail 'unavailable'", async () => {
    const a = await startNode(A);
    expect((await rejection(a.call(asNodeId('Nowhere'), 'add', { a: 1, b: 1 }))).code).toBe('unavailable');
    expect((await rejection(a.call(A, 'add', { a: 1, b: 1 }))).code).toBe('bad-request');
    const first = a.close();
    expect(a.close()).toBe(first);
    await first;
    expect((await rejection(a.call(B, 'add', { a: 1, b: 1 }))).code).toBe('unavailable');
  });

  it("close() fails the pending calls of every peer with 'unavailable'", async () => {
    const a = await startNode(A);
    await startNode(B);
    const pending = rejection(a.call(B, 'hang', undefined, 60_000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await a.close();
    expect((await pending).code).toBe('unavailable');
  });
});
