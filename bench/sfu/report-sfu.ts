/**
 * The SFU section of RESULTS.md (issue 3 and issue 13 figures) from an SfuResult: pure
 * formatting. It never judges anything except printing the issues' stated goals beside the
 * measured efficiency and the SRTP/dgram cost ratio.
 */
import type { SfuResult } from './run-sfu';
import type { SrtpEngineResult, SrtpForwardingResult } from './srtp-forwarding';
import type { Summary } from './stats';

const GOAL = 0.5;
/** Issue 13: CPU per forwarded SRTP packet at most this many times the dgram forwarder's. */
const SRTP_RATIO_GOAL = 2;

function ms(s: Summary): string {
  return s.samples === 0 ? '-' : `${s.p50} | ${s.p95} | ${s.max} | ${s.samples}`;
}

function dash(v: number | undefined, unit = ''): string {
  return v === undefined ? '-' : `${v}${unit}`;
}

function text(t: string): string {
  return t.replace(/[|\t\r\n]+/g, ' / ').slice(0, 400);
}

function browserLines(r: SfuResult): string[] {
  const b = r.browsers;
  if (!b) return ['Browser part: not run.', ''];
  const s = b.steady;
  return [
    `### Browsers (headless Chromium, rooms of ${b.browsers}, ${b.rounds} rounds)`,
    '',
    '| join-to-first-frame | p50 (ms) | p95 (ms) | max (ms) | samples |',
    '|---|---|---|---|---|',
    `| joining page: its join() -> first decoded frame of each remote already in | ${ms(b.joinToFirstFrameMs)} |`,
    `| the same frames from page open (page load + getUserMedia included) | ${ms(b.openToFirstFrameMs)} |`,
    `| pages already in: newcomer's join() -> its first frame there | ${ms(b.newcomerFirstFrameMs)} |`,
    '',
    `Remote videos that never showed a frame: ${b.missingFrames}. Resolution of the frame times: the 40 ms getStats() poll.`,
    '',
    ...(s
      ? [
          `| steady state, ${b.browsers} browsers (${s.windowS} s window) | value |`,
          '|---|---|',
          `| node CPU (1 core = 100%) | ${s.nodeCpuPercent}% |`,
          `| forwarded streams (expected / growing at the pages' getStats) | ${s.expectedStreams} / ${s.streamsSeenByPages} |`,
          `| participants with packets in and out growing (API) | ${s.participantsFlowing}/${b.browsers} |`,
          `| **CPU per forwarded stream** | **${s.cpuPerStreamPercent}% of a core** |`,
          `| packets out (node counters) | ${s.packetsOut} (${s.packetsOutPerS}/s) |`,
          `| **CPU per forwarded packet** | **${dash(s.usPerPacketOut, ' µs')}** |`,
          `| per video stream (pages' getStats) | ${s.media.videoPacketsPerS} packets/s, ${s.media.videoKbitPerS} kbit/s, ${s.media.videoFps} frames/s, width up to ${s.media.maxFrameWidth} |`,
          `| per audio stream | ${s.media.audioPacketsPerS} packets/s |`,
          '',
        ]
      : ['Steady state: not measured.', '']),
    '| memory (node VmRSS) | MB |',
    '|---|---|',
    `| fresh node | ${dash(b.memory.freshNodeMb)} |`,
    `| first round, ${b.browsers} browsers in (settled) | ${dash(b.memory.firstRoundWithBrowsersMb)} |`,
    `| **per browser participant, first round** (one-time allocations included: upper bound) | **${dash(b.memory.firstRoundPerParticipantMb)}** |`,
    `| last round: empty room after the earlier rounds / ${b.browsers} browsers in | ${dash(b.memory.emptyRoomMb)} / ${dash(b.memory.withBrowsersMb)} |`,
    `| **per browser participant, last round** (memory freed by earlier rounds reused: lower bound) | **${dash(b.memory.perParticipantMb)}** |`,
    '',
    ...(b.errors.length > 0 ? [`Errors: ${text(b.errors.join('; '))}`, ''] : []),
  ];
}

