/**
 * SIP call-setup bench: sipp 3.6.1 places short calls (bench/scenarios/uac_short_call.xml) at a
 * few fixed rates against one node and we report successful and failed calls, the achieved setup
 * rate, and INVITE -> 200 OK p50/p99 from sipp's per-call RTT trace. Figures only; every sipp run
 * is bounded by -timeout and a kill by PID.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../test/helpers/ports';
import { Proc } from '../test/helpers/proc';
import { requireTool } from '../test/helpers/tools';
import { percentileOf } from './load/stats';
import { roomAlias, startTarget, type Target } from './target';

export const SCENARIO = join(__dirname, '..', '..', 'bench', 'scenarios', 'uac_short_call.xml');
const ROOMS = 50;
const WARMUP = { rate: 10, calls: 50 };

export interface SetupOptions {
  rates: number[];
  calls: number;
  holdMs: number;
  nodeMain: string;
  targetKind: 'node' | 'fake';
  deadline: number;
  log: (line: string) => void;
}

export interface SetupResult {
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  /** Calls whose 200 OK came back, per second, between the first and the last 200. */
  achievedCps: number;
  inviteTo200: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
  sippExit: number | null;
  nodeCpuPercent: number;
  /** The first calls to a fresh node (code loading and compiling, first conferences): not a rate. */
  warmup?: boolean;
  note?: string;
  /** Node /metrics lines about rejections after this rate (diagnostics). */
  nodeRejections?: string[];
}

/** Parses sipp's `-trace_rtt` CSV (Date_ms;response_time_ms;rtd_no) into [date, rtt] pairs. */
export function parseRttCsv(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const line of text.split('\n').slice(1)) {
    const [date, rtt] = line.split(';');
    const d = Number(date);
    const r = Number(rtt);
    if (line.trim() !== '' && Number.isFinite(d) && Number.isFinite(r)) out.push([d, r]);
  }
  return out;
}

/** The last row of sipp's `-stf` statistics CSV as a name -> value map. */
export function parseStatCsv(text: string): Map<string, string> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const names = (lines[0] ?? '').split(';');
  const values = (lines[lines.length - 1] ?? '').split(';');
  const out = new Map<string, string>();
  names.forEach((n, i) => out.set(n, values[i] ?? ''));
  return out;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function runRate(rate: number, o: SetupOptions, sipTarget: string, dir: string): Promise<Omit<SetupResult, 'nodeCpuPercent'>> {
  const [sipPort, mediaPort, controlPort] = (await freePorts(3)) as [number, number, number];
  const cwd = mkdtempSync(join(dir, `r${rate}-`));
  const inf = join(cwd, 'rooms.csv');
  writeFileSync(inf, ['SEQUENTIAL', ...Array.from({ length: ROOMS }, (_, i) => `${roomAlias(i + 1)};`), ''].join('\n'));
  const timeoutS = Math.ceil(o.calls / rate + o.holdMs / 1000 + 30);
  const stat = join(cwd, 'stat.csv');
  const args = [
    sipTarget, '-sf', SCENARIO, '-inf', inf,
    '-i', '127.0.0.1', '-ci', '127.0.0.1', '-p', String(sipPort), '-mp', String(mediaPort), '-cp', String(controlPort),
    '-nostdin', '-t', 'u1',
    '-r', String(rate), '-l', String(Math.max(10, Math.ceil(rate * (o.holdMs / 1000 + 2)))), '-m', String(o.calls), '-d', String(o.holdMs),
    '-max_retrans', '5', '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-trace_rtt', '-rtt_freq', '1',
    '-trace_err', '-error_file', join(cwd, 'errors.log'),
  ];
  const proc = new Proc(`sipp ${rate}cps`, requireTool('sipp'), args, { cwd });
  let exit: number | null = null;
  try {
    exit = (await proc.wait((timeoutS + 15) * 1000)).code;
  } catch {
    exit = null;
  } finally {
    proc.kill('SIGKILL');
  }
  const rttFile = readdirSync(cwd).find((f) => f.endsWith('_rtt.csv'));
  const rtts = rttFile ? parseRttCsv(readOr(join(cwd, rttFile))) : [];
  const st = parseStatCsv(readOr(stat));
  const ms = rtts.map(([, r]) => r);
  const dates = rtts.map(([d]) => d);
  const span = dates.length > 1 ? (Math.max(...dates) - Math.min(...dates)) / 1000 : 0;
  const successful = Number(st.get('SuccessfulCall(C)') ?? 0);
  const failed = Number(st.get('FailedCall(C)') ?? 0);
  return {
    rate,
    calls: o.calls,
    successful,
    failed: failed + Math.max(0, o.calls - successful - failed),
    achievedCps: span > 0 ? Math.round(((rtts.length - 1) / span) * 10) / 10 : 0,
    inviteTo200: { p50Ms: percentileOf(ms, 50), p99Ms: percentileOf(ms, 99), maxMs: ms.length > 0 ? Math.max(...ms) : 0, samples: ms.length },
    sippExit: exit,
    ...(exit === 0 ? {} : { note: readOr(join(cwd, 'errors.log')).split('\n').filter((l) => l.trim() !== '').slice(0, 12).filter((l, i) => i < 3 || /Retry-After|^SIP\/2\.0/i.test(l)).join(' | ').slice(0, 400) }),
  };
}

