import dgram from 'node:dgram';
import { bindRtpSocket, foreignUdpSender, rtpIoInfo, type RtpIoKind, type RtpSocket } from './udp-io';

// Ports of this file only (jest runs files in parallel).
const BASE = 41400;

function client(type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(type);
    s.once('error', reject);
    s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => resolve(s));
  });
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function bound(address: string, port: number): Promise<RtpSocket> {
  const r = await bindRtpSocket(address, port);
  if ('error' in r) throw r.error;
  return r.socket;
}

it('the batched native RTP I/O is built and loads (scripts/test builds it; a silent dgram fallback would fail here)', () => {
  const saved = process.env.CONFNODE_RTP_IO;
  delete process.env.CONFNODE_RTP_IO;
  try {
    expect(rtpIoInfo()).toEqual({ kind: 'native' });
  } finally {
    if (saved !== undefined) process.env.CONFNODE_RTP_IO = saved;
  }
});

it('a native socket bound with timestamps gives each datagram its kernel arrival time (wall clock, ms)', async () => {
  const r = await bindRtpSocket('127.0.0.1', 0, { timestamps: true });
  if ('error' in r) throw r.error;
  const s = r.socket;
  expect(s.localPort).toBeGreaterThan(0);
  const c = await client();
  const arrivals: (number | undefined)[] = [];
  s.onMessage = (_m, _a, _p, arrivalMs) => arrivals.push(arrivalMs);
  const before = Date.now();
  c.send('t', s.localPort, '127.0.0.1');
  await until(() => arrivals.length === 1, 'the datagram');
  const after = Date.now();
  await s.close();
  await new Promise<void>((res) => c.close(() => res()));
  const at = arrivals[0] ?? 0;
  expect(at).toBeGreaterThanOrEqual(before - 1);
  expect(at).toBeLessThanOrEqual(after + 1);
});

describe.each<RtpIoKind>(['native', 'dgram'])('RTP sockets over %s I/O', (kind) => {
  const offset = kind === 'native' ? 0 : 100;
  const sockets: RtpSocket[] = [];
  const clients: dgram.Socket[] = [];
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.CONFNODE_RTP_IO;
    process.env.CONFNODE_RTP_IO = kind;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.CONFNODE_RTP_IO;
    else process.env.CONFNODE_RTP_IO = saved;
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => new Promise<void>((r) => c.close(() => r()))));
  });

  it('receives with the source address and port, and answers there; each message is the receiver\'s own copy', async () => {
    const s = await bound('127.0.0.1', BASE + offset);
    sockets.push(s);
    expect(s.kind).toBe(kind);
    const c = await client();
    clients.push(c);
    const got: { msg: Buffer; address: string; port: number }[] = [];
    s.onMessage = (msg, address, port) => {
      got.push({ msg, address, port });
      s.send(Buffer.from(`re:${msg.toString()}`), port, address);
    };
    const replies: string[] = [];
    c.on('message', (m) => replies.push(m.toString()));
    // Two rounds: the second lands where the first was read, so kept messages must be copies.
    for (let i = 0; i < 10; i++) c.send(`m${i}`, BASE + offset, '127.0.0.1');
    await until(() => replies.length === 10, '10 replies');
    for (let i = 10; i < 20; i++) c.send(`m${i}`, BASE + offset, '127.0.0.1');
    await until(() => replies.length === 20, '20 replies');
    expect(got.map((g) => g.msg.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(got.every((g) => g.address === '127.0.0.1' && g.port === c.address().port)).toBe(true);
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `re:m${i}`));
  });

  it('sendParts sends head then body as one datagram, and both may be reused at once', async () => {
    const s = await bound('127.0.0.1', BASE + offset + 2);
    sockets.push(s);
    const c = await client();
    clients.push(c);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString()));
    const head = Buffer.alloc(3);
    for (let i = 0; i < 3; i++) {
      head.write(`h${i}:`, 'latin1');
      s.sendParts(head, Buffer.from(`body${i}`), c.address().port, '127.0.0.1');
    }
    head.fill(0);
    await until(() => got.length === 3, '3 datagrams');
    expect(got).toEqual(['h0:body0', 'h1:body1', 'h2:body2']);
  });

  it('carries a burst from many sockets in one turn of the loop: every datagram arrives, in order per socket', async () => {
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => bound('127.0.0.1', BASE + offset + 10 + i)));
    sockets.push(...many);
    const c = await client();
    clients.push(c);
    const seen = new Map<number, number[]>();
    c.on('message', (m, r) => seen.set(r.port, [...(seen.get(r.port) ?? []), m.readUInt32BE(0)]));
    for (let k = 0; k < 5; k++) {
      for (const s of many) {
        const b = Buffer.alloc(172);
        b.writeUInt32BE(k, 0);
        s.send(b, c.address().port, '127.0.0.1');
      }
    }
    await until(() => [...seen.values()].reduce((n, v) => n + v.length, 0) === 200, '200 datagrams');
    expect([...seen.values()].every((v) => v.join() === '0,1,2,3,4')).toBe(true);
  });

  it('works over IPv6 (::1) with the address spelled as Node spells it', async () => {
    const s = await bound('::1', BASE + offset + 4);
    sockets.push(s);
    const c = await client('udp6');
    clients.push(c);
    let from = '';
    s.onMessage = (msg, address, port) => {
      from = address;
      s.send(msg, port, address);
    };
    const back: string[] = [];
    c.on('message', (m) => back.push(m.toString()));
    c.send('v6', BASE + offset + 4, '::1');
    await until(() => back.length === 1, 'the IPv6 echo');
    expect(from).toBe('::1');
    expect(back).toEqual(['v6']);
  });

  it('reports a busy port as EADDRINUSE and an address not on this host as an error, without throwing', async () => {
    const s = await bound('127.0.0.1', BASE + offset + 6);
    sockets.push(s);
    const busy = await bindRtpSocket('127.0.0.1', BASE + offset + 6);
    expect('error' in busy && busy.error.code).toBe('EADDRINUSE');
    const foreign = await bindRtpSocket('192.0.2.1', BASE + offset + 6);
    expect('error' in foreign && foreign.error.code).toBe('EADDRNOTAVAIL');
  });

  it('a send to a name instead of an IP address goes to onError, not a throw; close is idempotent and frees the port', async () => {
    const s = await bound('127.0.0.1', BASE + offset + 8);
    const errors: string[] = [];
    s.onError = (err) => errors.push(String(err.code));
    expect(() => s.send(Buffer.from('x'), 5000, 'localhost')).not.toThrow();
    await until(() => errors.length === 1, 'the send error');
    expect(errors).toEqual(['EINVAL']);
    await Promise.all([s.close(), s.close()]);
    s.send(Buffer.from('after close'), 5000, '127.0.0.1'); // ignored
    const again = await bound('127.0.0.1', BASE + offset + 8);
    sockets.push(again);
  });
});

