import { PinGate } from './pin-gate';

const feed = (gate: PinGate, digits: string) => [...digits].map((d) => gate.input(d)).pop();

describe('PinGate', () => {
  it('host PIN followed by # admits as host; guest PIN as guest', () => {
    expect(feed(new PinGate({ hostPin: '1234', guestPin: '5678' }), '1234#')).toEqual({ kind: 'admitted', role: 'host' });
    expect(feed(new PinGate({ hostPin: '1234', guestPin: '5678' }), '5678#')).toEqual({ kind: 'admitted', role: 'guest' });
  });

  it('digits before # are only collected', () => {
    expect(feed(new PinGate({ hostPin: '1234' }), '1234')).toEqual({ kind: 'collecting' });
  });

  it('* clears what was typed', () => {
    expect(feed(new PinGate({ hostPin: '1234' }), '99*1234#')).toEqual({ kind: 'admitted', role: 'host' });
  });

  it('a wrong PIN counts an attempt; the third wrong one rejects, and stays rejected', () => {
    const gate = new PinGate({ hostPin: '1234' });
    expect(feed(gate, '1111#')).toEqual({ kind: 'wrong', attemptsLeft: 2 });
    expect(feed(gate, '#')).toEqual({ kind: 'wrong', attemptsLeft: 1 });
    expect(feed(gate, '2222#')).toEqual({ kind: 'rejected' });
    expect(feed(gate, '1234#')).toEqual({ kind: 'rejected' });
  });

  it('a guest PIN is refused when the VMR has only a host PIN', () => {
    expect(feed(new PinGate({ hostPin: '1234' }), '5678#')).toEqual({ kind: 'wrong', attemptsLeft: 2 });
  });

  it('an endless digit stream is a wrong attempt, not unbounded memory', () => {
    const gate = new PinGate({ hostPin: '1234', maxDigits: 12 });
    expect(feed(gate, '1'.repeat(13))).toEqual({ kind: 'wrong', attemptsLeft: 2 });
  });
});
