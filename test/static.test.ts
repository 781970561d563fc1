/**
 * The compiler and the linter as tests: strict TypeScript over src, test and bench, and ESLint
 * (no `any` at module boundaries). A failure prints the diagnostics.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function run(cmd: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-8000) };
}

describe('static checks', () => {
  it('TypeScript strict (noUncheckedIndexedAccess) compiles the whole project without errors', () => {
    const r = run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  }, 240_000);

  it('ESLint reports no problems', () => {
    const r = run(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '.', '--max-warnings', '0']);
    expect(r.out.trim()).toBe('');
    expect(r.code).toBe(0);
  }, 240_000);
});
