"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * Micro-benchmark of the mix path without sockets: times AudioMixer.tick() for 90 rooms x 4 PCMU
 * and 30 rooms x 4 Opus participants, everyone sending speech-level audio every 20 ms.
 * Build and run: npx tsc --outDir /tmp/bench -p . && node /tmp/bench/bench/mixer-micro.js (or any
 * TypeScript runner). Opens no sockets and no timers; BENCH_TICKS sets the measured ticks.
 */
const codec_1 = require("../src/media/codecs/codec");
const tone_1 = require("../src/media/codecs/tone");
const types_1 = require("../src/media/codecs/types");
const audio_mixer_1 = require("../src/media/mixer/audio-mixer");
const TICKS = Number(process.env.BENCH_TICKS ?? 250);
const WARMUP = 25;
function run(s) {
    // Pre-encode one second of input per participant so the bench times the mixer, not the senders.
    const frames = 50;
    const inputs = [];
    for (let p = 0; p < s.perRoom; p++) {
        const enc = (0, codec_1.createAudioCodec)(s.codec);
        const amp = p < s.speaking ? 6000 : 20; // 20 = about -64 dBov: room noise
        const list = [];
        for (let f = 0; f < frames; f++)
            list.push(enc.encode((0, tone_1.sineTone)(300 + 170 * p, types_1.MIX_SAMPLE_RATE, types_1.MIX_FRAME_SAMPLES, amp, f * types_1.MIX_FRAME_SAMPLES)));
        inputs.push(list);
    }
    const mixers = [];
    let sent = 0;
    const sink = () => void sent++;
    for (let r = 0; r < s.rooms; r++) {
        const m = new audio_mixer_1.AudioMixer();
        for (let p = 0; p < s.perRoom; p++)
            m.addParticipant(`r${r}p${p}`, { recvCodec: s.codec, sendCodec: s.codec, send: sink });
        mixers.push(m);
    }
    const times = [];
    let cpuMicros = 0;
    for (let t = 0; t < WARMUP + TICKS; t++) {
        const seq = t & 0xffff;
        for (let r = 0; r < s.rooms; r++) {
            const m = mixers[r];
            for (let p = 0; p < s.perRoom; p++)
                m?.pushRtp(`r${r}p${p}`, seq, inputs[p]?.[t % frames] ?? Buffer.alloc(0));
        }
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        for (const m of mixers)
            m.tick();
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
const scenarios = [
    { name: '90 rooms x 4 PCMU, all 4 speaking', codec: 'PCMU', rooms: 90, perRoom: 4, speaking: 4 },
    { name: '90 rooms x 4 PCMU, 1 speaking', codec: 'PCMU', rooms: 90, perRoom: 4, speaking: 1 },
    { name: '30 rooms x 4 Opus, all 4 speaking', codec: 'opus', rooms: 30, perRoom: 4, speaking: 4 },
    { name: '30 rooms x 4 Opus, 1 speaking', codec: 'opus', rooms: 30, perRoom: 4, speaking: 1 },
];
let total = 0;
let totalAll = 0;
const only = process.env.BENCH_ONLY;
for (const s of scenarios) {
    if (only && !s.name.includes(only))
        continue;
    const r = run(s);
    if (s.speaking === s.perRoom)
        totalAll += r.cpuMs;
    else
        total += r.cpuMs;
    console.log(`${s.name.padEnd(36)} wall ${r.tickMs.toFixed(3)} ms  cpu ${r.cpuMs.toFixed(3)} ms  p99 wall ${r.p99Ms.toFixed(3)} ms  sent ${r.packetsPerTick.toFixed(0)}/tick`);
}
console.log(`combined cpu per 20 ms tick: all speaking ${totalAll.toFixed(2)} ms, 1 speaking ${total.toFixed(2)} ms`);
//# sourceMappingURL=mixer-micro.js.map