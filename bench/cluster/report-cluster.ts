/**
 * The cluster section of RESULTS.md (issue 10 figures) from a ClusterResult: pure formatting. It
 * judges nothing; it prints the issue's stated goals beside the measured figures, and says plainly
 * what is not measured yet.
 */
import type { HopFigures, NetPerOp } from './figures';
import type { BackplaneResult } from './backplane-bench';
import type { ClusterResult } from './run-cluster';
import type { KindFigures, VariantResult } from './setup-latency';
import type { StoreResult, StoreWindowResult } from './store-txns';

function text(t: string): string {
  return t.replace(/[|\t\r\n]+/g, ' / ').slice(0, 400);
}

function placementLines(r: ClusterResult): string[] {
  const p = r.placement;
  if (!p) return ['Placement policy: not run.', ''];
  const mix = Object.entries(p.mix).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${((n / p.plan.pool) * 100).toFixed(1)}%`).join(', ');
  return [
    '### Placement decisions per second (pure `decidePlacement`, one thread of this process)',
    '',
    '| decisions per CPU-second (median) | ns of CPU per decision | runs (decisions per CPU-second) | decisions per wall-clock second (median) |',
    '|---|---|---|---|',
    `| **${p.decisionsPerSecond}** | ${p.nsPerDecision} | ${p.runsPerSecond.join(', ')} | ${p.decisionsPerWallSecond ?? '-'} |`,
    '',
    `Pool: ${p.plan.pool} seeded snapshots (seed ${p.plan.seed}), ${p.plan.decisionsPerRun} decisions per run, ${p.plan.runs} runs after a warm-up run; ` +
      `1-3 locations of 3-10 nodes (mean ${p.meanNodes} nodes per snapshot), conferences at 0-3 media nodes in the caller's location (mean ${p.meanMediaNodes}), ` +
      `15% of nodes full, 5% draining, 30% video callers, 5% requests excluding a refusing node. Decisions of the pool: ${mix}.`,
    '',
  ];
}

function latencyRow(name: string, k: KindFigures): string {
  const s = k.setup;
  const reasons = Object.entries(k.reasons).map(([r, n]) => `${r} ${n}`).join(', ');
  return `| ${name} | ${s.samples} | ${s.p50Ms} | ${s.p90Ms} | ${s.p99Ms} | ${s.maxMs} | ${k.failed} | ${k.mediaOnB}/${s.samples + k.failed} | ${k.apiAsExpected}/${k.apiChecked} (${reasons}) |`;
}

function loadLine(v: VariantResult): string {
  const l = v.load;
  const fsync = v.walFsyncP50Ms !== undefined ? `; etcd WAL fsync p50 <= ${v.walFsyncP50Ms} ms, p99 <= ${v.walFsyncP99Ms ?? '-'} ms (histogram bucket bounds)` : '';
  return `- ${v.name} (${v.durationS} s): CPU A ${l.a}%, B ${l.b}%, etcd ${l.etcd}%, bench ${l.bench}%; whole machine ${l.machine}%, of which other processes ${l.other}% and hypervisor steal ${l.steal}% (1 core = 100%)${fsync}.`;
}

function latencyLines(r: ClusterResult): string[] {
  const l = r.latency;
  if (!l) return ['INVITE -> 200 OK: not run.', ''];
  const p = l.plan;
  return [
    '### INVITE -> 200 OK, media local vs on another node (2 nodes, real etcd, UDP, PCMU offer)',
    '',
    `Remote minus local (issue 10's goal: at most 10 ms at p50): ${l.variants.map((v) => `${v.name}: **p50 ${v.diffP50Ms} ms**, p99 ${v.diffP99Ms} ms`).join('; ')}.`,
    '',
    "| calls | measured | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | failed | 200 OK port in B's RTP range | API: expected signaling/media node (placement reason) |",
    '|---|---|---|---|---|---|---|---|---|',
    ...l.variants.flatMap((v) => [
      latencyRow(`${v.name}: local (received by B, media on B)`, v.local),
      latencyRow(`${v.name}: remote (received by A, media on B)`, v.remote),
    ]),
    '',
    ...l.variants.map(loadLine),
    '',
    `After ${p.warmupPerKind} warm-up calls of each kind: ${p.callsPerKind} calls of each kind each into its own new conference (the first join: one CAS creating the ` +
      `conference's records), then ${p.runningCallsPerKind} of each kind joining ${p.runningRooms} running conferences (an anchor call on B each: affinity, no store write). ` +
      `${p.cps} calls/s started on a fixed schedule (local, remote, remote, local, ...), each up ${p.holdMs} ms after its ACK, then BYE; every ${p.apiEvery}th call ` +
      "also read from its signaling node's /api/v1/participants while up." +
      (l.errors.length > 0 ? ` Errors: ${text(l.errors.join('; '))}.` : ''),
    '',
  ];
}

const num = (v: number | undefined): string => (v === undefined ? '-' : String(v));

function windowRow(w: StoreWindowResult): string {
  const n: NetPerOp | undefined = w.net;
  const writes = Object.entries(w.writes).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, c]) => `${k}: ${c}`).join('; ');
  return `| ${w.name} | ${w.ops}${w.failedOps > 0 ? ` (+${w.failedOps} failed)` : ''} | ${w.durationS} | ${w.delta.txnRpcs} | ${w.delta.revision} | ${w.delta.proposalsCommitted} | ${w.delta.rangeRpcs} | ` +
    `${n ? `**${n.conferenceWrites}**` : '-'} | ${num(n?.txnRpcs)} | ${num(n?.failedTxns)} | ${num(n?.rangeRpcs)} | ${text(writes)} |`;
}

