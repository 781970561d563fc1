"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TypedEmitter = void 0;
class TypedEmitter {
    onListenerError;
    listeners = new Map();
    constructor(onListenerError) {
        this.onListenerError = onListenerError;
    }
    on(event, fn) {
        let set = this.listeners.get(event);
        if (!set) {
            set = new Set();
            this.listeners.set(event, set);
        }
        set.add(fn);
        return () => this.off(event, fn);
    }
    once(event, fn) {
        const off = this.on(event, ((...args) => {
            off();
            fn(...args);
        }));
        return off;
    }
    off(event, fn) {
        this.listeners.get(event)?.delete(fn);
    }
    emit(event, ...args) {
        const set = this.listeners.get(event);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(...args);
            }
            catch (err) {
                this.onListenerError?.(err, event);
            }
        }
    }
    listenerCount(event) {
        return this.listeners.get(event)?.size ?? 0;
    }
    removeAllListeners() {
        this.listeners.clear();
    }
}
exports.TypedEmitter = TypedEmitter;
//# sourceMappingURL=emitter.js.map