describe("sends on a socket another library owns (ForeignUdpSender: werift's ICE socket)", () => {
  it("batches datagrams onto a dgram socket's fd (the receiver sees that socket's port), counts a refused send as an error, and stop() ends sending", async () => {
    const owner = dgram.createSocket('udp4');
    const receiver = dgram.createSocket('udp4');
    try {
      await new Promise<void>((r) => owner.bind(0, '127.0.0.1', () => r()));
      await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', () => r()));
      const state = Object.getOwnPropertySymbols(owner).find((s) => s.description === 'state symbol');
      const fd = (owner as unknown as Record<symbol, { handle: { fd: number } }>)[state!]!.handle.fd;
      const out = foreignUdpSender(fd)!;
      expect(out).not.toBeNull();
      const got: Array<{ text: string; port: number }> = [];
      receiver.on('message', (m, rinfo) => got.push({ text: m.toString(), port: rinfo.port }));
      for (let i = 0; i < 5; i++) out.send(Buffer.from(`d${i}`), receiver.address().port, '127.0.0.1');
      const at = out.reserveDatagram(3, receiver.address().port, '127.0.0.1');
      expect(at).toBeGreaterThanOrEqual(0);
      out.batchBuffer.write('w!!', at);
      await until(() => got.length === 6, 'six datagrams');
      expect(got.map((g) => g.text)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'w!!']);
      expect(new Set(got.map((g) => g.port))).toEqual(new Set([owner.address().port]));
      out.send(Buffer.from('v6'), receiver.address().port, '::1'); // an IPv4 socket cannot
      await new Promise((r) => setTimeout(r, 20));
      expect(out.errors).toBe(1);
      out.stop();
      out.send(Buffer.from('late'), receiver.address().port, '127.0.0.1');
      expect(out.reserveDatagram(1, receiver.address().port, '127.0.0.1')).toBe(-1);
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toHaveLength(6);
    } finally {
      owner.close();
      receiver.close();
    }
  });
});
