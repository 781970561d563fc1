/**
 * In-namespace driver: runs INSIDE `unshare -n` (started by netns.ts through netns-run.sh) and
 * executes a JSON plan of steps (start processes, wait for output or HTTP, write to stdin,
 * signals), then writes a JSON result file the test reads. Self-contained (Node builtins only;
 * netns.ts transpiles it to plain JS). Must never outlive its plan's deadline or leave a child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';

export type PlanStep =
  | { op: 'start'; id: string; cmd: string; args: string[]; cwd: string; logFile: string }
  | { op: 'waitHttp'; url: string; timeoutMs: number }
  | { op: 'waitOutput'; id: string; pattern: string; timeoutMs: number }
  | { op: 'sleep'; ms: number }
  | { op: 'write'; id: string; text: string }
  | { op: 'fetchJson'; url: string; key: string }
  | WaitJsonStep
  | { op: 'waitExit'; id: string; timeoutMs: number }
  | { op: 'signal'; id: string; signal: NodeJS.Signals };

/**
 * Polls a JSON array (an admin API list) until at least `minItems` of its items equal every field
 * of `match` and have every field of `positive` above 0; the last answer is kept under `key`.
 */
export interface WaitJsonStep {
  op: 'waitJson';
  url: string;
  timeoutMs: number;
  minItems: number;
  match?: Record<string, string | number | boolean>;
  positive?: string[];
  key?: string;
}

export interface Plan {
  resultFile: string;
  deadlineMs: number;
  steps: PlanStep[];
}

export interface ProcResult {
  code: number | null;
  signal: string | null;
  running: boolean;
  outputTail: string;
}

export interface PlanResult {
  ok: boolean;
  error?: string;
  stepsDone: number;
  procs: Record<string, ProcResult>;
  fetched: Record<string, unknown>;
}

interface Running {
  child: ChildProcess;
  output: string;
  exit?: { code: number | null; signal: string | null };
  exited: Promise<void>;
}

const procs = new Map<string, Running>();
const fetched: Record<string, unknown> = {};
const KEEP = 200_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function get(id: string): Running {
  const p = procs.get(id);
  if (!p) throw new Error(`no process '${id}'`);
  return p;
}

function start(step: Extract<PlanStep, { op: 'start' }>): void {
  const log = createWriteStream(step.logFile);
  const child = spawn(step.cmd, step.args, { cwd: step.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const r: Running = { child, output: '', exited: Promise.resolve() };
  const collect = (d: Buffer): void => {
    log.write(d);
    r.output = (r.output + d.toString('utf8')).slice(-KEEP);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.stdin?.on('error', () => undefined);
  r.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      r.exit = { code, signal };
      resolve();
    });
    child.once('error', (e) => {
      r.output += `\nspawn error: ${e.message}`;
      r.exit = { code: -1, signal: null };
      resolve();
    });
  });
  procs.set(step.id, r);
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await delay(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
}

function matching(body: unknown, step: WaitJsonStep): number {
  if (!Array.isArray(body)) return 0;
  return body.filter((item: unknown) => {
    if (typeof item !== 'object' || item === null) return false;
    const rec = item as Record<string, unknown>;
    const equal = Object.entries(step.match ?? {}).every(([k, v]) => rec[k] === v);
    return equal && (step.positive ?? []).every((k) => typeof rec[k] === 'number' && (rec[k] as number) > 0);
  }).length;
}

async function waitJson(step: WaitJsonStep): Promise<void> {
  const what = `GET ${step.url} lists ${step.minItems} item(s) with ${JSON.stringify(step.match ?? {})} and ${JSON.stringify(step.positive ?? [])} > 0`;
  return until(what, step.timeoutMs, async () => {
    const res = await fetch(step.url, { signal: AbortSignal.timeout(3000) });
    const body: unknown = await res.json();
    if (step.key !== undefined) fetched[step.key] = body;
    return matching(body, step) >= step.minItems;
  });
}

async function runStep(step: PlanStep): Promise<void> {
  switch (step.op) {
    case 'start':
      return start(step);
    case 'waitHttp':
      return until(`GET ${step.url}`, step.timeoutMs, async () => (await fetch(step.url)).status === 200);
    case 'waitOutput': {
      const re = new RegExp(step.pattern);
      const p = get(step.id);
      return until(`${step.id} prints /${step.pattern}/`, step.timeoutMs, () => {
        if (p.exit && !re.test(p.output)) throw new Error(`${step.id} exited`);
        return re.test(p.output);
      });
    }
    case 'sleep':
      return delay(step.ms);
    case 'write':
      get(step.id).child.stdin?.write(step.text);
      return;
    case 'fetchJson': {
      const res = await fetch(step.url, { signal: AbortSignal.timeout(3000) });
      fetched[step.key] = await res.json();
      return;
    }
    case 'waitJson':
      return waitJson(step);
    case 'waitExit': {
      const p = get(step.id);
      return until(`${step.id} exits`, step.timeoutMs, () => p.exit !== undefined);
    }
    case 'signal':
      get(step.id).child.kill(step.signal);
      return;
  }
}

async function stopAll(): Promise<void> {
  for (const p of procs.values()) if (!p.exit) p.child.kill('SIGTERM');
  const all = Promise.all([...procs.values()].map((p) => p.exited));
  await Promise.race([all, delay(3000)]);
  for (const p of procs.values()) if (!p.exit) p.child.kill('SIGKILL');
  await Promise.race([all, delay(1000)]);
}

function summary(ok: boolean, stepsDone: number, error?: string): PlanResult {
  const out: Record<string, ProcResult> = {};
  for (const [id, p] of procs) {
    out[id] = {
      code: p.exit?.code ?? null,
      signal: p.exit?.signal ?? null,
      running: p.exit === undefined,
      outputTail: p.output.slice(-4000),
    };
  }
  return { ok, error, stepsDone, procs: out, fetched };
}

async function main(planFile: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  let done = 0;
  let error: string | undefined;
  const deadline = delay(plan.deadlineMs).then(() => {
    throw new Error(`plan deadline of ${plan.deadlineMs} ms passed`);
  });
  try {
    for (const step of plan.steps) {
      await Promise.race([runStep(step), deadline]);
      done++;
    }
  } catch (e) {
    error = `step ${done} (${JSON.stringify(plan.steps[done])}) failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const before = summary(error === undefined, done, error);
  await stopAll();
  // Exit codes as they were when the plan ended; processes still running then were killed.
  const after = summary(error === undefined, done, error);
  for (const [id, r] of Object.entries(after.procs)) {
    const b = before.procs[id];
    if (b?.running) after.procs[id] = { ...r, running: true };
  }
  writeFileSync(plan.resultFile, JSON.stringify(after, null, 2));
  process.exit(0);
}

const planArg = process.argv[2];
if (planArg) {
  void main(planArg);
}
