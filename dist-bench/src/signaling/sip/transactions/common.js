"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TxTimers = void 0;
exports.safeCall = safeCall;
/** Named timers of one transaction; setting a name again replaces it, clearAll() on termination. */
class TxTimers {
    clock;
    handles = new Map();
    constructor(clock) {
        this.clock = clock;
    }
    set(name, ms, fn) {
        this.clear(name);
        const handle = this.clock.setTimeout(() => {
            this.handles.delete(name);
            fn();
        }, ms);
        this.handles.set(name, handle);
    }
    clear(name) {
        const h = this.handles.get(name);
        if (h) {
            h.cancel();
            this.handles.delete(name);
        }
    }
    clearAll() {
        for (const h of this.handles.values())
            h.cancel();
        this.handles.clear();
    }
    has(name) {
        return this.handles.has(name);
    }
}
exports.TxTimers = TxTimers;
/** Runs a callback from a transaction user so a throwing user cannot wedge the state machine. */
function safeCall(fn, onError) {
    if (!fn)
        return;
    try {
        fn();
    }
    catch (err) {
        onError?.(err);
    }
}
//# sourceMappingURL=common.js.map