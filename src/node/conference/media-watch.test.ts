import { MediaWatch } from './media-watch';

describe('MediaWatch: a phone gone without a BYE', () => {
  it('a phone that keeps sending is never timed out', () => {
    const w = new MediaWatch(10_000, 0);
    for (let t = 0, n = 0; t <= 60_000; t += 5000, n += 250) expect(w.update(n, true, t)).toBe(false);
  });

  it('nothing new for the timeout while it should send: timed out, not a moment before', () => {
    const w = new MediaWatch(10_000, 0);
    expect(w.update(100, true, 0)).toBe(false);
    expect(w.update(150, true, 5000)).toBe(false); // last sign of life at 5 s
    expect(w.update(150, true, 14_999)).toBe(false);
    expect(w.silentMs(14_999)).toBe(9999);
    expect(w.update(150, true, 15_000)).toBe(true);
  });

  it('a phone that never sent anything is timed out a timeout after the first check', () => {
    const w = new MediaWatch(10_000, 0);
    expect(w.update(0, true, 1000)).toBe(false);
    expect(w.update(0, true, 10_999)).toBe(false);
    expect(w.update(0, true, 11_000)).toBe(true);
  });

  it('on hold (not expected to send) silence does not count, and the clock starts again when it resumes', () => {
    const w = new MediaWatch(10_000, 0);
    expect(w.update(100, true, 0)).toBe(false);
    for (let t = 5000; t <= 60_000; t += 5000) expect(w.update(100, false, t)).toBe(false);
    // Resumed between the checks at 60 and 62 s: silence counts from the last check on hold.
    expect(w.update(100, true, 62_000)).toBe(false);
    expect(w.update(100, true, 69_999)).toBe(false);
    expect(w.update(100, true, 70_000)).toBe(true);
  });

  it('one packet (RTCP, say) within the timeout keeps the call', () => {
    const w = new MediaWatch(10_000, 0);
    expect(w.update(10, true, 0)).toBe(false);
    expect(w.update(11, true, 9000)).toBe(false);
    expect(w.update(11, true, 18_000)).toBe(false);
    expect(w.update(11, true, 19_000)).toBe(true);
  });
});
