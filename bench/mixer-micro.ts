/**
 * Micro-benchmark of the mix path without sockets: times AudioMixer.tick() for 90 rooms x 4 PCMU
 * and 30 rooms x 4 Opus participants, everyone sending speech-level audio every 20 ms, and the
 * G.711 resamplers (ns per 20 ms frame) against the 7-tap halfband they replaced.
 * Build and run: npx tsc -p bench/tsconfig.json --outDir /tmp/bench && node /tmp/bench/bench/mixer-micro.js
 * (with node_modules reachable from there). Opens no sockets and no timers; BENCH_TICKS sets the
 * measured ticks, BENCH_ONLY a scenario name part ('resampl' for the resamplers alone).
 */
import { createAudioCodec } from '../src/media/codecs/codec';
import { Downsampler2x, Upsampler2x } from '../src/media/codecs/resample';
import { sineTone } from '../src/media/codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE, type AudioCodecName } from '../src/media/codecs/types';
import { AudioMixer } from '../src/media/mixer/audio-mixer';

interface Scenario {
  name: string;
  codec: AudioCodecName;
  rooms: number;
  perRoom: number;
  /** How many participants per room speak (the rest send near-silence, like real rooms). */
  speaking: number;
}

const TICKS = Number(process.env.BENCH_TICKS ?? 250);
const WARMUP = 25;

function run(s: Scenario): { tickMs: number; cpuMs: number; p99Ms: number; packetsPerTick: number } {
  // Pre-encode one second of input per participant so the bench times the mixer, not the senders.
  const frames = 50;
  const inputs: Buffer[][] = [];
  for (let p = 0; p < s.perRoom; p++) {
    const enc = createAudioCodec(s.codec);
    const amp = p < s.speaking ? 6000 : 20; // 20 = about -64 dBov: room noise
    const list: Buffer[] = [];
    for (let f = 0; f < frames; f++) list.push(enc.encode(sineTone(300 + 170 * p, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, amp, f * MIX_FRAME_SAMPLES)));
    inputs.push(list);
  }
  const mixers: AudioMixer[] = [];
  let sent = 0;
  const sink = (): void => void sent++;
  for (let r = 0; r < s.rooms; r++) {
    const m = new AudioMixer();
    for (let p = 0; p < s.perRoom; p++) m.addParticipant(`r${r}p${p}`, { recvCodec: s.codec, sendCodec: s.codec, send: sink });
    mixers.push(m);
  }
  const times: number[] = [];
  let cpuMicros = 0;
  for (let t = 0; t < WARMUP + TICKS; t++) {
    const seq = t & 0xffff;
    for (let r = 0; r < s.rooms; r++) {
      const m = mixers[r];
      for (let p = 0; p < s.perRoom; p++) m?.pushRtp(`r${r}p${p}`, seq, inputs[p]?.[t % frames] ?? Buffer.alloc(0));
    }
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const m of mixers) m.tick();
    const c1 = process.cpuUsage(c0);
    if (t >= WARMUP) {
      times.push(performance.now() - t0);
      cpuMicros += c1.user + c1.system;
    }
  }
  times.sort((a, b) => a - b);
  return {
    tickMs: times.reduce((a, b) => a + b, 0) / times.length,
    cpuMs: cpuMicros / 1000 / times.length,
    p99Ms: times[Math.floor(times.length * 0.99)] ?? 0,
    packetsPerTick: sent / (WARMUP + TICKS),
  };
}

function clamp16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

/**
 * The 7-tap halfband (-1, 0, 9, 16, 9, 0, -1)/32 that resample.ts used before (-34 dB at 6.5 kHz,
 * -3.4 dB at 3.4 kHz), kept here only as the cost reference: 16 -> 8 kHz.
 */
class SevenTapDown {
  private readonly ext = new Int32Array(320 + 6);
  process(src: Int16Array, n: number, out: Int16Array): number {
    const ext = this.ext;
    for (let i = 0; i < n; i++) ext[6 + i] = src[i] ?? 0;
    const half = n >> 1;
    for (let j = 0; j < half; j++) {
      const c = 2 * j + 3;
      const acc = 16 * (ext[c] ?? 0) + 9 * ((ext[c - 1] ?? 0) + (ext[c + 1] ?? 0)) - ((ext[c - 3] ?? 0) + (ext[c + 3] ?? 0));
      out[j] = clamp16(acc >> 5);
    }
    ext.copyWithin(0, n, n + 6);
    return half;
  }
}

