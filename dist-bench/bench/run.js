"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * `npm run bench`: runs the single-node benches (mixer capacity for PCMU and Opus, SIP call setup
 * with sipp) against a confnode built in dist/, within a time budget (full < ~10 min, --quick
 * < 2 min), and writes bench/results/{mixer-capacity.json, sip-setup.json, RESULTS.md}. Exit code
 * 0 unless the bench itself crashes: the figures are not assertions.
 */
const node_fs_1 = require("node:fs");
const node_os_1 = require("node:os");
const node_path_1 = require("node:path");
const proc_1 = require("../test/helpers/proc");
const mixer_capacity_1 = require("./mixer-capacity");
const report_1 = require("./report");
const sip_setup_1 = require("./sip-setup");
const target_1 = require("./target");
const USAGE = `usage: node dist-bench/bench/run.js [--report-only [DIR]] | [--quick] [--only capacity|sip] [--codec PCMU|opus]
  [--target node|fake] [--generators N] [--mix-talkers N] [--window-s S] [--node-main PATH] [--out DIR]`;
function parseArgs(argv) {
    const a = {
        quick: false,
        only: 'all',
        codecs: ['PCMU', 'opus'],
        target: 'node',
        generators: 1,
        mixTalkers: 4,
        nodeMain: (0, node_path_1.join)(target_1.REPO_ROOT, 'dist', 'node', 'main.js'),
        out: (0, node_path_1.join)(target_1.REPO_ROOT, 'bench', 'results'),
    };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined)
                throw new Error(`${flag} needs a value\n${USAGE}`);
            return v;
        };
        if (flag === '--quick')
            a.quick = true;
        else if (flag === '--only')
            a.only = value() === 'sip' ? 'sip' : 'capacity';
        else if (flag === '--codec')
            a.codecs = [value() === 'opus' ? 'opus' : 'PCMU'];
        else if (flag === '--target')
            a.target = value() === 'fake' ? 'fake' : 'node';
        else if (flag === '--generators')
            a.generators = Math.max(1, Math.min(4, Number(value()) || 1));
        else if (flag === '--mix-talkers')
            a.mixTalkers = Math.max(1, Math.min(8, Number(value()) || 4));
        else if (flag === '--window-s')
            a.windowS = Math.max(2, Math.min(60, Number(value()) || 20));
        else if (flag === '--node-main')
            a.nodeMain = value();
        else if (flag === '--out')
            a.out = value();
        else
            throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
    return a;
}
/** Steps, windows and time budgets per mode (seconds from the start of the run). */
const PLAN = {
    full: {
        warmupMs: 5000,
        windowMs: 20_000,
        repeats: 2,
        steps: { PCMU: [30, 45, 60, 75, 90, 105, 120, 150], opus: [10, 15, 20, 25, 30, 40, 50] },
        maxRooms: { PCMU: 250, opus: 120 },
        budgetS: { PCMU: [190, 260], opus: [430, 500] },
        sip: { rates: [50, 100, 200], calls: 1000, holdMs: 1000, budgetS: 560 },
    },
    quick: {
        warmupMs: 2000,
        windowMs: 6000,
        repeats: 0,
        steps: { PCMU: [10, 40], opus: [5, 15] },
        maxRooms: { PCMU: 40, opus: 15 },
        budgetS: { PCMU: [35, 35], opus: [70, 70] },
        sip: { rates: [50], calls: 200, holdMs: 500, budgetS: 100 },
    },
};
function log(line) {
    process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}
async function main() {
    if (process.argv[2] === '--report-only') {
        // Rewrites RESULTS.md from the JSON of the last run (after a change of the report format).
        const dir = process.argv[3] ?? (0, node_path_1.join)(target_1.REPO_ROOT, 'bench', 'results');
        const cap = JSON.parse((0, node_fs_1.readFileSync)((0, node_path_1.join)(dir, 'mixer-capacity.json'), 'utf8'));
        const sip = JSON.parse((0, node_fs_1.readFileSync)((0, node_path_1.join)(dir, 'sip-setup.json'), 'utf8'));
        (0, report_1.writeResults)(dir, cap.meta, cap.codecs, sip.rates);
        return;
    }
    const args = parseArgs(process.argv.slice(2));
    const plan = args.quick ? PLAN.quick : PLAN.full;
    const t0 = Date.now();
    const at = (s) => t0 + s * 1000;
    const windowMs = args.windowS !== undefined ? args.windowS * 1000 : plan.windowMs;
    const capacity = [];
    const setup = [];
    const meta = {
        startedAt: new Date(t0).toISOString(),
        mode: args.quick ? 'quick' : 'full',
        target: args.target,
        machine: { cpus: (0, node_os_1.cpus)().length, model: (0, node_os_1.cpus)()[0]?.model ?? 'unknown', node: process.version },
        settings: { warmupS: plan.warmupMs / 1000, windowS: windowMs / 1000, repeats: plan.repeats, generators: args.generators, mixTalkers: args.mixTalkers, setupCps: 100 },
    };
    try {
        if (args.only !== 'sip') {
            for (const codec of args.codecs) {
                log(`mixer capacity ${codec}: steps ${plan.steps[codec].join(', ')} rooms of 4`);
                capacity.push(await (0, mixer_capacity_1.runMixerCapacity)({
                    codec,
                    steps: plan.steps[codec],
                    repeats: plan.repeats,
                    warmupMs: plan.warmupMs,
                    windowMs,
                    cps: 100,
                    generators: args.generators,
                    mixTalkers: args.mixTalkers,
                    targetKind: args.target,
                    nodeMain: args.nodeMain,
                    maxRooms: plan.maxRooms[codec],
                    stepDeadline: at(plan.budgetS[codec][0]),
                    repeatDeadline: at(plan.budgetS[codec][1]),
                    log,
                }));
            }
        }
        if (args.only !== 'capacity') {
            log(`SIP setup: ${plan.sip.rates.join(', ')} cps x ${plan.sip.calls} calls`);
            try {
                setup.push(...(await (0, sip_setup_1.runSipSetup)({ ...plan.sip, nodeMain: args.nodeMain, targetKind: args.target, deadline: at(plan.sip.budgetS), log })));
            }
            catch (e) {
                log(`SIP setup bench failed: ${e instanceof Error ? e.message : String(e)}`);
            }
        }
    }
    finally {
        await (0, proc_1.killAll)();
        meta.durationS = Math.round((Date.now() - t0) / 1000);
        (0, report_1.writeResults)(args.out, meta, capacity, setup);
        log(`results written to ${args.out} (${meta.durationS} s)`);
    }
}
main().then(() => process.exit(0), (e) => {
    process.stderr.write(`bench crashed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
});
//# sourceMappingURL=run.js.map