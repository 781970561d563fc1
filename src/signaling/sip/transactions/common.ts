/**
 * Shared pieces of the four RFC 3261 section 17 transaction state machines: the environment
 * (clock, timer config, transport reliability) and a named-timer set that termination clears.
 * Never does I/O itself: transactions send through a callback given by their owner.
 */
import type { Clock, TimerHandle } from '../../../common';
import type { SipTimerConfig } from '../timers';

export interface TransactionEnv {
  clock: Clock;
  timers: SipTimerConfig;
  /** TCP (and later TLS): retransmission timers are not used, wait timers are 0. */
  reliable: boolean;
}

export type ClientFailure = 'timeout' | 'transport';

/** Named timers of one transaction; setting a name again replaces it, clearAll() on termination. */
export class TxTimers {
  private readonly handles = new Map<string, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  set(name: string, ms: number, fn: () => void): void {
    this.clear(name);
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fn();
    }, ms);
    this.handles.set(name, handle);
  }

  clear(name: string): void {
    const h = this.handles.get(name);
    if (h) {
      h.cancel();
      this.handles.delete(name);
    }
  }

  clearAll(): void {
    for (const h of this.handles.values()) h.cancel();
    this.handles.clear();
  }

  has(name: string): boolean {
    return this.handles.has(name);
  }
}

/** Runs a callback from a transaction user so a throwing user cannot wedge the state machine. */
export function safeCall(fn: (() => void) | undefined, onError?: (err: unknown) => void): void {
  if (!fn) return;
  try {
    fn();
  } catch (err) {
    onError?.(err);
  }
}
