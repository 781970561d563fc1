/**
 * RFC 3261 section 17 timer values (A..K, plus L/M from RFC 6026) derived from T1/T2/T4.
 * Pure: no clock, no I/O; transactions schedule these durations on an injected Clock.
 */

export interface SipTimerConfig {
  /** RTT estimate, ms (default 500). */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, ms (default 4000). */
  t2: number;
  /** Maximum time a message stays in the network, ms (default 5000). */
  t4: number;
}

export const DEFAULT_SIP_TIMERS: Readonly<SipTimerConfig> = { t1: 500, t2: 4000, t4: 5000 };

/** Fills defaults and refuses values that would make timers spin (non-positive, T2 < T1). */
export function resolveTimers(partial?: Partial<SipTimerConfig>): SipTimerConfig {
  const cfg = { ...DEFAULT_SIP_TIMERS, ...stripUndefined(partial ?? {}) };
  for (const [k, v] of Object.entries(cfg)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`SIP timer ${k} must be a positive number of ms`);
  }
  if (cfg.t2 < cfg.t1) throw new RangeError('SIP timer T2 must be >= T1');
  return cfg;
}

function stripUndefined(p: Partial<SipTimerConfig>): Partial<SipTimerConfig> {
  const out: Partial<SipTimerConfig> = {};
  if (p.t1 !== undefined) out.t1 = p.t1;
  if (p.t2 !== undefined) out.t2 = p.t2;
  if (p.t4 !== undefined) out.t4 = p.t4;
  return out;
}

/** 64*T1: the transaction timeout (Timers B, F, H, J on unreliable transports, L, M). */
export function transactionTimeout(cfg: SipTimerConfig): number {
  return 64 * cfg.t1;
}

/** Next retransmit interval: doubling, capped at `cap` (use Infinity for Timer A, which has no cap). */
export function nextInterval(current: number, cap: number): number {
  return Math.min(current * 2, cap);
}

/** Timer D (17.1.1.2): wait for response retransmissions, >= 32 s unreliable, 0 reliable. */
export function timerD(cfg: SipTimerConfig, reliable: boolean): number {
  return reliable ? 0 : Math.max(32000, 64 * cfg.t1);
}

/** Timer I (17.2.1) and Timer K (17.1.2.2): T4 for unreliable transports, 0 for reliable ones. */
export function timerT4Wait(cfg: SipTimerConfig, reliable: boolean): number {
  return reliable ? 0 : cfg.t4;
}

/** Timer J (17.2.2): 64*T1 unreliable, 0 reliable. */
export function timerJ(cfg: SipTimerConfig, reliable: boolean): number {
  return reliable ? 0 : transactionTimeout(cfg);
}
