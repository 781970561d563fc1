/**
 * One ClusterStore watch on etcd over its own gRPC stream (not etcd3's Watcher, whose resume point
 * can skip events): events go out in revision order and each once; a broken stream is reopened,
 * with backoff, from the revision after the last one delivered. Never throws into gRPC callbacks.
 */
import type { EventEmitter } from 'node:events';
import type { Etcd3, IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { prefixRangeEnd, prefixRangeStart } from './etcd-common';
import type { WatchEvent, WatchHandle, WatchOptions } from './store';

export interface EtcdWatchDeps {
  client: Etcd3;
  clock: Clock;
  logger: Logger;
  retryInitialMs: number;
  retryMaxMs: number;
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

export class EtcdWatch implements WatchHandle {
  /** The next revision to deliver; 0 until etcd tells us "now" for a watch started from now. */
  private next: number;
  private stream: WatchStream | undefined;
  private closed = false;
  private retryMs: number;
  private retryTimer: TimerHandle | undefined;
  private broken = false;

  constructor(
    private readonly deps: EtcdWatchDeps,
    private readonly prefix: string,
    fromRevision: number,
    private readonly listener: (event: WatchEvent) => void,
    private readonly options: WatchOptions,
    private readonly onClosed: (w: EtcdWatch) => void,
  ) {
    this.next = Math.max(0, fromRevision);
    this.retryMs = deps.retryInitialMs;
    this.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retryTimer?.cancel();
    this.dropStream();
    this.onClosed(this);
  }

  private connect(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    // Nothing may escape into a rejected promise: Node ends the process on unhandled rejections.
    this.deps.client.watchClient
      .watch()
      .then((stream) => this.attach(stream))
      .catch((err: unknown) => this.onBroken(undefined, err));
  }

  private attach(stream: WatchStream): void {
    if (this.closed) {
      cancelQuietly(stream);
      return;
    }
    this.stream = stream;
    stream.on('data', (res) => this.onResponse(stream, res));
    stream.on('error', (err) => this.onBroken(stream, err));
    stream.on('end', () => this.onBroken(stream, new Error('watch stream ended')));
    stream.write({
      create_request: {
        key: prefixRangeStart(this.prefix),
        range_end: prefixRangeEnd(this.prefix),
        start_revision: this.next,
        progress_notify: true,
      },
    });
  }

  private onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (stream !== this.stream || this.closed) return;
    const headerRevision = Number(res.header.revision);
    if (res.canceled) {
      this.onCanceled(stream, res);
      return;
    }
    if (res.created) {
      if (this.broken) this.deps.logger.info({ prefix: this.prefix, from: this.next }, 'cluster store watch resumed');
      this.broken = false;
      this.retryMs = this.deps.retryInitialMs;
      // Started "from now": the events to come are those after the create's revision.
      if (this.next === 0) this.next = headerRevision + 1;
      return;
    }
    // etcd never splits one revision's events over two responses (no fragmenting asked), so
    // everything below `next` was delivered before a reconnect and is skipped as a duplicate.
    let last = this.next - 1;
    for (const ev of res.events) {
      const modRevision = Number(ev.kv.mod_revision);
      if (modRevision < this.next) continue;
      last = Math.max(last, modRevision);
      this.deliver(ev.type === 'Put' ? 'put' : 'delete', ev.kv.key.toString('utf8'), ev.kv.value.toString('utf8'), modRevision, ev.kv.lease);
      if (this.closed) return;
    }
    this.next = last + 1;
    // A progress notification (no events) says all up to the header's revision has been sent.
    if (res.events.length === 0 && headerRevision >= this.next) this.next = headerRevision + 1;
  }

  private deliver(type: 'put' | 'delete', key: string, value: string, modRevision: number, lease: string): void {
    const base: WatchEvent = { type, key, value: type === 'put' ? value : '', modRevision };
    const ev: WatchEvent = type === 'put' && lease !== '0' && lease !== '' ? { ...base, lease } : base;
    try {
      this.listener(ev);
    } catch (err) {
      this.deps.logger.error({ err, key }, 'cluster store watch listener threw');
    }
  }

  private onCanceled(stream: WatchStream, res: IWatchResponse): void {
    const compactRevision = Number(res.compact_revision);
    if (compactRevision > 0) {
      this.deps.logger.warn({ prefix: this.prefix, from: this.next, compactRevision }, 'cluster store watch: history compacted, caller must read again');
      this.close();
      this.options.onCompacted?.(compactRevision);
      return;
    }
    this.onBroken(stream, new Error(`watch canceled by etcd: ${res.cancel_reason || 'no reason given'}`));
  }

  private onBroken(stream: WatchStream | undefined, err: unknown): void {
    if (this.closed || (stream !== undefined && stream !== this.stream) || this.retryTimer) return;
    this.dropStream();
    if (!this.broken) {
      this.deps.logger.warn({ prefix: this.prefix, from: this.next, err: errorMessage(err) }, 'cluster store watch broken, reconnecting');
    }
    this.broken = true;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.deps.retryMaxMs, this.retryMs * 2);
    this.retryTimer = this.deps.clock.setTimeout(() => this.connect(), delay);
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream) cancelQuietly(stream);
  }
}

function cancelQuietly(stream: WatchStream): void {
  // gRPC emits 'error' (CANCELLED) after cancel(): without a listener that would crash the process.
  // etcd3's own listener would take that for a failed host and close every gRPC client (the other
  // long-lived streams then drop at their next keepalive ping): only our no-op listener stays.
  // (A gRPC ClientDuplexStream, an EventEmitter; etcd3's typings show only on().)
  (stream as unknown as Partial<Pick<EventEmitter, 'removeAllListeners'>>).removeAllListeners?.('error');
  stream.on('error', () => undefined);
  try {
    stream.cancel();
  } catch {
    // already closed
  }
}
