/**
 * Issue 11 acceptance, the seed's globally distributed example end to end (examples/global.yaml,
 * DESIGN.md R6-R9, R12): six node processes in four locations and a real etcd inside `unshare -n`
 * (baresip binds 0.0.0.0). Six sipp callers fill USA; Emma (USConf01) gets media in Mexico, Frank
 * (MexConf01) in Brazil, Greta (USConf03) in Canada, never Brazil; each baresip decodes the others'
 * tones across the geo backplanes and none of its own; then a USA caller gets 503 while a Brazil
 * caller joins (R8). Never asserts timings.
 */
import { readFileSync, rmSync } from 'node:fs';
import { decodedRecordings } from './helpers/baresip';
import {
  ALL_TONES, CALLER_HZ, CALLER_SIGNALING, CONFERENCE, FILLER_HZ, R8_BRAZIL_SIGNALING, describePlacement, expectedLinks, linkShapes, prepareGlobalScene,
  type CallerName, type GlobalScene, type LinkRow, type Placed,
} from './helpers/global-scene';
import { describePlan, runInNetns, type PlanResult } from './helpers/netns';
import { killAll } from './helpers/proc';
import { goertzelPower, toneReport } from './helpers/tone';
import { requireNetns, requireTool } from './helpers/tools';
import { readWav } from './helpers/wav';

jest.setTimeout(180_000);

const OVERFLOW_MESSAGE = 'Capacity reached in the location. Allocating the media node in the overflow location.';
/** A tone is heard when its amplitude in the recording is above 250 (a filler sends 1500, a caller 8000). */
const PRESENT_AMPLITUDE = 250;
/** Own tone counts as absent 30 dB below the two other callers' (N-1 mixing leaks far less). */
const ABSENT_RATIO = 0.03;

interface LogEntry {
  node: string;
  message: string;
  conference?: string;
  participant?: string;
  originalLocation?: string;
  overflowLocation?: string;
  reason?: string;
  mediaNode?: string;
}

interface ConferenceRow {
  name: string;
  locations: string[];
  mediaNodes: string[];
  proxyNodes: string[];
}

let scene: GlobalScene;
let result: PlanResult;
let parts: Placed[] | undefined;

/** The whole story (every process's output tail) once, in the first test; a short pointer elsewhere. */
const explain = (): string => `placement:\n${describePlacement(parts)}\n${describePlan(result)}\n(node logs in ${scene.dir}: CONFNODE_KEEP_TEST_DIRS=1 keeps them)`;
const planStopped = (): string => `the plan stopped early (see the first test): ${result.error ?? ''}`;
/** The plan's answers (undefined when the plan stopped before fetching them). */
const fetched = <T>(key: string): T | undefined => result.fetched[key] as T | undefined;
const caller = (name: CallerName): Placed | undefined => parts?.find((p) => p.displayName.includes(name));
const fillers = (): Placed[] => (parts ?? []).filter((p) => p.displayName.includes('sipp') && p.signalingNode !== R8_BRAZIL_SIGNALING);

beforeAll(async () => {
  requireTool('baresip');
  requireTool('sipp');
  requireTool('etcd');
  requireNetns();
  scene = await prepareGlobalScene();
  result = await runInNetns(scene.dir, scene.steps, 100_000);
  parts = fetched<Placed[]>('participants')?.filter((p) => p.conference === CONFERENCE);
  process.stdout.write(`cluster-global placement:\n${describePlacement(parts)}\n`);
}, 150_000);

/** Set by a failing test: its message then names the temp dir, kept only on request. */
let failed = false;
function check(body: () => void): () => void {
  return () => {
    try {
      body();
    } catch (e) {
      failed = true;
      throw e;
    }
  };
}

afterAll(async () => {
  await killAll();
  if (!scene) return;
  // Everything goes, even after a failure (the messages carry every process's output tail);
  // CONFNODE_KEEP_TEST_DIRS=1 keeps the node logs and recordings of a failed run to read.
  if ((failed || !result?.ok) && process.env.CONFNODE_KEEP_TEST_DIRS === '1') process.stdout.write(`cluster-global: kept ${scene.dir}\n`);
  else rmSync(scene.dir, { recursive: true, force: true });
});

