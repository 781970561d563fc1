/**
 * Writes the bench figures: JSON per benchmark (capacity, setup, SFU, cluster) and RESULTS.md with
 * markdown tables: mixer capacity of confnode beside Janus AudioBridge measured in the same run,
 * and PCMU with SDES-SRTP beside plain PCMU. Pure formatting plus file writes under
 * bench/results/; it never judges anything itself.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterMarkdown } from './cluster/report-cluster';
import { geoReplayMarkdown, type GeoReplayResult } from './geo-replay/run-geo-replay';
import type { PlacementSimResult } from './geo-sim/placement-sim';
import { geoSimMarkdown } from './geo-sim/report-geo-sim';
import { tlsMarkdown, type TlsResult } from './sip-tls';
import type { ClusterResult } from './cluster/run-cluster';
import { STEAL_RERUN_PERCENT, type CodecCapacity, type StepResult } from './mixer-capacity';
import { sfuMarkdown } from './sfu/report-sfu';
import type { SfuResult } from './sfu/run-sfu';
import type { SetupResult } from './sip-setup';

/** What bench/results/sfu.json holds. */
export interface SfuDocument {
  meta: RunMeta;
  sfu: SfuResult;
}

/** What bench/results/cluster.json holds. */
export interface ClusterDocument {
  meta: RunMeta;
  cluster: ClusterResult;
}

/** What bench/results/geo-sim.json holds. */
export interface GeoSimDocument {
  meta: RunMeta;
  geoSim: PlacementSimResult;
}

/** What bench/results/sip-tls.json holds. */
export interface TlsDocument {
  meta: RunMeta;
  tls: TlsResult;
}

/** What bench/results/geo.json holds. */
export interface GeoDocument {
  meta: RunMeta;
  geo: GeoReplayResult;
}

export interface RunMeta {
  startedAt: string;
  mode: 'full' | 'quick';
  /** What was measured: 'node', 'fake', 'janus', or several joined with '+' ('node+janus'). */
  target: string;
  machine: { cpus: number; model: string; node: string };
  settings: Record<string, unknown>;
  durationS?: number;
}

function stepRow(r: StepResult, srtp: boolean): string {
  const v = r.verdict;
  return [
    `${r.repetition > 0 ? `repeat ${r.repetition}` : 'step'}${r.disturbed ? ' (disturbed: measured again)' : ''}`,
    r.rooms,
    r.participants,
    r.pass ? '**pass**' : 'FAIL',
    `${(v.minReceiveRatio * 100).toFixed(1)}%`,
    v.pooledP99Ms,
    v.worstP99Ms,
    `${r.arrivals.gapsPercent}% / ${r.arrivals.bunchedPercent}%`,
    `${v.toneChecked - v.toneFailed}/${v.toneChecked}`,
    `${r.nodeCpu.totalPercent}% (${r.nodeCpu.userPercent} u / ${r.nodeCpu.systemPercent} s)`,
    r.nodeCpu.perParticipantPercent,
    `${r.generators.cpuPercent}% / ${r.generators.loopDelayP99Ms} ms`,
    `${r.otherLoadPercent}% / ${r.stealPercent ?? '-'}%`,
    r.nodeMix ? `${r.nodeMix.lateSlotsPercent}%` : '-',
    `${r.setup.ok}/${r.setup.ok + r.setup.failed}`,
    ...(srtp ? [r.srtpRejected ?? '-'] : []),
    cell(v.failures.join('; ')),
  ].join(' | ');
}

const TARGET_NAMES: Readonly<Record<string, string>> = { node: 'confnode', janus: 'Janus AudioBridge 1.1.2', fake: 'fake UAS (generator check)' };

/** The target of a series; runs before Janus joined the bench name it only in the meta. */
export function seriesTarget(c: CodecCapacity, metaTarget: string): string {
  return c.target ?? (metaTarget.includes('+') ? 'node' : metaTarget);
}

/** The runs at the largest passing step that count for its spread (the step and its repeats). */
export function spreadRuns(c: CodecCapacity): StepResult[] {
  const lp = c.largestPassing;
  return [c.steps.find((s) => s.pass && s.rooms === lp?.rooms), ...c.repeats.filter((s) => !s.disturbed)].filter((s): s is StepResult => s !== undefined);
}