/** The same 7-tap filter's 8 -> 16 kHz side (4-tap interpolator), cost reference only. */
class SevenTapUp {
  private a = 0;
  private b = 0;
  private c = 0;
  process(src: Int16Array, n: number, out: Int16Array, offset: number): number {
    let { a, b, c } = this;
    let o = offset;
    for (let i = 0; i < n; i++) {
      const d = src[i] ?? 0;
      out[o++] = b;
      out[o++] = clamp16((9 * (b + c) - (a + d)) >> 4);
      a = b;
      b = c;
      c = d;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    return 2 * n;
  }
}

interface FrameResampler {
  process(src: Int16Array, n: number, out: Int16Array, offset: number): number;
}

/** ns per 20 ms frame of one run of `frames` calls. */
function timeFrames(r: FrameResampler, input: Int16Array, out: Int16Array, frames: number): number {
  const t0 = process.hrtime.bigint();
  for (let f = 0; f < frames; f++) r.process(input, input.length, out, 0);
  return Number(process.hrtime.bigint() - t0) / frames;
}

/**
 * The four resamplers timed in turns (so a busy neighbour slows them alike), 9 rounds after one
 * warm-up round; the fastest round of each is its cost (interference only ever adds time).
 */
function benchResamplers(): void {
  const wide = sineTone(1000, 16000, 320, 6000);
  const narrow = sineTone(1000, 8000, 160, 6000);
  const out8 = new Int16Array(160);
  const out16 = new Int16Array(320);
  const down = (d: { process(src: Int16Array, n: number, out: Int16Array): number }): FrameResampler => ({
    process: (src, n, out) => d.process(src, n, out),
  });
  const cases: { r: FrameResampler; input: Int16Array; out: Int16Array; best: number }[] = [
    { r: down(new SevenTapDown()), input: wide, out: out8, best: Infinity },
    { r: down(new Downsampler2x(320)), input: wide, out: out8, best: Infinity },
    { r: new SevenTapUp(), input: narrow, out: out16, best: Infinity },
    { r: new Upsampler2x(), input: narrow, out: out16, best: Infinity },
  ];
  for (let round = 0; round < 10; round++) {
    for (const c of cases) {
      const ns = timeFrames(c.r, c.input, c.out, 20000);
      if (round > 0) c.best = Math.min(c.best, ns);
    }
  }
  const [oldDown, newDown, oldUp, newUp] = cases.map((c) => c.best) as [number, number, number, number];
  const f = (ns: number): string => `${ns.toFixed(0)} ns`;
  console.log(
    `G.711 resamplers per 20 ms frame: 16->8 kHz ${f(newDown)} (7-tap before: ${f(oldDown)}), ` +
      `8->16 kHz ${f(newUp)} (before: ${f(oldUp)}); one PCMU talker's decode + own encode ` +
      `${((newDown + newUp) / 1000).toFixed(2)} us (before: ${((oldDown + oldUp) / 1000).toFixed(2)} us)`,
  );
}

const scenarios: Scenario[] = [
  { name: '90 rooms x 4 PCMU, all 4 speaking', codec: 'PCMU', rooms: 90, perRoom: 4, speaking: 4 },
  { name: '90 rooms x 4 PCMU, 1 speaking', codec: 'PCMU', rooms: 90, perRoom: 4, speaking: 1 },
  { name: '30 rooms x 4 Opus, all 4 speaking', codec: 'opus', rooms: 30, perRoom: 4, speaking: 4 },
  { name: '30 rooms x 4 Opus, 1 speaking', codec: 'opus', rooms: 30, perRoom: 4, speaking: 1 },
];
let total = 0;
let totalAll = 0;
const only = process.env.BENCH_ONLY;
if (!only || 'G.711 resamplers'.includes(only)) benchResamplers();
for (const s of scenarios) {
  if (only && !s.name.includes(only)) continue;
  const r = run(s);
  if (s.speaking === s.perRoom) totalAll += r.cpuMs;
  else total += r.cpuMs;
  console.log(
    `${s.name.padEnd(36)} wall ${r.tickMs.toFixed(3)} ms  cpu ${r.cpuMs.toFixed(3)} ms  p99 wall ${r.p99Ms.toFixed(3)} ms  sent ${r.packetsPerTick.toFixed(0)}/tick`,
  );
}
console.log(`combined cpu per 20 ms tick: all speaking ${totalAll.toFixed(2)} ms, 1 speaking ${total.toFixed(2)} ms`);
