import { VideoSwitcher } from './switcher';

const KEY = Uint8Array.from([0x65, 0x88]); // H.264 IDR
const DELTA = Uint8Array.from([0x41, 0x9a]); // H.264 non-IDR slice

function make(): VideoSwitcher {
  return new VideoSwitcher({ ssrc: 0x1234, codec: 'H264', initialSequence: 100, initialTimestamp: 5000 });
}

describe('VideoSwitcher (voice-switched video for SIP endpoints)', () => {
  it('forwards the selected source from its first keyframe on, with our SSRC and continuous numbering', () => {
    const s = make();
    s.select('alice');
    expect(s.push('alice', 7000, 900000, false, DELTA, 0)).toBeNull(); // no keyframe yet
    expect(s.wantsKeyframe).toBe('alice');
    const first = s.push('alice', 7001, 903000, false, KEY, 33);
    expect(first).toEqual({ ssrc: 0x1234, sequence: 100, timestamp: 5000, marker: false });
    expect(s.push('alice', 7002, 906000, true, DELTA, 66)).toEqual({ ssrc: 0x1234, sequence: 101, timestamp: 8000, marker: true });
    expect(s.wantsKeyframe).toBeUndefined();
  });

  it('at a switch: one SSRC, no sequence gap, timestamps moving on by wall time, only from the new speaker keyframe', () => {
    const s = make();
    s.select('alice');
    s.push('alice', 10, 1000, false, KEY, 0);
    s.push('alice', 11, 4000, true, DELTA, 33);
    s.select('bob');
    // Alice keeps flowing until Bob's keyframe arrives; Bob's delta frames are dropped.
    expect(s.push('bob', 500, 77000, false, DELTA, 40)).toBeNull();
    expect(s.push('alice', 12, 7000, false, DELTA, 66)?.sequence).toBe(102);
    expect(s.wantsKeyframe).toBe('bob');
    const sw = s.push('bob', 501, 80000, false, KEY, 100);
    expect(sw?.ssrc).toBe(0x1234);
    expect(sw?.sequence).toBe(103); // no gap
    expect(sw?.timestamp).toBe(5000 + 6000 + 34 * 90); // last out ts + 34 ms of 90 kHz
    expect(s.push('alice', 13, 10000, false, KEY, 101)).toBeNull(); // the old speaker is cut
    expect(s.push('bob', 502, 83000, true, DELTA, 133)?.timestamp).toBe((sw?.timestamp ?? 0) + 3000);
    expect(s.stats.switches).toBe(2);
  });

  it('wraps sequence numbers and timestamps', () => {
    const s = new VideoSwitcher({ ssrc: 1, codec: 'H264', initialSequence: 65535, initialTimestamp: 0xffffff00 });
    s.select('a');
    expect(s.push('a', 3, 10, false, KEY, 0)).toMatchObject({ sequence: 65535, timestamp: 0xffffff00 });
    expect(s.push('a', 4, 3010, false, DELTA, 33)).toMatchObject({ sequence: 0, timestamp: (0xffffff00 + 3000) >>> 0 });
  });

  it('drops packets older than what was sent (no reordering in the output)', () => {
    const s = make();
    s.select('a');
    s.push('a', 10, 0, false, KEY, 0);
    s.push('a', 12, 0, false, DELTA, 1);
    expect(s.push('a', 11, 0, false, DELTA, 2)).toBeNull();
  });

  it('a removed source stops at once; the next selection resumes on its keyframe', () => {
    const s = make();
    s.select('a');
    s.push('a', 1, 0, false, KEY, 0);
    s.remove('a');
    expect(s.push('a', 2, 3000, false, DELTA, 33)).toBeNull();
    s.select('b');
    expect(s.push('b', 9, 0, false, KEY, 50)?.sequence).toBe(101);
  });
});