function forwardingLines(r: SfuResult): string[] {
  const f = r.forwarding;
  if (!f) return ['Forwarding part: not run.', ''];
  const e = f.efficiency;
  return [
    `### Plain-RTP forwarding efficiency (SIP video: 1 source -> ${f.viewers} viewers, ${f.ratePps} packets/s of ${f.payloadBytes} bytes)`,
    '',
    `**Efficiency** (SFU packets per CPU-second / dgram forwarder packets per CPU-second): ` +
      `${e ? `median of the runs **${e.median}** (runs ${e.min}..${e.max})` : '-'}; ` +
      `all runs pooled **${dash(f.pooled?.efficiency)}** (SFU ${dash(f.pooled?.sfuPacketsPerCpuS)} / dgram ${dash(f.pooled?.dgramPacketsPerCpuS)} packets per CPU-second); goal >= ${GOAL}.`,
    '',
    '| run | SFU pkt/CPU-s | node CPU video / idle | marginal CPU (kernel share) | µs/pkt SFU | SFU loss | dgram pkt/CPU-s | dgram CPU (kernel share) | µs/pkt dgram | dgram loss | efficiency | generator CPU (video / idle / dgram) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...f.runs.map(
      (x) =>
        `| ${x.repetition} | ${dash(x.sfu.packetsPerCpuS)} | ${x.sfu.nodeCpuVideoPercent}% / ${x.sfu.nodeCpuIdlePercent}% | ${x.sfu.marginalCorePercent}% (${dash(x.sfu.marginalSystemShare, '%')}) | ` +
        `${dash(x.sfu.usPerPacket)} | ${x.sfu.lossPercent}% | ${dash(x.dgram.packetsPerCpuS)} | ${x.dgram.corePercent}% (${dash(x.dgram.systemShare, '%')}) | ${dash(x.dgram.usPerPacket)} | ${x.dgram.lossPercent}% | ` +
        `${dash(x.efficiency)} | ${x.generatorCpuPercent.sfuVideo}% / ${x.generatorCpuPercent.idle}% / ${x.generatorCpuPercent.dgram}% |`,
    ),
    '',
    `Window ${f.windowS} s each (video, idle, dgram). Checks: ${f.check.viewersWithVideo}/${f.viewers} viewers got video after the warm-up, ` +
      `${f.check.viewersShowingSource} shown the source (API videoShowing). From the warm-up to the end: source video packets sent ${f.check.sentToNode}, ` +
      `counted in by the node ${f.check.nodeVideoIn}, out by the node ${f.check.nodeVideoOut} (x${f.viewers} expected: ${f.check.nodeVideoIn * f.viewers}), received by the viewers ${f.check.viewersVideoIn}; ` +
      `keyframe requests to the source ${f.check.keyframeRequests}; generator late ticks ${f.check.generatorLateTicks}.`,
    '',
    `Memory per SIP participant (audio + video, ${f.participants} in the room): ${dash(f.memory.perParticipantMb, ' MB')} ` +
      `(node VmRSS ${dash(f.memory.rssBeforeMb)} MB before the calls, ${dash(f.memory.rssWithMb)} MB with them).`,
    '',
    ...(f.errors.length > 0 ? [`Errors: ${text(f.errors.join('; '))}`, ''] : []),
  ];
}

function range(s: { min: number; median: number; max: number } | undefined): string {
  return s ? `${s.median} (${s.min}..${s.max})` : '-';
}

