import { fits, participantCost } from './capacity';

const COSTS = { video: 1, audio: 0.25, backplane: 1 };

describe('capacity', () => {
  it('an audio-only participant costs 0.25 and a video one 1 (DESIGN.md section 1)', () => {
    expect(participantCost('audio', COSTS)).toBe(0.25);
    expect(participantCost('video', COSTS)).toBe(1);
  });
  it('four audio participants fill one unit exactly; the fifth does not fit', () => {
    let load = 0;
    for (let i = 0; i < 4; i++) {
      expect(fits(load, 0.25, 1)).toBe(true);
      load += 0.25;
    }
    expect(fits(load, 0.25, 1)).toBe(false);
  });
  it('0.1 increments do not fail on float rounding', () => {
    let load = 0;
    for (let i = 0; i < 10; i++) load += 0.1;
    expect(fits(load - 0.1, 0.1, 1)).toBe(true);
  });
});
