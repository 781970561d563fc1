/**
 * Real-peer test of hold and resume by re-INVITE (RFC 3264 8.4, and the RFC 2543 c=0.0.0.0 form):
 * sipp holds and resumes a conference call twice while a second sipp call stays in the room, and
 * the admin API's packet counters show whether the node sends RTP, and its `onHold` flag (what the
 * holder sends meanwhile, music on hold, is kept out of the conference). Never leaves sipp or the node
 * running (killAll in afterAll; whileSippRuns kills sipp as soon as the test body fails).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest, type ParticipantView } from './helpers/node-process';
import { killAll, sleep, waitFor } from './helpers/proc';
import { startSipp, whileSippRuns, type SippRun } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

const ROOM = 'hold';
/** Sampling period of the API; the media worker refreshes its counters every 500 ms. */
const SAMPLE_MS = 150;
/**
 * How long after the node applied a re-INVITE before the API must show it: the worker's 500 ms
 * snapshot period plus margin for a busy machine. Samples before that are not judged.
 */
const SETTLE_MS = 1000;
/** 20 ms packets: 50 a second. A flowing phase must show at least this many (0.4 s worth). */
const MIN_GROWTH = 20;
/** A hold phase must be observed over at least this long after SETTLE_MS. */
const MIN_HOLD_OBSERVED_MS = 1000;
/** Samples this close to a phase's end are not judged on the `onHold` flag (see figures()). */
const FLAG_MARGIN_MS = 300;

interface Counters {
  in: number;
  out: number;
}

interface Sample {
  t: number;
  held?: Counters & { id: string; onHold: boolean };
  other?: Counters;
}

/** A 're-INVITE applied' line of the node's log: when the node changed the call's media. */
interface Reinvite {
  t: number;
  participant: string;
  hold: boolean;
}

interface PhaseFigures {
  phase: string;
  kind: 'flowing' | 'silent';
  observedMs: number;
  samples: number;
  outDelta: number;
  inDelta: number;
  otherOutDelta: number;
  /** Samples in which the API said `onHold` (the holder's music stays out of the mix), of those judged. */
  onHoldSamples: number;
  judgedSamples: number;
}

let dir: string;
let node: NodeUnderTest;
const reinvites: Reinvite[] = [];

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('sip-hold');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 30);
  const config = await writeNodeConfig({ dir, vmrs: [{ name: ROOM, aliases: [ROOM] }] });
  node = await NodeUnderTest.start(config);
  node.proc.onLine((line) => {
    const r = parseReinviteLine(line);
    if (r) reinvites.push(r);
  });
});

afterAll(async () => {
  await killAll();
});

function parseReinviteLine(line: string): Reinvite | undefined {
  if (!line.includes('re-INVITE applied')) return undefined;
  try {
    const j = JSON.parse(line) as { msg?: unknown; participant?: unknown; hold?: unknown };
    if (j.msg !== 're-INVITE applied' || typeof j.participant !== 'string' || typeof j.hold !== 'boolean') return undefined;
    return { t: Date.now(), participant: j.participant, hold: j.hold };
  } catch {
    return undefined;
  }
}

const bySipPort = (ps: ParticipantView[], run: SippRun): ParticipantView | undefined => ps.find((p) => p.remote?.port === run.sipPort);

/** Samples both callers' counters until the holding sipp exits (bounded by count as well). */
async function sampleWhileRunning(holder: SippRun, other: SippRun): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < 400 && holder.proc.exit === undefined; i++) {
    const ps = await node.participantsOf(ROOM);
    const t = Date.now();
    const h = bySipPort(ps, holder);
    const o = bySipPort(ps, other);
    samples.push({
      t,
      ...(h ? { held: { id: h.id, in: h.packetsIn, out: h.packetsOut, onHold: h.onHold === true } } : {}),
      ...(o ? { other: { in: o.packetsIn, out: o.packetsOut } } : {}),
    });
    await sleep(SAMPLE_MS);
  }
  return samples;
}

function figures(samples: Sample[], phase: string, kind: PhaseFigures['kind'], from: number, to: number): PhaseFigures {
  const inWindow = samples.filter((s) => s.held && s.t >= from && s.t <= to);
  // The next re-INVITE is applied just before its log line reaches us: samples in its last
  // FLAG_MARGIN_MS may already show the next phase's flag.
  const judged = inWindow.filter((s) => s.t <= to - FLAG_MARGIN_MS);
  const first = inWindow[0];
  const last = inWindow[inWindow.length - 1];
  const withOther = inWindow.filter((s) => s.other);
  const oFirst = withOther[0]?.other;
  const oLast = withOther[withOther.length - 1]?.other;
  return {
    phase,
    kind,
    observedMs: first && last ? last.t - first.t : 0,
    samples: inWindow.length,
    outDelta: first?.held && last?.held ? last.held.out - first.held.out : 0,
    inDelta: first?.held && last?.held ? last.held.in - first.held.in : 0,
    otherOutDelta: oFirst && oLast ? oLast.out - oFirst.out : 0,
    onHoldSamples: judged.filter((s) => s.held?.onHold).length,
    judgedSamples: judged.length,
  };
}

