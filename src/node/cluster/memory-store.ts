/**
 * The in-process ClusterStore: the single-node default, and many nodes of one test process
 * sharing one MemoryStoreBackend (each node its own client). Same semantics as etcd (revisions,
 * CAS on mod-revision, watches from a revision, leases); time only through the injected Clock,
 * and no timer at all while nothing is expiring.
 */
import { ConfnodeError, TypedEmitter, silentLogger, type Clock, type Logger, type TimerHandle } from '../../common';
import {
  txnRequestProblem,
  type ClusterStore,
  type KeyValue,
  type Lease,
  type LeaseState,
  type RangeResult,
  type TxnRequest,
  type TxnResult,
  type WatchEvent,
  type WatchHandle,
  type WatchOptions,
} from './store';

export interface MemoryStoreOptions {
  clock: Clock;
  /** Events kept for watches that start in the past or lag; older ones are compacted. */
  historyLimit?: number;
  logger?: Logger;
}

const DEFAULT_HISTORY_LIMIT = 10_000;

interface StoredKv {
  value: string;
  createRevision: number;
  modRevision: number;
  lease?: string;
}

interface LeaseRecord {
  readonly handle: MemoryLease;
  readonly owner: MemoryClusterStore;
  readonly keys: Set<string>;
  /** Pending expiry: set only while the owner cannot keep the lease alive. */
  expiry?: TimerHandle;
}

/** The shared state: one per simulated cluster. Nodes talk to it through `client()`s. */
export class MemoryStoreBackend {
  readonly clock: Clock;
  readonly logger: Logger;
  private rev = 1;
  private compactRev = 0;
  private readonly kv = new Map<string, StoredKv>();
  private history: WatchEvent[] = [];
  private readonly historyLimit: number;
  private readonly leases = new Map<string, LeaseRecord>();
  private readonly watches = new Set<MemoryWatch>();
  private nextLeaseId = 1;

  constructor(options: MemoryStoreOptions) {
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.historyLimit = Math.max(1, options.historyLimit ?? DEFAULT_HISTORY_LIMIT);
  }

  /** A new connection to this store (one per simulated node). */
  client(): MemoryClusterStore {
    return new MemoryClusterStore(this);
  }

  get revision(): number {
    return this.rev;
  }

  get compactRevision(): number {
    return this.compactRev;
  }

  /** Fault injection: the store expires the lease now (its keys go, its owner gets `lost`). */
  expireLease(id: string): boolean {
    return this.endLease(id, 'lost', true);
  }

  /** Drops the history up to `revision`: watches that need it get `onCompacted`. */
  compact(revision: number): void {
    const upTo = Math.min(revision, this.rev);
    if (upTo <= this.compactRev) return;
    this.history = this.history.filter((e) => e.modRevision > upTo);
    this.compactRev = upTo;
    this.pumpAll();
  }

  // --- used by MemoryClusterStore and MemoryWatch -------------------------------------------

  read(key: string): KeyValue | undefined {
    const s = this.kv.get(key);
    return s ? toKeyValue(key, s) : undefined;
  }

  readPrefix(prefix: string): RangeResult {
    const kvs: KeyValue[] = [];
    for (const [key, s] of this.kv) if (key.startsWith(prefix)) kvs.push(toKeyValue(key, s));
    kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { revision: this.rev, kvs };
  }

  commit(request: TxnRequest): TxnResult {
    const problem = txnRequestProblem(request);
    if (problem) throw new ConfnodeError('bad-request', problem);
    for (const p of request.put ?? []) {
      if (p.lease !== undefined && this.leases.get(p.lease)?.handle.state !== 'alive') {
        throw new ConfnodeError('not-found', `lease ${p.lease} not found (expired or revoked)`);
      }
    }
    const holds = (request.compare ?? []).every((c) => (this.kv.get(c.key)?.modRevision ?? 0) === c.modRevision);
    if (!holds) return { succeeded: false, revision: this.rev };
    const deletes = (request.delete ?? []).filter((k) => this.kv.has(k));
    const puts = request.put ?? [];
    if (puts.length === 0 && deletes.length === 0) return { succeeded: true, revision: this.rev };
    const rev = ++this.rev;
    for (const p of puts) {
      const before = this.kv.get(p.key);
      this.detachFromLease(p.key, before);
      const stored: StoredKv = { value: p.value, createRevision: before?.createRevision ?? rev, modRevision: rev };
      if (p.lease !== undefined) {
        stored.lease = p.lease;
        this.leases.get(p.lease)?.keys.add(p.key);
      }
      this.kv.set(p.key, stored);
      this.history.push(toEvent('put', p.key, stored));
    }
    for (const key of deletes) this.deleteKey(key, rev);
    this.trimHistory();
    this.pumpAll();
    return { succeeded: true, revision: rev };
  }

