"use strict";
/**
 * RFC 3261 section 17 timer values (A..K, plus L/M from RFC 6026) derived from T1/T2/T4.
 * Pure: no clock, no I/O; transactions schedule these durations on an injected Clock.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_SIP_TIMERS = void 0;
exports.resolveTimers = resolveTimers;
exports.transactionTimeout = transactionTimeout;
exports.nextInterval = nextInterval;
exports.timerD = timerD;
exports.timerT4Wait = timerT4Wait;
exports.timerJ = timerJ;
exports.DEFAULT_SIP_TIMERS = { t1: 500, t2: 4000, t4: 5000 };
/** Fills defaults and refuses values that would make timers spin (non-positive, T2 < T1). */
function resolveTimers(partial) {
    const cfg = { ...exports.DEFAULT_SIP_TIMERS, ...stripUndefined(partial ?? {}) };
    for (const [k, v] of Object.entries(cfg)) {
        if (!Number.isFinite(v) || v <= 0)
            throw new RangeError(`SIP timer ${k} must be a positive number of ms`);
    }
    if (cfg.t2 < cfg.t1)
        throw new RangeError('SIP timer T2 must be >= T1');
    return cfg;
}
function stripUndefined(p) {
    const out = {};
    if (p.t1 !== undefined)
        out.t1 = p.t1;
    if (p.t2 !== undefined)
        out.t2 = p.t2;
    if (p.t4 !== undefined)
        out.t4 = p.t4;
    return out;
}
/** 64*T1: the transaction timeout (Timers B, F, H, J on unreliable transports, L, M). */
function transactionTimeout(cfg) {
    return 64 * cfg.t1;
}
/** Next retransmit interval: doubling, capped at `cap` (use Infinity for Timer A, which has no cap). */
function nextInterval(current, cap) {
    return Math.min(current * 2, cap);
}
/** Timer D (17.1.1.2): wait for response retransmissions, >= 32 s unreliable, 0 reliable. */
function timerD(cfg, reliable) {
    return reliable ? 0 : Math.max(32000, 64 * cfg.t1);
}
/** Timer I (17.2.1) and Timer K (17.1.2.2): T4 for unreliable transports, 0 for reliable ones. */
function timerT4Wait(cfg, reliable) {
    return reliable ? 0 : cfg.t4;
}
/** Timer J (17.2.2): 64*T1 unreliable, 0 reliable. */
function timerJ(cfg, reliable) {
    return reliable ? 0 : transactionTimeout(cfg);
}
//# sourceMappingURL=timers.js.map