async function rejectionMetrics(t: Target): Promise<string[]> {
  if (t.httpPort === undefined) return [];
  try {
    const res = await fetch(`http://127.0.0.1:${t.httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    return text.split('\n').filter((l) => !l.startsWith('#') && /reject|overload|503|fail/i.test(l)).slice(0, 8);
  } catch {
    return [];
  }
}

export async function runSipSetup(o: SetupOptions): Promise<SetupResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-sip-'));
  const target = await startTarget({ kind: o.targetKind, nodeMain: o.nodeMain, dir, rooms: ROOMS, mixTalkers: 3, rtpPorts: 2000 });
  const out: SetupResult[] = [];
  try {
    // A fresh node answers its first calls slower (measured: the first ~25 calls took up to 0.4 s,
    // then 0-10 ms): a warm-up run of its own keeps that out of the rates and still shows it.
    const runs = [{ rate: WARMUP.rate, calls: WARMUP.calls, warmup: true }, ...o.rates.map((rate) => ({ rate, calls: o.calls, warmup: false }))];
    for (const run of runs) {
      const rate = run.rate;
      if (Date.now() > o.deadline) break;
      const c0 = target.cpuTimes();
      const t0 = performance.now();
      const r = await runRate(rate, { ...o, calls: run.calls }, `127.0.0.1:${target.sipPort}`, dir);
      const c1 = target.cpuTimes();
      const wall = (performance.now() - t0) / 1000;
      const cpu = Math.round(((c1.user + c1.system - c0.user - c0.system) / wall) * 1000) / 10;
      const rejections = await rejectionMetrics(target);
      const res: SetupResult = { ...r, nodeCpuPercent: cpu, ...(run.warmup ? { warmup: true } : {}), ...(rejections.length > 0 ? { nodeRejections: rejections } : {}) };
      out.push(res);
      o.log(
        `  ${run.warmup ? 'warm-up ' : ''}${rate} cps x ${run.calls}: ${res.successful} ok, ${res.failed} failed, achieved ${res.achievedCps} cps, ` +
          `INVITE->200 p50 ${res.inviteTo200.p50Ms} ms p99 ${res.inviteTo200.p99Ms} ms, node CPU ${cpu}%${res.note ? ` (${res.note})` : ''}${res.nodeRejections ? ` metrics: ${res.nodeRejections.join(', ')}` : ''}`,
      );
      if (!target.alive()) break;
      // Let the previous run's calls end before the next rate.
      await new Promise((r2) => setTimeout(r2, 1000));
    }
  } finally {
    await target.stop();
  }
  return out;
}
