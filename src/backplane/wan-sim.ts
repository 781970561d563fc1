/**
 * A simulated WAN in userspace for tests and benchmarks (this kernel has no netem): a socket
 * wrapper that delays, jitters and drops the datagrams a geo backplane sends. Both ends of a link
 * impair what they send, so a round trip pays the one-way delay twice, as on a real path. Packets
 * keep their order (a backbone rarely reorders): each leaves at the later of its own due time and
 * the previous packet's. The queue is bounded; nothing here is meant for production traffic.
 */
import type { Clock, RtpSocket, TimerHandle } from './deps';

/** One direction of a path between two locations. */
export interface WanImpairment {
  /** Mean one-way delay added, ms. */
  delayMs: number;
  /** Each packet's delay varies uniformly by up to this much either way, ms (never below 0). */
  jitterMs: number;
  /** Fraction of datagrams dropped, 0..1 (independent, uniform). */
  loss: number;
}

export interface WanCounters {
  delayed: number;
  dropped: number;
  /** Dropped because the queue was full. */
  overflowed: number;
  /**
   * How late datagrams left against their due time, ms (timers fire late on a busy event loop):
   * the simulator's own error, which a measurement through it includes.
   */
  lateSumMs: number;
  lateMaxMs: number;
}

/** Datagrams held at most (a second of a busy link at a 100 ms delay). */
const MAX_QUEUED = 20_000;

export function checkImpairment(w: WanImpairment): void {
  const ok = (v: number, max: number): boolean => Number.isFinite(v) && v >= 0 && v <= max;
  if (!ok(w.delayMs, 10_000) || !ok(w.jitterMs, 10_000) || !ok(w.loss, 1)) {
    throw new RangeError(`bad WAN impairment: delay ${w.delayMs} ms, jitter ${w.jitterMs} ms, loss ${w.loss}`);
  }
}

/** The wrapper: an RtpSocket whose queue can be dropped without closing the socket it wraps. */
export interface ImpairedSocket extends RtpSocket {
  /** Drops what is queued and stops the timer; the wrapped socket stays open (its owner closes it). */
  discard(): void;
}

/**
 * `inner` with `impairment` applied to what is sent; receiving is untouched. `send` keeps the
 * buffer it is given until it leaves (callers here never reuse a sent buffer); `sendParts` copies.
 */
export function impairedSocket(inner: RtpSocket, impairment: WanImpairment, clock: Clock, random: () => number, counters?: WanCounters): ImpairedSocket {
  checkImpairment(impairment);
  const queue: Array<{ due: number; buf: Buffer; port: number; address: string }> = [];
  let head = 0;
  let lastDue = 0;
  let timer: TimerHandle | undefined;
  let closed = false;
  const c = counters ?? { delayed: 0, dropped: 0, overflowed: 0, lateSumMs: 0, lateMaxMs: 0 };

  const flush = (): void => {
    timer = undefined;
    const now = clock.now();
    while (head < queue.length) {
      const p = queue[head];
      if (p === undefined || p.due > now) break;
      queue[head++] = undefined as never;
      inner.send(p.buf, p.port, p.address);
      const late = now - p.due;
      c.lateSumMs += late;
      if (late > c.lateMaxMs) c.lateMaxMs = late;
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    arm();
  };
  const arm = (): void => {
    const next = queue[head];
    if (timer !== undefined || next === undefined || closed) return;
    timer = clock.setTimeout(flush, Math.max(0, next.due - clock.now()));
  };
  const enqueue = (buf: Buffer, port: number, address: string): void => {
    if (closed) return;
    if (impairment.loss > 0 && random() < impairment.loss) {
      c.dropped++;
      return;
    }
    if (queue.length - head >= MAX_QUEUED) {
      c.overflowed++;
      return;
    }
    const jitter = impairment.jitterMs > 0 ? (random() * 2 - 1) * impairment.jitterMs : 0;
    const due = Math.max(lastDue, clock.now() + Math.max(0, impairment.delayMs + jitter));
    lastDue = due;
    queue.push({ due, buf, port, address });
    c.delayed++;
    arm();
  };

  const discard = (): void => {
    closed = true;
    timer?.cancel();
    timer = undefined;
    queue.length = 0;
    head = 0;
  };

  return {
    kind: inner.kind,
    get localPort() {
      return inner.localPort;
    },
    get onMessage() {
      return inner.onMessage;
    },
    set onMessage(fn) {
      inner.onMessage = fn;
    },
    get onError() {
      return inner.onError;
    },
    set onError(fn) {
      inner.onError = fn;
    },
    send: enqueue,
    sendParts: (h, body, port, address) => enqueue(Buffer.concat([h, body]), port, address),
    discard,
    close: async () => {
      discard();
      await inner.close();
    },
  };
}
