"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MixClock = void 0;
/**
 * The node-wide 20 ms scheduler: one timer drives every registered mixer tick against absolute
 * deadlines (no drift), catches up a few missed ticks after a stall and then resyncs rather than
 * bursting. Never lets one failing tick stop the others; never touches real timers itself.
 */
const common_1 = require("../../common");
class MixClock {
    clock;
    fns = [];
    timer;
    deadline = 0;
    period;
    maxCatchUp;
    onTickError;
    fire = () => this.onTimer();
    st = { rounds: 0, ticks: 0, skipped: 0, tickErrors: 0, lastRoundMs: 0, maxRoundMs: 0, registered: 0 };
    constructor(clock = common_1.systemClock, options = {}) {
        this.clock = clock;
        this.period = options.periodMs ?? 20;
        this.maxCatchUp = Math.max(1, options.maxCatchUpTicks ?? 3);
        this.onTickError = options.onTickError;
    }
    /** Adds a tick function; the timer starts with the first one. Returns an unregister function. */
    register(fn) {
        if (!this.fns.includes(fn))
            this.fns = [...this.fns, fn];
        this.st.registered = this.fns.length;
        if (!this.timer) {
            this.deadline = this.clock.now() + this.period;
            this.timer = this.clock.setTimeout(this.fire, this.period);
        }
        return () => this.unregister(fn);
    }
    /** Removes a tick function; the timer stops with the last one. */
    unregister(fn) {
        // Copy-on-write: a round in progress keeps iterating its own snapshot.
        this.fns = this.fns.filter((f) => f !== fn);
        this.st.registered = this.fns.length;
        if (this.fns.length === 0)
            this.stop();
    }
    stats() {
        return { ...this.st };
    }
    /** Stops the timer and forgets every registration (idempotent). */
    close() {
        this.fns = [];
        this.st.registered = 0;
        this.stop();
    }
    stop() {
        this.timer?.cancel();
        this.timer = undefined;
    }
    onTimer() {
        this.timer = undefined;
        let now = this.clock.now();
        let ran = 0;
        while (now >= this.deadline && ran < this.maxCatchUp && this.fns.length > 0) {
            this.runRound();
            this.deadline += this.period;
            ran++;
            now = this.clock.now();
        }
        if (ran > 0)
            this.st.rounds++;
        if (now >= this.deadline) {
            // Too far behind (a GC pause or a blocked loop): skip the backlog instead of bursting.
            const behind = Math.floor((now - this.deadline) / this.period) + 1;
            this.st.skipped += behind;
            this.deadline += behind * this.period;
        }
        if (this.fns.length > 0)
            this.timer = this.clock.setTimeout(this.fire, Math.max(0, this.deadline - now));
    }
    runRound() {
        const start = this.clock.now();
        const fns = this.fns;
        for (let i = 0; i < fns.length; i++) {
            try {
                fns[i]?.();
            }
            catch (err) {
                this.st.tickErrors++;
                this.onTickError?.(err);
            }
        }
        const took = this.clock.now() - start;
        this.st.ticks++;
        this.st.lastRoundMs = took;
        if (took > this.st.maxRoundMs)
            this.st.maxRoundMs = took;
    }
}
exports.MixClock = MixClock;
//# sourceMappingURL=mix-clock.js.map