/**
 * A browser and baresip (Opus + H.264) in one conference (issue 3 acceptance): the node, headless
 * Chromium (fake camera + beeping fake microphone) and baresip (fakevideo camera, 440 Hz ausine)
 * all run inside one `unshare -n` (baresip binds 0.0.0.0). Proof comes from the real decoders:
 * baresip's rtp_stats and its decoded-audio recording, and the page's own getStats().
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodedRecordings } from './helpers/baresip';
import { requireChromium } from './helpers/browser';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { writeBaresipConfig } from './helpers/baresip';
import { writeBrowserScript, type BrowserResult } from './helpers/netns-browser';
import { NODE_MAIN, REPO_ROOT } from './helpers/node-process';
import { describePlan, runInNetns, type PlanResult, type PlanStep } from './helpers/netns';
import { freePortRange, freePorts } from './helpers/ports';
import { killAll } from './helpers/proc';
import { dominantFrequency, goertzelPower, rms } from './helpers/tone';
import { requireNetns, requireTool } from './helpers/tools';
import { readWav } from './helpers/wav';

jest.setTimeout(120_000);

/** baresip's own ausine tone: what it receives must not be dominated by it (N-1). */
const OWN_HZ = 440;
/** Chromium's fake audio capture device beeps at 400 Hz (measured in baresip's recording). */
const BEEP_HZ = 400;

afterAll(async () => {
  await killAll();
});

interface Scene {
  dir: string;
  config: NodeConfig;
  bDir: string;
  browserResultFile: string;
}

interface ParticipantJson {
  id: string;
  displayName?: string;
  conference: string;
  protocol: string;
  audioCodec?: string;
  videoCodec?: string;
  videoUnavailableReason?: string;
  videoShowing?: string;
  packetsIn: number;
  packetsOut: number;
  videoPacketsIn?: number;
  videoPacketsOut?: number;
}

async function prepare(): Promise<{ scene: Scene; steps: PlanStep[] }> {
  const dir = makeTempDir('webrtc-baresip');
  const config = await writeNodeConfig({ dir, vmrs: [{ name: 'meet', aliases: ['meet'], videoCodec: 'H264' }] });
  const [bSip] = (await freePorts(1)) as [number];
  const bDir = writeBaresipConfig({
    dir: join(dir, 'baresip'), user: 'bob', sipPort: bSip, rtp: await freePortRange(40), codec: 'opus', source: { kind: 'ausine', freq: OWN_HZ }, video: true,
  });
  const browserResultFile = join(dir, 'browser-result.json');
  const script = writeBrowserScript({
    dir, baseUrl: `http://127.0.0.1:${config.httpPort}`, alias: 'meet', name: 'Ann', resultFile: browserResultFile,
    mediaTimeoutMs: 20_000, holdMs: 6000, deadlineMs: 70_000,
  });
  const api = `http://127.0.0.1:${config.httpPort}/api/v1/participants`;
  const steps: PlanStep[] = [
    { op: 'start', id: 'node', cmd: process.execPath, args: [NODE_MAIN, '--config', config.path, '--node', config.nodeName], cwd: REPO_ROOT, logFile: join(dir, 'node.log') },
    { op: 'waitHttp', url: `http://127.0.0.1:${config.httpPort}/healthz`, timeoutMs: 15000 },
    { op: 'start', id: 'baresip', cmd: 'baresip', args: ['-f', bDir], cwd: bDir, logFile: join(dir, 'baresip.log') },
    { op: 'waitOutput', id: 'baresip', pattern: 'baresip is ready', timeoutMs: 10000 },
    { op: 'write', id: 'baresip', text: `/dial sip:meet@127.0.0.1:${config.sipPort}\n` },
    { op: 'waitOutput', id: 'baresip', pattern: 'Call established', timeoutMs: 10000 },
    { op: 'start', id: 'browser', cmd: process.execPath, args: [script], cwd: dir, logFile: join(dir, 'browser.log') },
    { op: 'waitOutput', id: 'browser', pattern: 'BROWSER-DONE', timeoutMs: 60000 },
    { op: 'fetchJson', url: api, key: 'participants' },
    { op: 'write', id: 'baresip', text: '/hangup\n' },
    { op: 'sleep', ms: 800 },
    { op: 'write', id: 'baresip', text: '/quit\n' },
    { op: 'waitExit', id: 'baresip', timeoutMs: 8000 },
    { op: 'write', id: 'browser', text: 'quit\n' },
    { op: 'waitExit', id: 'browser', timeoutMs: 10000 },
    { op: 'signal', id: 'node', signal: 'SIGTERM' },
    { op: 'waitExit', id: 'node', timeoutMs: 10000 },
  ];
  return { scene: { dir, config, bDir, browserResultFile }, steps };
}

