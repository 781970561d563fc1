/**
 * `npm run bench`: runs the single-node benches (mixer capacity for PCMU, PCMU with SDES-SRTP and
 * Opus, with Janus AudioBridge measured the same way in the same run; SIP call setup with sipp,
 * the SFU with Chromium and plain RTP) and the cluster bench (placement policy, setup with media
 * on another node, etcd transactions per join) against a confnode built in dist/, within a time
 * budget (full < ~40 min, --quick < ~7 min), and writes bench/results/{mixer-capacity.json,
 * sip-setup.json, sfu.json, cluster.json, RESULTS.md}. Exit code 0 unless the bench itself crashes:
 * the figures are not assertions.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { killAll } from '../test/helpers/proc';
import { CLUSTER_PLAN, runClusterBench, type ClusterResult } from './cluster/run-cluster';
import { GEO_PLAN, runGeoReplay, type GeoReplayResult } from './geo-replay/run-geo-replay';
import { GEO_SIM_PLAN, runPlacementSim, type PlacementSimResult } from './geo-sim/placement-sim';
import { TLS_PLAN, runTlsBench, type TlsResult } from './sip-tls';
import { ensureJanus } from './janus/janus-process';
import type { BenchCodec } from './load/audio';
import { capacitySeries, runMixerCapacity, seriesName, skippedSeries, type CodecCapacity, type SeriesCodec } from './mixer-capacity';
import { writeResults, type RunMeta } from './report';
import { SFU_PLAN, runSfuBench, type SfuResult } from './sfu/run-sfu';
import { runSipSetup, type SetupResult } from './sip-setup';
import { BENCH_OPUS_COMPLEXITY, REPO_ROOT, type TargetKind } from './target';

interface Args {
  quick: boolean;
  only: 'all' | 'capacity' | 'sip' | 'tls' | 'sfu' | 'cluster' | 'geo' | 'geo-sim';
  codecs: SeriesCodec[];
  /** Mixer capacity targets: confnode and Janus by default. */
  targets: TargetKind[];
  generators: number;
  mixTalkers: number;
  /** media.workers of the node under test (default: the node's own default). */
  workers?: number;
  nodeMain: string;
  out: string;
  windowS?: number;
}

const USAGE = `usage: node dist-bench/bench/run.js [--report-only [DIR]] | [--quick] [--only capacity|sip|tls|sfu|cluster|geo|geo-sim] [--codec PCMU|opus|PCMU+SRTP]
  [--target node|janus|fake] [--generators N] [--mix-talkers N] [--workers N] [--window-s S] [--node-main PATH] [--out DIR]`;

