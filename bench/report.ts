/**
 * Writes the bench figures: JSON per benchmark (capacity, setup, SFU) and RESULTS.md with
 * markdown tables, our figures beside the Janus AudioBridge bar. Pure formatting plus file
 * writes under bench/results/; it never judges anything itself.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodecCapacity, StepResult } from './mixer-capacity';
import { sfuMarkdown } from './sfu/report-sfu';
import type { SfuResult } from './sfu/run-sfu';
import type { SetupResult } from './sip-setup';

/** What bench/results/sfu.json holds. */
export interface SfuDocument {
  meta: RunMeta;
  sfu: SfuResult;
}

export interface RunMeta {
  startedAt: string;
  mode: 'full' | 'quick';
  target: 'node' | 'fake';
  machine: { cpus: number; model: string; node: string };
  settings: Record<string, unknown>;
  durationS?: number;
}

function stepRow(r: StepResult): string {
  const v = r.verdict;
  return [
    r.repetition > 0 ? `repeat ${r.repetition}` : 'step',
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
    cell(v.failures.join('; ')),
  ].join(' | ');
}

function capacitySection(c: CodecCapacity): string[] {
  const lp = c.largestPassing;
  const spread = [c.steps.find((s) => s.pass && s.rooms === lp?.rooms), ...c.repeats].filter((s): s is StepResult => s !== undefined);
  const cpus = spread.map((s) => s.nodeCpu.perParticipantPercent);
  return [
    `### ${c.codec}`,
    '',
    '| | confnode | Janus AudioBridge (bar) |',
    '|---|---|---|',
    `| largest passing | ${lp ? `${lp.participants} participants (${lp.rooms} rooms)` : 'none passed'} | ${c.bar.participants} participants |`,
    `| node CPU per participant | ${lp ? `${lp.cpuPerParticipantPercent}% of a core` : '-'} | about ${c.bar.cpuPerParticipantPercent}% of a core |`,
    `| ratio to the bar | ${lp ? `${(lp.participants / c.bar.participants).toFixed(2)}x` : '-'} | 1x |`,
    `| spread at the largest passing step | ${spread.length > 1 ? `${spread.filter((s) => s.pass).length}/${spread.length} passed; CPU/participant ${Math.min(...cpus)}..${Math.max(...cpus)}%` : '-'} | |`,
    `| first failing step | ${c.firstFailing ? `${c.firstFailing.participants} participants: ${c.firstFailing.failures.join('; ')}` : '-'} | |`,
    '',
    `Stopped because: ${c.stoppedBecause}.`,
    '',
    '| run | rooms | participants | verdict | min rx | p99 dev (ms, pooled) | worst participant p99 (ms) | inter-arrivals >30 ms / <10 ms | tones ok | node CPU (1 core = 100%) | CPU %/participant | generators CPU / loop lag p99 | other load / hypervisor steal (1 core = 100%) | node mix slots >= 5 ms late | calls set up (step) | failures |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...[...c.steps, ...c.repeats].map((r) => `| ${stepRow(r)} |`),
    '',
  ];
}

/** Free text inside a table cell: no pipes, tabs or newlines. */
function cell(text: string): string {
  return text.replace(/[|\t\r\n]+/g, ' / ').slice(0, 300);
}

function setupSection(rows: SetupResult[]): string[] {
  return [
    '## SIP call setup (sipp 3.6.1, UDP, short calls)',
    '',
    '| offered rate (cps) | calls | successful | failed | achieved setup rate (cps) | INVITE->200 p50 (ms) | p99 (ms) | max (ms) | node CPU | note |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.rate} | ${r.calls} | ${r.successful} | ${r.failed} | ${r.achievedCps} | ${r.inviteTo200.p50Ms} | ${r.inviteTo200.p99Ms} | ${r.inviteTo200.maxMs} | ${r.nodeCpuPercent}% | ${cell(r.note ?? '')} |`,
    ),
    '',
    'sipp measures response times with 1 ms resolution.',
    '',
  ];
}

export function resultsMarkdown(meta: RunMeta, capacity: CodecCapacity[], setup: SetupResult[], sfu?: SfuDocument): string {
  return [
    '# confnode single-node bench results',
    '',
    `Run ${meta.startedAt} (${meta.mode} mode, target: ${meta.target}${meta.durationS !== undefined ? `, ${meta.durationS} s` : ''}) on ` +
      `${meta.machine.cpus} x ${meta.machine.model}, Node ${meta.machine.node}. Load generator on the same machine. ` +
      'Regenerate with `npm run bench` (or `-- --quick`).',
    '',
    '## Mixer capacity (rooms of 4 plain-RTP participants, every participant sends a tone)',
    '',
    'Criteria per window: every participant receives >= 95% of 50 packets/s; p99 of |inter-arrival - 20 ms| ' +
      '(pooled over all participants) <= 10 ms; tone check (Goertzel on decoded audio of sampled listeners: ' +
      'the other three tones present above -20 dB, own tone at least 20 dB below the weakest); every call set up.',
    '',
    `Settings: ${Object.entries(meta.settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}.`,
    '',
    ...capacity.flatMap(capacitySection),
    ...setupSection(setup),
    ...(sfu ? sfuMarkdown(sfu.sfu, sfu.meta.startedAt, sfu.meta.mode) : []),
  ].join('\n');
}

/** A JSON file of an earlier run, or undefined when there is none (or it is unreadable). */
function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Writes the capacity and setup JSON, sfu.json when `sfu` is given, and RESULTS.md; without
 * `sfu` the SFU section comes from an sfu.json already in `dir` (absent: no SFU section).
 */
export function writeResults(dir: string, meta: RunMeta, capacity: CodecCapacity[], setup: SetupResult[], sfu?: SfuResult): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'mixer-capacity.json'), `${JSON.stringify({ meta, codecs: capacity }, null, 2)}\n`);
  writeFileSync(join(dir, 'sip-setup.json'), `${JSON.stringify({ meta, rates: setup }, null, 2)}\n`);
  const sfuDoc = sfu ? { meta, sfu } : readJson<SfuDocument>(join(dir, 'sfu.json'));
  if (sfu) writeFileSync(join(dir, 'sfu.json'), `${JSON.stringify(sfuDoc, null, 2)}\n`);
  writeFileSync(join(dir, 'RESULTS.md'), resultsMarkdown(meta, capacity, setup, sfuDoc));
}

/**
 * `--only sfu`: writes sfu.json and rebuilds RESULTS.md with the capacity and setup figures
 * already in `dir` (left untouched), so an SFU-only run never blanks the other benches' results.
 */
export function writeSfuResults(dir: string, meta: RunMeta, sfu: SfuResult): void {
  mkdirSync(dir, { recursive: true });
  const doc: SfuDocument = { meta, sfu };
  writeFileSync(join(dir, 'sfu.json'), `${JSON.stringify(doc, null, 2)}\n`);
  const cap = readJson<{ meta: RunMeta; codecs: CodecCapacity[] }>(join(dir, 'mixer-capacity.json'));
  const sip = readJson<{ rates: SetupResult[] }>(join(dir, 'sip-setup.json'));
  writeFileSync(join(dir, 'RESULTS.md'), resultsMarkdown(cap?.meta ?? meta, cap?.codecs ?? [], sip?.rates ?? [], doc));
}
