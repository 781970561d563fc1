/**
 * End to end through the real mixer: what a wideband talker's 4-8 kHz energy does to a PCMU
 * listener's 8 kHz mix (the 16 -> 8 kHz resampler in front of G.711), and the reverse path.
 */
import { createAudioCodec } from '../codecs/codec';
import { ULAW_DECODE, encodeUlaw } from '../codecs/g711';
import { goertzelPower, sineTone } from '../codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE, type AudioCodec, type AudioCodecName } from '../codecs/types';
import { AudioMixer } from './audio-mixer';

const TICKS = 60;
const SKIP = 15; // jitter-buffer prefill and filter settling
const AMP = 10000; // about -10 dBov: a loud talker

/** 16-bit PCM at 16 kHz (L16) under the name 'opus', so a talker reaches the mix untouched. */
function l16Codec(): AudioCodec {
  let encodes = 0;
  return {
    name: 'opus',
    clockRate: 16000,
    rtpSamplesPer20ms: 320,
    get encodeCount() {
      return encodes;
    },
    samplesIn: (p) => p.length >> 1,
    decode(p, out, offset) {
      const n = Math.min(p.length >> 1, out.length - offset);
      for (let i = 0; i < n; i++) out[offset + i] = p.readInt16LE(i * 2);
      return n;
    },
    conceal(out, offset, samples) {
      out.fill(0, offset, offset + samples);
      return samples;
    },
    encode(pcm) {
      encodes++;
      const b = Buffer.alloc(pcm.length * 2);
      pcm.forEach((v, i) => b.writeInt16LE(v, i * 2));
      return b;
    },
    close: () => undefined,
  };
}

type Wideband = 'L16' | 'G722' | 'opus';
type Party = Wideband | 'PCMU';

/** Codec name the mixer sees for a party (L16 rides under the name 'opus'). */
const codecOf = (p: Party): AudioCodecName => (p === 'L16' ? 'opus' : p);

/**
 * `talker` sends a `freq` tone for TICKS x 20 ms; returns what a `listener` received, decoded
 * (PCMU at 8 kHz: the bytes a phone plays; L16 at 16 kHz), after SKIP frames.
 */
function listenerHears(talker: Party, listener: 'PCMU' | 'L16', freq: number): Int16Array {
  const l16 = talker === 'L16' || listener === 'L16';
  const make = (name: AudioCodecName): AudioCodec => (l16 && name === 'opus' ? l16Codec() : createAudioCodec(name));
  const mixer = new AudioMixer({ codecFactory: make });
  const received: Buffer[] = [];
  mixer.addParticipant('talker', { recvCodec: codecOf(talker) });
  mixer.addParticipant('listener', { recvCodec: codecOf(listener), sendCodec: codecOf(listener), send: (p) => void received.push(p) });
  const encoder = make(codecOf(talker));
  const rate = talker === 'PCMU' ? 8000 : MIX_SAMPLE_RATE;
  const frame = (rate / 1000) * 20;
  for (let t = 0; t < TICKS; t++) {
    // a PCMU talker's tone is made at 8 kHz, as a phone would; G711Codec.encode takes 16 kHz,
    // so hand it the 8 kHz samples' u-law bytes directly
    const pcm = sineTone(freq, rate, frame, AMP, t * frame);
    const payload = talker === 'PCMU' ? Buffer.from(Array.from(pcm, encodeUlaw)) : encoder.encode(pcm);
    mixer.pushRtp('talker', (1000 + t) & 0xffff, payload);
    mixer.tick();
  }
  mixer.close();
  const heard = received.slice(SKIP);
  if (listener === 'L16') {
    const dec = l16Codec();
    const out = new Int16Array(heard.length * MIX_FRAME_SAMPLES);
    let n = 0;
    for (const p of heard) n += dec.decode(p, out, n);
    return out.subarray(0, n);
  }
  const out = new Int16Array(heard.reduce((n, p) => n + p.length, 0));
  let n = 0;
  for (const p of heard) for (const byte of p) out[n++] = ULAW_DECODE[byte] ?? 0;
  return out;
}

const pcmuListenerHears = (talker: Wideband, freq: number): Int16Array => listenerHears(talker, 'PCMU', freq);

const dB = (p: number, ref: number): number => 10 * Math.log10(Math.max(p, 1e-30) / ref);

describe('wideband talker -> PCMU listener: no aliasing into the speech band', () => {
  test.each<Wideband>(['L16', 'G722', 'opus'])(
    "a 6.5 kHz tone from a wideband (%s) talker leaves no alias at 1.5 kHz in a PCMU listener's mix (>= 60 dB down)",
    (talker) => {
      const reference = goertzelPower(pcmuListenerHears(talker, 1000), 8000, 1000);
      // the 1 kHz reference really arrived (about AMP^2 / 16)
      expect(dB(reference, (AMP * AMP) / 16)).toBeGreaterThan(-1);
      const alias = goertzelPower(pcmuListenerHears(talker, 6500), 8000, 1500);
      expect(dB(alias, reference)).toBeLessThan(-60);
    },
  );

  test("every tone from 4.6 to 7.8 kHz from an L16 talker folds back at least 60 dB down in a PCMU listener's mix", () => {
    const reference = goertzelPower(pcmuListenerHears('L16', 1000), 8000, 1000);
    const loud: { f: number; db: number }[] = [];
    for (let f = 4600; f <= 7800; f += 400) {
      const db = dB(goertzelPower(pcmuListenerHears('L16', f), 8000, 8000 - f), reference);
      if (db > -60) loud.push({ f, db });
    }
    expect(loud).toEqual([]);
  });

  test("a 3.4 kHz tone from a wideband talker reaches a PCMU listener's mix within 0.5 dB of a 1 kHz one", () => {
    const reference = goertzelPower(pcmuListenerHears('L16', 1000), 8000, 1000);
    const edge = goertzelPower(pcmuListenerHears('L16', 3400), 8000, 3400);
    expect(Math.abs(dB(edge, reference))).toBeLessThan(0.5);
  });
});

describe('PCMU talker -> wideband listener: no images above 4 kHz', () => {
  test("a 1.5 kHz tone from a PCMU talker leaves no image at 6.5 kHz in a wideband (L16) listener's mix (>= 60 dB down)", () => {
    const reference = goertzelPower(listenerHears('PCMU', 'L16', 1000), MIX_SAMPLE_RATE, 1000);
    expect(dB(reference, (AMP * AMP) / 16)).toBeGreaterThan(-1);
    const image = goertzelPower(listenerHears('PCMU', 'L16', 1500), MIX_SAMPLE_RATE, 6500);
    expect(dB(image, reference)).toBeLessThan(-60);
  });

  test("every tone from 0.2 to 3.4 kHz from a PCMU talker leaves its image at least 60 dB down in a wideband listener's mix", () => {
    const reference = goertzelPower(listenerHears('PCMU', 'L16', 1000), MIX_SAMPLE_RATE, 1000);
    const loud: { f: number; db: number }[] = [];
    for (let f = 200; f <= 3400; f += 400) {
      const db = dB(goertzelPower(listenerHears('PCMU', 'L16', f), MIX_SAMPLE_RATE, 8000 - f), reference);
      if (db > -60) loud.push({ f, db });
    }
    expect(loud).toEqual([]);
  });
});