function parseArgs(argv: string[]): Args {
  const a: Args = {
    quick: false,
    only: 'all',
    codecs: ['PCMU', 'PCMU+SRTP', 'opus'],
    targets: ['node', 'janus'],
    generators: 1,
    mixTalkers: 4,
    nodeMain: join(REPO_ROOT, 'dist', 'node', 'main.js'),
    out: join(REPO_ROOT, 'bench', 'results'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--quick') a.quick = true;
    else if (flag === '--only') {
      const v = value();
      a.only = v === 'sip' || v === 'tls' || v === 'sfu' || v === 'cluster' || v === 'geo' || v === 'geo-sim' ? v : 'capacity';
    }
    else if (flag === '--codec') {
      const v = value();
      a.codecs = [v === 'opus' ? 'opus' : v.toUpperCase() === 'PCMU+SRTP' ? 'PCMU+SRTP' : 'PCMU'];
    } else if (flag === '--target') {
      const v = value();
      a.targets = [v === 'fake' ? 'fake' : v === 'janus' ? 'janus' : 'node'];
    }
    else if (flag === '--generators') a.generators = Math.max(1, Math.min(4, Number(value()) || 1));
    else if (flag === '--mix-talkers') a.mixTalkers = Math.max(1, Math.min(8, Number(value()) || 4));
    else if (flag === '--workers') a.workers = Math.max(0, Math.min(16, Number(value()) || 0));
    else if (flag === '--window-s') a.windowS = Math.max(2, Math.min(60, Number(value()) || 20));
    else if (flag === '--node-main') a.nodeMain = value();
    else if (flag === '--out') a.out = value();
    else throw new Error(`unknown argument ${flag}\n${USAGE}`);
  }
  return a;
}

/** Steps, windows and time budgets per mode (seconds from the start of each series / bench). */
const PLAN = {
  full: {
    warmupMs: 5000,
    windowMs: 20_000,
    repeats: 2,
    // Coarse where every series passes, finer where confnode and Janus part (~120-200 PCMU rooms,
    // ~40-60 Opus rooms here), so five series fit the budget and each still reaches its limit.
    steps: { PCMU: [30, 60, 90, 120, 140, 160, 180, 200], opus: [10, 20, 30, 40, 45, 50, 55, 60] } as Record<BenchCodec, number[]>,
    maxRooms: { PCMU: 250, opus: 120 } as Record<BenchCodec, number>,
    /** Per series, from its start: no new step after the first figure, no new repeat after the second. */
    budgetS: { PCMU: [220, 290], opus: [180, 250] } as Record<BenchCodec, [number, number]>,
    sip: { rates: [50, 100, 200], calls: 1000, holdMs: 1000, budgetS: 180 },
  },
  quick: {
    warmupMs: 2000,
    windowMs: 6000,
    repeats: 0,
    steps: { PCMU: [10, 40], opus: [5, 15] } as Record<BenchCodec, number[]>,
    maxRooms: { PCMU: 40, opus: 15 } as Record<BenchCodec, number>,
    budgetS: { PCMU: [30, 30], opus: [30, 30] } as Record<BenchCodec, [number, number]>,
    sip: { rates: [50], calls: 200, holdMs: 500, budgetS: 60 },
  },
};

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--report-only') {
    // Rewrites RESULTS.md from the JSON of the last run (after a change of the report format).
    writeResults(process.argv[3] ?? join(REPO_ROOT, 'bench', 'results'), {});
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const plan = args.quick ? PLAN.quick : PLAN.full;
  const t0 = Date.now();
  const windowMs = args.windowS !== undefined ? args.windowS * 1000 : plan.windowMs;
  const capacity: CodecCapacity[] = [];
  const setup: SetupResult[] = [];
  let sfuResult: SfuResult | undefined;
  let clusterResult: ClusterResult | undefined;
  let geoResult: GeoReplayResult | undefined;
  let geoSimResult: PlacementSimResult | undefined;
  let tlsResult: TlsResult | undefined;
  const sipTarget: 'node' | 'fake' = args.targets.includes('fake') ? 'fake' : 'node';
  const meta: RunMeta = {
    startedAt: new Date(t0).toISOString(),
    mode: args.quick ? 'quick' : 'full',
    target: args.targets.join('+'),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: { warmupS: plan.warmupMs / 1000, windowS: windowMs / 1000, repeats: plan.repeats, generators: args.generators, mixTalkers: args.mixTalkers, workers: args.workers ?? 'default', setupCps: 100, opusComplexity: BENCH_OPUS_COMPLEXITY },
  };
  const runCluster = (): Promise<ClusterResult> => runClusterBench({ plan: args.quick ? CLUSTER_PLAN.quick : CLUSTER_PLAN.full, nodeMain: args.nodeMain, log });
  const runGeo = (): Promise<GeoReplayResult> => runGeoReplay({ plan: args.quick ? GEO_PLAN.quick : GEO_PLAN.full, nodeMain: args.nodeMain, log });
  const runGeoSim = (): PlacementSimResult => runPlacementSim(args.quick ? GEO_SIM_PLAN.quick : GEO_SIM_PLAN.full, { log });
  const runTls = (): Promise<TlsResult> => runTlsBench({ plan: args.quick ? TLS_PLAN.quick : TLS_PLAN.full, nodeMain: args.nodeMain, log });
  if (args.only === 'sfu' || args.only === 'cluster' || args.only === 'geo' || args.only === 'geo-sim' || args.only === 'tls') {
    // Only that bench's JSON is written; RESULTS.md is rebuilt from the other benches' JSON in the dir.
    try {
      if (args.only === 'sfu') sfuResult = await runSfuBench({ plan: args.quick ? SFU_PLAN.quick : SFU_PLAN.full, nodeMain: args.nodeMain, log });
      else if (args.only === 'cluster') clusterResult = await runCluster();
      else if (args.only === 'geo') geoResult = await runGeo();
      else if (args.only === 'tls') tlsResult = await runTls();
      else geoSimResult = runGeoSim();
    } finally {
      await killAll();
      meta.durationS = Math.round((Date.now() - t0) / 1000);
      writeResults(args.out, {
        ...(sfuResult ? { sfu: { meta, sfu: sfuResult } } : {}),
        ...(clusterResult ? { cluster: { meta, cluster: clusterResult } } : {}),
        ...(geoResult ? { geo: { meta, geo: geoResult } } : {}),
        ...(geoSimResult ? { geoSim: { meta, geoSim: geoSimResult } } : {}),
        ...(tlsResult ? { tls: { meta, tls: tlsResult } } : {}),
      });
      log(`results written to ${args.out} (${meta.durationS} s)`);
    }
    return;
  }
  const ranCapacity = args.only === 'all' || args.only === 'capacity';
  // Janus alone is a capacity target only: the SIP, SFU and cluster benches need a SIP server.
  const sipServer = args.targets.includes('node') || args.targets.includes('fake');
  const ranSetup = (args.only === 'all' || args.only === 'sip') && sipServer;
  try {
    // The placement simulator first, alone on the machine (pure: no sockets, no processes).
    if (args.only === 'all') {
      try {
        geoSimResult = runGeoSim();
      } catch (e) {
        log(`placement simulator failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (ranCapacity) {
      let janus: { ok: boolean; message: string } | undefined;
      for (const series of capacitySeries(args.targets, args.codecs)) {
        const { codec, srtp, target } = series;
        const started = Date.now();
        const budget = plan.budgetS[codec];
        const common = { codec, srtp, targetKind: target };
        if (target === 'janus') {
          if (!janus) {
            janus = ensureJanus(REPO_ROOT);
            log(janus.message);
          }
          if (!janus.ok) {
            capacity.push(skippedSeries(common, janus.message));
            continue;
          }
        }
        log(`mixer capacity ${target} ${seriesName(codec, srtp)}: steps ${plan.steps[codec].join(', ')} rooms of 4`);
        capacity.push(
          await runMixerCapacity({
            ...common,
            steps: plan.steps[codec],
            repeats: plan.repeats,
            warmupMs: plan.warmupMs,
            windowMs,
            cps: 100,
            generators: args.generators,
            mixTalkers: args.mixTalkers,
            ...(args.workers !== undefined ? { workers: args.workers } : {}),
            nodeMain: args.nodeMain,
            maxRooms: plan.maxRooms[codec],
            stepDeadline: started + budget[0] * 1000,
            repeatDeadline: started + budget[1] * 1000,
            log,
          }),
        );
      }
    }
    if (ranSetup) {
      log(`SIP setup: ${plan.sip.rates.join(', ')} cps x ${plan.sip.calls} calls`);
      try {
        setup.push(
          ...(await runSipSetup({ ...plan.sip, nodeMain: args.nodeMain, targetKind: sipTarget, deadline: Date.now() + plan.sip.budgetS * 1000, log })),
        );
      } catch (e) {
        log(`SIP setup bench failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (ranSetup && sipTarget === 'node') {
      try {
        tlsResult = await runTls();
      } catch (e) {
        log(`SIP TLS bench failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // The SFU and cluster benches need real nodes (browsers, SIP video, etcd): the fake UAS only mixes audio.
    if (args.only === 'all' && args.targets.includes('node')) {
      try {
        sfuResult = await runSfuBench({ plan: args.quick ? SFU_PLAN.quick : SFU_PLAN.full, nodeMain: args.nodeMain, log });
      } catch (e) {
        log(`SFU bench failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      try {
        clusterResult = await runCluster();
      } catch (e) {
        log(`cluster bench failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      try {
        geoResult = await runGeo();
      } catch (e) {
        log(`geo bench failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    await killAll();
    meta.durationS = Math.round((Date.now() - t0) / 1000);
    writeResults(args.out, {
      ...(ranCapacity ? { capacity: { meta, codecs: capacity } } : {}),
      ...(ranSetup ? { setup: { meta, rates: setup } } : {}),
      ...(sfuResult ? { sfu: { meta, sfu: sfuResult } } : {}),
      ...(clusterResult ? { cluster: { meta, cluster: clusterResult } } : {}),
      ...(geoResult ? { geo: { meta, geo: geoResult } } : {}),
      ...(geoSimResult ? { geoSim: { meta, geoSim: geoSimResult } } : {}),
      ...(tlsResult ? { tls: { meta, tls: tlsResult } } : {}),
    });
    log(`results written to ${args.out} (${meta.durationS} s)`);
  }
}

// The nodes, etcd, sipp and browsers run detached (their own process groups): Ctrl-C or a kill of
// the bench must end them too, by PID, before it exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping every process it started\n`);
    void killAll().finally(() => process.exit(130));
  });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench crashed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
