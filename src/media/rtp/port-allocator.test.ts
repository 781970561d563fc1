import dgram from 'node:dgram';
import { ConfnodeError } from '../../common';
import { PortAllocator, type RtpSocketPair } from './port-allocator';

// Ports of this file only (other test files use other ranges, jest runs files in parallel).
const BASE = 41200;

function bindBlocker(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

const closeSocket = (s: dgram.Socket): Promise<void> => new Promise((r) => s.close(() => r()));

describe('PortAllocator', () => {
  const pairs: RtpSocketPair[] = [];
  const blockers: dgram.Socket[] = [];
  afterEach(async () => {
    await Promise.all(pairs.splice(0).map((p) => p.release()));
    await Promise.all(blockers.splice(0).map(closeSocket));
  });

  it('binds RTP on an even port and RTCP on port+1, on 127.0.0.1 by default', async () => {
    const alloc = new PortAllocator({ min: BASE + 1, max: BASE + 9 });
    const p = await alloc.allocate();
    pairs.push(p);
    expect(p.rtpPort).toBe(BASE + 2);
    expect(p.rtcpPort).toBe(BASE + 3);
    expect(alloc.inUse).toBe(1);
    // Both sockets receive on 127.0.0.1 at their ports.
    const got: string[] = [];
    p.rtp.onMessage = (m) => got.push(`rtp ${m.toString()}`);
    p.rtcp.onMessage = (m) => got.push(`rtcp ${m.toString()}`);
    const client = await bindBlocker(0);
    blockers.push(client);
    client.send('a', BASE + 2, '127.0.0.1');
    client.send('b', BASE + 3, '127.0.0.1');
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got.sort()).toEqual(['rtcp b', 'rtp a']);
  });

  it('skips a pair whose RTP or RTCP port another socket holds (EADDRINUSE)', async () => {
    blockers.push(await bindBlocker(BASE + 10), await bindBlocker(BASE + 13));
    const alloc = new PortAllocator({ min: BASE + 10, max: BASE + 19 });
    const p = await alloc.allocate();
    pairs.push(p);
    expect(p.rtpPort).toBe(BASE + 14);
    expect(alloc.inUse).toBe(1);
  });

  it('reports exhaustion as ConfnodeError capacity (maps to SIP 503)', async () => {
    const alloc = new PortAllocator({ min: BASE + 20, max: BASE + 23 });
    pairs.push(await alloc.allocate(), await alloc.allocate());
    const err = await alloc.allocate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfnodeError);
    expect((err as ConfnodeError).code).toBe('capacity');
  });

  it('gives up after maxTries busy pairs instead of scanning the whole range', async () => {
    blockers.push(await bindBlocker(BASE + 30), await bindBlocker(BASE + 32));
    const alloc = new PortAllocator({ min: BASE + 30, max: BASE + 49, maxTries: 2 });
    await expect(alloc.allocate()).rejects.toMatchObject({ code: 'capacity' });
    // The next call starts after the pairs tried, so it finds a free one.
    const p = await alloc.allocate();
    pairs.push(p);
    expect(p.rtpPort).toBe(BASE + 34);
  });

  it('release() frees both ports so the same pair can be bound again, and is idempotent', async () => {
    const alloc = new PortAllocator({ min: BASE + 50, max: BASE + 51 });
    const p = await alloc.allocate();
    await Promise.all([p.release(), p.release()]);
    expect(alloc.inUse).toBe(0);
    const again = await alloc.allocate();
    pairs.push(again);
    expect(again.rtpPort).toBe(BASE + 50);
  });

  it('rejects a range without a single pair, or outside 1024-65535', () => {
    expect(() => new PortAllocator({ min: 40001, max: 40001 })).toThrow(ConfnodeError);
    expect(() => new PortAllocator({ min: 80, max: 100 })).toThrow(/bad RTP port range/);
    expect(() => new PortAllocator({ min: 65534, max: 65536 })).toThrow(ConfnodeError);
  });

  it('reports an address it cannot bind as a config error, not as capacity', async () => {
    const alloc = new PortAllocator({ min: BASE + 60, max: BASE + 69 });
    await expect(alloc.allocate('192.0.2.1')).rejects.toMatchObject({ code: 'config' });
    expect(alloc.inUse).toBe(0);
  });

  it('two allocators sharing one range start in their own halves, and one may spill into the other half when its own is full', async () => {
    const range = { min: BASE + 70, max: BASE + 77 }; // 4 pairs: 70, 72, 74, 76
    const a = new PortAllocator({ ...range, startAt: BASE + 70 });
    const b = new PortAllocator({ ...range, startAt: BASE + 74 });
    const b1 = await b.allocate();
    pairs.push(b1);
    expect(b1.rtpPort).toBe(BASE + 74);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await a.allocate();
      pairs.push(p);
      got.push(p.rtpPort);
    }
    // 70 and 72 are a's own; 74 is b's (EADDRINUSE, skipped); 76 is free.
    expect(got).toEqual([BASE + 70, BASE + 72, BASE + 76]);
    await expect(a.allocate()).rejects.toMatchObject({ code: 'capacity' });
    await expect(b.allocate()).rejects.toMatchObject({ code: 'capacity' });
  });

  it('a start point outside the range (or odd) falls back to the range, rounded to even', async () => {
    const odd = new PortAllocator({ min: BASE + 80, max: BASE + 85, startAt: BASE + 83 });
    const p = await odd.allocate();
    pairs.push(p);
    expect(p.rtpPort).toBe(BASE + 84);
    const outside = new PortAllocator({ min: BASE + 86, max: BASE + 89, startAt: BASE + 200 });
    const q = await outside.allocate();
    pairs.push(q);
    expect(q.rtpPort).toBe(BASE + 86);
  });
});
