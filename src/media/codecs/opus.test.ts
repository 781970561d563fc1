import { OpusCodec, opusPacketSamples } from './opus';
import { dominantFrequency, rms, sineTone } from './tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from './types';

describe('opusPacketSamples (RFC 6716 section 3.1 TOC byte)', () => {
  test.each([
    ['SILK WB 20 ms, one frame', [(9 << 3) | 0], 320],
    ['SILK NB 60 ms, one frame', [(3 << 3) | 0], 960],
    ['CELT FB 20 ms, two frames (code 1)', [(31 << 3) | 1], 640],
    ['CELT 10 ms, code 2', [(30 << 3) | 2, 5], 320],
    ['CELT 2.5 ms x 3 frames (code 3)', [(16 << 3) | 3, 3], 120],
    ['Hybrid 10 ms', [(12 << 3) | 0], 160],
    ['code 3 with 0 frames is malformed', [(31 << 3) | 3, 0], 0],
    ['code 3 without its count byte is malformed', [(31 << 3) | 3], 0],
    ['more than 120 ms is malformed', [(3 << 3) | 3, 3], 0],
    ['empty packet', [], 0],
  ])('%s', (_name, bytes, samples) => {
    expect(opusPacketSamples(Buffer.from(bytes))).toBe(samples);
  });

  test('48 kHz counts scale with the rate', () => {
    expect(opusPacketSamples(Buffer.from([(9 << 3) | 0]), 48000)).toBe(960);
  });
});

describe('OpusCodec at 16 kHz mono', () => {
  test('a 440 Hz tone keeps 440 Hz through encode/decode', () => {
    const tx = new OpusCodec();
    const rx = new OpusCodec();
    const frames = 30;
    const out = new Int16Array(frames * MIX_FRAME_SAMPLES);
    let o = 0;
    for (let f = 0; f < frames; f++) {
      const payload = tx.encode(sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000, f * MIX_FRAME_SAMPLES));
      expect(rx.samplesIn(payload)).toBe(MIX_FRAME_SAMPLES);
      o += rx.decode(payload, out, o);
    }
    expect(o).toBe(out.length);
    const steady = out.subarray(5 * MIX_FRAME_SAMPLES);
    const f = dominantFrequency(steady, MIX_SAMPLE_RATE);
    expect(Math.abs(f - 440)).toBeLessThanOrEqual(3);
    expect(rms(steady)).toBeGreaterThan(8000 / Math.SQRT2 / 2);
    expect(tx.encodeCount).toBe(frames);
    expect(tx.rtpSamplesPer20ms).toBe(960);
  });

  test('corrupt payloads decode to 0 samples instead of throwing', () => {
    const rx = new OpusCodec();
    const out = new Int16Array(2000);
    expect(rx.decode(Buffer.from([0xff, 0xff, 0xff]), out, 0)).toBe(0);
    expect(rx.decode(Buffer.alloc(0), out, 0)).toBe(0);
  });

  test('conceal (PLC) continues a tone after a decoded packet, and is silence before any', () => {
    const tx = new OpusCodec();
    const rx = new OpusCodec();
    const out = new Int16Array(MIX_FRAME_SAMPLES).fill(1);
    expect(rx.conceal(out, 0, MIX_FRAME_SAMPLES)).toBe(MIX_FRAME_SAMPLES);
    expect(rms(out)).toBe(0);
    const scratch = new Int16Array(MIX_FRAME_SAMPLES);
    for (let f = 0; f < 10; f++) {
      rx.decode(tx.encode(sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000, f * MIX_FRAME_SAMPLES)), scratch, 0);
    }
    expect(rx.conceal(out, 0, MIX_FRAME_SAMPLES)).toBe(MIX_FRAME_SAMPLES);
    expect(rms(out)).toBeGreaterThan(500);
  });

  test('PLC conceals frame by frame: libopus returns one 20 ms frame per lost frame, never its 360 ms maximum', () => {
    const tx = new OpusCodec();
    const rx = new OpusCodec();
    const scratch = new Int16Array(MIX_FRAME_SAMPLES);
    for (let f = 0; f < 10; f++) {
      rx.decode(tx.encode(sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000, f * MIX_FRAME_SAMPLES)), scratch, 0);
    }
    // The binding object, reached by shape and wrapped to watch what libopus is asked and answers.
    const holder = rx as unknown as { native: object };
    const native = holder.native as { decode(b: Buffer): Buffer };
    const answers: Array<{ inBytes: number; outSamples: number }> = [];
    holder.native = new Proxy(native, {
      get: (target, key) => {
        if (key !== 'decode') return Reflect.get(target, key) as unknown;
        return (b: Buffer): Buffer => {
          const pcm = target.decode(b);
          answers.push({ inBytes: b.length, outSamples: pcm.length / 2 });
          return pcm;
        };
      },
    });
    const gap = new Int16Array(3 * MIX_FRAME_SAMPLES);
    expect(rx.conceal(gap, 0, gap.length)).toBe(gap.length);
    expect(answers).toEqual([1, 2, 3].map(() => ({ inBytes: 1, outSamples: MIX_FRAME_SAMPLES })));
    // The concealment carries on the tone's energy over the 60 ms (libopus fades it, slowly).
    expect(rms(gap.subarray(0, MIX_FRAME_SAMPLES))).toBeGreaterThan(500);
    expect(rms(gap.subarray(2 * MIX_FRAME_SAMPLES))).toBeGreaterThan(50);
  });

  test('a 48 kHz stereo Opus stream decodes into the 16 kHz mono mixer frame', () => {
    // TOC 0xFC: CELT fullband 20 ms, stereo, one frame, as a 48 kHz stereo browser sends it.
    const rx = new OpusCodec();
    const out = new Int16Array(MIX_FRAME_SAMPLES);
    expect(rx.samplesIn(Buffer.from([0xfc, 0xff, 0xfe]))).toBe(MIX_FRAME_SAMPLES);
    expect(rx.decode(Buffer.from([0xfc, 0xff, 0xfe]), out, 0)).toBe(MIX_FRAME_SAMPLES);
  });
});
