/**
 * The SFU bench of `npm run bench` (issue 3): browser join-to-first-frame, CPU per forwarded
 * stream and memory per participant with real Chromium, then the plain-RTP forwarding efficiency
 * against a minimal dgram forwarder, then (issue 13) the WebRTC SRTP forwarding cost against the
 * same forwarder. Each part gets a fresh node; a part that fails is reported in `errors` and the
 * others still run. Figures only, never a verdict.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runForwarding, type ForwardingResult } from './forwarding';
import { runJoinFrames, type BrowserResult } from './join-frames';
import { runSrtpForwarding, type SrtpForwardingResult } from './srtp-forwarding';

export interface SfuPlan {
  rounds: number;
  browsers: number;
  settleMs: number;
  steadyWindowMs: number;
  viewers: number;
  packetsPerFrame: number;
  fps: number;
  payloadBytes: number;
  forwardWindowMs: number;
  warmupMs: number;
  repeats: number;
  /** Seconds the browser and plain-RTP parts may take. */
  budgetS: number;
  /** SRTP forwarding: WebRTC viewers, repeats with the node on native/srtp and under CONFNODE_SRTP=js, its own seconds. */
  srtpViewers: number;
  srtpRepeats: number;
  srtpJsRepeats: number;
  srtpBudgetS: number;
  /**
   * Video before the SRTP part's first window: longer than the others' warm-up, because V8's
   * memory-reducing collections of the node's idle threads and its JIT ran into the first window
   * (~8-9 s after start), which then measured 1.5-2x the later ones.
   */
  srtpWarmupMs: number;
}

/**
 * Forwarding: several short video/idle/dgram triples rather than a few long ones, because the
 * noise comes from load that drifts on the shared machine; pooling alternations averages it.
 */
export const SFU_PLAN: Record<'full' | 'quick', SfuPlan> = {
  full: {
    rounds: 5, browsers: 4, settleMs: 5000, steadyWindowMs: 15_000,
    viewers: 20, packetsPerFrame: 15, fps: 30, payloadBytes: 1000, forwardWindowMs: 4000, warmupMs: 3000, repeats: 6, budgetS: 240,
    srtpViewers: 20, srtpRepeats: 5, srtpJsRepeats: 2, srtpBudgetS: 180, srtpWarmupMs: 10_000,
  },
  quick: {
    rounds: 2, browsers: 4, settleMs: 3000, steadyWindowMs: 6000,
    viewers: 20, packetsPerFrame: 15, fps: 30, payloadBytes: 1000, forwardWindowMs: 3000, warmupMs: 2000, repeats: 2, budgetS: 120,
    srtpViewers: 20, srtpRepeats: 2, srtpJsRepeats: 1, srtpBudgetS: 110, srtpWarmupMs: 10_000,
  },
};

export interface SfuResult {
  plan: SfuPlan;
  browsers?: BrowserResult;
  forwarding?: ForwardingResult;
  srtp?: SrtpForwardingResult;
  errors: string[];
  durationS: number;
}

export async function runSfuBench(o: { plan: SfuPlan; nodeMain: string; log: (line: string) => void }): Promise<SfuResult> {
  const t0 = Date.now();
  const deadline = t0 + o.plan.budgetS * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-sfu-'));
  const out: SfuResult = { plan: o.plan, errors: [], durationS: 0 };
  const p = o.plan;
  o.log(`SFU: ${p.rounds} rounds of ${p.browsers} browsers, then 1 + ${p.viewers} SIP video phones, then 1 + ${p.srtpViewers} WebRTC peers (temp dir ${dir})`);
  try {
    // The browser part may use at most ~60% of the budget so the forwarding part always runs.
    out.browsers = await runJoinFrames({
      nodeMain: o.nodeMain, dir, rounds: p.rounds, browsers: p.browsers, settleMs: p.settleMs, windowMs: p.steadyWindowMs,
      deadline: t0 + p.budgetS * 600, log: o.log,
    });
  } catch (e) {
    out.errors.push(`browsers: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    out.forwarding = await runForwarding({
      nodeMain: o.nodeMain, dir, viewers: p.viewers, packetsPerFrame: p.packetsPerFrame, fps: p.fps, payloadBytes: p.payloadBytes,
      windowMs: p.forwardWindowMs, warmupMs: p.warmupMs, repeats: p.repeats, deadline, log: o.log,
    });
  } catch (e) {
    out.errors.push(`forwarding: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    // Its own budget from when it starts, so the earlier parts never squeeze it out.
    out.srtp = await runSrtpForwarding({
      nodeMain: o.nodeMain, dir, viewers: p.srtpViewers, packetsPerFrame: p.packetsPerFrame, fps: p.fps, payloadBytes: p.payloadBytes,
      windowMs: p.forwardWindowMs, warmupMs: p.srtpWarmupMs, repeats: p.srtpRepeats, jsRepeats: p.srtpJsRepeats, lightViewers: true, deadline: Date.now() + p.srtpBudgetS * 1000, log: o.log,
    });
  } catch (e) {
    out.errors.push(`srtp forwarding: ${e instanceof Error ? e.message : String(e)}`);
  }
  out.durationS = Math.round((Date.now() - t0) / 1000);
  const srtpFailed = !out.srtp || [out.srtp.native, out.srtp.js].some((e) => (e?.errors.length ?? 0) > 0);
  const failed = out.errors.length > 0 || (out.browsers?.errors.length ?? 1) > 0 || (out.forwarding?.errors.length ?? 1) > 0 || srtpFailed;
  // Kept for a post-mortem when something failed (node config, Chromium profile); else removed.
  if (failed) o.log(`SFU: errors; temp dir kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  return out;
}
