"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.JANUS_BAR = exports.ROOM_SIZE = void 0;
exports.runMixerCapacity = runMixerCapacity;
/**
 * Mixer capacity bench (workload of /work/shared/bench/mixer/README.md): adds rooms of four
 * plain-RTP SIP participants step by step, measures a window after a warm-up at each step, stops
 * at the first step that fails the criteria, then repeats the largest passing step on a fresh
 * node to show the spread. Figures, not assertions; bounded by a time budget; stops every process
 * it started in `finally`.
 */
const node_fs_1 = require("node:fs");
const node_os_1 = require("node:os");
const node_path_1 = require("node:path");
const node_os_2 = require("node:os");
const generator_client_1 = require("./load/generator-client");
const stats_1 = require("./load/stats");
const target_1 = require("./target");
exports.ROOM_SIZE = 4;
/** Janus AudioBridge 1.1.2 on this kind of machine (the bar). */
exports.JANUS_BAR = {
    PCMU: { participants: 360, cpuPerParticipantPercent: 0.3 },
    opus: { participants: 120, cpuPerParticipantPercent: 1 },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
async function openSession(o, maxRooms) {
    const dir = (0, node_fs_1.mkdtempSync)((0, node_path_1.join)((0, node_os_1.tmpdir)(), 'confnode-bench-'));
    const target = await (0, target_1.startTarget)({ kind: o.targetKind, nodeMain: o.nodeMain, dir, rooms: maxRooms, mixTalkers: o.mixTalkers, rtpPorts: maxRooms * exports.ROOM_SIZE * 2 + 100 });
    const gens = [];
    try {
        for (let g = 0; g < o.generators; g++)
            gens.push(new generator_client_1.GeneratorClient(`g${g}`));
        await Promise.all(gens.map((g) => g.ready()));
    }
    catch (e) {
        await closeSession({ target, gens, rooms: 0 });
        throw e;
    }
    return { target, gens, rooms: 0 };
}
async function closeSession(s) {
    await Promise.all(s.gens.map(async (g) => {
        try {
            await g.request({ op: 'hangup' }, 'hung-up', 30_000);
        }
        catch {
            // figures only: a generator that cannot hang up is stopped anyway
        }
        await g.stop();
    }));
    await s.target.stop();
}
/** Rooms sampled for the tone check: the first and last room of each step's increment. */
function roomsToAdd(from, to) {
    const out = [];
    for (let i = from + 1; i <= to; i++)
        out.push({ user: (0, target_1.roomAlias)(i), size: exports.ROOM_SIZE, sampled: i === from + 1 || i === to });
    return out;
}
async function grow(s, o, rooms) {
    const add = roomsToAdd(s.rooms, rooms);
    const perGen = s.gens.map(() => []);
    add.forEach((r, i) => perGen[i % s.gens.length]?.push(r));
    const cps = o.cps / s.gens.length;
    const timeoutMs = ((add.length * exports.ROOM_SIZE) / Math.max(1, o.cps)) * 1000 + 30_000;
    const replies = await Promise.all(s.gens.map((g, i) => g.request({ op: 'join', codec: o.codec, sipPort: s.target.sipPort, rooms: perGen[i] ?? [], cps }, 'joined', timeoutMs)));
    s.rooms = rooms;
    const setupMs = replies.flatMap((r) => r.setupMs);
    return {
        ok: replies.reduce((n, r) => n + r.ok, 0),
        failed: replies.reduce((n, r) => n + r.failed, 0),
        p50Ms: round((0, stats_1.percentileOf)(setupMs, 50), 1),
        p99Ms: round((0, stats_1.percentileOf)(setupMs, 99), 1),
        errors: replies.flatMap((r) => r.errors).slice(0, 5),
    };
}
async function measure(s, o, setup, repetition) {
    const cpu0 = s.target.cpuTimes();
    const m0 = (0, target_1.machineJiffies)();
    await Promise.all(s.gens.map((g) => g.request({ op: 'window-start' }, 'window-started', 10_000)));
    const t0 = performance.now();
    await sleep(o.windowMs);
    const windows = await Promise.all(s.gens.map((g) => g.window()));
    const wallS = (performance.now() - t0) / 1000;
    const cpu1 = s.target.cpuTimes();
    const m1 = (0, target_1.machineJiffies)();
    const windowS = windows.reduce((m, w) => Math.max(m, w.durationMs), 0) / 1000;
    const participants = windows.flatMap((w) => w.participants);
    const pooled = (0, stats_1.newHistogram)();
    for (const w of windows)
        (0, stats_1.mergeInto)(pooled, (0, stats_1.fromSparse)(w.pooled));
    const tones = windows.flatMap((w) => w.tones);
    const verdict = (0, stats_1.judgeStep)({ participants, expectedPerParticipant: windowS * 50, pooled, toneResults: tones, setupFailures: setup.failed });
    const n = participants.length;
    const user = (cpu1.user - cpu0.user) / wallS;
    const system = (cpu1.system - cpu0.system) / wallS;
    const perS = participants.map((p) => p.received / windowS);
    const genCpu = windows.reduce((m, w) => m + w.cpuSeconds, 0) / wallS;
    // Jiffies count all cores: busy/total * cores = cores in use.
    const machineCores = m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * (0, node_os_2.cpus)().length : 0;
    return {
        rooms: s.rooms,
        participants: n,
        repetition,
        pass: verdict.pass && s.target.alive(),
        verdict,
        windowS: round(windowS, 1),
        nodeCpu: {
            userPercent: round(user * 100, 1),
            systemPercent: round(system * 100, 1),
            totalPercent: round((user + system) * 100, 1),
            perParticipantPercent: n > 0 ? round(((user + system) * 100) / n, 3) : 0,
        },
        generators: {
            cpuPercent: round(genCpu * 100, 1),
            loopDelayP99Ms: windows.reduce((m, w) => Math.max(m, w.loopDelayP99Ms), 0),
            sentPerS: round(windows.reduce((m, w) => m + w.sent, 0) / wallS, 0),
            lateTicks: windows.reduce((m, w) => m + w.lateTicks, 0),
        },
        otherLoadPercent: round(Math.max(0, machineCores - user - system - genCpu) * 100, 0),
        setup,
        arrivals: {
            gapsPercent: round((windows.reduce((m, w) => m + w.gaps, 0) / Math.max(1, (0, stats_1.histogramCount)(pooled))) * 100, 2),
            bunchedPercent: round((windows.reduce((m, w) => m + w.bunched, 0) / Math.max(1, (0, stats_1.histogramCount)(pooled))) * 100, 2),
        },
        receivedPerS: { min: round(Math.min(...perS), 1), median: round((0, stats_1.percentileOf)(perS, 50), 1) },
        toneSample: tones.slice(0, 8),
        targetAlive: s.target.alive(),
    };
}
function describe(r) {
    const v = r.verdict;
    return (`${r.participants} participants (${r.rooms} rooms${r.repetition > 0 ? `, repeat ${r.repetition}` : ''}): ` +
        `${r.pass ? 'PASS' : 'FAIL'} rx min ${(v.minReceiveRatio * 100).toFixed(1)}%, p99 dev ${v.pooledP99Ms} ms (worst ${v.worstP99Ms}; >30 ms ${r.arrivals.gapsPercent}%, <10 ms ${r.arrivals.bunchedPercent}%), ` +
        `tones ${v.toneChecked - v.toneFailed}/${v.toneChecked}, node CPU ${r.nodeCpu.totalPercent}% ` +
        `(${r.nodeCpu.perParticipantPercent}%/participant), generators ${r.generators.cpuPercent}% lag p99 ${r.generators.loopDelayP99Ms} ms, other load ${r.otherLoadPercent}%` +
        `${v.failures.length > 0 ? ` [${v.failures.join('; ')}]` : ''}`);
}
async function stepUp(o, out) {
    const s = await openSession(o, o.maxRooms);
    const last = o.steps[o.steps.length - 1] ?? 10;
    const increment = Math.max(1, last - (o.steps[o.steps.length - 2] ?? 0));
    try {
        // After the configured steps all pass, keep adding the last increment (bounded by maxRooms).
        for (let i = 0; i < 100; i++) {
            const rooms = i < o.steps.length ? (o.steps[i] ?? last) : last + (i - o.steps.length + 1) * increment;
            if (rooms > o.maxRooms) {
                out.stoppedBecause = `reached the bench's room cap (${o.maxRooms} rooms)`;
                return;
            }
            if (Date.now() > o.stepDeadline) {
                out.stoppedBecause = 'time budget reached before the next step';
                return;
            }
            const setup = await grow(s, o, rooms);
            await sleep(o.warmupMs);
            const r = await measure(s, o, setup, 0);
            out.steps.push(r);
            o.log(`  ${o.codec} ${describe(r)}`);
            if (!r.pass) {
                out.firstFailing = { rooms, participants: r.participants, failures: r.verdict.failures.concat(r.targetAlive ? [] : ['node died']) };
                out.stoppedBecause = 'criteria failed';
                return;
            }
            out.largestPassing = { rooms, participants: r.participants, cpuPerParticipantPercent: r.nodeCpu.perParticipantPercent };
        }
        out.stoppedBecause = 'step limit reached';
    }
    finally {
        await closeSession(s);
    }
}
async function repeatLargest(o, out) {
    const best = out.largestPassing;
    if (!best)
        return;
    for (let rep = 1; rep <= o.repeats; rep++) {
        if (Date.now() > o.repeatDeadline)
            return;
        const s = await openSession(o, best.rooms);
        try {
            const setup = await grow(s, o, best.rooms);
            await sleep(o.warmupMs);
            const r = await measure(s, o, setup, rep);
            out.repeats.push(r);
            o.log(`  ${o.codec} ${describe(r)}`);
        }
        finally {
            await closeSession(s);
        }
    }
}
async function runMixerCapacity(o) {
    const out = { codec: o.codec, bar: exports.JANUS_BAR[o.codec], steps: [], repeats: [], stoppedBecause: '' };
    try {
        await stepUp(o, out);
        await repeatLargest(o, out);
    }
    catch (e) {
        out.stoppedBecause = `error: ${e instanceof Error ? e.message : String(e)}`;
        o.log(`  ${o.codec} ${out.stoppedBecause}`);
    }
    return out;
}
//# sourceMappingURL=mixer-capacity.js.map