describe('R6/R7: the seed globally distributed example on six node processes in four locations (real etcd)', () => {
  test('the plan ran to the end (every caller answered, every geo link carried media)', check(() => {
    if (!result.ok) throw new Error(explain());
  }));

  test('R6: six USA callers fill USA (USConf02 three, USConf03 two, USConf01 one); Emma USConf01 -> MexConf01, Frank MexConf01 -> BraConf01 (overflow-primary), Greta USConf03 -> CanConf01 (overflow-secondary), never Brazil', check(() => {
    if (!parts) throw new Error(planStopped());
    const why = describePlacement(parts);
    const perNode: Record<string, number> = {};
    for (const p of fillers()) perNode[p.mediaNode] = (perNode[p.mediaNode] ?? 0) + 1;
    const shape = (p: Placed | undefined): string => (p ? `${p.signalingNode} -> ${p.mediaNode}@${p.mediaLocation} (${p.placementReason})` : 'missing');
    expect({
      fillers: perNode,
      emma: shape(caller('emma')),
      frank: shape(caller('frank')),
      greta: shape(caller('greta')),
      usaCallersInBrazil: parts.filter((p) => scene.locationOf[p.signalingNode] === 'USA' && p.mediaLocation === 'Brazil').length,
      why,
    }).toEqual({
      fillers: { USConf02: 3, USConf03: 2, USConf01: 1 },
      emma: `${CALLER_SIGNALING.emma} -> MexConf01@Mexico (overflow-primary)`,
      frank: `${CALLER_SIGNALING.frank} -> BraConf01@Brazil (overflow-primary)`,
      greta: `${CALLER_SIGNALING.greta} -> CanConf01@Canada (overflow-secondary)`,
      usaCallersInBrazil: 0,
      why,
    });
  }));

  test('R7: /api/v1/log (asked at CanConf01) has exactly the three overflow entries, each naming the conference, the participant, the original and the overflow location', check(() => {
    const log = fetched<LogEntry[]>('log');
    if (!log || !parts) throw new Error(planStopped());
    const overflows = log.filter((e) => e.message === OVERFLOW_MESSAGE && e.conference === CONFERENCE);
    const entryOf = (name: CallerName): string => {
      const p = caller(name);
      const e = overflows.find((v) => p !== undefined && v.participant === p.id);
      return e ? `${e.node}: ${e.originalLocation} -> ${e.overflowLocation} (${e.reason}) on ${e.mediaNode}` : 'missing';
    };
    const all = JSON.stringify(log, null, 1);
    expect({ count: overflows.length, emma: entryOf('emma'), frank: entryOf('frank'), greta: entryOf('greta'), all }).toEqual({
      count: 3,
      emma: 'USConf01: USA -> Mexico (overflow-primary) on MexConf01',
      frank: 'MexConf01: Mexico -> Brazil (overflow-primary) on BraConf01',
      greta: 'USConf03: USA -> Canada (overflow-secondary) on CanConf01',
      all,
    });
  }));

  test('R9: /api/v1/conferences shows one conference in four locations, every node carrying media and one proxy per location', check(() => {
    const conf = fetched<ConferenceRow[]>('conferences')?.filter((c) => c.name === CONFERENCE);
    if (!conf) throw new Error(planStopped());
    const c = conf[0];
    const proxyLocations = (c?.proxyNodes ?? []).map((n) => scene.locationOf[n] ?? `?${n}`).sort();
    expect({ instances: conf.length, locations: [...(c?.locations ?? [])].sort(), mediaNodes: [...(c?.mediaNodes ?? [])].sort(), proxyLocations, c }).toEqual({
      instances: 1,
      locations: ['Brazil', 'Canada', 'Mexico', 'USA'],
      mediaNodes: ['BraConf01', 'CanConf01', 'MexConf01', 'USConf01', 'USConf02', 'USConf03'],
      proxyLocations: ['Brazil', 'Canada', 'Mexico', 'USA'],
      c,
    });
  }));

  test('R9/R12: geo links only between the four proxies (full mesh); each carries every stream of its side once: one copy per stream per location pair', check(() => {
    const c = fetched<ConferenceRow[]>('conferences')?.find((v) => v.name === CONFERENCE);
    if (!parts || !c) throw new Error(planStopped());
    const want = expectedLinks(parts, scene.locationOf, c.proxyNodes);
    const got: Record<string, ReturnType<typeof linkShapes>> = {};
    for (const n of Object.keys(scene.locationOf)) got[n] = linkShapes(fetched<LinkRow[]>(`backplanes-${n}`));
    const why = `${describePlacement(parts)}\nproxies ${c.proxyNodes.join(', ')}`;
    expect({ links: got, why }).toEqual({ links: want, why });
    // Every geo link measured its peer from RTCP and carried packets both ways.
    const geo = Object.keys(scene.locationOf).flatMap((n) => (fetched<LinkRow[]>(`backplanes-${n}`) ?? []).filter((r) => r.kind === 'geo').map((r) => ({ n, ...r })));
    const bad = geo.filter((r) => !(r.packetsIn > 0 && r.packetsOut > 0 && typeof r.rttMs === 'number'));
    expect({ geoLinks: geo.length, bad }).toEqual({ geoLinks: 12, bad: [] });
  }));
});

