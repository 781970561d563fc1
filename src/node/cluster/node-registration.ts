/**
 * This node's record in the store, under its own lease: registered once, load and state written
 * at most once per interval (the latest value wins), re-registered with a new lease whenever the
 * old one is lost. Never throws from a timer; store faults are logged when they start and end.
 */
import { ConfnodeError, TypedEmitter, errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { NodeRecordSchema, type ClusterKeys, type NodeRecord, type NodeState } from './cluster-records';
import type { ClusterStore, Lease } from './store';

export interface NodeRegistrationOptions {
  store: ClusterStore;
  keys: ClusterKeys;
  clock: Clock;
  logger: Logger;
  leaseTtlSeconds: number;
  minUpdateIntervalMs: number;
  /** Re-registration backoff after a lost lease: first delay, doubling up to the max. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export type RegistrationEvents = {
  /** The lease was lost: other nodes see this node as down until it is registered again. */
  'registration-lost': [reason: ConfnodeError];
  registered: [record: NodeRecord];
};

export class NodeRegistration {
  readonly events: TypedEmitter<RegistrationEvents>;
  private record: NodeRecord | undefined;
  private lease: Lease | undefined;
  private ended = false;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private writeTimer: TimerHandle | undefined;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private retryTimer: TimerHandle | undefined;
  private retryMs: number;
  private failing = false;

  constructor(private readonly o: NodeRegistrationOptions) {
    this.events = new TypedEmitter((err, event) => o.logger.warn({ err, event }, 'registration listener threw'));
    this.retryMs = o.retryInitialMs;
  }

  get current(): NodeRecord | undefined {
    return this.record;
  }

  get registered(): boolean {
    return this.lease?.state === 'alive';
  }

  /** Grants a lease and writes the record under it. Rejects (nothing kept) if the store refuses. */
  async register(record: NodeRecord): Promise<void> {
    const parsed = NodeRecordSchema.safeParse(record);
    if (!parsed.success) throw new ConfnodeError('bad-request', `invalid node record: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    if (this.ended) throw new ConfnodeError('closed', 'node registration has ended');
    this.record = parsed.data;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    await this.registerNow();
  }

  updateLoad(load: number): void {
    if (!Number.isFinite(load) || load < 0) throw new ConfnodeError('bad-request', `load must be finite and >= 0 (got ${load})`);
    this.change({ load });
  }

  setState(state: NodeState): void {
    this.change({ state });
  }

  /** Writes a pending change now, whatever the interval (e.g. before draining starts). */
  async flush(): Promise<void> {
    this.writeTimer?.cancel();
    this.writeTimer = undefined;
    if (this.writing) await this.writing;
    if (this.dirty) await this.write();
  }

  /** Stops writing and revokes the lease (the record goes at once). Store faults are logged, not thrown. */
  async deregister(): Promise<void> {
    this.ended = true;
    this.cancelTimers();
    const lease = this.lease;
    this.lease = undefined;
    if (!lease) return;
    try {
      await lease.revoke();
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err), lease: lease.id }, 'deregister: lease not revoked; the record expires with its TTL');
    }
  }

  /** Stops timers without revoking (store closing: the lease runs out). */
  stop(): void {
    this.ended = true;
    this.cancelTimers();
  }

  private change(patch: Partial<Pick<NodeRecord, 'load' | 'state'>>): void {
    if (!this.record) throw new ConfnodeError('bad-request', 'register() the node before updating it');
    // The lease keeps the record alive: an unchanged value is not written again.
    if ((patch.load === undefined || patch.load === this.record.load) && (patch.state === undefined || patch.state === this.record.state)) return;
    this.record = { ...this.record, ...patch };
    this.dirty = true;
    this.scheduleWrite();
  }

  private scheduleWrite(): void {
    if (this.ended || this.writing || this.writeTimer || !this.dirty) return;
    const wait = this.lastWriteAt + this.o.minUpdateIntervalMs - this.o.clock.now();
    if (wait <= 0) {
      void this.write();
      return;
    }
    this.writeTimer = this.o.clock.setTimeout(() => {
      this.writeTimer = undefined;
      void this.write();
    }, wait);
  }

  private write(): Promise<void> {
    if (this.writing) return this.writing;
    const lease = this.lease;
    const record = this.record;
    // Without a live lease the re-registration writes the latest record itself.
    if (this.ended || !this.dirty || !record || lease?.state !== 'alive') return Promise.resolve();
    this.dirty = false;
    this.lastWriteAt = this.o.clock.now();
    const done = this.o.store
      .txn({ put: [{ key: this.o.keys.node(record.name), value: JSON.stringify(record), lease: lease.id }] })
      .then(
        () => this.noteStore(true),
        (err: unknown) => {
          this.noteStore(false, err);
          // A missing lease means it is gone: its `lost` handler re-registers with the latest record.
          if (!(err instanceof ConfnodeError && err.code === 'not-found')) this.dirty = true;
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.scheduleWrite();
      });
    this.writing = done;
    return done;
  }

  private async registerNow(): Promise<void> {
    const record = this.record;
    if (!record) return;
    const lease = await this.o.store.grantLease(this.o.leaseTtlSeconds);
    if (this.ended) {
      await lease.revoke().catch(() => undefined);
      throw new ConfnodeError('closed', 'node registration has ended');
    }
    lease.on('lost', (reason) => this.onLost(lease, reason));
    // The latest record: a change made while the lease was being granted is included.
    const written = this.record ?? record;
    try {
      await this.o.store.txn({ put: [{ key: this.o.keys.node(written.name), value: JSON.stringify(written), lease: lease.id }] });
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw err;
    }
    const previous = this.lease;
    this.lease = lease;
    this.dirty = this.record !== written;
    this.lastWriteAt = this.o.clock.now();
    this.retryMs = this.o.retryInitialMs;
    if (previous && previous !== lease) void previous.revoke().catch(() => undefined);
    this.o.logger.info({ node: written.name, lease: lease.id }, 'node registered in the cluster store');
    this.events.emit('registered', written);
    this.scheduleWrite();
  }

  private onLost(lease: Lease, reason: ConfnodeError): void {
    if (lease !== this.lease || this.ended) return;
    this.lease = undefined;
    this.o.logger.warn({ lease: lease.id, reason: reason.message }, 'node registration lost; registering again');
    this.events.emit('registration-lost', reason);
    this.scheduleRetry(0);
  }

  private scheduleRetry(delay: number): void {
    if (this.ended || this.retryTimer) return;
    this.retryTimer = this.o.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.registerNow().catch((err: unknown) => {
        this.noteStore(false, err);
        const next = this.retryMs;
        this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs * 2);
        this.scheduleRetry(next);
      });
    }, delay);
  }

  /** Logs the start and the end of a run of store failures, not each one. */
  private noteStore(ok: boolean, err?: unknown): void {
    if (ok && this.failing) this.o.logger.info({}, 'node record written again');
    if (!ok && !this.failing) this.o.logger.warn({ err: errorMessage(err) }, 'node record not written: cluster store failing');
    this.failing = !ok;
  }

  private cancelTimers(): void {
    this.writeTimer?.cancel();
    this.retryTimer?.cancel();
    this.writeTimer = undefined;
    this.retryTimer = undefined;
  }
}
