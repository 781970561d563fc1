import type { AudioCodec } from '../codecs/types';
import { JitterBuffer } from './jitter-buffer';

/** Payload [id, tenMsUnits]: decodes to `id` repeated; concealment writes -1. */
function fakeCodec(): AudioCodec & { concealed: number } {
  return {
    name: 'PCMU',
    clockRate: 8000,
    rtpSamplesPer20ms: 160,
    encodeCount: 0,
    concealed: 0,
    samplesIn: (p) => (p.length === 2 ? (p[1] ?? 0) * 160 : 0),
    decode(p, out, offset) {
      if (p[0] === 255) return 0; // undecodable
      const n = Math.min((p[1] ?? 0) * 160, out.length - offset);
      out.fill(p[0] ?? 0, offset, offset + n);
      return n;
    },
    conceal(out, offset, samples) {
      this.concealed++;
      out.fill(-1, offset, offset + samples);
      return samples;
    },
    encode: () => Buffer.alloc(0),
    close: () => undefined,
  };
}

const pkt = (id: number, tenMs = 2): Buffer => Buffer.from([id, tenMs]);

/** Pulls `ticks` frames; each frame reported as its first sample value, or null for no frame. */
function play(jb: JitterBuffer, ticks: number): (number | null)[] {
  const out = new Int16Array(320);
  const got: (number | null)[] = [];
  for (let i = 0; i < ticks; i++) got.push(jb.pull(out) ? (out[0] ?? 0) : null);
  return got;
}

describe('JitterBuffer', () => {
  test('prefills 40 ms (two 20 ms packets) before playing, then plays in order', () => {
    const jb = new JitterBuffer(fakeCodec());
    jb.push(100, pkt(1));
    expect(play(jb, 1)).toEqual([null]);
    jb.push(101, pkt(2));
    jb.push(102, pkt(3));
    expect(play(jb, 3)).toEqual([1, 2, 3]);
    expect(jb.stats.underruns).toBe(0);
  });

  test('reorders packets that arrive out of order within the buffer', () => {
    const jb = new JitterBuffer(fakeCodec());
    for (const s of [10, 12, 11, 14, 13]) jb.push(s, pkt(s));
    expect(play(jb, 5)).toEqual([10, 11, 12, 13, 14]);
  });

  test('drops duplicates and counts them', () => {
    const jb = new JitterBuffer(fakeCodec());
    expect(jb.push(5, pkt(5))).toBe(true);
    expect(jb.push(5, pkt(99))).toBe(false);
    jb.push(6, pkt(6));
    expect(play(jb, 2)).toEqual([5, 6]);
    expect(jb.stats.duplicates).toBe(1);
  });

  test('conceals a lost packet when later ones are waiting, and drops it if it arrives late', () => {
    const codec = fakeCodec();
    const jb = new JitterBuffer(codec);
    for (const s of [1, 2, 4, 5]) jb.push(s, pkt(s));
    expect(play(jb, 3)).toEqual([1, 2, -1]);
    expect(jb.push(3, pkt(3))).toBe(false);
    expect(play(jb, 2)).toEqual([4, 5]);
    expect(jb.stats.lost).toBe(1);
    expect(jb.stats.late).toBe(1);
    expect(codec.concealed).toBe(1);
  });

  test('sequence numbers wrap from 65535 to 0 without loss', () => {
    const jb = new JitterBuffer(fakeCodec());
    for (const s of [65534, 65535, 0, 1]) jb.push(s, pkt(s & 0x7f));
    expect(play(jb, 4)).toEqual([126, 127, 0, 1]);
    expect(jb.stats.lost + jb.stats.late + jb.stats.dropped).toBe(0);
  });

  test('underrun: no frame that tick, counted once, then prefills again for the next talkspurt', () => {
    const jb = new JitterBuffer(fakeCodec());
    jb.push(1, pkt(1));
    jb.push(2, pkt(2));
    expect(play(jb, 5)).toEqual([1, 2, null, null, null]);
    expect(jb.stats.underruns).toBe(1);
    // Silence suppression: the next talkspurt starts later with a sequence gap; no concealment.
    jb.push(9, pkt(9));
    expect(play(jb, 1)).toEqual([null]);
    jb.push(10, pkt(10));
    expect(play(jb, 2)).toEqual([9, 10]);
    expect(jb.stats.lost).toBe(0);
  });

  test('overflow beyond capacity drops the oldest packets, bounded', () => {
    const jb = new JitterBuffer(fakeCodec(), { capacity: 4, maxDelayMs: 1000 });
    for (let s = 0; s < 6; s++) jb.push(s, pkt(s));
    expect(jb.stats.dropped).toBe(2);
    expect(play(jb, 4)).toEqual([2, 3, 4, 5]);
  });

  test('a burst beyond the maximum delay is trimmed back to the prefill', () => {
    const jb = new JitterBuffer(fakeCodec(), { maxDelayMs: 100 });
    for (let s = 0; s < 10; s++) jb.push(s, pkt(s));
    expect(play(jb, 2)).toEqual([8, 9]);
    expect(jb.stats.dropped).toBe(8);
  });

  test('a far sequence jump (new stream) resyncs instead of concealing thousands of packets', () => {
    const codec = fakeCodec();
    const jb = new JitterBuffer(codec);
    jb.push(1, pkt(1));
    jb.push(2, pkt(2));
    expect(play(jb, 1)).toEqual([1]);
    jb.push(30000, pkt(3));
    jb.push(30001, pkt(4));
    expect(play(jb, 2)).toEqual([3, 4]);
    expect(jb.stats.resyncs).toBe(1);
    expect(codec.concealed).toBe(0);
  });

  test.each([
    [10, 1],
    [30, 3],
    [40, 4],
    [60, 6],
  ])('ptime %i ms arriving in real time is re-framed into continuous 20 ms mixer frames', (ptime, units) => {
    const jb = new JitterBuffer(fakeCodec());
    const out = new Int16Array(320);
    const frames: (number | null)[] = [];
    let seq = 0;
    for (let t = 0; t < 600; t += 10) {
      if (t % ptime === 0) jb.push(seq, pkt(++seq, units));
      if (t % 20 === 10) frames.push(jb.pull(out) ? (out[0] ?? 0) : null);
    }
    const firstPlayed = frames.findIndex((f) => f !== null);
    expect(firstPlayed).toBeGreaterThanOrEqual(0);
    expect(firstPlayed * 20).toBeLessThanOrEqual(ptime + 40);
    const played = frames.slice(firstPlayed);
    expect(played.every((f) => f !== null && f > 0)).toBe(true);
    const ids = played.map((f) => f ?? 0);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(jb.stats.underruns + jb.stats.lost + jb.stats.dropped).toBe(0);
  });

  test('malformed and undecodable payloads never produce garbage: dropped or concealed', () => {
    const jb = new JitterBuffer(fakeCodec());
    expect(jb.push(1, Buffer.from([1]))).toBe(false);
    jb.push(2, pkt(255));
    jb.push(3, pkt(3));
    expect(play(jb, 2)).toEqual([-1, 3]);
    expect(jb.stats.malformed).toBe(1);
    expect(jb.stats.decodeErrors).toBe(1);
  });

  test('rejects a capacity that is not a power of two', () => {
    expect(() => new JitterBuffer(fakeCodec(), { capacity: 10 })).toThrow(RangeError);
  });
});
