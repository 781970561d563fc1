/**
 * PIN entry for a VMR with PINs (pure): digits from RFC 4733 events or SIP INFO accumulate until
 * '#'; the host PIN admits as host, the guest PIN as guest; a VMR with PINs never admits without
 * one. '*' clears. After maxAttempts wrong PINs the caller is rejected. Never reads clocks: the
 * caller times the entry out.
 */

import { timingSafeEqual } from 'node:crypto';

export type PinRole = 'host' | 'guest';

/** Compares an entered PIN with a configured one without an early exit on the first difference. */
export function pinMatches(entered: string, pin: string): boolean {
  const a = Buffer.from(entered);
  const b = Buffer.from(pin);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The role a PIN admits to, if any (host PIN first). */
export function roleForPin(entered: string, pins: { hostPin: string; guestPin?: string | undefined }): PinRole | undefined {
  if (pinMatches(entered, pins.hostPin)) return 'host';
  if (pins.guestPin !== undefined && pinMatches(entered, pins.guestPin)) return 'guest';
  return undefined;
}

export type PinOutcome =
  | { kind: 'collecting' }
  | { kind: 'admitted'; role: PinRole }
  | { kind: 'wrong'; attemptsLeft: number }
  | { kind: 'rejected' };

export interface PinGateOptions {
  hostPin: string;
  guestPin?: string;
  maxAttempts?: number;
  /** Digits kept at most before '#': a PIN is 4-12 digits, more is a wrong attempt. */
  maxDigits?: number;
}

export class PinGate {
  private digits = '';
  private attempts = 0;
  private done: PinOutcome | undefined;
  private readonly maxAttempts: number;
  private readonly maxDigits: number;

  constructor(private readonly opts: PinGateOptions) {
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.maxDigits = opts.maxDigits ?? 16;
  }

  /** Feeds one digit ('0'-'9', '*', '#', 'A'-'D'); the outcome is final once admitted or rejected. */
  input(digit: string): PinOutcome {
    if (this.done) return this.done;
    if (digit === '*') {
      this.digits = '';
      return { kind: 'collecting' };
    }
    if (digit !== '#') {
      if (/^[0-9]$/.test(digit)) this.digits += digit;
      if (this.digits.length <= this.maxDigits) return { kind: 'collecting' };
    }
    const entered = this.digits;
    this.digits = '';
    const role = roleForPin(entered, this.opts);
    if (role) return (this.done = { kind: 'admitted', role });
    this.attempts++;
    if (this.attempts >= this.maxAttempts) return (this.done = { kind: 'rejected' });
    return { kind: 'wrong', attemptsLeft: this.maxAttempts - this.attempts };
  }
}
