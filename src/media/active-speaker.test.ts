import { ActiveSpeakerDetector, type ActiveSpeakerOptions } from './active-speaker';

type Levels = Record<string, number>;
/** A scenario step: hold these levels for `ms` (20 ms ticks); participants not listed are silent. */
type Step = [ms: number, levels: Levels];

/** Runs a scenario; returns the speaker changes as "time:id". */
function run(steps: Step[], options: ActiveSpeakerOptions = {}): string[] {
  const d = new ActiveSpeakerDetector<string>(options);
  const changes: string[] = [];
  let t = 0;
  for (const [ms, levels] of steps) {
    for (let end = t + ms; t < end; t += 20) {
      for (const [id, db] of Object.entries(levels)) d.observe(id, db);
      if (d.decide(t)) changes.push(`${t}:${d.dominant ?? 'none'}`);
    }
  }
  return changes;
}

describe('ActiveSpeakerDetector', () => {
  test.each<[string, Step[], string[]]>([
    ['nobody speaks: no speaker', [[2000, { a: -80, b: -127 }]], []],
    ['a single talker is acquired once its smoothed level passes -45 dBov (~100 ms) plus 200 ms', [[1000, { a: -20 }]], ['260:a']],
    [
      'a louder challenger takes over only after a sustained 400 ms window',
      [
        [1500, { a: -25, b: -60 }],
        [1000, { a: -25, b: -15 }],
      ],
      ['260:a', '1980:b'],
    ],
    [
      'a short burst (200 ms) from another participant does not switch',
      [
        [1500, { a: -25 }],
        [200, { a: -25, b: -10 }],
        [1500, { a: -25 }],
      ],
      ['260:a'],
    ],
    [
      'the speaker keeps the role through silence until someone else speaks',
      [
        [1000, { a: -20 }],
        [2000, {}],
        [1000, { b: -20 }],
      ],
      ['260:a', '3460:b'],
    ],
    [
      'minimum hold: a new speaker keeps the role 1 s even against a louder challenger',
      [
        [300, { a: -20 }],
        [1500, { a: -20, b: -5 }],
      ],
      ['260:a', '1260:b'],
    ],
    [
      'two equal talkers do not flap (the margin is never met)',
      [[5000, { a: -20, b: -20.5, c: -21 }]],
      ['260:a'],
    ],
  ])('%s', (_name, steps, expected) => {
    expect(run(steps)).toEqual(expected);
  });

  test('removing the dominant speaker reports it and clears the role', () => {
    const d = new ActiveSpeakerDetector<string>();
    for (let t = 0; t <= 400; t += 20) {
      d.observe('a', -20);
      d.decide(t);
    }
    expect(d.dominant).toBe('a');
    expect(d.remove('b')).toBe(false);
    expect(d.remove('a')).toBe(true);
    expect(d.dominant).toBeUndefined();
  });
});
