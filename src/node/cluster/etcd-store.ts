/**
 * The ClusterStore on etcd (v3 API through the `etcd3` client, the only module family that imports
 * it). Every call has a deadline and rejects 'unavailable' when etcd cannot answer in time; no call
 * is retried behind the caller's back (a retried CAS could apply twice). Never crashes the process
 * when etcd goes away: watches reconnect and resume, leases report `lost`.
 */
import { Etcd3, type IOptions, type IRequestOp } from 'etcd3';
import { noop } from 'cockatiel';
import { ConfnodeError, silentLogger, systemClock, type Clock, type Logger } from '../../common';
import { fromEtcdKv, prefixRangeEnd, prefixRangeStart, toStoreError, withTimeout } from './etcd-common';
import { EtcdLease } from './etcd-lease';
import { EtcdWatch } from './etcd-watch';
import {
  txnRequestProblem,
  type ClusterStore,
  type KeyValue,
  type Lease,
  type RangeResult,
  type TxnRequest,
  type TxnResult,
  type WatchEvent,
  type WatchHandle,
  type WatchOptions,
} from './store';

export interface EtcdStoreOptions {
  /** http://host:port client URLs of the etcd members. */
  endpoints: readonly string[];
  /** Deadline of every unary call (get, range, txn, lease grant/revoke). Default 3000 ms. */
  callTimeoutMs?: number;
  /** Watch reconnect backoff. Defaults 250 ms doubling to 5000 ms. */
  watchRetryInitialMs?: number;
  watchRetryMaxMs?: number;
  clock?: Clock;
  logger?: Logger;
}

const DEFAULT_CALL_TIMEOUT_MS = 3000;
/** The JS-side backstop fires this long after the gRPC deadline should have. */
const BACKSTOP_MS = 250;

export class EtcdClusterStore implements ClusterStore {
  private readonly client: Etcd3;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly callTimeoutMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly watches = new Set<EtcdWatch>();
  private readonly leases = new Set<EtcdLease>();
  private closed = false;
  private reachable = true;

  constructor(private readonly options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new ConfnodeError('config', 'etcd store needs at least one endpoint');
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.retryInitialMs = options.watchRetryInitialMs ?? 250;
    this.retryMaxMs = options.watchRetryMaxMs ?? 5000;
    const etcdOptions: IOptions = {
      hosts: [...options.endpoints],
      dialTimeout: this.callTimeoutMs,
      // No retries and no circuit breaker: one attempt per call, bounded by its deadline.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        // A half-open connection (etcd host gone) is noticed on streams within ~15 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // Reconnect quickly once etcd is back, whatever the length of the outage.
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': 2_000,
      },
    };
    this.client = new Etcd3(etcdOptions);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call('get', (deadline) => this.client.kv.range({ key: Buffer.from(key, 'utf8') }, { deadline }));
    const kv = res.kvs[0];
    return kv ? fromEtcdKv(kv) : undefined;
  }

  async range(prefix: string): Promise<RangeResult> {
    const res = await this.call('range', (deadline) =>
      this.client.kv.range({ key: prefixRangeStart(prefix), range_end: prefixRangeEnd(prefix) }, { deadline }),
    );
    return { revision: Number(res.header.revision), kvs: res.kvs.map(fromEtcdKv) };
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const problem = txnRequestProblem(request);
    if (problem) throw new ConfnodeError('bad-request', problem);
    const success: IRequestOp[] = [
      ...(request.put ?? []).map((p) => ({
        request_put: { key: Buffer.from(p.key, 'utf8'), value: Buffer.from(p.value, 'utf8'), ...(p.lease !== undefined ? { lease: p.lease } : {}) },
      })),
      ...(request.delete ?? []).map((key) => ({ request_delete_range: { key: Buffer.from(key, 'utf8') } })),
    ];
    const compare = (request.compare ?? []).map((c) => ({
      key: Buffer.from(c.key, 'utf8'),
      target: 'Mod' as const,
      result: 'Equal' as const,
      // etcd compares an absent key as mod_revision 0: "must be absent" needs nothing special.
      mod_revision: c.modRevision,
    }));
    const res = await this.call('txn', (deadline) => this.client.kv.txn({ compare, success, failure: [] }, { deadline }));
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  watch(prefix: string, fromRevision: number, listener: (event: WatchEvent) => void, options: WatchOptions = {}): WatchHandle {
    if (this.closed) throw new ConfnodeError('closed', 'cluster store is closed');
    const deps = { client: this.client, clock: this.clock, logger: this.logger, retryInitialMs: this.retryInitialMs, retryMaxMs: this.retryMaxMs };
    const w = new EtcdWatch(deps, prefix, fromRevision, listener, options, (x) => this.watches.delete(x));
    this.watches.add(w);
    return w;
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new ConfnodeError('bad-request', `lease TTL must be an integer >= 1 s (got ${ttlSeconds})`);
    const sentAt = this.clock.now();
    const res = await this.call('lease grant', (deadline) => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }, { deadline }));
    if (res.error) throw new ConfnodeError('unavailable', `lease grant refused by etcd: ${res.error}`);
    if (this.closed) throw new ConfnodeError('closed', 'cluster store is closed');
    const deps = { client: this.client, clock: this.clock, logger: this.logger, callTimeoutMs: this.callTimeoutMs };
    // etcd may raise the TTL to its minimum; the granted one is what expiry follows.
    const lease = new EtcdLease(deps, res.ID, Math.max(ttlSeconds, Number(res.TTL)), sentAt, (l) => this.leases.delete(l));
    this.leases.add(lease);
    return lease;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    for (const l of [...this.leases]) l.stop();
    this.client.close();
  }

  /** One attempt with a deadline; reachability changes are logged once each way, never per call. */
  private async call<T>(what: string, fn: (deadline: Date) => Promise<T>): Promise<T> {
    if (this.closed) throw new ConfnodeError('closed', 'cluster store is closed');
    try {
      const result = await withTimeout(fn(new Date(Date.now() + this.callTimeoutMs)), this.callTimeoutMs + BACKSTOP_MS, this.clock, what);
      if (!this.reachable) this.logger.info({ endpoints: this.options.endpoints }, 'cluster store reachable again');
      this.reachable = true;
      return result;
    } catch (err) {
      const e = toStoreError(err, what);
      if (e.code === 'unavailable' && this.reachable) {
        this.reachable = false;
        this.logger.warn({ endpoints: this.options.endpoints, err: e.message }, 'cluster store unreachable');
      }
      throw e;
    }
  }
}
