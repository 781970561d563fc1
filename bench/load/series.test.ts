import { capacitySeries, seriesName, type CodecCapacity, type StepResult } from '../mixer-capacity';
import { capacityComparison, capacityRatio, goalBudget, sameLoad, seriesTarget } from '../report';
import { sdpAudioCrypto } from './sip-uac';

describe('sdpAudioCrypto()', () => {
  // The shape of confnode's SDES answer (src/signaling/sdp/crypto.ts cryptoLine()).
  const answer = [
    'v=0',
    'o=confnode 1 1 IN IP4 127.0.0.1',
    's=confnode',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 40002 RTP/SAVP 0',
    'a=rtpmap:0 PCMU/8000',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk',
    'a=sendrecv',
    '',
  ].join('\r\n');

  test('takes the tag, suite and inline key of the audio m-line', () => {
    expect(sdpAudioCrypto(answer)).toEqual({ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk' });
  });

  test('accepts a lifetime after the key; ignores crypto of a video m-line and malformed keys', () => {
    expect(sdpAudioCrypto(answer.replace('YWVphYmNk', 'YWVphYmNk|2^31'))?.key).toBe('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk');
    const video = answer.replace('m=audio 40002 RTP/SAVP 0', 'm=audio 40002 RTP/AVP 0\r\nm=video 40004 RTP/SAVP 96');
    expect(sdpAudioCrypto(video)).toBeUndefined();
    expect(sdpAudioCrypto(answer.replace('YWVphYmNk', 'YWVph'))).toBeUndefined();
    expect(sdpAudioCrypto('v=0\r\nm=audio 1 RTP/AVP 0\r\n')).toBeUndefined();
  });
});

describe('capacitySeries()', () => {
  test('full run: each codec on confnode then Janus, PCMU with SRTP on confnode after them', () => {
    const s = capacitySeries(['node', 'janus'], ['PCMU', 'PCMU+SRTP', 'opus']).map((x) => `${x.target} ${seriesName(x.codec, x.srtp)}`);
    expect(s).toEqual(['node PCMU', 'janus PCMU', 'node PCMU+SRTP', 'node opus', 'janus opus']);
  });

  test('--target janus alone: no SRTP series (AudioBridge plain RTP); --codec PCMU+SRTP alone: only that one', () => {
    expect(capacitySeries(['janus'], ['PCMU', 'PCMU+SRTP', 'opus']).map((x) => `${x.target} ${seriesName(x.codec, x.srtp)}`)).toEqual(['janus PCMU', 'janus opus']);
    expect(capacitySeries(['node', 'janus'], ['PCMU+SRTP']).map((x) => `${x.target} ${seriesName(x.codec, x.srtp)}`)).toEqual(['node PCMU+SRTP']);
  });
});

function step(rooms: number, pass: boolean, cpu: number): StepResult {
  return {
    rooms,
    participants: rooms * 4,
    repetition: 0,
    pass,
    verdict: { pass, minReceiveRatio: 1, belowRatio: 0, pooledP99Ms: pass ? 5 : 15, worstP99Ms: 6, toneChecked: 8, toneFailed: 0, failures: pass ? [] : ['p99'] },
    windowS: 20,
    nodeCpu: { userPercent: 0, systemPercent: 0, totalPercent: cpu * rooms * 4, perParticipantPercent: cpu },
    generators: { cpuPercent: 30, loopDelayP99Ms: 2, sentPerS: 0, lateTicks: 0 },
    otherLoadPercent: 0,
    stealPercent: 0,
    setup: { ok: rooms * 4, failed: 0, p50Ms: 1, p99Ms: 2, errors: [] },
    receivedPerS: { min: 50, median: 50 },
    arrivals: { gapsPercent: 0, bunchedPercent: 0 },
    toneSample: [],
    targetAlive: true,
  };
}

function series(target: 'node' | 'janus', name: string, steps: StepResult[]): CodecCapacity {
  const passing = steps.filter((s) => s.pass);
  const last = passing[passing.length - 1];
  const failing = steps.find((s) => !s.pass);
  return {
    codec: name.startsWith('opus') ? 'opus' : 'PCMU',
    series: name,
    target,
    srtp: name.endsWith('+SRTP'),
    mixing: { sampleRateHz: 16000, opusComplexity: 3, opusBitrate: 32000, opusApplication: target === 'janus' ? 'voip' : 'audio' },
    bar: { participants: 360, cpuPerParticipantPercent: 0.3 },
    steps,
    repeats: [],
    ...(last ? { largestPassing: { rooms: last.rooms, participants: last.participants, cpuPerParticipantPercent: last.nodeCpu.perParticipantPercent } } : {}),
    ...(failing ? { firstFailing: { rooms: failing.rooms, participants: failing.participants, failures: failing.verdict.failures } } : {}),
    stoppedBecause: 'criteria failed',
  };
}

describe('capacity comparison (report)', () => {
  const node = series('node', 'PCMU', [step(30, true, 0.3), step(60, true, 0.25), step(90, true, 0.2), step(120, false, 0.2)]);
  const janus = series('janus', 'PCMU', [step(30, true, 0.28), step(60, false, 0.27)]);
  const srtp = series('node', 'PCMU+SRTP', [step(30, true, 0.33), step(60, true, 0.28), step(90, false, 0.25)]);

  test('capacityRatio(): largest passing counts, none when a series has none', () => {
    expect(capacityRatio(node, janus)).toBe(3);
    expect(capacityRatio(srtp, node)).toBe(0.67);
    expect(capacityRatio(node, series('janus', 'PCMU', [step(30, false, 1)]))).toBeUndefined();
  });

  test('sameLoad(): the largest room count both measured and both passed', () => {
    const l = sameLoad(node, janus);
    expect(l?.participants).toBe(120);
    expect([l?.a.nodeCpu.perParticipantPercent, l?.b.nodeCpu.perParticipantPercent]).toEqual([0.3, 0.28]);
    expect(sameLoad(srtp, node)?.participants).toBe(240);
  });

  test('capacityComparison(): one row per series, the two Janus ratios and the SRTP ratio with their goals', () => {
    const text = capacityComparison([node, janus, srtp], 'node+janus').join('\n');
    expect(text).toContain('| PCMU | confnode | 360 (90 rooms) | 0.2% | - | 480 | 16 kHz | 0% |');
    expect(text).toContain('| PCMU | Janus AudioBridge 1.1.2 | 120 (30 rooms) | 0.28% |');
    expect(text).toContain('PCMU, confnode against Janus: largest passing confnode / Janus = **3x** (goal >= 2x)');
    expect(text).toContain('SDES-SRTP against plain RTP (confnode, PCMU): largest passing PCMU+SRTP / PCMU = **0.67x** (goal >= 0.85x)');
    expect(text).not.toContain('Opus, confnode against Janus');
  });

  test('goalBudget(): what the goal would cost the target and the generator at the largest passing step, against the cores', () => {
    // Janus passed 360 in this made-up run; confnode 240 at 0.25% each with the generator at 30%.
    const small = series('node', 'PCMU', [step(30, true, 0.3), step(60, true, 0.25), step(90, false, 0.2)]);
    const big = series('janus', 'PCMU', [step(90, true, 0.2)]);
    expect(goalBudget(small, big, 2, 2)).toEqual({ participants: 720, targetPercent: 180, generatorPercent: 90, machinePercent: 200 });
    const text = capacityComparison([small, big], 'node+janus', 2).join('\n');
    expect(text).toContain('the goal, 720 participants, would take confnode about 180% of a core and the generator 90% at this run\'s costs per participant: 270% of the machine\'s 200%');
    // A met goal needs no budget line.
    expect(capacityComparison([node, janus], 'node+janus', 2).join('\n')).not.toContain('the goal,');
  });

  test('a run from before Janus joined the bench (no target in the series) reads as confnode', () => {
    const old = { ...node } as Partial<CodecCapacity>;
    delete old.target;
    expect(seriesTarget(old as CodecCapacity, 'node')).toBe('node');
    expect(capacityComparison([old as CodecCapacity], 'node').join('\n')).toContain("Janus was not measured in this run; the workload README's bar");
  });
});