function capacitySection(c: CodecCapacity, metaTarget: string): string[] {
  const lp = c.largestPassing;
  const target = seriesTarget(c, metaTarget);
  const srtp = c.srtp === true;
  const spread = spreadRuns(c);
  const disturbed = [...c.steps, ...c.repeats].filter((s) => s.disturbed).length;
  const cpus = spread.map((s) => s.nodeCpu.perParticipantPercent);
  const m = c.mixing;
  return [
    `### ${TARGET_NAMES[target] ?? target}: ${c.series ?? c.codec}`,
    '',
    `- largest passing: ${lp ? `${lp.participants} participants (${lp.rooms} rooms), ${lp.cpuPerParticipantPercent}% of a core per participant` : 'none passed'}`,
    `- spread at the largest passing step: ${spread.length > 1 ? `${spread.filter((s) => s.pass).length}/${spread.length} passed; CPU/participant ${Math.min(...cpus)}..${Math.max(...cpus)}%` : '-'}`,
    `- first failing step: ${c.firstFailing ? `${c.firstFailing.participants} participants: ${c.firstFailing.failures.join('; ')}` : '-'}`,
    ...(m ? [`- mixing: ${m.sampleRateHz / 1000} kHz; Opus encoders complexity ${m.opusComplexity}, ${m.opusBitrate / 1000} kbit/s, application ${m.opusApplication}`] : []),
    `- stopped because: ${c.stoppedBecause}.` +
      (disturbed > 0 ? ` Windows measured again because they failed while the hypervisor took >= ${STEAL_RERUN_PERCENT}% of a core (steal): ${disturbed}.` : ''),
    '',
    ...(c.steps.length + c.repeats.length > 0
      ? [
          '| run | rooms | participants | verdict | min rx | p99 dev (ms, pooled) | worst participant p99 (ms) | inter-arrivals >30 ms / <10 ms | tones ok | ' +
            `${target === 'janus' ? 'Janus' : 'node'} CPU (1 core = 100%) | CPU %/participant | generators CPU / loop lag p99 | other load / hypervisor steal (1 core = 100%) | ` +
            `node mix slots >= 5 ms late | calls set up (step) | ${srtp ? 'SRTP packets refused | ' : ''}failures |`,
          `|${'---|'.repeat(srtp ? 17 : 16)}`,
          ...[...c.steps, ...c.repeats].map((r) => `| ${stepRow(r, srtp)} |`),
          '',
        ]
      : []),
  ];
}

/** Per rooms count, the row that decided that step (the last one measured, after any re-measuring). */
function decidedSteps(c: CodecCapacity): Map<number, StepResult> {
  const m = new Map<number, StepResult>();
  for (const r of c.steps) m.set(r.rooms, r);
  return m;
}

/**
 * The same load in two series: the largest room count both measured and both passed (else the
 * largest both measured), with each one's CPU per participant there.
 */
export function sameLoad(a: CodecCapacity, b: CodecCapacity): { participants: number; a: StepResult; b: StepResult } | undefined {
  const sa = decidedSteps(a);
  const sb = decidedSteps(b);
  const common = [...sa.keys()].filter((k) => sb.has(k)).sort((x, y) => y - x);
  const both = common.find((k) => sa.get(k)?.pass === true && sb.get(k)?.pass === true) ?? common[0];
  const ra = both !== undefined ? sa.get(both) : undefined;
  const rb = both !== undefined ? sb.get(both) : undefined;
  return ra && rb ? { participants: ra.participants, a: ra, b: rb } : undefined;
}

/** `a / b` of the largest passing counts, or undefined when either has none. */
export function capacityRatio(a: CodecCapacity | undefined, b: CodecCapacity | undefined): number | undefined {
  const pa = a?.largestPassing?.participants;
  const pb = b?.largestPassing?.participants;
  return pa !== undefined && pb !== undefined && pb > 0 ? Math.round((pa / pb) * 100) / 100 : undefined;
}

function mixingCell(c: CodecCapacity): string {
  const m = c.mixing;
  if (!m) return '-';
  return `${m.sampleRateHz / 1000} kHz` + (c.codec === 'opus' ? `; Opus complexity ${m.opusComplexity}, ${m.opusBitrate / 1000} kbit/s, ${m.opusApplication}` : '');
}

