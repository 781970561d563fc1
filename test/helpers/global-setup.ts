/**
 * Jest globalSetup of the integration project: builds the node (`tsc -p tsconfig.build.json`)
 * once when dist/node/main.js is missing or older than any source file, so every real-process
 * test runs the current code. Never builds when nothing changed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'node', 'main.js');
const MAX_FILES = 20000;

/** Newest mtime (ms) of the .ts sources under `dir` (tests excluded: they are not built). */
function newestSource(dir: string): number {
  let newest = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length > 0 && seen < MAX_FILES) {
    const d = stack.pop() as string;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      seen++;
      if (e.isDirectory()) stack.push(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

export function needsBuild(): boolean {
  if (!existsSync(MAIN)) return true;
  const built = statSync(MAIN).mtimeMs;
  const config = statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs;
  return newestSource(join(ROOT, 'src')) > built || config > built;
}

export default async function globalSetup(): Promise<void> {
  if (!needsBuild()) return;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
  });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
  if (!existsSync(MAIN)) {
    throw new Error(`build did not produce ${MAIN} (tsc exit ${res.status}):\n${output.slice(-4000)}`);
  }
  if (res.status !== 0) {
    // tsc still emits on type errors; the typecheck step of scripts/test reports them.
    process.stderr.write(`integration global setup: tsc reported errors (exit ${res.status}):\n${output.slice(-4000)}\n`);
  }
}
