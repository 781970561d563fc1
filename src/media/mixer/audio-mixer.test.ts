import { createAudioCodec } from '../codecs/codec';
import { goertzelPower, sineTone } from '../codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE, type AudioCodec, type AudioCodecName } from '../codecs/types';
import { AudioMixer, type AudioMixerOptions } from './audio-mixer';

interface Talker {
  encoder: AudioCodec | undefined;
  freq: number;
  amp: number;
  seq: number;
  received: Buffer[];
  codec: AudioCodecName;
}

/** Drives a mixer like the RTP glue would: one encoded 20 ms packet per participant per tick. */
class Harness {
  readonly parts = new Map<string, Talker>();
  readonly created: AudioCodec[] = [];
  readonly mixer: AudioMixer;
  private sample = 0;

  constructor(options: AudioMixerOptions = {}, factory?: (name: AudioCodecName) => AudioCodec) {
    const make = factory ?? ((name: AudioCodecName) => createAudioCodec(name));
    this.mixer = new AudioMixer({
      ...options,
      codecFactory: (name) => {
        const c = make(name);
        this.created.push(c);
        return c;
      },
    });
  }

  add(id: string, freq: number, amp: number, codec: AudioCodecName = 'PCMU', listens = true): void {
    const t: Talker = { encoder: undefined, freq, amp, seq: 1000, received: [], codec };
    this.parts.set(id, t);
    this.mixer.addParticipant(id, {
      recvCodec: codec,
      sendCodec: codec,
      send: listens ? (payload) => t.received.push(payload) : undefined,
    });
  }

  run(ticks: number, encode: (name: AudioCodecName) => AudioCodec = createAudioCodec): void {
    for (let i = 0; i < ticks; i++) {
      for (const [id, t] of this.parts) {
        if (t.amp === 0) continue;
        t.encoder ??= encode(t.codec);
        const pcm = sineTone(t.freq, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, t.amp, this.sample);
        this.mixer.pushRtp(id, t.seq++ & 0xffff, t.encoder.encode(pcm));
      }
      this.sample += MIX_FRAME_SAMPLES;
      this.mixer.tick();
    }
  }

  /** What a listener heard, decoded at 16 kHz, skipping the first `skip` frames (prefill). */
  heard(id: string, skip = 10, decode: (name: AudioCodecName) => AudioCodec = createAudioCodec): Int16Array {
    const t = this.parts.get(id);
    if (!t) throw new Error(id);
    const dec = decode(t.codec);
    const out = new Int16Array(t.received.length * MIX_FRAME_SAMPLES * 2);
    let n = 0;
    for (const p of t.received) n += dec.decode(p, out, n);
    return out.subarray(skip * MIX_FRAME_SAMPLES, n);
  }
}

const power = (s: Int16Array, f: number): number => goertzelPower(s, MIX_SAMPLE_RATE, f);

/** Raw 16-bit PCM "codec" so tests can read the mix sample-exact. */
function pcmCodec(name: AudioCodecName): AudioCodec & { encodes: number } {
  return {
    name,
    clockRate: 16000,
    rtpSamplesPer20ms: 320,
    encodes: 0,
    get encodeCount() {
      return this.encodes;
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
      this.encodes++;
      const b = Buffer.alloc(pcm.length * 2);
      pcm.forEach((v, i) => b.writeInt16LE(v, i * 2));
      return b;
    },
    close: () => undefined,
  };
}