/** CPU taken by everything but the target and the generators: a loaded machine makes any series look worse. */
function otherLoadCell(c: CodecCapacity): string {
  const runs = [...c.steps, ...c.repeats];
  return runs.length > 0 ? `${Math.max(...runs.map((r) => r.otherLoadPercent))}%` : '-';
}

/**
 * What reaching `goal` x b's largest passing count would cost at a's largest passing step: a's CPU
 * and its generator's per participant, times that count, against the machine's cores (the load
 * generator shares them). Undefined without a passing step on either side.
 */
export function goalBudget(
  a: CodecCapacity,
  b: CodecCapacity,
  goal: number,
  cores: number,
): { participants: number; targetPercent: number; generatorPercent: number; machinePercent: number } | undefined {
  const pa = a.largestPassing;
  const pb = b.largestPassing;
  if (!pa || !pb || cores <= 0) return undefined;
  const step = [...a.steps, ...a.repeats].find((r) => r.pass && r.participants === pa.participants);
  if (!step || step.participants <= 0) return undefined;
  const participants = Math.round(pb.participants * goal);
  const targetPercent = Math.round(participants * pa.cpuPerParticipantPercent);
  const generatorPercent = Math.round((participants * step.generators.cpuPercent) / step.participants);
  return { participants, targetPercent, generatorPercent, machinePercent: cores * 100 };
}

function ratioLine(what: string, a: CodecCapacity | undefined, b: CodecCapacity | undefined, goal: number, names: [string, string], cores = 0): string {
  const ratio = capacityRatio(a, b);
  const load = a && b ? sameLoad(a, b) : undefined;
  const budget = a && b && ratio !== undefined && ratio < goal ? goalBudget(a, b, goal, cores) : undefined;
  return (
    `- ${what}: largest passing ${names[0]} / ${names[1]} = ${ratio !== undefined ? `**${ratio}x**` : '-'} (goal >= ${goal}x)` +
    (load
      ? `; at the same load (${load.participants} participants${load.a.pass && load.b.pass ? ', both passed' : ''}) CPU per participant ` +
        `${load.a.nodeCpu.perParticipantPercent}% vs ${load.b.nodeCpu.perParticipantPercent}% of a core ` +
        `(difference ${Math.round((load.a.nodeCpu.perParticipantPercent - load.b.nodeCpu.perParticipantPercent) * 1000) / 1000}%)`
      : '') +
    (budget
      ? `; the goal, ${budget.participants} participants, would take ${names[0]} about ${budget.targetPercent}% of a core and the ` +
        `generator ${budget.generatorPercent}% at this run's costs per participant: ${budget.targetPercent + budget.generatorPercent}% ` +
        `of the machine's ${budget.machinePercent}%`
      : '') +
    '.'
  );
}

/**
 * The summary of a capacity run: every series side by side (largest passing count, CPU per
 * participant, spread, mixing rate and Opus settings), then the same-run ratios the issues ask
 * for: confnode / Janus per codec, PCMU+SRTP / PCMU.
 */