  grant(owner: MemoryClusterStore, ttlSeconds: number): MemoryLease {
    const handle = new MemoryLease(this, owner, String(this.nextLeaseId++), ttlSeconds);
    this.leases.set(handle.id, { handle, owner, keys: new Set() });
    return handle;
  }

  /** Ends a lease: deletes its keys at one new revision. `lost` is emitted only when asked. */
  endLease(id: string, state: 'lost' | 'revoked', emitLost: boolean): boolean {
    const record = this.leases.get(id);
    if (!record) return false;
    this.leases.delete(id);
    record.expiry?.cancel();
    if (record.keys.size > 0) {
      const rev = ++this.rev;
      for (const key of [...record.keys].sort()) this.deleteKey(key, rev);
      this.trimHistory();
      this.pumpAll();
    }
    record.handle.end(state, emitLost ? new ConfnodeError('unavailable', `lease ${id} expired`) : undefined);
    return true;
  }

  /** The owner stopped keeping the lease alive (closed, unreachable, gave it up): it expires after its TTL. */
  startExpiry(id: string, emitLost: boolean): void {
    const record = this.leases.get(id);
    if (!record || record.expiry) return;
    record.expiry = this.clock.setTimeout(() => this.endLease(id, 'lost', emitLost), record.handle.ttlSeconds * 1000);
  }

  /** The owner keeps the lease alive again (reachable before the TTL ran out). */
  stopExpiry(id: string): void {
    const record = this.leases.get(id);
    record?.expiry?.cancel();
    if (record) delete record.expiry;
  }

  /** The owner's leases it still keeps alive (not those it gave up while unreachable). */
  leasesOf(owner: MemoryClusterStore): string[] {
    return [...this.leases.values()].filter((r) => r.owner === owner && r.handle.state === 'alive').map((r) => r.handle.id);
  }

  addWatch(w: MemoryWatch): void {
    this.watches.add(w);
    w.schedule();
  }

  removeWatch(w: MemoryWatch): void {
    this.watches.delete(w);
  }

  /** Events with revision >= `from`, or 'compacted' when the history no longer reaches back to it. */
  eventsFrom(from: number): readonly WatchEvent[] | 'compacted' {
    if (from <= this.compactRev) return 'compacted';
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.history[mid]?.modRevision ?? 0) < from) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  pumpAll(owner?: MemoryClusterStore): void {
    for (const w of this.watches) if (!owner || w.owner === owner) w.schedule();
  }

  private deleteKey(key: string, rev: number): void {
    const before = this.kv.get(key);
    if (!before) return;
    this.detachFromLease(key, before);
    this.kv.delete(key);
    this.history.push({ type: 'delete', key, value: '', modRevision: rev });
  }

  private detachFromLease(key: string, stored: StoredKv | undefined): void {
    if (stored?.lease !== undefined) this.leases.get(stored.lease)?.keys.delete(key);
  }

  private trimHistory(): void {
    const excess = this.history.length - this.historyLimit;
    if (excess <= 0) return;
    // Compact whole revisions: a transaction's events stay together or go together.
    const upTo = this.history[excess - 1]?.modRevision ?? this.compactRev;
    this.history = this.history.filter((e) => e.modRevision > upTo);
    this.compactRev = Math.max(this.compactRev, upTo);
  }
}

function toKeyValue(key: string, s: StoredKv): KeyValue {
  const kv: KeyValue = { key, value: s.value, createRevision: s.createRevision, modRevision: s.modRevision };
  return s.lease !== undefined ? { ...kv, lease: s.lease } : kv;
}

function toEvent(type: 'put', key: string, s: StoredKv): WatchEvent {
  const ev: WatchEvent = { type, key, value: s.value, modRevision: s.modRevision };
  return s.lease !== undefined ? { ...ev, lease: s.lease } : ev;
}

class MemoryLease implements Lease {
  private current: LeaseState = 'alive';
  private readonly events: TypedEmitter<{ lost: [ConfnodeError] }>;

  constructor(
    private readonly backend: MemoryStoreBackend,
    private readonly owner: MemoryClusterStore,
    readonly id: string,
    readonly ttlSeconds: number,
  ) {
    this.events = new TypedEmitter((err) => backend.logger.warn({ err, lease: id }, 'lease lost listener threw'));
  }

