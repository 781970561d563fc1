"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.FakeClock = exports.systemClock = void 0;
exports.systemClock = {
    now: () => performance.now(),
    setTimeout(fn, ms) {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
    },
};
/** Deterministic clock for tests: time moves only when advance() is called. */
class FakeClock {
    t = 0;
    seq = 0;
    timers = [];
    now() {
        return this.t;
    }
    setTimeout(fn, ms) {
        const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
        this.timers.push(timer);
        return { cancel: () => (timer.cancelled = true) };
    }
    /** Runs every timer due within `ms`, in time order, including timers they schedule. */
    advance(ms) {
        const end = this.t + ms;
        for (;;) {
            this.timers = this.timers.filter((x) => !x.cancelled);
            let next;
            for (const x of this.timers) {
                if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq)))
                    next = x;
            }
            if (!next)
                break;
            this.t = next.at;
            next.cancelled = true;
            next.fn();
        }
        this.t = end;
    }
    pending() {
        return this.timers.filter((x) => !x.cancelled).length;
    }
}
exports.FakeClock = FakeClock;
//# sourceMappingURL=clock.js.map