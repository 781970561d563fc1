/**
 * `npm run bench -- --only geo`: the seed's claim measured (issue 11). Starts etcd and one node
 * per location (LON, IAD, SYD) with the simulated WAN between them, replays the 25 sample
 * conferences with our placement and then anchored in the first participant's location, and
 * reports both beside the workload's expected figures. Stops everything it started, by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusterProcs, type ClusterNodeHandle, type ClusterProcs } from '../cluster/cluster-procs';
import { REPO_ROOT } from '../target';
import { GEO_LOCATIONS, loadWorkload, replay, vmrOf, wanSimYaml, type ReplayPlan, type StrategyResult } from './replay';

export const GEO_PLAN: Record<'full' | 'quick', ReplayPlan> = {
  full: { fps: 10, recordMs: 2000, switchTimeoutMs: 6000 },
  quick: { fps: 10, recordMs: 1000, switchTimeoutMs: 5000, conferences: 8 },
};

export interface GeoReplayResult {
  plan: ReplayPlan;
  distributed?: StrategyResult;
  anchored?: StrategyResult;
  /** distributed / anchored over multi-region conferences (the seed's claim: about 0.76). */
  latencyRatio?: number;
  /** distributed / anchored WAN stream copies (about 0.66). */
  wanRatio?: number;
  /** Largest |measured - expected| of a conference's mean, per strategy, ms. */
  worstConferenceGapMs?: { distributed: number; anchored: number };
  errors: string[];
  durationS: number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function runGeoReplay(o: { plan: ReplayPlan; nodeMain: string; log: (line: string) => void }): Promise<GeoReplayResult> {
  const t0 = Date.now();
  const out: GeoReplayResult = { plan: o.plan, errors: [], durationS: 0 };
  const { model, conferences } = loadWorkload(join(REPO_ROOT, '..', 'shared', 'bench', 'geo'));
  const dir = mkdtempSync(join(tmpdir(), 'confnode-bench-geo-'));
  let cluster: ClusterProcs | undefined;
  try {
    cluster = await startClusterProcs({
      dir,
      nodeMain: o.nodeMain,
      vmrs: conferences.map((c) => vmrOf(c.conf)),
      rtpPorts: 800,
      nodes: GEO_LOCATIONS.map((l) => ({ name: `${l}1`, location: l, capacity: 1000 })),
      extraYaml: wanSimYaml(model),
    });
    const nodes = new Map<string, ClusterNodeHandle>(cluster.nodes.map((n, i) => [GEO_LOCATIONS[i] as string, n]));
    o.log(`geo: nodes ${cluster.nodes.map((n) => n.name).join(', ')} with the simulated WAN (${dir})`);
    for (const strategy of ['distributed', 'anchored'] as const) {
      try {
        out[strategy] = await replay(strategy, { plan: o.plan, model, conferences, nodes, log: o.log });
      } catch (e) {
        out.errors.push(`${strategy}: ${message(e)}`);
      }
      // Conferences end between strategies: no record or backplane of the first run is left.
      await new Promise((r) => setTimeout(r, 3000));
    }
    const { distributed: d, anchored: a } = out;
    if (d && a) {
      out.latencyRatio = d.meanMs / a.meanMs;
      out.wanRatio = d.wanCopies / a.wanCopies;
      const gap = (s: StrategyResult): number => Math.max(...s.conferences.map((c) => Math.abs(c.meanMs - c.expectedMeanMs)));
      out.worstConferenceGapMs = { distributed: gap(d), anchored: gap(a) };
    }
  } catch (e) {
    out.errors.push(message(e));
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  out.durationS = (Date.now() - t0) / 1000;
  return out;
}

const f1 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(1));
const f2 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(2));

/** The section of RESULTS.md. */
export function geoReplayMarkdown(r: GeoReplayResult): string {
  const lines = ['## Geo: the seed\'s claim through real nodes (LON, IAD, SYD with simulated WAN)', ''];
  const { distributed: d, anchored: a } = r;
  lines.push(
    'One node per location, `wan_sim` delays between them from `../shared/bench/geo`; 25 sample conferences, every participant speaking in turn; one-way latency per ordered pair measured from the speaker\'s socket to the viewer\'s (kernel arrival time), access legs added from the workload.',
    '',
    '| | distributed (ours) | anchored (first participant) | ratio | expected over these conferences (d / a, ratio) | README (100,000 conferences) |',
    '|---|---|---|---|---|---|',
    `| mean pair latency, multi-region (ms) | ${f1(d?.meanMs)} | ${f1(a?.meanMs)} | ${f2(r.latencyRatio)} | ${f1(d?.expected.meanMs)} / ${f1(a?.expected.meanMs)}, ${f2(d && a ? d.expected.meanMs / a.expected.meanMs : undefined)} | about 0.76 |`,
    `| p95 pair latency, multi-region (ms) | ${f1(d?.p95Ms)} | ${f1(a?.p95Ms)} | | | |`,
    `| WAN stream copies | ${f1(d?.wanCopies)} | ${f1(a?.wanCopies)} | ${f2(r.wanRatio)} | ${d?.expected.wanCopies ?? '-'} / ${a?.expected.wanCopies ?? '-'}, ${f2(d && a ? d.expected.wanCopies / a.expected.wanCopies : undefined)} | about 0.66 |`,
    `| simulated WAN timers late, mean / max (ms; inside the measured path) | ${f2(d?.wanSimLate?.meanMs)} / ${f1(d?.wanSimLate?.maxMs)} | no geo links | | | |`,
    `| geo copies per stream per location pair (min/max) | ${d ? `${d.copiesPerStreamLocationPair.min}/${d.copiesPerStreamLocationPair.max}` : '-'} | | | 1/1 | |`,
    `| largest gap of a conference's mean to its expected (ms) | ${f1(r.worstConferenceGapMs?.distributed)} | ${f1(r.worstConferenceGapMs?.anchored)} | | a few ms | |`,
    `| viewers that did not see a speaker in time | ${d?.switchTimeouts ?? '-'} | ${a?.switchTimeouts ?? '-'} | | 0 | |`,
    '',
    '| conf | size | locations | distributed mean (expected) | anchored mean (expected) | WAN copies d / a (expected) | pairs d / a |',
    '|---|---|---|---|---|---|---|',
  );
  for (const c of d?.conferences ?? a?.conferences ?? []) {
    const x = a?.conferences.find((y) => y.conf === c.conf);
    const y = d?.conferences.find((z) => z.conf === c.conf);
    lines.push(
      `| ${c.conf} | ${c.size} | ${c.locations.join(' ')} | ${f1(y?.meanMs)} (${f1(y?.expectedMeanMs)}) | ${f1(x?.meanMs)} (${f1(x?.expectedMeanMs)}) | ` +
        `${f1(y?.wanCopies)} / ${f1(x?.wanCopies)} (${y?.expectedWanCopies ?? '-'} / ${x?.expectedWanCopies ?? '-'}) | ${y?.pairsMeasured ?? '-'} / ${x?.pairsMeasured ?? '-'} of ${c.pairsExpected} |`,
    );
  }
  if (r.errors.length > 0) lines.push('', `Errors: ${r.errors.join('; ')}`);
  lines.push('', `Took ${r.durationS.toFixed(0)} s.`, '');
  return lines.join('\n');
}
