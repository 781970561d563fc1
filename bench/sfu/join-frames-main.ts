/**
 * Runs the browser part of the SFU bench alone (issue 13 item 3: where a join's time goes):
 * `node dist-bench/bench/sfu/join-frames-main.js [--quick] [--rounds N] [--browsers N]
 * [--node-main FILE] [--out FILE]`. Prints each page's steps and first frames, then the summary;
 * writes the JSON when --out is given. Figures only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../target';
import { runJoinFrames } from './join-frames';
import { partArgs, runPart } from './part-main';
import { SFU_PLAN } from './run-sfu';

async function main(): Promise<void> {
  const { flag, num, has } = partArgs(process.argv.slice(2));
  const p = has('--quick') ? SFU_PLAN.quick : SFU_PLAN.full;
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-join-'));
  const t0 = Date.now();
  try {
    const r = await runJoinFrames({
      nodeMain: flag('--node-main') ?? join(REPO_ROOT, 'dist', 'node', 'main.js'),
      dir,
      rounds: num('--rounds', p.rounds, 1),
      browsers: num('--browsers', p.browsers, 1),
      settleMs: p.settleMs,
      windowMs: p.steadyWindowMs,
      deadline: t0 + 20 * 60_000,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const { rounds, browsers, joinToFirstFrameMs, newcomerFirstFrameMs, steady, errors } = r;
    process.stdout.write(`\n${JSON.stringify({ rounds, browsers, joinToFirstFrameMs, newcomerFirstFrameMs, steady, errors }, null, 2)}\n(${Math.round((Date.now() - t0) / 1000)} s)\n`);
    const out = flag('--out');
    if (out) writeFileSync(out, `${JSON.stringify(r, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runPart(main);