export function capacityComparison(codecs: readonly CodecCapacity[], metaTarget: string, cores = 0): string[] {
  const find = (target: string, series: string): CodecCapacity | undefined =>
    codecs.find((c) => seriesTarget(c, metaTarget) === target && (c.series ?? c.codec) === series);
  const rows = codecs.map((c) => {
    const lp = c.largestPassing;
    const spread = spreadRuns(c);
    return (
      `| ${c.series ?? c.codec} | ${TARGET_NAMES[seriesTarget(c, metaTarget)] ?? seriesTarget(c, metaTarget)} | ` +
      `${lp ? `${lp.participants} (${lp.rooms} rooms)` : c.stoppedBecause.startsWith('not run') ? cell(c.stoppedBecause) : 'none passed'} | ` +
      `${lp ? `${lp.cpuPerParticipantPercent}%` : '-'} | ${spread.length > 1 ? `${spread.filter((s) => s.pass).length}/${spread.length}` : '-'} | ` +
      `${c.firstFailing ? c.firstFailing.participants : '-'} | ${mixingCell(c)} | ${otherLoadCell(c)} |`
    );
  });
  const lines = ['### Summary (every series of this run, same generator, kernel receive timestamps)', ''];
  lines.push(
    '| series | target | largest passing | CPU per participant (1 core = 100%) | repeats passed | first failing | mixing | other load on the machine, max of its windows (1 core = 100%) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  );
  const janusPcmu = find('janus', 'PCMU');
  const janusOpus = find('janus', 'opus');
  const plain = find('node', 'PCMU');
  const srtp = find('node', 'PCMU+SRTP');
  if (janusPcmu) lines.push(ratioLine('PCMU, confnode against Janus', find('node', 'PCMU'), janusPcmu, 2, ['confnode', 'Janus'], cores));
  if (janusOpus) lines.push(ratioLine('Opus, confnode against Janus', find('node', 'opus'), janusOpus, 1.5, ['confnode', 'Janus'], cores));
  if (srtp) lines.push(ratioLine('SDES-SRTP against plain RTP (confnode, PCMU)', srtp, plain, 0.85, ['PCMU+SRTP', 'PCMU']));
  if (janusPcmu || janusOpus || srtp) lines.push('');
  if (!janusPcmu && !janusOpus && codecs.some((c) => seriesTarget(c, metaTarget) === 'node')) {
    lines.push(
      `Janus was not measured in this run; the workload README's bar (Janus AudioBridge 1.1.2, another generator): ` +
        `${codecs.map((c) => `${c.codec} ${c.bar.participants} participants at about ${c.bar.cpuPerParticipantPercent}% of a core each`).filter((v, i, a) => a.indexOf(v) === i).join('; ')}.`,
      '',
    );
  }
  return lines;
}

/** Free text inside a table cell: no pipes, tabs or newlines. */
function cell(text: string): string {
  return text.replace(/[|\t\r\n]+/g, ' / ').slice(0, 300);
}

function setupSection(doc: SetupDocument): string[] {
  return [
    '## SIP call setup (sipp 3.6.1, UDP, short calls)',
    '',
    `Run ${doc.meta.startedAt} (${doc.meta.mode} mode, target: ${doc.meta.target}).`,
    '',
    '| offered rate (cps) | calls | successful | failed | achieved setup rate (cps) | INVITE->200 p50 (ms) | p99 (ms) | max (ms) | node CPU | note |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...doc.rates.map(
      (r) =>
        `| ${r.warmup ? `warm-up: ${r.rate}` : r.rate} | ${r.calls} | ${r.successful} | ${r.failed} | ${r.achievedCps} | ${r.inviteTo200.p50Ms} | ${r.inviteTo200.p99Ms} | ${r.inviteTo200.maxMs} | ${r.nodeCpuPercent}% | ${cell(r.note ?? '')} |`,
    ),
    '',
    'sipp measures response times with 1 ms resolution. The warm-up row is the first calls to a freshly started node (code loading and compiling, first conferences on each media thread), kept out of the rates.',
    '',
  ];
}

/** What bench/results/mixer-capacity.json and sip-setup.json hold. */
export interface CapacityDocument {
  meta: RunMeta;
  codecs: CodecCapacity[];
}
export interface SetupDocument {
  meta: RunMeta;
  rates: SetupResult[];
}

/** The figures of one run, each bench with the meta of the run that measured it. */
export interface ResultDocuments {
  capacity?: CapacityDocument;
  setup?: SetupDocument;
  sfu?: SfuDocument;
  cluster?: ClusterDocument;
  geo?: GeoDocument;
  geoSim?: GeoSimDocument;
  tls?: TlsDocument;
}

