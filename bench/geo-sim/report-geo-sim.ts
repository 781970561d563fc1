/**
 * The placement simulator's section of the bench report (issue 11 item 8): markdown tables from a
 * PlacementSimResult, the README's reference figures beside ours. Pure formatting; it judges
 * nothing.
 */
import type { PlacementSimResult } from './placement-sim';

const pct = (v: number, digits = 1): string => `${(v * 100).toFixed(digits)}%`;
const num = (v: number): string => v.toLocaleString('en-US');

export function geoSimMarkdown(r: PlacementSimResult): string {
  const ref = r.reference;
  const lat = r.latency;
  const p = r.plan;
  const s = r.store;
  const reasons = Object.entries(r.decisions.reasons).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${pct(n / Math.max(1, r.decisions.count), 2)}`).join(', ');
  const locRows = r.topology.locations.map(
    (l) =>
      `| ${l.code} | ${l.nodes} | ${pct(l.expectedCallerShare)} | ${l.overflow.primary ?? '-'} / ${l.overflow.secondary ?? '-'} | ${pct(l.meanUtilisation)} | ${pct(l.peakUtilisation)} | ${l.overflowPrimary} / ${l.overflowSecondary} | ${l.rejected} |`,
  );
  return [
    '## Placement at internet scale, simulated (pure `decidePlacement`, no sockets)',
    '',
    `${r.topology.locations.length} locations, ${num(r.topology.totalNodes)} nodes of ${p.nodeCapacity} units (${num(r.topology.totalCapacityUnits)} units; nodes per location by expected share of callers), ` +
      `video ${pct(p.videoShare, 0)} of callers (cost ${p.costs.video}, audio ${p.costs.audio}), backplane ${p.costs.backplane} unit, at most ${p.maxMediaNodes} media nodes per location. ` +
      `${num(r.workload.conferencesStarted)} conferences (${num(p.warmupConferences)} warm-up), ${num(r.workload.measuredConferences)} measured over ${num(r.workload.simulatedMinutes)} simulated minutes; ` +
      `concurrent conferences mean ${num(r.workload.meanConcurrentConferences)} (max ${num(r.workload.maxConcurrentConferences)}), participants ${num(r.workload.meanConcurrentParticipants)}. ` +
      `Seed ${p.seed}; run took ${r.wallS} s.`,
    '',
    `### Latency and WAN copies, ${num(r.workload.multiRegionConferences)} multi-region conferences (${num(lat.distributed.pairs)} participant pairs)`,
    '',
    '| figure | distributed (ours) | anchored at first participant | ratio | README reference (distributed / anchored, ratio) |',
    '|---|---|---|---|---|',
    `| mean one-way pair latency | **${lat.distributed.meanMs} ms** | ${lat.anchored.meanMs} ms | **${lat.meanRatio}** | ${ref.meanMs.distributed} / ${ref.meanMs.anchored} ms, ${ref.meanRatio} |`,
    `| p95 | ${lat.distributed.p95Ms} ms | ${lat.anchored.p95Ms} ms | ${lat.p95Ratio} | ${ref.p95Ms.distributed} / ${ref.p95Ms.anchored} ms |`,
    `| p50 | ${lat.distributed.p50Ms} ms | ${lat.anchored.p50Ms} ms | - | - |`,
    `| pairs over 150 ms | ${pct(lat.distributed.over150Share)} | ${pct(lat.anchored.over150Share)} | - | ${pct(ref.over150Share.distributed)} / ${pct(ref.over150Share.anchored)} |`,
    `| WAN stream copies | **${num(r.wan.distributed)}** (geo ${num(r.wan.distributedGeo)} + open internet ${num(r.wan.distributedOpenInternet)}) | ${num(r.wan.anchored)} | **${r.wan.ratio}** | ${ref.wanCopiesRatio} of anchored |`,
    '',
    `Best single anchor per conference (hindsight, not a strategy): mean ${lat.bestAnchorMeanMs} ms, ${num(r.wan.bestAnchor)} WAN copies. ` +
      `Geo copies of one stream per ordered location pair over all measured conferences: min ${r.wan.perStreamLocationPair.min}, max ${r.wan.perStreamLocationPair.max} (${num(r.wan.perStreamLocationPair.pairs)} stream-location pairs); local-backplane copies ${num(r.wan.localCopies)}.`,
    '',
    '### Decisions and store transactions',
    '',
    '| decisions | per CPU-second | µs CPU per decision | per wall-second (inside the calls) | nodes per snapshot | joins with 1 CAS / 0 CAS | CAS per join (mean) | first joins with CAS | joins into a running conference with CAS | leaves with CAS |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| ${num(r.decisions.count)} | **${num(r.decisions.perCpuSecond)}** | ${r.decisions.usPerDecision} | ${num(r.decisions.perWallSecond)} | ${num(r.decisions.nodesPerSnapshot)} | ${pct(s.shareOneCas)} / ${pct(s.shareZeroCas)} | **${s.meanPerJoin}** (never more than 1) | ${pct(s.firstJoinCasShare)} of ${num(s.firstJoins)} | ${pct(s.runningJoinCasShare)} | ${pct(s.leaveCasShare)} of ${num(s.leaves)} |`,
    '',
    `Decisions: ${reasons}. Overflow: ${num(r.overflow.primary)} primary, ${num(r.overflow.secondary)} secondary, ${num(r.overflow.rejects)} rejected (${pct(r.overflow.rejectShare, 3)} of joins); ` +
      `${num(r.overflow.spilledConferences)} measured conferences had media in an overflow location. ` +
      `Why the caller's own location refused: ${Object.entries(r.checks.overflowCauses).map(([k, n]) => `${k} ${num(n)}`).join(', ') || 'never'}. ` +
      `Checks: ${r.checks.chargeMismatches} backplane-charge mismatches with the decisions, ${r.checks.overCapacityEvents} over-capacity events ` +
      `(${r.checks.overCapacityElsewhere} of them a geo backplane charged to another location's lone media node; max ${r.checks.maxOverUnits} units over), ` +
      `at most ${r.checks.maxMediaNodesPerLocation} media nodes per location, ${r.checks.residualLoadUnits} units left on nodes after everyone left.`,
    '',
    '| location | nodes | expected callers | overflow primary / secondary | mean utilisation | peak | overflowed primary / secondary | rejected |',
    '|---|---|---|---|---|---|---|---|',
    ...locRows,
    '',
  ].join('\n');
}
