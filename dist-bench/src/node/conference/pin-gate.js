"use strict";
/**
 * PIN entry for a VMR with PINs (pure): digits from RFC 4733 events or SIP INFO accumulate until
 * '#'; the host PIN admits as host, the guest PIN as guest; a VMR with PINs never admits without
 * one. '*' clears. After maxAttempts wrong PINs the caller is rejected. Never reads clocks: the
 * caller times the entry out.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.PinGate = void 0;
class PinGate {
    opts;
    digits = '';
    attempts = 0;
    done;
    maxAttempts;
    maxDigits;
    constructor(opts) {
        this.opts = opts;
        this.maxAttempts = opts.maxAttempts ?? 3;
        this.maxDigits = opts.maxDigits ?? 16;
    }
    /** Feeds one digit ('0'-'9', '*', '#', 'A'-'D'); the outcome is final once admitted or rejected. */
    input(digit) {
        if (this.done)
            return this.done;
        if (digit === '*') {
            this.digits = '';
            return { kind: 'collecting' };
        }
        if (digit !== '#') {
            if (/^[0-9]$/.test(digit))
                this.digits += digit;
            if (this.digits.length <= this.maxDigits)
                return { kind: 'collecting' };
        }
        const entered = this.digits;
        this.digits = '';
        if (entered === this.opts.hostPin)
            return (this.done = { kind: 'admitted', role: 'host' });
        if (this.opts.guestPin !== undefined && entered === this.opts.guestPin)
            return (this.done = { kind: 'admitted', role: 'guest' });
        this.attempts++;
        if (this.attempts >= this.maxAttempts)
            return (this.done = { kind: 'rejected' });
        return { kind: 'wrong', attemptsLeft: this.maxAttempts - this.attempts };
    }
}
exports.PinGate = PinGate;
//# sourceMappingURL=pin-gate.js.map