export function resultsMarkdown(docs: ResultDocuments): string {
  const cap = docs.capacity;
  return [
    '# confnode bench results',
    '',
    'Load generator on the same machine. Regenerate with `npm run bench` (or `-- --quick`, or `-- --only capacity|sip|tls|sfu|cluster|geo|geo-sim`: ' +
      'a partial run keeps the other benches\' figures).',
    '',
    ...(cap
      ? [
          '## Mixer capacity (rooms of 4 plain-RTP participants, every participant sends a tone)',
          '',
          `Run ${cap.meta.startedAt} (${cap.meta.mode} mode, target: ${cap.meta.target}${cap.meta.durationS !== undefined ? `, ${cap.meta.durationS} s` : ''}) on ` +
            `${cap.meta.machine.cpus} x ${cap.meta.machine.model}, Node ${cap.meta.machine.node}.`,
          '',
          'Criteria per window: every participant receives >= 95% of 50 packets/s; p99 of |inter-arrival - 20 ms| ' +
            '(pooled over all participants) <= 10 ms; tone check (Goertzel on decoded audio of sampled listeners: ' +
            'the other three tones present above -20 dB, own tone at least 20 dB below the weakest); every call set up.',
          '',
          `Settings: ${Object.entries(cap.meta.settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}.`,
          '',
          ...capacityComparison(cap.codecs, cap.meta.target, cap.meta.machine.cpus),
          ...cap.codecs.flatMap((c) => capacitySection(c, cap.meta.target)),
        ]
      : []),
    ...(docs.setup ? setupSection(docs.setup) : []),
    ...(docs.tls ? tlsMarkdown(docs.tls.tls, docs.tls.meta.startedAt) : []),
    ...(docs.sfu ? sfuMarkdown(docs.sfu.sfu, docs.sfu.meta.startedAt, docs.sfu.meta.mode) : []),
    ...(docs.cluster ? clusterMarkdown(docs.cluster.cluster, docs.cluster.meta.startedAt, docs.cluster.meta.mode) : []),
    ...(docs.geoSim ? [geoSimMarkdown(docs.geoSim.geoSim), `Run ${docs.geoSim.meta.startedAt} (${docs.geoSim.meta.mode} mode).`, ''] : []),
    ...(docs.geo ? [geoReplayMarkdown(docs.geo.geo), `Run ${docs.geo.meta.startedAt} (${docs.geo.meta.mode} mode).`, ''] : []),
  ].join('\n');
}

/**
 * Writes the JSON of each bench this run measured and rebuilds RESULTS.md; a bench the run did
 * not measure (absent from `ran`) keeps the JSON already in `dir`, so a partial run (`--only`)
 * never blanks the others' figures. `writeResults(dir, {})` only rebuilds RESULTS.md.
 */
export function writeResults(dir: string, ran: ResultDocuments): void {
  mkdirSync(dir, { recursive: true });
  const docs: ResultDocuments = {
    capacity: ran.capacity ?? readJson<CapacityDocument>(join(dir, CAPACITY_FILE)),
    setup: ran.setup ?? readJson<SetupDocument>(join(dir, SETUP_FILE)),
    sfu: ran.sfu ?? readJson<SfuDocument>(join(dir, SFU_FILE)),
    cluster: ran.cluster ?? readJson<ClusterDocument>(join(dir, CLUSTER_FILE)),
    geo: ran.geo ?? readJson<GeoDocument>(join(dir, GEO_FILE)),
    geoSim: ran.geoSim ?? readJson<GeoSimDocument>(join(dir, GEO_SIM_FILE)),
    tls: ran.tls ?? readJson<TlsDocument>(join(dir, TLS_FILE)),
  };
  if (ran.capacity) writeFileSync(join(dir, CAPACITY_FILE), `${JSON.stringify(ran.capacity, null, 2)}\n`);
  if (ran.setup) writeFileSync(join(dir, SETUP_FILE), `${JSON.stringify(ran.setup, null, 2)}\n`);
  if (ran.sfu) writeFileSync(join(dir, SFU_FILE), `${JSON.stringify(ran.sfu, null, 2)}\n`);
  if (ran.cluster) writeFileSync(join(dir, CLUSTER_FILE), `${JSON.stringify(ran.cluster, null, 2)}\n`);
  if (ran.geo) writeFileSync(join(dir, GEO_FILE), `${JSON.stringify(ran.geo, null, 2)}\n`);
  if (ran.tls) writeFileSync(join(dir, TLS_FILE), `${JSON.stringify(ran.tls, null, 2)}\n`);
  if (ran.geoSim) writeFileSync(join(dir, GEO_SIM_FILE), `${JSON.stringify(ran.geoSim, null, 2)}\n`);
  writeFileSync(join(dir, 'RESULTS.md'), resultsMarkdown(docs));
}

const CAPACITY_FILE = 'mixer-capacity.json';
const SETUP_FILE = 'sip-setup.json';
const SFU_FILE = 'sfu.json';
const CLUSTER_FILE = 'cluster.json';
const GEO_FILE = 'geo.json';
const GEO_SIM_FILE = 'geo-sim.json';
const TLS_FILE = 'sip-tls.json';

/** A JSON file of an earlier run, or undefined when there is none (or it is unreadable). */
function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