function explain(scene: Scene, result: PlanResult): string {
  return `${describePlan(result)}\n(all files in ${scene.dir})`;
}

function baresipLog(scene: Scene): string {
  return readFileSync(join(scene.dir, 'baresip.log'), 'utf8');
}

function browserResult(scene: Scene): BrowserResult {
  return JSON.parse(readFileSync(scene.browserResultFile, 'utf8')) as BrowserResult;
}

/** One stream's block of baresip 1.0's rtp_stats table (printed at hangup). */
interface RtpStatsBlock {
  txPackets: number;
  rxPackets: number;
  rxErrors: number;
}

/** Parses "video   Transmit: Receive:" followed by "packets: TX RX" and "errors: TX RX". */
function rtpStats(log: string, kind: 'audio' | 'video'): RtpStatsBlock | undefined {
  const lines = log.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^${kind}\\s+Transmit:\\s+Receive:`).test(l));
  if (at < 0) return undefined;
  const row = (name: string): [number, number] | undefined => {
    const l = lines.slice(at + 1, at + 8).find((x) => x.startsWith(`${name}:`));
    const m = l?.match(/:\s+(\d+)\s+(\d+)/);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const packets = row('packets');
  const errors = row('errors');
  if (!packets) return undefined;
  return { txPackets: packets[0], rxPackets: packets[1], rxErrors: errors?.[1] ?? -1 };
}

/** Highest decode rate baresip's status line showed ("efps=ENC/DEC"). */
function maxDecodeFps(log: string): number {
  let best = 0;
  for (const m of log.matchAll(/efps=[\d.]+\/([\d.]+)/g)) best = Math.max(best, Number(m[1]));
  return best;
}

interface BeepReport {
  file: string;
  seconds: number;
  /** RMS of the last seconds of the call (the browser was in the conference all that time). */
  rms: number;
  /** Around the loudest 10 ms of that stretch: Chromium's fake microphone beeps there. */
  beepRms: number;
  beepDominant: number;
  beepPower: number;
  ownTonePower: number;
}

const FRAME_MS = 10;

/** Finds the browser's beep in what baresip decoded and measures its frequency (Goertzel). */
function analyseBeep(dir: string): BeepReport {
  const files = decodedRecordings(dir);
  const file = files[files.length - 1];
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const { samples, sampleRate } = readWav(file);
  const seconds = samples.length / sampleRate;
  // the browser joined a few seconds after the call started and stayed until after the hangup
  const tail = samples.subarray(Math.max(0, samples.length - 5.5 * sampleRate), samples.length - Math.floor(0.5 * sampleRate));
  const frame = (sampleRate * FRAME_MS) / 1000;
  let loudest = 0;
  let loudestRms = -1;
  for (let i = 0; i + frame <= tail.length; i += frame) {
    const r = rms(tail.subarray(i, i + frame));
    if (r > loudestRms) {
      loudestRms = r;
      loudest = i;
    }
  }
  // 100 ms around the loudest frame: long enough to tell 400 Hz from 440 Hz (10 Hz bins)
  const from = Math.max(0, loudest - 5 * frame);
  const beep = tail.subarray(from, Math.min(tail.length, from + 10 * frame));
  return {
    file,
    seconds,
    rms: rms(tail),
    beepRms: rms(beep),
    beepDominant: dominantFrequency(beep, sampleRate, 100, 4000),
    beepPower: goertzelPower(beep, sampleRate, BEEP_HZ),
    ownTonePower: goertzelPower(beep, sampleRate, OWN_HZ),
  };
}

function participants(result: PlanResult): ParticipantJson[] {
  return ((result.fetched.participants ?? []) as ParticipantJson[]).filter((p) => p.conference === 'meet');
}

describe('a browser (Chromium) and baresip (Opus + H.264) in meet, inside one unshare -n', () => {
  let scene: Scene;
  let result: PlanResult;

  beforeAll(async () => {
    requireTool('baresip');
    requireChromium();
    requireNetns();
    const prepared = await prepare();
    scene = prepared.scene;
    result = await runInNetns(scene.dir, prepared.steps, 100_000);
  }, 120_000);

  test('the plan completes: baresip call established, browser joined, every process exits 0', () => {
    const summary = { ok: result.ok, node: result.procs.node?.code, baresip: result.procs.baresip?.code, browser: result.procs.browser?.code };
    if (!result.ok || summary.node !== 0 || summary.baresip !== 0 || summary.browser !== 0) {
      throw new Error(`${JSON.stringify(summary)}\n${explain(scene, result)}`);
    }
  });

  test('the node puts both in meet: baresip with Opus + H.264 (packetization-mode=1) showing the browser, the browser as webrtc', () => {
    const parts = participants(result);
    const sip = parts.find((p) => p.protocol === 'sip');
    const web = parts.find((p) => p.protocol === 'webrtc');
    expect(parts).toHaveLength(2);
    expect({ audio: sip?.audioCodec, video: sip?.videoCodec, reason: sip?.videoUnavailableReason, showing: sip?.videoShowing })
      .toEqual({ audio: 'opus', video: 'H264', reason: undefined, showing: web?.id });
    expect(sip?.videoPacketsOut ?? 0).toBeGreaterThan(0);
    expect(sip?.videoPacketsIn ?? 0).toBeGreaterThan(0);
    expect(web?.packetsIn ?? 0).toBeGreaterThan(0);
    expect(web?.packetsOut ?? 0).toBeGreaterThan(0);
  });

  test("baresip decodes the browser's H.264 video: decoder set, 640x480 frames decoded, video packets received without errors", () => {
    const log = baresipLog(scene);
    const video = rtpStats(log, 'video');
    const facts = {
      decoder: /Set video decoder: H264 packetization-mode=1/.test(log),
      // baresip prints this once its decoder has produced a frame of a new size (the fake camera is 640x480)
      frames: /video: receiving with resolution 640 x 480/.test(log),
      decodeFps: maxDecodeFps(log) > 0,
      rxPackets: (video?.rxPackets ?? 0) > 50,
      rxErrors: video?.rxErrors,
    };
    expect({ facts, video }).toEqual({ facts: { decoder: true, frames: true, decodeFps: true, rxPackets: true, rxErrors: 0 }, video });
  });

  test("baresip's decoded audio holds the browser's fake-microphone beep (400 Hz), not its own 440 Hz tone", () => {
    const r = analyseBeep(scene.bDir);
    console.log(`baresip decoded: ${JSON.stringify(r)}`);
    expect({ r, loud: r.rms > 300 && r.beepRms > 2000 }).toEqual({ r, loud: true });
    // The beep is not a pure tone (harmonics at 800, 1200 Hz can win the dominant-frequency pick
    // under load), so the proof is the power at its fundamental against baresip's own 440 Hz.
    expect({ r, notOwn: Math.abs(r.beepDominant - OWN_HZ) > 25 }).toEqual({ r, notOwn: true });
    expect({ r, ratio: r.beepPower > 4 * r.ownTonePower }).toEqual({ r, ratio: true });
  });

  test("the browser decodes baresip's H.264 video (352x288) and receives its audio with level", () => {
    const b = browserResult(scene);
    const sipId = participants(result).find((p) => p.protocol === 'sip')?.id;
    const remote = b.remotes.find((r) => r.participant === sipId);
    const facts = {
      ok: b.ok,
      framesDecoded: (remote?.framesDecoded ?? 0) > 0,
      frameWidth: remote?.frameWidth,
      videoCodec: remote?.videoCodec,
      audioPackets: (remote?.audioPackets ?? 0) > 0,
      audioLevel: (remote?.audioLevel ?? 0) > 0,
    };
    expect({ facts, browser: b }).toEqual({
      facts: { ok: true, framesDecoded: true, frameWidth: 352, videoCodec: 'video/H264', audioPackets: true, audioLevel: true },
      browser: b,
    });
  });
});
