import { FakeClock } from '../../common';
import { describeClusterStoreContract, eventually, rejectionCode, type StoreHarness } from '../../../test/helpers/cluster-store-contract';
import { MemoryStoreBackend, type MemoryClusterStore } from './memory-store';
import type { WatchEvent } from './store';

type MemoryHarness = Omit<StoreHarness, 'client'> & { clock: FakeClock; backend: MemoryStoreBackend; client(): MemoryClusterStore };

function memoryHarness(options: { historyLimit?: number } = {}): MemoryHarness {
  const clock = new FakeClock();
  const backend = new MemoryStoreBackend({ clock, ...options });
  return {
    clock,
    backend,
    client: () => backend.client(),
    pass: async (ms) => {
      clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
    expireLease: async (id) => {
      backend.expireLease(id);
    },
    leaseTtlSeconds: 2,
  };
}

describe('MemoryClusterStore: the ClusterStore contract', () => {
  let h: MemoryHarness;
  beforeEach(() => {
    h = memoryHarness();
  });
  describeClusterStoreContract(() => h);
});

describe('MemoryClusterStore: memory-only behaviour', () => {
  it('keeps no timer while nothing is expiring (watches and live leases included)', async () => {
    const h = memoryHarness();
    const s = h.client();
    const lease = await s.grantLease(5);
    await s.txn({ put: [{ key: '/a', value: '1', lease: lease.id }] });
    const w = s.watch('/', 1, () => undefined);
    await h.pass(60_000);
    expect(h.clock.pending()).toBe(0);
    expect(await s.get('/a')).toBeDefined();
    w.close();
    await s.close();
    // Only now does something expire: the closed client's lease.
    expect(h.clock.pending()).toBe(1);
  });

  it('a watch from before the compacted history ends with onCompacted; later revisions still work', async () => {
    const h = memoryHarness({ historyLimit: 3 });
    const s = h.client();
    for (let i = 0; i < 6; i++) await s.txn({ put: [{ key: `/k${i}`, value: String(i) }] });
    expect(h.backend.compactRevision).toBeGreaterThan(1);
    const compacted: number[] = [];
    const old: WatchEvent[] = [];
    s.watch('/', 2, (e) => old.push(e), { onCompacted: (rev) => compacted.push(rev) });
    const recent: WatchEvent[] = [];
    s.watch('/', h.backend.compactRevision + 1, (e) => recent.push(e));
    await h.pass(0);
    expect(compacted).toEqual([h.backend.compactRevision]);
    expect(old).toEqual([]);
    expect(recent.map((e) => e.value)).toEqual(['3', '4', '5']);
  });

  it('a client that loses the store: calls reject unavailable, its watch resumes where it was, its lease is lost after the TTL', async () => {
    const h = memoryHarness();
    const cut = h.client();
    const other = h.client();
    const lease = await cut.grantLease(2);
    const lost: string[] = [];
    lease.on('lost', (e) => lost.push(e.code));
    await cut.txn({ put: [{ key: '/n/cut', value: 'up', lease: lease.id }] });
    const seen: WatchEvent[] = [];
    cut.watch('/w/', 0, (e) => seen.push(e));
    cut.setReachable(false);
    expect(await rejectionCode(cut.get('/n/cut'))).toBe('unavailable');
    expect(await rejectionCode(cut.txn({ put: [{ key: '/x', value: '1' }] }))).toBe('unavailable');
    await other.txn({ put: [{ key: '/w/a', value: '1' }] });
    await h.pass(1000);
    expect(seen).toEqual([]);
    expect(lost).toEqual([]);
    await h.pass(1000);
    expect(lost).toEqual(['unavailable']);
    expect(await other.get('/n/cut')).toBeUndefined();
    await other.txn({ put: [{ key: '/w/b', value: '2' }] });
    cut.setReachable(true);
    await eventually(h, 'the missed events', () => (seen.length === 2 ? true : undefined));
    expect(seen.map((e) => e.key)).toEqual(['/w/a', '/w/b']);
  });

  it('reachable again before the TTL: the lease lives on', async () => {
    const h = memoryHarness();
    const s = h.client();
    const lease = await s.grantLease(2);
    s.setReachable(false);
    await h.pass(1500);
    s.setReachable(true);
    await h.pass(10_000);
    expect(lease.state).toBe('alive');
  });

  it('revoke while unreachable rejects unavailable and leaves the lease to expire', async () => {
    const h = memoryHarness();
    const s = h.client();
    const other = h.client();
    const lease = await s.grantLease(2);
    await s.txn({ put: [{ key: '/k', value: '1', lease: lease.id }] });
    s.setReachable(false);
    expect(await rejectionCode(lease.revoke())).toBe('unavailable');
    s.setReachable(true);
    await h.pass(2000);
    expect(await other.get('/k')).toBeUndefined();
    expect(lease.state).toBe('revoked');
  });

  it('a listener that throws does not stop the watch', async () => {
    const h = memoryHarness();
    const s = h.client();
    const seen: string[] = [];
    s.watch('/', 0, (e) => {
      seen.push(e.value);
      throw new Error('boom');
    });
    await s.txn({ put: [{ key: '/a', value: '1' }] });
    await s.txn({ put: [{ key: '/a', value: '2' }] });
    await h.pass(0);
    expect(seen).toEqual(['1', '2']);
  });
});