function storeLines(s: StoreResult | undefined): string[] {
  if (!s) return ['Store transactions: not run.', ''];
  return [
    '### etcd transactions per join (etcd 3.4 counters on its client URL, writes named by a watch of each window\'s revisions)',
    '',
    '| window | ops | s | Txn RPCs | writes (revisions) | raft proposals | Range RPCs | **conference writes per op** (exact) | Txn RPCs per op, net of baseline | lost CAS per op | Range RPCs per op, net | write transactions in the window, by keys written |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...s.windows.map(windowRow),
    '',
    `Windows of ${s.plan.windowMs / 1000} s each; the operations start evenly over the first 60% of the window. Joins into running conferences go to ` +
      `${s.plan.rooms} conferences that each have an anchor call on B, alternately received by B and by A (media on B by affinity). ` +
      "Goal (issue 10): one CAS in the common case. Txn RPCs count every transaction, including the nodes' own record writes " +
      '(load and state, at most every 250 ms per node, written even when unchanged: the baseline) and CAS attempts that lost; ' +
      "'conference writes' are the window's write transactions that touched conference keys, counted exactly from the watch." +
      (s.errors.length > 0 ? ` Errors: ${text(s.errors.join('; '))}.` : ''),
    '',
  ];
}

function hopRow(name: string, h: HopFigures | undefined): string {
  if (!h) return `| ${name} | - | - | - | - | - | - |`;
  return `| ${name} | ${h.matched}/${h.sent} | **${h.p50Us}** | ${h.p90Us} | **${h.p99Us}** | ${h.maxUs} | ${h.minUs} |`;
}

function backplaneCpuLines(b: BackplaneResult): string[] {
  const c = b.cpu;
  if (!c) return ['- CPU per backplane packet: not measured (see errors).'];
  const sfu = b.sfu;
  const ref = sfu
    ? `The node's own forwarding paths (SFU bench, sfu.json of ${sfu.startedAt}): **${num(sfu.browserUsPerPacketOut)} µs** of node CPU per packet sent to browsers (whole node CPU over packets out: DTLS-SRTP, mixing and RTCP included), ` +
      `${num(sfu.plainRtpUsPerPacket)} µs per plain-RTP video packet forwarded (median of its runs, marginal CPU).`
    : 'The SFU bench has no figures in bench/results/sfu.json: no browser-path figure to compare with.';
  return [
    `- CPU per backplane packet, sender side (A: CPU with the link minus without, over the ${c.linkPacketsOut} packets it sent on the link): **${num(c.senderUsPerPacket)} µs**; ` +
      `receiver side (B: marginal CPU over the ${c.linkPacketsIn} packets it received, its one receiver's mix of the ${b.plan.streams} streams included: an upper bound): ${num(c.receiverUsPerPacket)} µs. ` +
      `CPU (1 core = 100%): A ${c.withoutLink.a}% without the link -> ${c.withLink.a}% with it, B ${c.withoutLink.b}% -> ${c.withLink.b}% (${b.plan.cpuPairs} pairs of ${b.plan.cpuWindowMs / 1000} s windows without / with the link, alternated: the receiver hangs up between them; pooled: ${c.withoutLink.durationS} / ${c.withLink.durationS} s).`,
    `- ${ref}`,
  ];
}

function backplaneLines(b: BackplaneResult | undefined): string[] {
  if (!b) return ['### Backplanes', '', 'Not run.', ''];
  const placed = Object.entries(b.placement).map(([k, n]) => `${n} x ${k}`).join(', ');
  const l = b.link;
  return [
    `### Backplanes (${b.plan.streams} plain RTP PCMU callers with media on A, one receiver on B: ${b.plan.streams} streams on the link A -> B, SRTP)`,
    '',
    "One-way time through the hop, from the kernel's capture of each RTP packet on `lo` (tcpdump, ns timestamps) on its way into A to the capture of the same frame (same RTP timestamp) leaving A's link for B's; " +
      "the bare hop: the same tone through the SFU bench's dgram forwarder (one Node.js process, receive and send), captured in the same window. Issue 10's goal: p99 <= 1 ms.",
    '',
    '| hop | matched / sent | p50 (µs) | p90 (µs) | p99 (µs) | max (µs) | min (µs) |',
    '|---|---|---|---|---|---|---|',
    hopRow('backplane: caller -> A (router, link: SRTP protect, send) -> on the wire to B', b.hop),
    hopRow('bare UDP hop: sender -> dgram forwarder -> sink', b.bareHop),
    '',
    `Placement (signaling/media node, reason): ${placed || '-'}. Link A -> B at the end: ${l ? `${num(l.streamsOut)} streams out, RTT ${num(l.rttMs)} ms, jitter ${num(l.jitterMs)} ms, loss ${num(l.lossFraction)}` : '-'}. ` +
      "Not included in the hop: B's side (SRTP unprotect, its router, its mixer's 20 ms slot), which a plain-RTP listener cannot see apart from the mix.",
    '',
    ...backplaneCpuLines(b),
    '',
    ...(b.errors.length > 0 ? [`Errors: ${text(b.errors.join('; '))}.`, ''] : []),
  ];
}

export function clusterMarkdown(r: ClusterResult, startedAt: string, mode: string): string[] {
  return [
    '## Cluster (issue 10)',
    '',
    `Run ${startedAt} (${mode} mode, ${r.durationS} s). Method: bench/README.md section 4.`,
    '',
    ...placementLines(r),
    ...latencyLines(r),
    ...storeLines(r.store),
    ...backplaneLines(r.backplane),
    ...(r.errors.length > 0 ? [`Errors: ${text(r.errors.join('; '))}`, ''] : []),
  ];
}
