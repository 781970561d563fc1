/**
 * Runs sipp 3.6.1 against a node under test, bound to 127.0.0.1 (`-i`, `-ci`; ::1 inside a private
 * namespace) with its own SIP, media and control ports and `-nostdin`. On failure the caller puts `result.tail` into the
 * assertion message. Must never let a sipp outlive its test (bounded by `-timeout` and a kill).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from './ports';
import { Proc } from './proc';
import { requireTool } from './tools';

export const SIPP_FIXTURES = join(__dirname, '..', 'fixtures', 'sipp');

export interface SippOptions {
  /** Scenario file name under test/fixtures/sipp, or an absolute path. */
  scenario: string;
  /** host:port of the node's SIP listener ([::1]:port for IPv6). */
  target: string;
  /** sipp's SIP and media address; ::1 only inside a private namespace. Default 127.0.0.1. */
  localIp?: '127.0.0.1' | '::1';
  /** Request-URI user part ([service]). */
  service?: string;
  transport?: 'u1' | 'un' | 't1' | 'tn';
  /** Working directory: relative media files (tone WAVs) are looked up here; logs land here. */
  cwd: string;
  calls?: number;
  rate?: number;
  limit?: number;
  /** Value for `<pause/>` without milliseconds (ms). */
  pauseMs?: number;
  /** CSV injection file (-inf). */
  injectFile?: string;
  keys?: Record<string, string>;
  /** Hard bound on sipp's own runtime (s); the helper kills it a bit later. */
  timeoutS?: number;
  extraArgs?: string[];
}

export interface SippRun extends SippPorts {
  proc: Proc;
  /** Resolves with sipp's exit code (0 = every call succeeded). */
  done: Promise<SippResult>;
}

export interface SippResult {
  code: number | null;
  ok: boolean;
  tail: string;
}

function scenarioPath(s: string): string {
  return s.startsWith('/') ? s : join(SIPP_FIXTURES, s);
}

export interface SippPorts {
  sipPort: number;
  mediaPort: number;
  controlPort: number;
}

/** sipp's command line for `o` (also used to run sipp inside a namespace plan). */
export function sippArgs(o: SippOptions, ports: SippPorts): string[] {
  const { sipPort, mediaPort, controlPort } = ports;
  const timeoutS = o.timeoutS ?? 30;
  const args = [
    o.target,
    '-sf', scenarioPath(o.scenario),
    '-i', o.localIp ?? '127.0.0.1',
    // sipp's control socket is IPv4 only (errno 97 with ::1).
    '-ci', '127.0.0.1',
    '-p', String(sipPort),
    '-mp', String(mediaPort),
    '-cp', String(controlPort),
    '-nostdin',
    '-t', o.transport ?? 'u1',
    '-s', o.service ?? 'meet',
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 10),
    '-l', String(o.limit ?? o.calls ?? 1),
    '-d', String(o.pauseMs ?? 3000),
    '-timeout', `${timeoutS}s`,
    '-timeout_error',
    '-max_retrans', '5',
    '-trace_err',
    '-error_file', join(o.cwd, `sipp-${sipPort}-errors.log`),
    '-trace_screen',
    '-screen_file', join(o.cwd, `sipp-${sipPort}-screen.log`),
  ];
  if (o.injectFile) args.push('-inf', o.injectFile);
  for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, v);
  args.push(...(o.extraArgs ?? []));
  return args;
}

/** Starts sipp in the background. */
export async function startSipp(o: SippOptions): Promise<SippRun> {
  requireTool('sipp');
  const [sipPort, mediaPort, controlPort] = (await freePorts(3)) as [number, number, number];
  const timeoutS = o.timeoutS ?? 30;
  const args = sippArgs(o, { sipPort, mediaPort, controlPort });
  const proc = new Proc(`sipp ${o.scenario} ${o.transport ?? 'u1'}`, 'sipp', args, { cwd: o.cwd });
  const done = proc.wait((timeoutS + 10) * 1000).then(
    (exit) => ({ code: exit.code, ok: exit.code === 0, tail: sippTail(proc, o.cwd, sipPort) }),
    (e: unknown) => ({ code: null, ok: false, tail: `${String(e)}\n${sippTail(proc, o.cwd, sipPort)}` }),
  );
  return { proc, sipPort, mediaPort, controlPort, done };
}

/** Runs sipp to completion. */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  const run = await startSipp(o);
  return run.done;
}

function readTail(path: string, chars: number): string {
  try {
    return readFileSync(path, 'utf8').slice(-chars);
  } catch {
    return '(none)';
  }
}

/** sipp's error log and final screen (written into its cwd by the arguments sippArgs() gives). */
export function sippLogs(cwd: string, sipPort: number): string {
  return [
    `--- sipp errors log ---\n${readTail(join(cwd, `sipp-${sipPort}-errors.log`), 3000)}`,
    `--- sipp screen ---\n${readTail(join(cwd, `sipp-${sipPort}-screen.log`), 2500)}`,
  ].join('\n');
}

function sippTail(proc: Proc, cwd: string, sipPort: number): string {
  return [`sipp exit ${JSON.stringify(proc.exit)}`, proc.tail(2000), sippLogs(cwd, sipPort)].join('\n');
}

/** Throws (failing the test) with sipp's output and logs unless every call succeeded. */
export function assertSippOk(r: SippResult, what: string): void {
  if (!r.ok) throw new Error(`sipp failed (${what}): exit ${String(r.code)}\n${r.tail}`);
}

/**
 * Runs `body` while sipp runs, then requires sipp to succeed. If `body` fails, sipp is killed at
 * once (no waiting out its call timers) and the error carries sipp's output.
 */
export async function whileSippRuns<T>(run: SippRun, what: string, body: () => Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await body();
  } catch (e) {
    run.proc.kill('SIGKILL');
    const r = await run.done;
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n(${what})\n${r.tail}`);
  }
  assertSippOk(await run.done, what);
  return value;
}