/** What is wrong with one phase (empty when it is as expected). */
function problemsOf(f: PhaseFigures): string[] {
  const p: string[] = [];
  if (f.kind === 'flowing') {
    if (f.outDelta < MIN_GROWTH) p.push(`${f.phase}: node sent only ${f.outDelta} RTP packets to the caller`);
    if (f.onHoldSamples > 0) p.push(`${f.phase}: the API says onHold in ${f.onHoldSamples} samples`);
    return p;
  }
  if (f.observedMs < MIN_HOLD_OBSERVED_MS) p.push(`${f.phase}: observed only ${f.observedMs} ms`);
  if (f.outDelta !== 0) p.push(`${f.phase}: node sent ${f.outDelta} RTP packets to the held caller`);
  // sendonly means the holder still talks; the c=0.0.0.0 holder (sipp) keeps streaming as well.
  if (f.inDelta < MIN_GROWTH) p.push(`${f.phase}: node received only ${f.inDelta} packets from the held caller`);
  if (f.otherOutDelta < MIN_GROWTH) p.push(`${f.phase}: the other caller got only ${f.otherOutDelta} packets`);
  if (f.judgedSamples === 0 || f.onHoldSamples !== f.judgedSamples) p.push(`${f.phase}: the API says onHold in only ${f.onHoldSamples} of ${f.judgedSamples} samples`);
  return p;
}

describe('hold and resume by re-INVITE (sipp, UDP)', () => {
  test('a=sendonly and c=0.0.0.0 holds stop the RTP the node sends to the caller, resumes restart it (RFC 3264 8.4)', async () => {
    const target = node.sipTarget;
    // The other caller stays through the whole hold scenario (about 12.5 s) and hears the room.
    const other = await startSipp({ scenario: 'uac_call_rtp.xml', target, service: ROOM, cwd: dir, pauseMs: 16000, timeoutS: 40 });
    const samples = await whileSippRuns(other, 'the other caller in the room', async () => {
      await waitFor(
        'the other caller with RTP both ways',
        async () => {
          const o = bySipPort(await node.participantsOf(ROOM), other);
          return o && o.packetsIn > 0 && o.packetsOut > 0 ? true : undefined;
        },
        8000,
        100,
      );
      const holder = await startSipp({ scenario: 'uac_hold_resume.xml', target, service: ROOM, cwd: dir, timeoutS: 30 });
      return whileSippRuns(holder, 'hold and resume scenario', () => sampleWhileRunning(holder, other));
    });

    const withHeld = samples.filter((s) => s.held);
    const heldId = withHeld[0]?.held?.id;
    const marks = reinvites.filter((r) => r.participant === heldId);
    // The node itself says which re-INVITEs it took as a hold (sendonly, and c=0.0.0.0).
    expect({ heldId: heldId !== undefined, holds: marks.map((m) => m.hold) }).toEqual({ heldId: true, holds: [true, false, true, false] });
    const [hold1, resume1, hold2, resume2] = marks.map((m) => m.t) as [number, number, number, number];
    const start = withHeld[0]?.t ?? 0;
    const end = withHeld[withHeld.length - 1]?.t ?? 0;
    const phases = [
      figures(samples, 'call (sendrecv)', 'flowing', start, hold1),
      figures(samples, 'hold (a=sendonly)', 'silent', hold1 + SETTLE_MS, resume1),
      figures(samples, 'resumed (a=sendrecv)', 'flowing', resume1 + SETTLE_MS, hold2),
      figures(samples, 'hold (c=0.0.0.0)', 'silent', hold2 + SETTLE_MS, resume2),
      figures(samples, 'resumed (our address again)', 'flowing', resume2 + SETTLE_MS, end),
    ];
    writeFileSync(join(dir, 'hold-phases.json'), JSON.stringify({ phases, samples, marks }, null, 1));
    console.log(`hold/resume phases: ${phases.map((f) => `${f.phase} ${f.observedMs} ms out+${f.outDelta} in+${f.inDelta} other-out+${f.otherOutDelta}`).join('; ')}`);
    expect({ problems: phases.flatMap(problemsOf), phases }).toEqual({ problems: [], phases });

    await waitFor(`${ROOM} to be empty`, async () => ((await node.participantsOf(ROOM)).length === 0 ? true : undefined), 5000, 100);
  });
});
