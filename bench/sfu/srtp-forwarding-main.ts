/**
 * Runs the SRTP forwarding part of the SFU bench alone (issue 13 item 2), for checking it without
 * the browser and plain-RTP parts: `node dist-bench/bench/sfu/srtp-forwarding-main.js [--quick]
 * [--viewers N] [--repeats N] [--js-repeats N] [--werift-viewers] [--node-main FILE] [--out FILE]`
 * (--werift-viewers: viewers run werift's whole receive path, see webrtc-peers.ts). Prints the
 * RESULTS.md lines of the part and writes its JSON when --out is given. Figures only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../target';
import { srtpForwardingLines } from './report-sfu';
import { partArgs, runPart } from './part-main';
import { SFU_PLAN } from './run-sfu';
import { runSrtpForwarding } from './srtp-forwarding';

async function main(): Promise<void> {
  const { flag, num, has } = partArgs(process.argv.slice(2));
  const p = has('--quick') ? SFU_PLAN.quick : SFU_PLAN.full;
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-srtp-'));
  const t0 = Date.now();
  try {
    const r = await runSrtpForwarding({
      nodeMain: flag('--node-main') ?? join(REPO_ROOT, 'dist', 'node', 'main.js'),
      dir,
      viewers: num('--viewers', p.srtpViewers),
      packetsPerFrame: p.packetsPerFrame,
      fps: p.fps,
      payloadBytes: p.payloadBytes,
      windowMs: p.forwardWindowMs,
      warmupMs: p.srtpWarmupMs,
      repeats: num('--repeats', p.srtpRepeats),
      jsRepeats: num('--js-repeats', p.srtpJsRepeats),
      lightViewers: !has('--werift-viewers'),
      deadline: t0 + p.srtpBudgetS * 1000,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`\n${srtpForwardingLines(r).join('\n')}\n(${Math.round((Date.now() - t0) / 1000)} s)\n`);
    const out = flag('--out');
    if (out) writeFileSync(out, `${JSON.stringify(r, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runPart(main);
