import { FakeClock, seededRandom } from '../common';
import type { RtpSocket } from './deps';
import { impairedSocket } from './wan-sim';

function recorder(clock: FakeClock): { socket: RtpSocket; sent: Array<{ at: number; tag: number }> } {
  const sent: Array<{ at: number; tag: number }> = [];
  const socket: RtpSocket = {
    kind: 'dgram',
    localPort: 1,
    onMessage: null,
    onError: null,
    send: (buf) => sent.push({ at: clock.now(), tag: buf[0] ?? -1 }),
    sendParts: () => undefined,
    close: async () => undefined,
  };
  return { socket, sent };
}

describe('simulated WAN (tests and benchmarks)', () => {
  it('delays each datagram by the configured one-way delay, in order', () => {
    const clock = new FakeClock();
    const { socket, sent } = recorder(clock);
    const wan = impairedSocket(socket, { delayMs: 40, jitterMs: 0, loss: 0 }, clock, () => 0.5);
    for (let i = 0; i < 5; i++) {
      wan.send(Buffer.from([i]), 1, '127.0.0.1');
      clock.advance(10);
    }
    expect(sent.map((s) => s.tag)).toEqual([0, 1]); // now 50: the first two are due
    clock.advance(100);
    expect(sent).toEqual([0, 1, 2, 3, 4].map((tag) => ({ at: 40 + tag * 10, tag })));
  });

  it('jitter varies the delay within its bound and never reorders; loss drops about the configured share', () => {
    const clock = new FakeClock();
    const { socket, sent } = recorder(clock);
    const counters = { delayed: 0, dropped: 0, overflowed: 0, lateSumMs: 0, lateMaxMs: 0 };
    const wan = impairedSocket(socket, { delayMs: 30, jitterMs: 10, loss: 0.1 }, clock, seededRandom(7), counters);
    const sentAt = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      sentAt.set(i % 256, clock.now());
      wan.send(Buffer.from([i % 256]), 1, '127.0.0.1');
      clock.advance(5);
    }
    clock.advance(100);
    expect(counters.dropped + counters.delayed).toBe(200);
    expect(counters.dropped).toBeGreaterThan(8);
    expect(counters.dropped).toBeLessThan(35);
    expect(sent).toHaveLength(counters.delayed);
    for (let i = 1; i < sent.length; i++) expect((sent[i]?.at ?? 0) >= (sent[i - 1]?.at ?? 0)).toBe(true);
    for (const s of sent) {
      const d = s.at - (sentAt.get(s.tag) ?? 0);
      expect(d).toBeGreaterThanOrEqual(20);
      expect(d).toBeLessThanOrEqual(45);
    }
  });

  it('discard() drops what is queued; bad impairments are refused', () => {
    const clock = new FakeClock();
    const { socket, sent } = recorder(clock);
    const wan = impairedSocket(socket, { delayMs: 10, jitterMs: 0, loss: 0 }, clock, () => 0.5);
    wan.send(Buffer.from([1]), 1, '127.0.0.1');
    wan.discard();
    wan.send(Buffer.from([2]), 1, '127.0.0.1');
    clock.advance(50);
    expect(sent).toEqual([]);
    expect(() => impairedSocket(socket, { delayMs: -1, jitterMs: 0, loss: 0 }, clock, () => 0)).toThrow(RangeError);
    expect(() => impairedSocket(socket, { delayMs: 1, jitterMs: 0, loss: 2 }, clock, () => 0)).toThrow(RangeError);
  });
});
