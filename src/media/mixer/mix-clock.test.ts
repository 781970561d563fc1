import { FakeClock, type Clock, type TimerHandle } from '../../common';
import { MixClock } from './mix-clock';

/** A FakeClock whose timers fire late by `lateMs`, as Node's timers do. */
class LateClock implements Clock {
  constructor(
    readonly inner: FakeClock,
    private readonly lateMs: number,
  ) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.inner.setTimeout(fn, ms + this.lateMs);
  }
}

describe('MixClock', () => {
  test('with one slot, ticks every registered function every 20 ms with one timer', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock, { phases: 1 });
    const a: number[] = [];
    const b: number[] = [];
    mc.register(() => a.push(clock.now()));
    mc.register(() => b.push(clock.now()));
    clock.advance(100);
    expect(a).toEqual([20, 40, 60, 80, 100]);
    expect(b).toEqual(a);
    expect(clock.pending()).toBe(1);
  });

  test('no drift when every timer fires 3 ms late: 50 ticks in 1 s', () => {
    const fake = new FakeClock();
    const mc = new MixClock(new LateClock(fake, 3));
    let n = 0;
    mc.register(() => n++);
    fake.advance(1000 + 3);
    expect(n).toBe(50);
  });

  test('after a short stall it catches up missed ticks; after a long one it skips the backlog', () => {
    const fake = new FakeClock();
    let oneShotLateMs = 0;
    const clock: Clock = {
      now: () => fake.now(),
      setTimeout: (fn, ms) => {
        const extra = oneShotLateMs;
        oneShotLateMs = 0;
        return fake.setTimeout(fn, ms + extra);
      },
    };
    const mc = new MixClock(clock, { maxCatchUpTicks: 3, phases: 1 });
    const at: number[] = [];
    mc.register(() => at.push(fake.now()));
    fake.advance(60);
    oneShotLateMs = 45; // the wake-up for t=100 comes at 145: ticks 100, 120, 140 run back to back
    fake.advance(85);
    expect(at).toEqual([20, 40, 60, 80, 145, 145, 145]);
    oneShotLateMs = 200; // the wake-up for t=180 comes at 380: 3 catch-up ticks, 8 skipped
    fake.advance(235);
    expect(at.slice(7)).toEqual([160, 380, 380, 380]);
    expect(mc.stats().skipped).toBe(8);
    fake.advance(100);
    expect(at.slice(11)).toEqual([400, 420, 440, 460, 480]);
  });

  test('a throwing tick does not stop the others', () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const mc = new MixClock(clock, { phases: 1, onTickError: (e) => errors.push(e) });
    let n = 0;
    mc.register(() => {
      throw new Error('room broke');
    });
    mc.register(() => n++);
    clock.advance(60);
    expect(n).toBe(3);
    expect(errors).toHaveLength(3);
    expect(mc.stats().tickErrors).toBe(3);
  });

  test('the timer stops when the last function unregisters, and restarts on register', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock);
    let n = 0;
    const off = mc.register(() => n++);
    clock.advance(40);
    off();
    expect(clock.pending()).toBe(0);
    clock.advance(100);
    expect(n).toBe(2);
    mc.register(() => n++);
    clock.advance(20);
    expect(n).toBe(3);
    mc.close();
    mc.close();
    expect(clock.pending()).toBe(0);
  });

  test('unregistering during a round does not skip another function in that round', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock, { phases: 1 });
    const calls: string[] = [];
    const a = (): void => {
      calls.push('a');
      mc.unregister(a);
    };
    mc.register(a);
    mc.register(() => calls.push('b'));
    clock.advance(40);
    expect(calls).toEqual(['a', 'b', 'b']);
  });

  test('functions are spread over the slots of the period; each keeps an exact 20 ms period', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock, { phases: 4 });
    const at: number[][] = [[], [], [], [], []];
    for (const list of at) mc.register(() => list.push(clock.now()));
    clock.advance(100);
    // Four slots 5 ms apart; the fifth function shares the first slot with the first one.
    expect(at.map((l) => l[0])).toEqual([20, 25, 30, 35, 20]);
    for (const list of at) expect(list.slice(1).map((t, i) => t - (list[i] ?? 0))).toEqual(list.slice(1).map(() => 20));
  });

  test('a lone function wakes the timer once per period, not once per slot', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock, { phases: 4 });
    let n = 0;
    mc.register(() => n++);
    clock.advance(200);
    expect(n).toBe(10);
    expect(mc.stats().rounds).toBe(10);
  });

  test('a new function takes the least busy slot, also after others left', () => {
    const clock = new FakeClock();
    const mc = new MixClock(clock, { phases: 2 });
    const at: Record<string, number[]> = { a: [], b: [], c: [] };
    mc.register(() => at.a?.push(clock.now()));
    const offB = mc.register(() => at.b?.push(clock.now()));
    clock.advance(40);
    offB();
    mc.register(() => at.c?.push(clock.now()));
    clock.advance(40);
    expect(at.a).toEqual([20, 40, 60, 80]);
    expect(at.b).toEqual([30]);
    expect(at.c).toEqual([50, 70]);
  });

  test('slots that start 5 ms or more late are counted as late', () => {
    const fake = new FakeClock();
    const mc = new MixClock(new LateClock(fake, 6), { phases: 1 });
    mc.register(() => undefined);
    fake.advance(26);
    expect(mc.stats()).toMatchObject({ ticks: 1, lateTicks: 1 });
    const onTime = new MixClock(new LateClock(new FakeClock(), 0));
    expect(onTime.stats().lateTicks).toBe(0);
  });
});
