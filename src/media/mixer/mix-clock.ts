/**
 * The node-wide 20 ms scheduler: drives every registered mixer tick against absolute deadlines
 * (no drift), catches up a few missed ticks after a stall and then resyncs rather than bursting.
 * Registered functions are spread over `phases` slots of the period (rooms of one thread do not
 * all mix and send in one burst: shorter CPU bursts, so socket reads and other threads interleave
 * with the mixing, and one slow room delays only its own slot). Each function keeps its own slot,
 * so its own period stays exactly 20 ms. Never lets one failing tick stop the others; never
 * touches real timers itself.
 */
import { systemClock, type Clock, type TimerHandle } from '../../common';

export type TickFn = () => void;

export interface MixClockOptions {
  periodMs?: number;
  /** Slots per period (default 4: one every 5 ms); 1 runs every function in one round. */
  phases?: number;
  /** Periods run back to back after a stall before the schedule is resynced (default 3). */
  maxCatchUpTicks?: number;
  /** A slot that starts at least this late counts as late in the stats (default 5 ms). */
  lateThresholdMs?: number;
  /** Called when a registered tick throws (the others still run). */
  onTickError?: (err: unknown) => void;
}

export interface MixClockStats {
  /** Scheduler wake-ups that ran at least one slot. */
  rounds: number;
  /** Slot runs executed (a slot run calls every function of that slot once). */
  ticks: number;
  /** Slot runs that started at least lateThresholdMs after their deadline. */
  lateTicks: number;
  /** Periods dropped by resyncs after long stalls. */
  skipped: number;
  tickErrors: number;
  /** Wall time of the last slot run and the worst one, ms. */
  lastRoundMs: number;
  maxRoundMs: number;
  registered: number;
}

export class MixClock {
  /** Functions per slot, copy-on-write: a run in progress keeps iterating its own snapshot. */
  private slots: (readonly TickFn[])[];
  private readonly slotOf = new Map<TickFn, number>();
  private timer: TimerHandle | undefined;
  /** Deadline of slot `next`. */
  private deadline = 0;
  private next = 0;
  private skippedSlots = 0;
  private readonly slotPeriod: number;
  private readonly phases: number;
  private readonly maxCatchUpSlots: number;
  private readonly lateMs: number;
  private readonly onTickError: ((err: unknown) => void) | undefined;
  private readonly fire = (): void => this.onTimer();
  private readonly st: MixClockStats = { rounds: 0, ticks: 0, lateTicks: 0, skipped: 0, tickErrors: 0, lastRoundMs: 0, maxRoundMs: 0, registered: 0 };

  constructor(
    private readonly clock: Clock = systemClock,
    options: MixClockOptions = {},
  ) {
    const period = options.periodMs ?? 20;
    this.phases = Math.max(1, Math.min(20, Math.floor(options.phases ?? 4)));
    this.slotPeriod = period / this.phases;
    this.maxCatchUpSlots = Math.max(1, options.maxCatchUpTicks ?? 3) * this.phases;
    this.lateMs = options.lateThresholdMs ?? 5;
    this.onTickError = options.onTickError;
    this.slots = Array.from({ length: this.phases }, () => []);
  }

  /** Adds a tick function to the least busy slot; the timer starts with the first one. Returns an unregister function. */
  register(fn: TickFn): () => void {
    if (!this.slotOf.has(fn)) {
      let best = 0;
      for (let i = 1; i < this.phases; i++) if (this.slotFns(i).length < this.slotFns(best).length) best = i;
      this.slotOf.set(fn, best);
      this.slots[best] = [...this.slotFns(best), fn];
      this.st.registered = this.slotOf.size;
    }
    if (!this.timer) {
      // A fresh schedule's first slot runs one full period from now, as a single-slot clock would.
      this.next = 0;
      this.deadline = this.clock.now() + this.slotPeriod * this.phases;
      this.skipEmptySlots();
      this.timer = this.clock.setTimeout(this.fire, Math.max(0, this.deadline - this.clock.now()));
    }
    return () => this.unregister(fn);
  }

  /** Removes a tick function; the timer stops with the last one. */
  unregister(fn: TickFn): void {
    const slot = this.slotOf.get(fn);
    if (slot === undefined) return;
    this.slotOf.delete(fn);
    this.slots[slot] = this.slotFns(slot).filter((f) => f !== fn);
    this.st.registered = this.slotOf.size;
    if (this.slotOf.size === 0) this.stop();
  }

  stats(): MixClockStats {
    return { ...this.st, skipped: Math.floor(this.skippedSlots / this.phases) };
  }

  /** Stops the timer and forgets every registration (idempotent). */
  close(): void {
    this.slots = this.slots.map(() => []);
    this.slotOf.clear();
    this.st.registered = 0;
    this.stop();
  }

  private slotFns(i: number): readonly TickFn[] {
    return this.slots[i] ?? [];
  }

  private stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private advance(): void {
    this.deadline += this.slotPeriod;
    this.next = (this.next + 1) % this.phases;
  }

  /** Moves the schedule to the next slot that has work (at most one period ahead). */
  private skipEmptySlots(): void {
    for (let i = 0; i < this.phases && this.slotFns(this.next).length === 0; i++) this.advance();
  }

  private onTimer(): void {
    this.timer = undefined;
    let now = this.clock.now();
    let ran = 0;
    let steps = 0;
    while (now >= this.deadline && steps < this.maxCatchUpSlots && this.slotOf.size > 0) {
      const fns = this.slotFns(this.next);
      if (fns.length > 0) {
        if (now - this.deadline >= this.lateMs) this.st.lateTicks++;
        this.runSlot(fns);
        ran++;
      }
      this.advance();
      steps++;
      now = this.clock.now();
    }
    if (ran > 0) this.st.rounds++;
    if (now >= this.deadline) {
      // Too far behind (a GC pause or a blocked loop): skip the backlog instead of bursting.
      const behind = Math.floor((now - this.deadline) / this.slotPeriod) + 1;
      this.skippedSlots += behind;
      this.deadline += behind * this.slotPeriod;
      this.next = (this.next + behind) % this.phases;
    }
    if (this.slotOf.size === 0) return;
    this.skipEmptySlots();
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, this.deadline - now));
  }

  private runSlot(fns: readonly TickFn[]): void {
    const start = this.clock.now();
    for (let i = 0; i < fns.length; i++) {
      try {
        fns[i]?.();
      } catch (err) {
        this.st.tickErrors++;
        this.onTickError?.(err);
      }
    }
    const took = this.clock.now() - start;
    this.st.ticks++;
    this.st.lastRoundMs = took;
    if (took > this.st.maxRoundMs) this.st.maxRoundMs = took;
  }
}
