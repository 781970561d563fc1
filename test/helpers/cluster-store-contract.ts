/**
 * The ClusterStore contract (DESIGN.md section 5), one suite run against every implementation:
 * the memory store (src/node/cluster/memory-store.test.ts, FakeClock) and a real etcd
 * (test/cluster-store-etcd.test.ts). Test support only: never shipped in dist/.
 */
import { ConfnodeError } from '../../src/common';
import type { ClusterStore, Lease, WatchEvent } from '../../src/node/cluster';

export interface StoreHarness {
  /** A new client of the one shared store (one per simulated node). */
  client(): ClusterStore;
  /** Lets `ms` of store time pass: a FakeClock advance, or a real sleep. */
  pass(ms: number): Promise<void>;
  /** Fault injection: the store ends the lease now, as if it had expired. */
  expireLease(id: string): Promise<void>;
  /** TTL of the leases the suite grants (etcd has a minimum). */
  leaseTtlSeconds: number;
}

/** Polls `check` while store time passes, up to `maxMs` of store time. */
export async function eventually<T>(h: StoreHarness, what: string, check: () => Promise<T | undefined> | T | undefined, maxMs = 10_000, stepMs = 50): Promise<T> {
  let waited = 0;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (waited >= maxMs) throw new Error(`timed out after ${maxMs} ms (store time) waiting for ${what}`);
    await h.pass(stepMs);
    waited += stepMs;
  }
}

/** The ConfnodeError code a promise rejects with (fails if it resolves). */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConfnodeError) return e.code;
    throw new Error(`rejected with a non-ConfnodeError: ${String(e)}`);
  }
  throw new Error('expected a rejection, got a result');
}

let prefixSeq = 0;
/** A prefix of its own per test, so tests sharing one etcd never see each other's keys. */
export function freshPrefix(): string {
  prefixSeq++;
  return `/contract/${process.pid}-${Date.now().toString(36)}-${prefixSeq}/`;
}

function collect(store: ClusterStore, prefix: string, from: number): { events: WatchEvent[]; close(): void } {
  const events: WatchEvent[] = [];
  const handle = store.watch(prefix, from, (ev) => events.push(ev));
  return { events, close: () => handle.close() };
}