describe('AudioMixer', () => {
  test.each<AudioCodecName>(['PCMU', 'PCMA', 'opus', 'G722'])(
    'N-1 (%s): each of 3 tone talkers hears the other two and not itself',
    (codec) => {
      const h = new Harness();
      const tones: Record<string, number> = { a: 440, b: 700, c: 1000 };
      for (const [id, f] of Object.entries(tones)) h.add(id, f, 6000, codec);
      h.run(40);
      for (const [id, own] of Object.entries(tones)) {
        const s = h.heard(id);
        const others = Object.values(tones).filter((f) => f !== own);
        for (const f of others) expect(power(s, f) / power(s, own)).toBeGreaterThan(100);
      }
    },
  );

  test('mixed codecs: a G722 room system hears PCMU and Opus talkers; they hear its wideband tone', () => {
    const h = new Harness();
    h.add('room', 440, 6000, 'G722');
    h.add('phone', 1000, 6000, 'PCMU');
    h.add('browser', 6000, 6000, 'opus');
    h.run(40);
    const room = h.heard('room');
    expect(power(room, 1000) / power(room, 440)).toBeGreaterThan(100);
    // 6 kHz survives Opus -> 16 kHz mix -> G.722 (upper band): the point of a wideband codec
    expect(power(room, 6000) / power(room, 440)).toBeGreaterThan(100);
    for (const id of ['phone', 'browser']) {
      const s = h.heard(id);
      expect({ id, ok: power(s, 440) > 1e5 }).toEqual({ id, ok: true });
    }
    const browser = h.heard('browser');
    expect(power(browser, 440) / power(browser, 6000)).toBeGreaterThan(100);
  });

  test('5 participants, maxTalkers 3: the two quieter ones share one mix Buffer of the 3 loudest', () => {
    const h = new Harness({ maxTalkers: 3 });
    h.add('a', 440, 8000);
    h.add('b', 700, 7000);
    h.add('c', 1000, 6000);
    h.add('d', 1300, 800);
    h.add('e', 1700, 700);
    h.run(40);
    expect(h.mixer.currentTalkers().sort()).toEqual(['a', 'b', 'c']);
    const d = h.parts.get('d')?.received ?? [];
    const e = h.parts.get('e')?.received ?? [];
    expect(d.length).toBe(40);
    expect(d.slice(10).every((p, i) => p === e[i + 10])).toBe(true);
    const s = h.heard('d');
    for (const f of [440, 700, 1000]) expect(power(s, f) / power(s, 1300)).toBeGreaterThan(100);
    expect(power(s, 440) / power(s, 1700)).toBeGreaterThan(100);
  });

  test('one shared encoder per send codec for non-talkers; talkers use their own (encode counts)', () => {
    const h = new Harness({ maxTalkers: 2 }, pcmCodec);
    h.add('a', 440, 8000);
    h.add('b', 700, 8000);
    h.add('l1', 0, 0, 'PCMU');
    h.add('l2', 0, 0, 'PCMU');
    h.add('l3', 0, 0, 'PCMA');
    h.add('l4', 0, 0, 'opus');
    h.add('l5', 0, 0, 'opus');
    h.add('l6', 0, 0, 'G722');
    h.add('l7', 0, 0, 'G722');
    const ticks = 30;
    h.run(ticks, pcmCodec);
    const st = h.mixer.stats();
    // The shared mix: PCMU is shared by a, b (before they talk) and l1, l2; one encode per tick.
    expect(st.sharedEncodes).toEqual({ PCMU: ticks, PCMA: ticks, opus: ticks, G722: ticks });
    // a and b talk from tick 2 (after the 40 ms prefill): one own encode each per tick.
    expect(st.talkerEncodes).toBe(2 * (ticks - 1));
    for (const id of h.parts.keys()) expect(h.parts.get(id)?.received.length).toBe(ticks);
  });

  test('clipping protection: two full-scale tones never wrap around', () => {
    const h = new Harness({}, pcmCodec);
    h.add('a', 440, 32000);
    h.add('b', 700, 32000);
    h.add('l', 0, 0);
    h.run(50, pcmCodec);
    const heard = h.heard('l', 2, pcmCodec);
    const a = sineTone(440, MIX_SAMPLE_RATE, heard.length + 2 * MIX_FRAME_SAMPLES, 32000);
    const b = sineTone(700, MIX_SAMPLE_RATE, heard.length + 2 * MIX_FRAME_SAMPLES, 32000);
    expect(heard.length).toBeGreaterThan(10 * MIX_FRAME_SAMPLES);
    const lag = MIX_FRAME_SAMPLES; // two frames skipped, one frame of prefill
    let signFlips = 0;
    for (let k = 0; k < heard.length; k++) {
      const truth = (a[k + lag] ?? 0) + (b[k + lag] ?? 0);
      const got = heard[k] ?? 0;
      if (Math.abs(truth) > 2000 && Math.sign(truth) !== Math.sign(got)) signFlips++;
    }
    expect(signFlips).toBe(0);
    expect(power(heard, 440)).toBeGreaterThan(power(heard, 1000) * 100);
    expect(power(heard, 700)).toBeGreaterThan(power(heard, 1000) * 100);
  });

  test('normal speech levels pass bit-exact (no limiter gain, no pumping)', () => {
    const h = new Harness({}, pcmCodec);
    h.add('a', 440, 5000);
    h.add('b', 700, 5000);
    h.add('l', 0, 0);
    h.run(20, pcmCodec);
    const heard = h.heard('l', 2, pcmCodec);
    const total = heard.length + 4 * MIX_FRAME_SAMPLES;
    const a = sineTone(440, MIX_SAMPLE_RATE, total, 5000);
    const b = sineTone(700, MIX_SAMPLE_RATE, total, 5000);
    expect(heard.length).toBeGreaterThan(10 * MIX_FRAME_SAMPLES);
    const lag = MIX_FRAME_SAMPLES; // two frames skipped, one frame of prefill
    let mismatches = 0;
    for (let k = 0; k < heard.length; k++) if (heard[k] !== (a[k + lag] ?? 0) + (b[k + lag] ?? 0)) mismatches++;
    expect(mismatches).toBe(0);
  });

  test('continuous output: everyone silent still gets a silence payload every tick', () => {
    const h = new Harness();
    h.add('a', 0, 0, 'PCMU');
    h.add('b', 0, 0, 'PCMA');
    h.add('c', 0, 0, 'opus');
    h.run(25);
    expect(h.parts.get('a')?.received.length).toBe(25);
    expect(h.parts.get('a')?.received.every((p) => p.length === 160 && p.every((x) => x === 0xff))).toBe(true);
    expect(h.parts.get('b')?.received.every((p) => p.length === 160 && p.every((x) => x === 0xd5))).toBe(true);
    expect(h.parts.get('c')?.received.length).toBe(25);
    expect(h.mixer.currentTalkers()).toEqual([]);
  });

  test('background noise below the VAD threshold never takes a talker slot', () => {
    const h = new Harness();
    h.add('hum', 100, 100); // about -53 dBov
    h.add('l', 0, 0);
    h.run(30);
    expect(h.mixer.currentTalkers()).toEqual([]);
    expect(h.mixer.participantStats('hum')?.framesMixed).toBe(0);
  });

  test('a muted participant is not heard; an unmuted one is', () => {
    const h = new Harness();
    h.add('a', 440, 8000);
    h.add('l', 0, 0);
    h.mixer.setMuted('a', true);
    h.run(20);
    expect(power(h.heard('l'), 440)).toBeLessThan(1);
    h.mixer.setMuted('a', false);
    h.run(20);
    expect(power(h.heard('l', 25), 440)).toBeGreaterThan(1e5);
  });

  test('a contribute-only participant (no sink) is heard by others and costs no encoder', () => {
    const h = new Harness({}, pcmCodec);
    h.add('browser', 700, 6000, 'opus', false);
    h.add('phone', 0, 0, 'PCMU');
    h.run(20, pcmCodec);
    expect(power(h.heard('phone', 2, pcmCodec), 700)).toBeGreaterThan(1e5);
    expect(h.mixer.stats().talkerEncodes).toBe(0);
    expect(h.mixer.stats().sharedEncodes.opus).toBe(0);
  });

  test('emits activeSpeaker once when one participant starts talking, and undefined when it leaves', () => {
    const h = new Harness();
    const seen: (string | undefined)[] = [];
    h.mixer.on('activeSpeaker', (id) => seen.push(id));
    h.add('a', 440, 8000);
    h.add('b', 0, 0);
    h.run(50);
    expect(seen).toEqual(['a']);
    h.mixer.removeParticipant('a');
    expect(seen).toEqual(['a', undefined]);
    expect(h.mixer.size).toBe(1);
  });

  test('a throwing sink does not stop the others; stats count it', () => {
    const mixer = new AudioMixer();
    let got = 0;
    mixer.addParticipant('bad', { recvCodec: 'PCMU', sendCodec: 'PCMU', send: () => { throw new Error('socket'); } });
    mixer.addParticipant('good', { recvCodec: 'PCMU', sendCodec: 'PCMU', send: () => void got++ });
    for (let i = 0; i < 5; i++) mixer.tick();
    expect(got).toBe(5);
    expect(mixer.participantStats('bad')?.sendErrors).toBe(5);
  });

  test('duplicate ids and sinks without codec are refused; close is idempotent', () => {
    const mixer = new AudioMixer();
    mixer.addParticipant('a', { recvCodec: 'PCMU' });
    expect(() => mixer.addParticipant('a', { recvCodec: 'PCMU' })).toThrow(/already/);
    expect(() => mixer.addParticipant('b', { recvCodec: 'PCMU', send: () => undefined })).toThrow(/send codec/);
    mixer.close();
    mixer.close();
    expect(mixer.size).toBe(0);
    expect(() => mixer.addParticipant('c', { recvCodec: 'PCMU' })).toThrow(/closed/);
  });
});
