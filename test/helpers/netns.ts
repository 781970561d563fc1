/**
 * Runs a plan of processes (node under test, sipp, baresip) together inside a private network
 * namespace: `unshare -n bash netns-run.sh node <driver.js> <plan.json>`. baresip binds RTP on
 * 0.0.0.0 whatever its config says; inside the namespace only `lo` exists, so nothing leaks to the
 * host. The namespace disappears with its processes. Must never run a plan without a deadline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { Plan, PlanResult, PlanStep } from './netns-driver';
import { Proc } from './proc';
import { requireNetns } from './tools';

export type { PlanStep, PlanResult };

const DRIVER_TS = join(__dirname, 'netns-driver.ts');
const RUN_SH = join(__dirname, 'netns-run.sh');

/** Transpiles the driver to plain CommonJS JS in `dir` (no ts-node needed in the namespace). */
function writeDriver(dir: string): string {
  const out = ts.transpileModule(readFileSync(DRIVER_TS, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    fileName: 'netns-driver.ts',
  });
  const path = join(dir, 'netns-driver.js');
  writeFileSync(path, out.outputText);
  return path;
}

/** The plan's error and every process's exit and output tail, for a failed assertion's message. */
export function describePlan(result: PlanResult): string {
  const procs = Object.entries(result.procs)
    .map(([id, p]) => `=== ${id}: exit ${String(p.code)} signal ${String(p.signal)} running=${String(p.running)}\n${p.outputTail}`)
    .join('\n');
  return `${result.error ?? ''}\n${procs}`;
}

/** Runs `steps` in a fresh namespace; resolves with the driver's result (or throws with its log). */
export async function runInNetns(dir: string, steps: PlanStep[], deadlineMs: number): Promise<PlanResult> {
  requireNetns();
  const driver = writeDriver(dir);
  const plan: Plan = { resultFile: join(dir, 'netns-result.json'), deadlineMs, steps };
  const planFile = join(dir, 'netns-plan.json');
  writeFileSync(planFile, JSON.stringify(plan, null, 2));
  const proc = new Proc('netns driver', 'unshare', ['-n', 'bash', RUN_SH, process.execPath, driver, planFile]);
  const exit = await proc.wait(deadlineMs + 15000);
  try {
    return JSON.parse(readFileSync(plan.resultFile, 'utf8')) as PlanResult;
  } catch {
    throw new Error(`netns driver wrote no result (exit ${JSON.stringify(exit)})\n${proc.tail()}`);
  }
}