  get state(): LeaseState {
    return this.current;
  }

  on(event: 'lost', listener: (reason: ConfnodeError) => void): () => void {
    return this.events.on(event, listener);
  }

  async revoke(): Promise<void> {
    if (this.current !== 'alive') return;
    if (!this.owner.reachable) {
      // Keepalive stops at once, as with etcd; the store ends the lease after its TTL.
      this.current = 'revoked';
      this.backend.startExpiry(this.id, false);
      throw new ConfnodeError('unavailable', `cluster store unreachable: lease ${this.id} left to expire`);
    }
    this.backend.endLease(this.id, 'revoked', false);
  }

  end(state: 'lost' | 'revoked', reason: ConfnodeError | undefined): void {
    if (this.current !== 'alive') return;
    this.current = state;
    if (reason) this.events.emit('lost', reason);
  }
}

class MemoryWatch implements WatchHandle {
  private next: number;
  private scheduled = false;
  private closed = false;

  constructor(
    readonly owner: MemoryClusterStore,
    private readonly backend: MemoryStoreBackend,
    private readonly prefix: string,
    fromRevision: number,
    private readonly listener: (event: WatchEvent) => void,
    private readonly options: WatchOptions,
  ) {
    // etcd: a start revision of 0 means "from now on".
    this.next = fromRevision > 0 ? fromRevision : backend.revision + 1;
  }

  close(): void {
    this.closed = true;
    this.backend.removeWatch(this);
  }

  /** Delivery is deferred to a microtask: a listener never runs inside the writer's txn call. */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    if (this.closed || !this.owner.reachable) return;
    const events = this.backend.eventsFrom(this.next);
    if (events === 'compacted') {
      this.close();
      this.options.onCompacted?.(this.backend.compactRevision);
      return;
    }
    for (const ev of events) {
      if (this.closed) return;
      this.next = ev.modRevision + 1;
      if (!ev.key.startsWith(this.prefix)) continue;
      try {
        this.listener(ev);
      } catch (err) {
        this.backend.logger.error({ err, key: ev.key }, 'cluster store watch listener threw');
      }
    }
    if (!this.closed) this.next = Math.max(this.next, this.backend.revision + 1);
  }
}

/** One node's connection to a MemoryStoreBackend. */
export class MemoryClusterStore implements ClusterStore {
  private closed = false;
  private isReachable = true;
  private readonly watches = new Set<MemoryWatch>();

  constructor(readonly backend: MemoryStoreBackend) {}

  get reachable(): boolean {
    return this.isReachable && !this.closed;
  }

  /**
   * Fault injection: this client loses (or regains) the store. Calls reject 'unavailable', watches
   * pause and later resume where they were, and leases not kept alive for their TTL are lost.
   */
  setReachable(reachable: boolean): void {
    if (this.closed || reachable === this.isReachable) return;
    this.isReachable = reachable;
    for (const id of this.backend.leasesOf(this)) {
      if (reachable) this.backend.stopExpiry(id);
      else this.backend.startExpiry(id, true);
    }
    if (reachable) this.backend.pumpAll(this);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    return this.backend.read(key);
  }

  async range(prefix: string): Promise<RangeResult> {
    this.check();
    return this.backend.readPrefix(prefix);
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.check();
    return this.backend.commit(request);
  }

  watch(prefix: string, fromRevision: number, listener: (event: WatchEvent) => void, options: WatchOptions = {}): WatchHandle {
    if (this.closed) throw new ConfnodeError('closed', 'cluster store is closed');
    const w = new MemoryWatch(this, this.backend, prefix, fromRevision, listener, options);
    const handle: WatchHandle = {
      close: () => {
        w.close();
        this.watches.delete(w);
      },
    };
    this.watches.add(w);
    this.backend.addWatch(w);
    return handle;
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.check();
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new ConfnodeError('bad-request', `lease TTL must be an integer >= 1 s (got ${ttlSeconds})`);
    return this.backend.grant(this, ttlSeconds);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches.clear();
    // Like a process that stops: its leases are not revoked, they run out.
    for (const id of this.backend.leasesOf(this)) this.backend.startExpiry(id, false);
  }

  private check(): void {
    if (this.closed) throw new ConfnodeError('closed', 'cluster store is closed');
    if (!this.isReachable) throw new ConfnodeError('unavailable', 'cluster store unreachable');
  }
}

/** A memory store of its own (the single-node default). */
export function createMemoryStore(options: MemoryStoreOptions): MemoryClusterStore {
  return new MemoryStoreBackend(options).client();
}
