import { PinLockout } from './pin-lockout';

describe('PinLockout', () => {
  it('locks one address out of one room after maxFailures wrong PINs, until the window since the first failure has passed', () => {
    const l = new PinLockout({ maxFailures: 3, windowMs: 60_000 });
    expect(l.failed('meet', '10.0.0.1', 0)).toBe(2);
    expect(l.failed('meet', '10.0.0.1', 1000)).toBe(1);
    expect(l.retryAfterMs('meet', '10.0.0.1', 2000)).toBe(0);
    expect(l.failed('meet', '10.0.0.1', 2000)).toBe(0);
    expect(l.retryAfterMs('meet', '10.0.0.1', 3000)).toBe(57_000);
    // Another address, another room: not affected.
    expect(l.retryAfterMs('meet', '10.0.0.2', 3000)).toBe(0);
    expect(l.retryAfterMs('other', '10.0.0.1', 3000)).toBe(0);
    expect(l.retryAfterMs('meet', '10.0.0.1', 60_000)).toBe(0);
    expect(l.failed('meet', '10.0.0.1', 60_000)).toBe(2);
  });

  it('a right PIN clears the count', () => {
    const l = new PinLockout({ maxFailures: 2 });
    l.failed('meet', 'a', 0);
    l.succeeded('meet', 'a');
    expect(l.failed('meet', 'a', 1)).toBe(1);
  });

  it('keeps at most maxEntries addresses (the oldest go first)', () => {
    const l = new PinLockout({ maxFailures: 1, maxEntries: 2 });
    l.failed('meet', 'a', 0);
    l.failed('meet', 'b', 0);
    l.failed('meet', 'c', 0);
    expect(l.retryAfterMs('meet', 'a', 1)).toBe(0);
    expect(l.retryAfterMs('meet', 'b', 1)).toBeGreaterThan(0);
    expect(l.retryAfterMs('meet', 'c', 1)).toBeGreaterThan(0);
  });
});