/** Registers the contract tests; `harness()` is read in each test (it is built in beforeAll). */
export function describeClusterStoreContract(harness: () => StoreHarness): void {
  const clients: ClusterStore[] = [];
  const client = (): ClusterStore => {
    const c = harness().client();
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('create-if-absent: a compare on modRevision 0 succeeds once, then fails and writes nothing', async () => {
    const s = client();
    const key = `${freshPrefix()}k`;
    expect(await s.get(key)).toBeUndefined();
    const first = await s.txn({ compare: [{ key, modRevision: 0 }], put: [{ key, value: 'one' }] });
    expect(first.succeeded).toBe(true);
    const second = await s.txn({ compare: [{ key, modRevision: 0 }], put: [{ key, value: 'two' }] });
    expect(second).toEqual({ succeeded: false, revision: first.revision });
    expect(await s.get(key)).toEqual({ key, value: 'one', createRevision: first.revision, modRevision: first.revision });
  });

  it('CAS: the current modRevision wins, a stale one fails; createRevision stays, revisions grow', async () => {
    const s = client();
    const key = `${freshPrefix()}k`;
    const created = await s.txn({ compare: [{ key, modRevision: 0 }], put: [{ key, value: 'v1' }] });
    const updated = await s.txn({ compare: [{ key, modRevision: created.revision }], put: [{ key, value: 'v2' }] });
    expect(updated.succeeded).toBe(true);
    expect(updated.revision).toBeGreaterThan(created.revision);
    const stale = await s.txn({ compare: [{ key, modRevision: created.revision }], put: [{ key, value: 'v3' }] });
    expect(stale.succeeded).toBe(false);
    expect(await s.get(key)).toEqual({ key, value: 'v2', createRevision: created.revision, modRevision: updated.revision });
    const deleted = await s.txn({ compare: [{ key, modRevision: updated.revision }], delete: [key] });
    expect(deleted.succeeded).toBe(true);
    expect(await s.get(key)).toBeUndefined();
  });

  it('a transaction is atomic: every put and delete at one revision, or none when a compare fails', async () => {
    const s = client();
    const p = freshPrefix();
    await s.txn({ put: [{ key: `${p}gone`, value: 'x' }] });
    const ok = await s.txn({ compare: [{ key: `${p}a`, modRevision: 0 }], put: [{ key: `${p}a`, value: '1' }, { key: `${p}b`, value: '2' }], delete: [`${p}gone`, `${p}never-was`] });
    expect(ok.succeeded).toBe(true);
    const r = await s.range(p);
    expect(r.kvs.map((kv) => [kv.key, kv.value, kv.modRevision])).toEqual([
      [`${p}a`, '1', ok.revision],
      [`${p}b`, '2', ok.revision],
    ]);
    const failed = await s.txn({ compare: [{ key: `${p}a`, modRevision: 0 }], put: [{ key: `${p}c`, value: '3' }], delete: [`${p}b`] });
    expect(failed.succeeded).toBe(false);
    expect((await s.range(p)).kvs.map((kv) => kv.key)).toEqual([`${p}a`, `${p}b`]);
  });

  it('range reads only the prefix, sorted by key, at one revision no older than its keys', async () => {
    const s = client();
    const p = freshPrefix();
    await s.txn({ put: [{ key: `${p}b`, value: '2' }] });
    await s.txn({ put: [{ key: `${p}a`, value: '1' }] });
    await s.txn({ put: [{ key: `${p.slice(0, -1)}x`, value: 'outside' }] });
    const r = await s.range(p);
    expect(r.kvs.map((kv) => kv.key)).toEqual([`${p}a`, `${p}b`]);
    expect(r.revision).toBeGreaterThanOrEqual(Math.max(...r.kvs.map((kv) => kv.modRevision)));
  });

  it('range then watch from its revision + 1: every later change once, in revision order, none lost', async () => {
    const h = harness();
    const reader = client();
    const writer = client();
    const p = freshPrefix();
    await writer.txn({ put: [{ key: `${p}before`, value: '0' }] });
    const snapshot = await reader.range(p);
    // Written between the read and the watch: the watch must still deliver them.
    const gap1 = await writer.txn({ put: [{ key: `${p}k1`, value: 'a' }] });
    const gap2 = await writer.txn({ put: [{ key: `${p}k2`, value: 'b' }], delete: [`${p}before`] });
    const w = collect(reader, p, snapshot.revision + 1);
    const later: number[] = [];
    for (let i = 0; i < 5; i++) later.push((await writer.txn({ put: [{ key: `${p}k1`, value: `a${i}` }] })).revision);
    await eventually(h, 'all 8 events', () => (w.events.length >= 8 ? true : undefined));
    await h.pass(200);
    w.close();
    expect(w.events.map((e) => [e.type, e.key.slice(p.length), e.value, e.modRevision])).toEqual([
      ['put', 'k1', 'a', gap1.revision],
      ['put', 'k2', 'b', gap2.revision],
      ['delete', 'before', '', gap2.revision],
      ...later.map((rev, i) => ['put', 'k1', `a${i}`, rev]),
    ]);
  });

  it('a closed watch delivers nothing more', async () => {
    const h = harness();
    const s = client();
    const p = freshPrefix();
    const first = await s.txn({ put: [{ key: `${p}a`, value: '1' }] });
    const w = collect(s, p, first.revision);
    await eventually(h, 'the first event', () => (w.events.length === 1 ? true : undefined));
    w.close();
    await s.txn({ put: [{ key: `${p}a`, value: '2' }] });
    await h.pass(300);
    expect(w.events.map((e) => e.value)).toEqual(['1']);
  });

  it('a lease the store expires: its keys are deleted (watchers see it) and the holder gets `lost`', async () => {
    const h = harness();
    const holder = client();
    const other = client();
    const p = freshPrefix();
    const lease = await holder.grantLease(h.leaseTtlSeconds);
    const lost: ConfnodeError[] = [];
    lease.on('lost', (e) => lost.push(e));
    const put = await holder.txn({ put: [{ key: `${p}node`, value: 'up', lease: lease.id }] });
    expect(await other.get(`${p}node`)).toMatchObject({ value: 'up', lease: lease.id });
    const w = collect(other, p, put.revision + 1);
    await h.expireLease(lease.id);
    await eventually(h, 'the delete event', () => (w.events.some((e) => e.type === 'delete') ? true : undefined));
    await eventually(h, 'lost', () => (lost.length > 0 ? true : undefined), h.leaseTtlSeconds * 1000 + 2000);
    expect(lease.state).toBe('lost');
    expect(lost).toHaveLength(1);
    expect(await other.get(`${p}node`)).toBeUndefined();
    expect(await rejectionCode(holder.txn({ put: [{ key: `${p}node`, value: 'again', lease: lease.id }] }))).toBe('not-found');
    w.close();
  });

  it('a lease kept alive outlives its TTL; revoke deletes its keys at once and never emits `lost`', async () => {
    const h = harness();
    const s = client();
    const p = freshPrefix();
    const lease = await s.grantLease(h.leaseTtlSeconds);
    const lost: unknown[] = [];
    lease.on('lost', (e) => lost.push(e));
    await s.txn({ put: [{ key: `${p}a`, value: '1', lease: lease.id }, { key: `${p}b`, value: '2', lease: lease.id }] });
    await h.pass(h.leaseTtlSeconds * 2000);
    expect((await s.range(p)).kvs).toHaveLength(2);
    await lease.revoke();
    await lease.revoke();
    expect(lease.state).toBe('revoked');
    expect((await s.range(p)).kvs).toEqual([]);
    await h.pass(h.leaseTtlSeconds * 1000);
    expect(lost).toEqual([]);
  });

  it("a closed client's leases are not revoked but run out: its keys go after the TTL", async () => {
    const h = harness();
    const crashed = client();
    const survivor = client();
    const p = freshPrefix();
    const lease: Lease = await crashed.grantLease(h.leaseTtlSeconds);
    await crashed.txn({ put: [{ key: `${p}node`, value: 'up', lease: lease.id }] });
    await crashed.close();
    expect(await survivor.get(`${p}node`)).toBeDefined();
    await eventually(h, 'the key to expire', async () => ((await survivor.get(`${p}node`)) === undefined ? true : undefined), h.leaseTtlSeconds * 1000 + 3000);
  });

  it('R5 basis: two clients CAS the same key concurrently from the same revision, exactly one wins (50 rounds)', async () => {
    const a = client();
    const b = client();
    const key = `${freshPrefix()}conference`;
    let expected = 0;
    const winners: string[] = [];
    for (let round = 0; round < 50; round++) {
      const [ra, rb] = await Promise.all([
        a.txn({ compare: [{ key, modRevision: expected }], put: [{ key, value: `a${round}` }] }),
        b.txn({ compare: [{ key, modRevision: expected }], put: [{ key, value: `b${round}` }] }),
      ]);
      expect([ra.succeeded, rb.succeeded].filter(Boolean)).toHaveLength(1);
      const now = await a.get(key);
      winners.push(now?.value ?? '');
      expect(now?.value).toBe(ra.succeeded ? `a${round}` : `b${round}`);
      expected = now?.modRevision ?? -1;
    }
    expect(winners).toHaveLength(50);
  });

  it('bad requests are refused as bad-request; a closed client refuses as closed; close is idempotent', async () => {
    const s = client();
    const p = freshPrefix();
    expect(await rejectionCode(s.txn({ put: [{ key: `${p}a`, value: '1' }, { key: `${p}a`, value: '2' }] }))).toBe('bad-request');
    expect(await rejectionCode(s.grantLease(0))).toBe('bad-request');
    await s.close();
    await s.close();
    expect(await rejectionCode(s.get(`${p}a`))).toBe('closed');
    expect(await rejectionCode(s.txn({ put: [{ key: `${p}a`, value: '1' }] }))).toBe('closed');
  });
}
