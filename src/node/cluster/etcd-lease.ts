/**
 * An etcd lease kept alive on its own keepalive stream (every TTL/3). `lost` fires once: when
 * etcd answers TTL 0 (expired or revoked elsewhere), or when no keepalive has succeeded for the
 * TTL (measured from the send of the last answered one, so etcd cannot still count it alive) and a
 * last one sent then gets no answer within a short grace (a stalled process is not a lost lease).
 * Never throws into gRPC callbacks and never keeps a timer after it has ended.
 */
import type { EventEmitter } from 'node:events';
import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { ConfnodeError, TypedEmitter, errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { toStoreError, withTimeout } from './etcd-common';
import type { Lease, LeaseState } from './store';

export interface EtcdLeaseDeps {
  client: Etcd3;
  clock: Clock;
  logger: Logger;
  callTimeoutMs: number;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/** How long a last keepalive sent at the deadline may take to be answered before the lease is lost. */
const CONFIRM_GRACE_MS = 1000;

export class EtcdLease implements Lease {
  private current: LeaseState = 'alive';
  private readonly events: TypedEmitter<{ lost: [ConfnodeError] }>;
  private stream: KeepAliveStream | undefined;
  /** Send times of keepalives not answered yet, oldest first (answers come in order). */
  private inFlight: number[] = [];
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;

  constructor(
    private readonly deps: EtcdLeaseDeps,
    readonly id: string,
    readonly ttlSeconds: number,
    /** When the grant was sent: etcd started the TTL no earlier. */
    grantSentAt: number,
    private readonly onEnded: (lease: EtcdLease) => void,
  ) {
    this.events = new TypedEmitter((err) => deps.logger.warn({ err, lease: id }, 'lease lost listener threw'));
    this.armDeadline(grantSentAt);
    this.tick();
  }

  get state(): LeaseState {
    return this.current;
  }

  on(event: 'lost', listener: (reason: ConfnodeError) => void): () => void {
    return this.events.on(event, listener);
  }

  async revoke(): Promise<void> {
    if (this.current !== 'alive') return;
    // Keepalive stops first: if etcd cannot be told, the lease still ends within its TTL.
    this.end('revoked');
    try {
      await withTimeout(
        this.deps.client.leaseClient.leaseRevoke({ ID: this.id }, { deadline: new Date(Date.now() + this.deps.callTimeoutMs) }),
        this.deps.callTimeoutMs + 250,
        this.deps.clock,
        'lease revoke',
      );
    } catch (err) {
      const e = toStoreError(err, 'lease revoke');
      if (e.code !== 'not-found') throw e;
    }
  }

  /** The store is closing: stop keepalive without revoking (the lease runs out in etcd). */
  stop(): void {
    if (this.current === 'alive') this.end('lost');
  }

  private tick(): void {
    this.tickTimer = undefined;
    if (this.current !== 'alive') return;
    try {
      this.sendKeepAlive();
    } catch (err) {
      // A write on a stream that just broke: the deadline decides, the next tick reopens.
      this.stream = undefined;
      this.deps.logger.debug({ lease: this.id, err: errorMessage(err) }, 'lease keepalive write failed');
    }
    this.tickTimer = this.deps.clock.setTimeout(() => this.tick(), (this.ttlSeconds * 1000) / 3);
  }

  private sendKeepAlive(): void {
    if (!this.stream) {
      this.openStream();
      return;
    }
    this.inFlight.push(this.deps.clock.now());
    this.stream.write({ ID: this.id });
  }

  private openStream(): void {
    // Nothing may escape into a rejected promise: Node ends the process on unhandled rejections.
    this.deps.client.leaseClient
      .leaseKeepAlive()
      .then((stream) => {
        if (this.current !== 'alive') {
          closeQuietly(stream);
          return;
        }
        this.stream = stream;
        this.inFlight = [];
        stream.on('data', (res) => this.onAnswer(stream, res));
        stream.on('error', (err) => this.onStreamBroken(stream, err));
        stream.on('end', () => this.onStreamBroken(stream, new Error('keepalive stream ended')));
        this.sendKeepAlive();
      })
      .catch((err: unknown) => this.deps.logger.debug({ lease: this.id, err: errorMessage(err) }, 'lease keepalive stream failed to open'));
  }

  private onAnswer(stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== this.stream || this.current !== 'alive') return;
    const sentAt = this.inFlight.shift() ?? this.deps.clock.now();
    if (Number(res.TTL) <= 0) {
      this.lose(new ConfnodeError('unavailable', `lease ${this.id} expired in etcd`));
      return;
    }
    this.armDeadline(sentAt);
  }

  private onStreamBroken(stream: KeepAliveStream, err: unknown): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.inFlight = [];
    closeQuietly(stream);
    this.deps.logger.debug({ lease: this.id, err: errorMessage(err) }, 'lease keepalive stream broken; reopening at the next tick');
  }

  /** etcd renewed the lease no earlier than `sentAt`: it lives at least until sentAt + TTL. */
  private armDeadline(sentAt: number): void {
    this.deadlineTimer?.cancel();
    const left = sentAt + this.ttlSeconds * 1000 - this.deps.clock.now();
    this.deadlineTimer = this.deps.clock.setTimeout(() => this.confirmBeforeLosing(), Math.max(0, left));
  }

  /**
   * No answer for the TTL. A stalled process (a starved or blocked event loop) runs its overdue
   * timers before reading the answers that arrived meanwhile, while etcd, which got the keepalives
   * sent just before the stall, still holds the lease: declaring it lost then revokes a live lease
   * and every peer drops this node's calls. So ask etcd once more; its answer re-arms the deadline
   * (onAnswer), and only silence for a short grace means lost.
   */
  private confirmBeforeLosing(): void {
    if (this.current !== 'alive') return;
    try {
      this.sendKeepAlive();
    } catch {
      this.stream = undefined;
    }
    this.deadlineTimer = this.deps.clock.setTimeout(
      () => this.lose(new ConfnodeError('unavailable', `lease ${this.id}: no keepalive answered for ${this.ttlSeconds} s`)),
      Math.min(CONFIRM_GRACE_MS, (this.ttlSeconds * 1000) / 3),
    );
  }

  private lose(reason: ConfnodeError): void {
    if (this.current !== 'alive') return;
    this.end('lost');
    this.deps.logger.warn({ lease: this.id, reason: reason.message }, 'cluster store lease lost');
    this.events.emit('lost', reason);
    // Best effort: etcd may still hold it (a restarted etcd extends leases); its keys must go.
    this.deps.client.leaseClient.leaseRevoke({ ID: this.id }, { deadline: new Date(Date.now() + this.deps.callTimeoutMs) }).catch(() => undefined);
  }

  private end(state: 'lost' | 'revoked'): void {
    this.current = state;
    this.tickTimer?.cancel();
    this.deadlineTimer?.cancel();
    this.tickTimer = undefined;
    this.deadlineTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream) closeQuietly(stream);
    this.onEnded(this);
  }
}

function closeQuietly(stream: KeepAliveStream): void {
  // A stream we end is no failure of etcd: etcd3's own 'error' listener would mark the host failed,
  // which closes every gRPC client, and the watch and keepalive streams still open on the closed
  // channels then drop at their next gRPC keepalive ping. Only our no-op listener stays.
  // (A gRPC ClientDuplexStream, an EventEmitter; etcd3's typings show only on().)
  (stream as unknown as Partial<Pick<EventEmitter, 'removeAllListeners'>>).removeAllListeners?.('error');
  stream.on('error', () => undefined);
  try {
    stream.cancel();
  } catch {
    // already closed
  }
}