function srtpEngineLines(e: SrtpEngineResult | undefined, viewers: number): string[] {
  if (!e) return [];
  const c = e.check;
  return [
    `**Node on ${e.engine === 'native' ? 'native/srtp' : "Node's crypto (CONFNODE_SRTP=js)"}** (node: ${text(e.nodeSrtp)}; generator: ${text(e.generatorSrtp)}; ` +
      `${e.videoCodec} video; joins p50 ${e.joinMs.p50} ms, max ${e.joinMs.max} ms): ` +
      `**${dash(e.pooled.usPerPacket, ' µs')}** per forwarded SRTP packet pooled (runs: median ${range(e.usPerPacket)}), ` +
      `dgram forwarder ${dash(e.pooled.dgramUsPerPacket, ' µs')} pooled (runs ${range(e.dgramUsPerPacket)}); ` +
      `**ratio ${dash(e.pooled.ratio)}** pooled (runs ${range(e.ratio)}; goal <= ${SRTP_RATIO_GOAL}); forwarded ${range(e.forwardedPerS)} packets/s.`,
    '',
    '| run | µs/pkt SFU (marginal) | µs/pkt SFU all-in | node CPU video / idle | marginal CPU (kernel share) | forwarded pkt/s | SFU loss | µs/pkt dgram | dgram CPU (kernel share) | dgram loss | ratio | generator CPU video / idle / dgram | generator µs/pkt |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...e.runs.map(
      (x) =>
        `| ${x.repetition} | ${dash(x.sfu.usPerPacket)} | ${dash(x.sfu.usPerPacketAllIn)} | ${x.sfu.nodeCpuVideoPercent}% / ${x.sfu.nodeCpuIdlePercent}% | ` +
        `${x.sfu.marginalCorePercent}% (${dash(x.sfu.marginalSystemShare, '%')}) | ${x.sfu.forwardedPerS} | ${x.sfu.lossPercent}% | ${dash(x.dgram.usPerPacket)} | ` +
        `${x.dgram.corePercent}% (${dash(x.dgram.systemShare, '%')}) | ${x.dgram.lossPercent}% | ${dash(x.ratio)} | ` +
        `${x.generator.cpuVideoPercent}% / ${x.generator.cpuIdlePercent}% / ${x.generator.cpuDgramPercent}% | ${dash(x.generator.usPerPacket)} |`,
    ),
    '',
    `Checks: ${c.viewersWithVideo}/${viewers} viewers got video after the warm-up; ${c.peersOnOurSrtp}/${c.peers} generator peers on our SRTP contexts. ` +
      `From the warm-up to the end: publisher video packets sent ${c.sent}, node packets in ${c.nodePacketsIn} / out ${c.nodePacketsOut} (API, RTP of all kinds), ` +
      `viewers' video packets ${c.viewersVideoIn} (x${viewers} expected: ${c.sent * viewers}); keyframe requests to the publisher ${c.keyframeRequests} ` +
      `(keyframes sent ${c.keyframesSent}); generator late ticks ${c.generatorLateTicks}, SRTP/SRTCP packets its contexts refused (auth / replay / malformed) ${c.generatorSrtpDrops}.`,
    '',
    ...(e.errors.length > 0 ? [`Errors: ${text(e.errors.join('; '))}`, ''] : []),
  ];
}

/** The SRTP forwarding part (issue 13 item 2); exported for the part's own entry point. */
export function srtpForwardingLines(f: SrtpForwardingResult | undefined): string[] {
  if (!f) return ['SRTP forwarding part: not run.', ''];
  return [
    `### WebRTC (SRTP) forwarding cost (1 werift publisher -> ${f.viewers} werift viewers over /ws, ${f.ratePps} video packets/s of ${f.payloadBytes} bytes)`,
    '',
    `CPU per forwarded SRTP packet = the node's marginal CPU (video window - idle window, ${f.windowS} s each) / video packets the viewers received; ` +
      `dgram = the minimal dgram forwarder's CPU / packets its ${f.viewers} receivers got, same rate and fan-out, in the same run. ` +
      `Viewers: ${f.viewerMode === 'light' ? "counted right after their own SRTP context authenticated and decrypted each packet (werift's receive path skipped)" : "counted at werift's track (its whole receive path)"}. ` +
      `js / native (pooled µs per packet): **${dash(f.jsOverNative)}**.`,
    '',
    ...srtpEngineLines(f.native, f.viewers),
    ...srtpEngineLines(f.js, f.viewers),
    ...(f.errors.length > 0 ? [`Errors: ${text(f.errors.join('; '))}`, ''] : []),
  ];
}

export function sfuMarkdown(r: SfuResult, startedAt: string, mode: string): string[] {
  return [
    '## SFU (issues 3 and 13)',
    '',
    `Run ${startedAt} (${mode} mode, ${r.durationS} s). Method: bench/README.md section 3.`,
    '',
    ...browserLines(r),
    ...forwardingLines(r),
    ...srtpForwardingLines(r.srtp),
    ...(r.errors.length > 0 ? [`Errors: ${text(r.errors.join('; '))}`, ''] : []),
  ];
}
