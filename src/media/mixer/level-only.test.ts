import { createAudioCodec } from '../codecs/codec';
import { sineTone } from '../codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE, type AudioCodec, type AudioCodecName } from '../codecs/types';
import { AudioMixer, type MixerInput } from './audio-mixer';

/** A codec that counts its decodes (the work level-only mode saves). */
function countingCodec(name: AudioCodecName, counts: { decodes: number }): AudioCodec {
  const real = createAudioCodec(name);
  return {
    name: real.name,
    clockRate: real.clockRate,
    rtpSamplesPer20ms: real.rtpSamplesPer20ms,
    get encodeCount() {
      return real.encodeCount;
    },
    samplesIn: (payload) => real.samplesIn(payload),
    encode: (pcm) => real.encode(pcm),
    decode: (payload, out, offset) => {
      counts.decodes++;
      return real.decode(payload, out, offset);
    },
    conceal: (out, offset, samples) => real.conceal(out, offset, samples),
    close: () => real.close(),
  };
}

describe('issue 13 item 4: a mix nobody listens to decodes nothing; RFC 6464 levels pick the speaker', () => {
  const counts = { decodes: 0 };
  let mixer: AudioMixer;
  const encoder = createAudioCodec('opus');
  let seq = 0;

  beforeEach(() => {
    counts.decodes = 0;
    mixer = new AudioMixer({ maxTalkers: 3, codecFactory: (n) => countingCodec(n, counts) });
  });
  afterEach(() => mixer.close());

  /** One tick: each browser's packet with its RFC 6464 level (-1: none), then the mix tick. */
  function tick(inputs: Array<[MixerInput, number]>, n = 1): void {
    for (let t = 0; t < n; t++) {
      const payload = encoder.encode(sineTone(440, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000, seq * MIX_FRAME_SAMPLES));
      for (const [input, level] of inputs) input.pushRtp(seq & 0xffff, payload, level);
      seq++;
      mixer.tick();
    }
  }

  it('three browsers (no sink): no decode, the loudest by its level becomes the active speaker and switches', () => {
    const ann = mixer.addParticipant('ann', { recvCodec: 'opus' });
    const bob = mixer.addParticipant('bob', { recvCodec: 'opus' });
    const cat = mixer.addParticipant('cat', { recvCodec: 'opus' });
    expect(mixer.levelOnly).toBe(true);
    tick([[ann, 20], [bob, 60], [cat, 127]], 100); // ann -20 dBov, bob -60, cat silent
    expect(mixer.activeSpeaker).toBe('ann');
    tick([[ann, 127], [bob, 15], [cat, 127]], 150);
    expect(mixer.activeSpeaker).toBe('bob');
    expect(counts.decodes).toBe(0);
    expect(mixer.stats()).toMatchObject({ levelOnlyTicks: 250, levelOnlyPackets: 750 });
    expect(mixer.participantLevel('bob')).toBeCloseTo(-15, 5);
  });

  it('a level heard stops counting 100 ms after the last packet (a browser that stopped sending goes quiet)', () => {
    const ann = mixer.addParticipant('ann', { recvCodec: 'opus' });
    tick([[ann, 10]], 5);
    expect(mixer.participantLevel('ann')).toBeCloseTo(-10, 5);
    for (let i = 0; i < 4; i++) mixer.tick();
    expect(mixer.participantLevel('ann')).toBeCloseTo(-10, 5); // 80 ms late is not silence yet
    mixer.tick();
    expect(mixer.participantLevel('ann')).toBeLessThan(-100);
  });

  it('packets without a level are still decoded; once a listener (a SIP phone) joins, everything is decoded and mixed for it', () => {
    const ann = mixer.addParticipant('ann', { recvCodec: 'opus' });
    const remote = mixer.addParticipant('remote', { recvCodec: 'opus' }); // e.g. from a backplane: no level
    tick([[ann, 20], [remote, -1]], 20);
    const onlyRemote = counts.decodes;
    expect(onlyRemote).toBeGreaterThan(0);
    const heard: Buffer[] = [];
    mixer.addParticipant('phone', { recvCodec: 'PCMU', sendCodec: 'PCMU', send: (p) => heard.push(p) });
    expect(mixer.levelOnly).toBe(false);
    counts.decodes = 0;
    tick([[ann, 20], [remote, -1]], 50);
    expect(counts.decodes).toBeGreaterThanOrEqual(2 * 40); // both browsers decoded again (after the prefill)
    expect(heard.length).toBeGreaterThan(40);
    // The phone leaves: level-only again, buffers emptied, no decode of levelled packets.
    mixer.removeParticipant('phone');
    expect(mixer.levelOnly).toBe(true);
    counts.decodes = 0;
    tick([[ann, 20]], 30);
    expect(counts.decodes).toBe(0);
  });
});