describe('R8: USA, Mexico and Canada full for the conference', () => {
  test('a USA caller (sipp at USConf02) gets 503 with Retry-After, while a Brazil caller (sipp at BraConf01) joins on BraConf01', check(() => {
    const usa = result.procs['r8-usa'];
    let retryAfter = '(no sipp log)';
    try {
      retryAfter = /Retry-After\s+(\S+)/.exec(readFileSync(scene.r8LogFile, 'utf8'))?.[1] ?? '(not logged)';
    } catch {
      // no log: sipp never got that far (its exit code says why)
    }
    const brazil = (parts ?? []).filter((p) => p.signalingNode === R8_BRAZIL_SIGNALING && p.displayName.includes('sipp'));
    const why = `${usa?.outputTail ?? '(sipp r8-usa never started)'}\n${describePlacement(parts)}`;
    expect({
      usaSippExit: usa?.code,
      retryAfter: /^[1-9][0-9]*$/.test(retryAfter) ? 'a positive number of seconds' : retryAfter,
      brazil: brazil.map((p) => `${p.mediaNode}@${p.mediaLocation} (${p.placementReason})`),
      // the rejected caller never became a participant: 6 fillers, Emma, Frank, Greta, the Brazil caller
      participants: parts?.length,
      why,
    }).toEqual({ usaSippExit: 0, retryAfter: 'a positive number of seconds', brazil: ['BraConf01@Brazil (affinity)'], participants: 10, why });
  }));
});

/** Amplitudes (median over 250 ms pieces) and the dominant frequency of a recording's steady end. */
interface Heard {
  file: string;
  seconds: number;
  rms: number;
  dominant: number;
  /** Tone -> median amplitude (4 * sqrt(Goertzel power) per piece). */
  amplitude: Record<number, number>;
}

/**
 * The recording's steady end: 4 s ending 1 s before the hangup (everyone in, every link up), cut in
 * 250 ms pieces whose median amplitude per tone is kept. A 4 s Goertzel would need the tone's phase
 * to hold for 4 s, which the fillers' 440 Hz does not: the mixer's fourth talker slot passes between
 * fillers of equal level (each with its own phase), and a loaded machine drops the odd frame.
 */
function analyse(dir: string): Heard {
  const files = decodedRecordings(dir);
  const file = files[files.length - 1];
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const wav = readWav(file);
  const rate = wav.sampleRate;
  const end = Math.max(0, wav.samples.length - rate);
  const seg = wav.samples.subarray(Math.max(0, end - 4 * rate), end);
  const piece = Math.floor(rate / 4);
  const amplitude: Record<number, number> = {};
  for (const f of ALL_TONES) {
    const per: number[] = [];
    for (let at = 0; at + piece <= seg.length; at += piece) per.push(4 * Math.sqrt(goertzelPower(seg.subarray(at, at + piece), rate, f)));
    per.sort((x, y) => x - y);
    amplitude[f] = Math.round(per[Math.floor(per.length / 2)] ?? 0);
  }
  const whole = toneReport(seg, rate, []);
  return { file, seconds: wav.samples.length / rate, rms: Math.round(whole.rms), dominant: whole.dominant, amplitude };
}

const CALLERS: Array<{ name: CallerName; codec: string; media: string }> = [
  { name: 'emma', codec: 'Opus', media: 'MexConf01' },
  { name: 'frank', codec: 'PCMU', media: 'BraConf01' },
  { name: 'greta', codec: 'PCMA', media: 'CanConf01' },
];

describe('R9/R12: every participant hears the others across the geo backplanes (baresip decodes the mix)', () => {
  test.each(CALLERS)('baresip $name ($codec, media on $media) decodes the two other callers and the USA fillers, and none of its own tone', ({ name }) => check(() => {
    if (!result.ok) throw new Error(planStopped());
    const r = analyse(scene.callerDirs[name]);
    const own = CALLER_HZ[name];
    const others = [FILLER_HZ, ...Object.values(CALLER_HZ).filter((f) => f !== own)];
    const amp = (f: number): number => r.amplitude[f] ?? 0;
    const callers = Object.values(CALLER_HZ).filter((f) => f !== own);
    const callersMean = callers.reduce((sum, f) => sum + amp(f), 0) / callers.length;
    const heard = Object.fromEntries(others.map((f) => [String(f), amp(f) > PRESENT_AMPLITUDE]));
    const ownAbsent = amp(own) < ABSENT_RATIO * callersMean;
    const pass = ownAbsent && Object.values(heard).every(Boolean);
    process.stdout.write(`cluster-global ${name} hears (median amplitude): ${Object.entries(r.amplitude).map(([f, a]) => `${f} Hz ${a}`).join(', ')}\n`);
    const report = `own ${own} Hz; amplitudes ${JSON.stringify(r.amplitude)}; rms ${r.rms}; dominant ${r.dominant} Hz; ${r.file} (${r.seconds.toFixed(1)} s)\n${describePlacement(parts)}`;
    expect({ heard, ownAbsent, report: pass ? '' : report }).toEqual({ heard: Object.fromEntries(others.map((f) => [String(f), true])), ownAbsent: true, report: '' });
  })());
});
