/**
 * Everything this node holds about one peer node: its open links (either side may have dialed),
 * the dial in progress, and reconnection with backoff after a loss. A caller never waits for a
 * peer known to be down: between retries, requests fail at once with 'unavailable'.
 */
import { ConfnodeError, errorMessage, type Clock, type Logger, type NodeId, type TimerHandle } from '../../common';
import { reconnectDelay, type BackoffPolicy } from './backoff';
import { LINK_CLOSE, type ControlLink } from './ws-link';

export type PeerState = 'connected' | 'connecting' | 'backoff' | 'idle';

export interface PeerDeps {
  self: NodeId;
  peer: NodeId;
  clock: Clock;
  random: () => number;
  backoff: BackoffPolicy;
  logger: Logger;
  /** Dials the peer; the new link is added (addLink) before this resolves. */
  dial(): Promise<ControlLink>;
  onUp(): void;
  onDown(why: string): void;
}

export class PeerSlot {
  private readonly links = new Set<ControlLink>();
  private dialing: Promise<ControlLink> | undefined;
  private retry: TimerHandle | undefined;
  private attempt = 0;
  /** We asked for this peer: keep a link to it (reconnect after a loss) until forgotten. */
  private wanted = false;
  private closed = false;
  private lastError = '';

  constructor(private readonly deps: PeerDeps) {}

  get state(): PeerState {
    if (this.active()) return 'connected';
    if (this.dialing) return 'connecting';
    return this.retry ? 'backoff' : 'idle';
  }

  /**
   * The link for new calls and events. When both nodes dialed each other, both ends prefer the
   * link dialed by the node whose name sorts first, so each side's events travel on one socket.
   */
  active(): ControlLink | undefined {
    const preferred = this.deps.self < this.deps.peer ? this.deps.self : this.deps.peer;
    let best: ControlLink | undefined;
    for (const link of this.links) {
      if (!link.isOpen) continue;
      if (!best) best = link;
      else {
        const a = link.dialedBy === preferred;
        const b = best.dialedBy === preferred;
        if ((a && !b) || (a === b && link.id > best.id)) best = link;
      }
    }
    return best;
  }

  addLink(link: ControlLink): void {
    if (this.closed) {
      void link.close(LINK_CLOSE.goingAway, 'peer forgotten');
      return;
    }
    const first = this.links.size === 0;
    this.links.add(link);
    this.retry?.cancel();
    this.retry = undefined;
    this.attempt = 0;
    if (first) this.deps.onUp();
  }

  linkClosed(link: ControlLink, why: string): void {
    if (!this.links.delete(link) || this.links.size > 0) return;
    this.deps.onDown(why);
    if (this.wanted && !this.closed) this.scheduleRetry(why);
  }

  /** An open link, dialing on demand; rejects 'unavailable' when none can be had within `waitMs`. */
  ensureLink(waitMs: number): Promise<ControlLink> {
    const now = this.active();
    if (now) return Promise.resolve(now);
    if (this.closed) return Promise.reject(new ConfnodeError('unavailable', `node ${this.deps.peer} was forgotten`));
    this.wanted = true;
    if (!this.dialing && this.retry) {
      return Promise.reject(new ConfnodeError('unavailable', `node ${this.deps.peer} is unreachable (${this.lastError}); retrying in the background`));
    }
    const dialing = this.dialing ?? this.startDial();
    // A link the peer dialed meanwhile will do as well as ours.
    const settled = dialing.then(
      (link) => this.active() ?? link,
      (err: unknown) => {
        const other = this.active();
        if (other) return other;
        throw err;
      },
    );
    return withDeadline(settled, waitMs, this.deps.clock, () => new ConfnodeError('unavailable', `node ${this.deps.peer} not connected within ${waitMs} ms`));
  }

  /** Closes every link and stops reconnecting (the peer left, or we shut down). Idempotent. */
  close(reason: string): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    this.retry = undefined;
    return Promise.all([...this.links].map((l) => l.close(LINK_CLOSE.goingAway, reason))).then(() => undefined);
  }

  private startDial(): Promise<ControlLink> {
    const dialing = this.deps.dial();
    this.dialing = dialing;
    dialing.then(
      () => {
        this.dialing = undefined;
        this.lastError = '';
      },
      (err: unknown) => {
        this.dialing = undefined;
        const first = this.lastError === '';
        this.lastError = errorMessage(err);
        const log = first ? this.deps.logger.warn.bind(this.deps.logger) : this.deps.logger.debug.bind(this.deps.logger);
        log({ peer: this.deps.peer, err: this.lastError, attempt: this.attempt }, 'control dial failed');
        if (this.links.size === 0 && this.wanted && !this.closed) this.scheduleRetry(this.lastError);
      },
    );
    return dialing;
  }

  private scheduleRetry(why: string): void {
    if (this.retry || this.closed) return;
    this.lastError ||= why;
    const delay = reconnectDelay(this.attempt++, this.deps.backoff, this.deps.random());
    this.retry = this.deps.clock.setTimeout(() => {
      this.retry = undefined;
      if (!this.closed && !this.dialing && !this.active()) void this.startDial();
    }, delay);
  }
}

/** `p`, or the error of `onTimeout()` if it has not settled within `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, clock: Clock, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
