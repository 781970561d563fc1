import { Limiter, softClip } from './limiter';

function frame(value: number, n = 320): Int32Array {
  return new Int32Array(n).fill(value);
}

describe('Limiter', () => {
  test('softClip is the identity below the knee and never exceeds full scale', () => {
    expect(softClip(12345)).toBe(12345);
    expect(softClip(-28000)).toBe(-28000);
    for (const x of [30000, 40000, 65534, 200000, 1e9]) {
      expect(softClip(x)).toBeLessThanOrEqual(32767);
      expect(softClip(-x)).toBeGreaterThanOrEqual(-32767);
    }
    expect(softClip(40000)).toBeGreaterThan(softClip(30000));
  });

  test('a 3x full-scale frame comes out within int16 range with the same sign', () => {
    const lim = new Limiter();
    const out = new Int16Array(320);
    lim.process(frame(98000), out, 320);
    expect(Math.min(...out)).toBeGreaterThan(0);
    lim.process(frame(-98000), out, 320);
    expect(Math.max(...out)).toBeLessThan(0);
    expect(lim.currentGain).toBeLessThan(0.35);
  });

  test('after a loud burst the gain recovers smoothly to unity, never jumping up', () => {
    const lim = new Limiter();
    const out = new Int16Array(320);
    lim.process(frame(60000), out, 320);
    let prev = lim.currentGain;
    let frames = 0;
    while (lim.currentGain < 1 && frames < 1000) {
      lim.process(frame(1000), out, 320);
      expect(lim.currentGain).toBeGreaterThanOrEqual(prev);
      expect(lim.currentGain - prev).toBeLessThan(0.05);
      prev = lim.currentGain;
      frames++;
    }
    expect(lim.currentGain).toBe(1);
    expect(frames).toBeGreaterThan(50);
  });
});
