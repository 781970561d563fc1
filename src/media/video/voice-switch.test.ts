import { FakeClock, asParticipantId } from '../../common';
import { VoiceSwitchedVideo } from './voice-switch';

const KEY = Buffer.from([0x65, 0x88]);
const DELTA = Buffer.from([0x41, 0x9a]);
const [A, B, V] = ['alice', 'bob', 'viewer'].map(asParticipantId) as [ReturnType<typeof asParticipantId>, ReturnType<typeof asParticipantId>, ReturnType<typeof asParticipantId>];

function setup() {
  const clock = new FakeClock();
  const vs = new VoiceSwitchedVideo({ codec: 'H264', clock, random: () => 0.5 });
  const plis: string[] = [];
  const got: Array<{ ts: number; payload: Buffer }> = [];
  vs.addSource(A, () => plis.push('A'));
  vs.addSource(B, () => plis.push('B'));
  vs.addViewer(V, (payload, ts) => got.push({ ts, payload }));
  return { clock, vs, plis, got };
}

describe('VoiceSwitchedVideo', () => {
  it('before anyone speaks a viewer is shown the first source, from its keyframe (asked with a PLI)', () => {
    const { vs, plis, got } = setup();
    expect(plis).toEqual(['A']);
    vs.push(A, 1, 0, false, DELTA);
    expect(got).toHaveLength(0);
    vs.push(A, 2, 3000, false, KEY);
    expect(got).toHaveLength(1);
    expect(vs.showing(V)).toBe(A);
  });

  it('the active speaker is shown; the switch asks the new speaker for a keyframe and happens on it', () => {
    const { clock, vs, plis, got } = setup();
    vs.push(A, 1, 0, false, KEY);
    clock.advance(1000);
    vs.setSpeaker(B);
    expect(plis).toEqual(['A', 'B']);
    vs.push(B, 50, 0, false, DELTA);
    vs.push(A, 2, 3000, false, DELTA);
    expect(vs.showing(V)).toBe(A); // A still flows until B's keyframe
    vs.push(B, 51, 3000, false, KEY);
    expect(vs.showing(V)).toBe(B);
    expect(got.map((g) => g.payload)).toEqual([KEY, DELTA, KEY]);
  });

  it('keeps asking (throttled) while the wanted source sends no keyframe', () => {
    const { clock, vs, plis } = setup();
    vs.setSpeaker(B);
    const before = plis.filter((p) => p === 'B').length;
    for (let i = 0; i < 10; i++) {
      clock.advance(100);
      vs.push(B, i, i * 9000, false, DELTA);
    }
    const after = plis.filter((p) => p === 'B').length;
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(3); // 1 s at one per 500 ms
  });

  it('a viewer never sees itself: when it speaks, it keeps seeing the previous one', () => {
    const { vs } = setup();
    vs.addSource(V, () => undefined);
    vs.setSpeaker(A);
    vs.push(A, 1, 0, false, KEY);
    vs.setSpeaker(V);
    expect(vs.showing(V)).toBe(A);
  });

  it('when the shown source leaves, another one takes over on its keyframe', () => {
    const { vs, got } = setup();
    vs.push(A, 1, 0, false, KEY);
    vs.removeSource(A);
    vs.push(B, 7, 0, false, KEY);
    expect(vs.showing(V)).toBe(B);
    expect(got).toHaveLength(2);
  });

  it("a viewer's PLI goes to the source it is shown", () => {
    const { clock, vs, plis } = setup();
    vs.push(A, 1, 0, false, KEY);
    clock.advance(600);
    vs.viewerKeyframeRequest(V);
    expect(plis.filter((p) => p === 'A')).toHaveLength(2);
  });

  it('keyframeIntervalMs 0: every request goes to the source at once (the SFU throttles per source instead)', () => {
    const clock = new FakeClock();
    const vs = new VoiceSwitchedVideo({ codec: 'H264', clock, random: () => 0.5, keyframeIntervalMs: 0 });
    let plis = 0;
    vs.addSource(A, () => plis++);
    vs.addViewer(V, () => undefined);
    vs.viewerKeyframeRequest(V);
    vs.viewerKeyframeRequest(V);
    expect(plis).toBe(3);
    expect(clock.pending()).toBe(0);
  });
});
