import { encodeUlaw } from '../../src/media/codecs/g711';
import { checkTones, decodePayloads, pcmuToneFrames, toneFrequency } from './audio';
import { parseRttCsv, parseStatCsv } from '../sip-setup';
import { parseSip, sdpAudioTarget } from './sip-uac';
import { rtpPayload } from './participant';
import { cpuTimesFromStat, machineJiffiesFromStat } from '../../test/helpers/proc-stat';
import {
  mixSlotCountsFromMetrics,
  fromSparse,
  judgeStep,
  mergeInto,
  newHistogram,
  percentileMs,
  percentileOf,
  recordDeviation,
  toSparse,
} from './stats';

describe('deviation histogram', () => {
  test('p99 of 99 on-time arrivals and one 15 ms late is in the on-time bin; p100 is the late one', () => {
    const h = newHistogram();
    for (let i = 0; i < 99; i++) recordDeviation(h, 0.05);
    recordDeviation(h, 15.02);
    expect(percentileMs(h, 99)).toBe(0.1);
    expect(percentileMs(h, 100)).toBe(15.1);
  });

  test('two late arrivals in 100 push p99 to the late bin', () => {
    const h = newHistogram();
    for (let i = 0; i < 98; i++) recordDeviation(h, 1);
    recordDeviation(h, 12);
    recordDeviation(h, 12);
    expect(percentileMs(h, 99)).toBe(12.1);
  });

  test('deviations beyond 1 s land in the overflow bin instead of being lost', () => {
    const h = newHistogram();
    recordDeviation(h, 5000);
    expect(percentileMs(h, 50)).toBe(1000.1);
  });

  test('sparse round trip and merge keep every count', () => {
    const a = newHistogram();
    const b = newHistogram();
    recordDeviation(a, 2);
    recordDeviation(b, 2);
    recordDeviation(b, 30);
    mergeInto(a, fromSparse(toSparse(b)));
    expect(toSparse(a)).toEqual([
      [20, 2],
      [300, 1],
    ]);
  });

  test('percentileOf uses the nearest rank', () => {
    expect(percentileOf([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentileOf([], 99)).toBe(0);
  });
});

describe('judgeStep() applies the mixer workload criteria', () => {
  const pooledOk = (): Uint32Array => {
    const h = newHistogram();
    for (let i = 0; i < 1000; i++) recordDeviation(h, 1);
    return h;
  };
  const base = { expectedPerParticipant: 1000, toneResults: [{ ok: true }], setupFailures: 0 };

  test('passes at 95% of the packets, p99 10 ms and good tones', () => {
    const v = judgeStep({ ...base, participants: [{ received: 950, p99Ms: 2 }], pooled: pooledOk() });
    expect(v.pass).toBe(true);
  });

  test('fails one participant below 95% of the packets', () => {
    const v = judgeStep({ ...base, participants: [{ received: 1000, p99Ms: 1 }, { received: 949, p99Ms: 1 }], pooled: pooledOk() });
    expect(v.pass).toBe(false);
    expect(v.belowRatio).toBe(1);
  });

  test('fails a pooled p99 deviation above 10 ms', () => {
    const h = newHistogram();
    for (let i = 0; i < 98; i++) recordDeviation(h, 1);
    recordDeviation(h, 11);
    recordDeviation(h, 11);
    const v = judgeStep({ ...base, participants: [{ received: 1000, p99Ms: 11 }], pooled: h });
    expect(v.pass).toBe(false);
    expect(v.failures.join()).toMatch(/p99/);
  });

  test('fails a failed tone check and a failed call setup', () => {
    expect(judgeStep({ ...base, participants: [{ received: 1000, p99Ms: 1 }], pooled: pooledOk(), toneResults: [{ ok: false }] }).pass).toBe(false);
    expect(judgeStep({ ...base, participants: [{ received: 1000, p99Ms: 1 }], pooled: pooledOk(), setupFailures: 1 }).pass).toBe(false);
  });
});

describe('tone check (Goertzel on decoded PCMU)', () => {
  /** One second of the PCMU mix of participants `ks` (decoded, summed, re-encoded). */
  function mixOf(ks: number[]): Buffer[] {
    const tones = ks.map((k) => pcmuToneFrames(toneFrequency(k)));
    const out: Buffer[] = [];
    for (let f = 0; f < 50; f++) {
      const sum = new Int16Array(160);
      for (const t of tones) {
        const pcm = decodePayloads('PCMU', [t[f] as Buffer]).samples;
        for (let i = 0; i < 160; i++) sum[i] = (sum[i] ?? 0) + (pcm[i] ?? 0);
      }
      out.push(Buffer.from(Array.from(sum, (s) => encodeUlaw(s))));
    }
    return out;
  }

  test('a mix of the other three tones passes for listener 0', () => {
    const audio = decodePayloads('PCMU', mixOf([1, 2, 3]));
    expect(checkTones(audio, 300, [400, 500, 600]).ok).toBe(true);
  });

  test('a mix holding the listener own tone fails', () => {
    const audio = decodePayloads('PCMU', mixOf([0, 1, 2, 3]));
    const r = checkTones(audio, 300, [400, 500, 600]);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/own tone/);
  });

  test('a mix missing one peer fails', () => {
    const audio = decodePayloads('PCMU', mixOf([1, 2]));
    expect(checkTones(audio, 300, [400, 500, 600]).reason).toMatch(/missing/);
  });
});

describe('wire parsing', () => {
  test('sdpAudioTarget() takes the audio m-line port and the media-level c= address', () => {
    const sdp = 'v=0\r\nc=IN IP4 127.0.0.2\r\nm=audio 40002 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\nm=video 40004 RTP/AVP 96\r\n';
    expect(sdpAudioTarget(sdp)).toEqual({ address: '127.0.0.1', port: 40002 });
    expect(sdpAudioTarget('v=0\r\nm=audio 0 RTP/AVP 0\r\n')).toBeUndefined();
  });

  test('parseSip() reads compact headers and the status', () => {
    const m = parseSip('SIP/2.0 200 OK\r\ni: abc\r\nCSeq: 1 INVITE\r\n\r\nbody');
    expect(m?.status).toBe(200);
    expect(m?.headers.get('call-id')).toEqual(['abc']);
    expect(m?.body).toBe('body');
    expect(parseSip('garbage')).toBeUndefined();
  });

  test('rtpPayload() skips CSRCs, extension and padding; rejects RTCP and short datagrams', () => {
    const pkt = Buffer.from([0xb1, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 0x55, 0x66, 0, 2]);
    expect([...(rtpPayload(pkt) ?? [])]).toEqual([0x55, 0x66]);
    expect(rtpPayload(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]))).toBeUndefined();
    expect(rtpPayload(Buffer.alloc(5))).toBeUndefined();
  });

  test('cpuTimesFromStat() counts fields after a comm holding spaces and parentheses', () => {
    const stat = '123 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0';
    expect(cpuTimesFromStat(stat)).toEqual({ user: 2.5, system: 0.5 });
  });

  test('machineJiffiesFromStat() counts idle and iowait as idle and reports steal apart', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    expect(machineJiffiesFromStat('cpu  100 0 50 800 10 0 20 30 0 0\ncpu0 1 2 3\n')).toEqual({ busy: 200, total: 1010, steal: 30 });
    expect(machineJiffiesFromStat('intr 1 2 3')).toBeUndefined();
  });

  test('mixSlotCountsFromMetrics() sums confnode_mix_ticks_total by timing over label sets', () => {
    const page = [
      '# HELP confnode_mix_ticks_total Audio mix slot runs by timing',
      '# TYPE confnode_mix_ticks_total counter',
      'confnode_mix_ticks_total{node="n1",timing="on_time"} 900',
      'confnode_mix_ticks_total{node="n1",timing="late"} 95',
      'confnode_mix_ticks_total{node="n1",timing="skipped"} 5',
      'confnode_mix_ticks_total_other{timing="late"} 7',
    ].join('\n');
    expect(mixSlotCountsFromMetrics(page)).toEqual({ on_time: 900, late: 95, skipped: 5 });
    expect(mixSlotCountsFromMetrics('confnode_up 1\n')).toBeUndefined();
  });

  test('sipp CSV parsers read the rtt trace and the last stat row', () => {
    expect(parseRttCsv('Date_ms;response_time_ms;rtd_no\n28.001;4;1\n52;8;1\n')).toEqual([
      [28.001, 4],
      [52, 8],
    ]);
    const st = parseStatCsv('A;SuccessfulCall(C);FailedCall(C)\n1;5;0\n2;10;1\n');
    expect(st.get('SuccessfulCall(C)')).toBe('10');
    expect(st.get('FailedCall(C)')).toBe('1');
  });
});
