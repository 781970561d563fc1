"use strict";
/**
 * Dominant speaker choice from per-tick audio levels, with hysteresis: a challenger must be
 * clearly louder than the current speaker for a sustained window, and a new speaker is held a
 * minimum time. Pure: time comes in as an argument; no timers, no events, no allocation per tick.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.ActiveSpeakerDetector = void 0;
const FLOOR_DBOV = -127;
class ActiveSpeakerDetector {
    states = new Map();
    // Same states as an array: iterating a Map allocates per call, and decide() runs every tick.
    list = [];
    current;
    heldSince = 0;
    lastDecision;
    threshold;
    margin;
    switchAfter;
    acquireAfter;
    minHold;
    alpha;
    constructor(options = {}) {
        this.threshold = options.thresholdDbov ?? -45;
        this.margin = options.marginDb ?? 3;
        this.switchAfter = options.switchAfterMs ?? 400;
        this.acquireAfter = options.acquireAfterMs ?? 200;
        this.minHold = options.minHoldMs ?? 1000;
        this.alpha = Math.min(1, Math.max(0.01, options.smoothing ?? 0.3));
    }
    /** The current dominant speaker; it stays after they fall silent until someone else wins. */
    get dominant() {
        return this.current;
    }
    /** Records one tick's level (dBov; -127 for no audio) for a participant. */
    observe(id, dbov) {
        let st = this.states.get(id);
        if (!st) {
            st = { id, smoothed: FLOOR_DBOV, winningMs: 0, seenThisTick: false };
            this.states.set(id, st);
            this.list.push(st);
        }
        const level = dbov < FLOOR_DBOV ? FLOOR_DBOV : dbov;
        st.smoothed += (level - st.smoothed) * this.alpha;
        st.seenThisTick = true;
    }
    /** Smoothed level of a participant (for stats and tests). */
    smoothedLevel(id) {
        return this.states.get(id)?.smoothed;
    }
    /**
     * Closes one tick at time `nowMs`. Participants not observed this tick count as silent.
     * Returns true if the dominant speaker changed (read `dominant`).
     */
    decide(nowMs) {
        const elapsed = this.lastDecision === undefined ? 0 : Math.max(0, nowMs - this.lastDecision);
        this.lastDecision = nowMs;
        const cur = this.current === undefined ? undefined : this.states.get(this.current);
        const bar = cur ? Math.max(this.threshold, cur.smoothed + this.margin) : this.threshold;
        let best;
        for (let i = 0; i < this.list.length; i++) {
            const st = this.list[i];
            if (!st)
                continue;
            if (!st.seenThisTick)
                st.smoothed += (FLOOR_DBOV - st.smoothed) * this.alpha;
            st.seenThisTick = false;
            if (st === cur || st.smoothed <= bar) {
                st.winningMs = 0;
                continue;
            }
            st.winningMs += elapsed;
            if (!best || st.winningMs > best.winningMs || (st.winningMs === best.winningMs && st.smoothed > best.smoothed)) {
                best = st;
            }
        }
        if (!best)
            return false;
        if (best.winningMs < (cur ? this.switchAfter : this.acquireAfter))
            return false;
        if (cur && nowMs - this.heldSince < this.minHold)
            return false;
        this.current = best.id;
        this.heldSince = nowMs;
        for (let i = 0; i < this.list.length; i++) {
            const st = this.list[i];
            if (st)
                st.winningMs = 0;
        }
        return true;
    }
    /** Forgets a participant. Returns true if it was the dominant speaker (now none). */
    remove(id) {
        const st = this.states.get(id);
        if (st) {
            this.states.delete(id);
            this.list.splice(this.list.indexOf(st), 1);
        }
        if (this.current !== id)
            return false;
        this.current = undefined;
        return true;
    }
}
exports.ActiveSpeakerDetector = ActiveSpeakerDetector;
//# sourceMappingURL=active-speaker.js.map