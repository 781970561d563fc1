import { asParticipantId } from '../common';
import { emptyRtpView, type RemoteSourceHandle } from './deps';
import { InStream, MAX_NACK_TRIES } from './link-streams';

function stream(): { s: InStream; pushed: number[] } {
  const pushed: number[] = [];
  const handle = { push: (p: { sequence: number }) => pushed.push(p.sequence), setCodec: () => undefined, close: () => undefined } as unknown as RemoteSourceHandle;
  const s = new InStream({ ssrc: 1, owner: asParticipantId('ann'), kind: 'video', mime: 'video/h264', clockRate: 90000 }, handle);
  return { s, pushed };
}

function arrive(s: InStream, seq: number, nowMs: number): number {
  const v = emptyRtpView();
  v.sequence = seq;
  v.timestamp = seq * 3000;
  return s.receive(v, false, nowMs);
}

describe('InStream NACK retries (geo links over a lossy WAN)', () => {
  it('asks for a gap once at once, again after the retry interval while it is missing, and gives up after MAX_NACK_TRIES', () => {
    const { s } = stream();
    arrive(s, 10, 0);
    expect(arrive(s, 12, 10)).toBe(1);
    expect(s.missing).toEqual([11]);
    expect(s.due(50, 100)).toBe(0);
    expect(s.again).toEqual([]);
    expect(s.due(110, 100)).toBe(0);
    expect(s.again).toEqual([11]);
    let t = 110;
    for (let i = 2; i < MAX_NACK_TRIES; i++) {
      t += 100;
      expect(s.due(t, 100)).toBe(0);
      expect(s.again).toEqual([11]);
    }
    expect(s.due(t + 100, 100)).toBe(1);
    expect(s.again).toEqual([]);
    expect(s.gaveUp).toBe(1);
    expect(s.due(t + 1000, 100)).toBe(0);
  });

  it('a packet that comes late (resent) is not asked for again and counts as recovered', () => {
    const { s, pushed } = stream();
    arrive(s, 1, 0);
    arrive(s, 4, 5);
    expect(s.missing).toEqual([2, 3]);
    arrive(s, 2, 40);
    expect(s.due(200, 100)).toBe(0);
    expect(s.again).toEqual([3]);
    arrive(s, 3, 210);
    expect(s.due(1000, 100)).toBe(0);
    expect(s.again).toEqual([]);
    expect(s.recovered).toBe(2);
    expect(pushed).toEqual([1, 4, 2, 3]);
  });
});
