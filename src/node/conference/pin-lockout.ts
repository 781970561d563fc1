/**
 * Wrong-PIN throttling for joins that cannot be slowed by hanging up (browsers: every attempt is
 * a new WebSocket): after `maxFailures` wrong PINs for one room from one address within
 * `windowMs`, that address is refused for that room until the window has passed since its first
 * failure. A right PIN clears the address's count. Pure: callers pass the time; the table is
 * bounded (the oldest entries go first) so a flood of addresses cannot grow memory.
 */

export interface PinLockoutOptions {
  maxFailures?: number;
  windowMs?: number;
  maxEntries?: number;
}

interface Entry {
  firstAt: number;
  failures: number;
}

export class PinLockout {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(opts: PinLockoutOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Milliseconds until `address` may try `room` again; 0 when it may now. */
  retryAfterMs(room: string, address: string, now: number): number {
    const e = this.live(`${room}|${address}`, now);
    return e && e.failures >= this.maxFailures ? e.firstAt + this.windowMs - now : 0;
  }

  /** Records a wrong PIN; returns how many attempts are left in the window (0: locked out). */
  failed(room: string, address: string, now: number): number {
    const key = `${room}|${address}`;
    let e = this.live(key, now);
    if (!e) {
      e = { firstAt: now, failures: 0 };
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(key, e);
    }
    e.failures++;
    return Math.max(0, this.maxFailures - e.failures);
  }

  succeeded(room: string, address: string): void {
    this.entries.delete(`${room}|${address}`);
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && now - e.firstAt >= this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}
