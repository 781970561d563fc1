/**
 * Real decoders prove the mix: a three-party conference in `meet` inside a private network
 * namespace (node, sipp and two baresip instances share `unshare -n`; baresip binds 0.0.0.0).
 *   sipp       sends 1000 Hz as PCMU (rtp_stream),
 *   baresip A  sends  440 Hz as Opus (ausine) and records what it decodes,
 *   baresip B  sends 2500 Hz as PCMU (aufile) and records what it decodes.
 * Each listener must hear the two others and NOT itself (N-1 mixing, DESIGN.md section 4), in its
 * own codec: A's Opus recording holds 1000 + 2500 Hz and no 440 Hz; B's PCMU recording holds
 * 440 + 1000 Hz and no 2500 Hz.
 */
import { join } from 'node:path';
import { writeBaresipConfig, decodedRecordings } from './helpers/baresip';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NODE_MAIN, REPO_ROOT, type ParticipantView } from './helpers/node-process';
import { describePlan, runInNetns, type PlanResult, type PlanStep } from './helpers/netns';
import { freePortRange, freePorts } from './helpers/ports';
import { killAll } from './helpers/proc';
import { sippArgs, sippLogs } from './helpers/sipp';
import { middle, toneReport, type ToneReport } from './helpers/tone';
import { requireNetns, requireTool } from './helpers/tools';
import { readWav, writePcmToneWav, writeUlawToneWav } from './helpers/wav';

jest.setTimeout(90_000);

const SIPP_HZ = 1000;
const A_HZ = 440;
const B_HZ = 2500;
const TONES = [A_HZ, SIPP_HZ, B_HZ];
/**
 * A tone counts as absent below 1/1000 of the strongest present tone's power (-30 dB); measured
 * leakage of a listener's own tone is about -100 dB. Present tones (the sources differ in level:
 * ausine is louder than the 8000-amplitude WAVs) must be within 17 dB of each other.
 */
const ABSENT_RATIO = 0.001;
const PRESENT_RATIO = 0.02;

afterAll(async () => {
  await killAll();
});

interface Scene {
  dir: string;
  config: NodeConfig;
  aDir: string;
  bDir: string;
  sippSipPort: number;
}

async function prepare(): Promise<{ scene: Scene; steps: PlanStep[] }> {
  const dir = makeTempDir('baresip');
  const config = await writeNodeConfig({ dir, mixTalkers: 3 });
  const [aSip, bSip, sSip, sMedia, sCtl] = (await freePorts(5)) as [number, number, number, number, number];
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), SIPP_HZ, 30);
  const aDir = writeBaresipConfig({
    dir: join(dir, 'a'), user: 'alice', sipPort: aSip, rtp: await freePortRange(40), codec: 'opus',
    source: { kind: 'ausine', freq: A_HZ },
  });
  const bWav = join(dir, 'b-tone.wav');
  writePcmToneWav(bWav, B_HZ, 30);
  const bDir = writeBaresipConfig({
    dir: join(dir, 'b'), user: 'bob', sipPort: bSip, rtp: await freePortRange(40), codec: 'pcmu',
    source: { kind: 'aufile', wav: bWav },
  });
  const target = `127.0.0.1:${config.sipPort}`;
  const dial = `/dial sip:meet@${target}\n`;
  const sipp = sippArgs(
    { scenario: 'uac_call_rtp.xml', target, service: 'meet', cwd: dir, pauseMs: 16000, timeoutS: 40 },
    { sipPort: sSip, mediaPort: sMedia, controlPort: sCtl },
  );
  const steps: PlanStep[] = [
    { op: 'start', id: 'node', cmd: process.execPath, args: [NODE_MAIN, '--config', config.path, '--node', config.nodeName], cwd: REPO_ROOT, logFile: join(dir, 'node.log') },
    { op: 'waitHttp', url: `http://127.0.0.1:${config.httpPort}/healthz`, timeoutMs: 15000 },
    { op: 'start', id: 'sipp', cmd: 'sipp', args: sipp, cwd: dir, logFile: join(dir, 'sipp.log') },
    { op: 'start', id: 'a', cmd: 'baresip', args: ['-f', aDir], cwd: aDir, logFile: join(dir, 'baresip-a.log') },
    { op: 'start', id: 'b', cmd: 'baresip', args: ['-f', bDir], cwd: bDir, logFile: join(dir, 'baresip-b.log') },
    { op: 'waitOutput', id: 'a', pattern: 'baresip is ready', timeoutMs: 10000 },
    { op: 'waitOutput', id: 'b', pattern: 'baresip is ready', timeoutMs: 10000 },
    { op: 'write', id: 'a', text: dial },
    { op: 'write', id: 'b', text: dial },
    { op: 'waitOutput', id: 'a', pattern: 'Call established', timeoutMs: 10000 },
    { op: 'waitOutput', id: 'b', pattern: 'Call established', timeoutMs: 10000 },
    { op: 'sleep', ms: 7000 },
    { op: 'fetchJson', url: `http://127.0.0.1:${config.httpPort}/api/v1/participants`, key: 'participants' },
    { op: 'write', id: 'a', text: '/hangup\n' },
    { op: 'write', id: 'b', text: '/hangup\n' },
    { op: 'sleep', ms: 800 },
    { op: 'write', id: 'a', text: '/quit\n' },
    { op: 'write', id: 'b', text: '/quit\n' },
    { op: 'waitExit', id: 'a', timeoutMs: 8000 },
    { op: 'waitExit', id: 'b', timeoutMs: 8000 },
    { op: 'waitExit', id: 'sipp', timeoutMs: 25000 },
    { op: 'signal', id: 'node', signal: 'SIGTERM' },
    { op: 'waitExit', id: 'node', timeoutMs: 10000 },
  ];
  return { scene: { dir, config, aDir, bDir, sippSipPort: sSip }, steps };
}

function explain(scene: Scene, result: PlanResult): string {
  return `${describePlan(result)}\n${sippLogs(scene.dir, scene.sippSipPort)}\n(all files in ${scene.dir})`;
}

function analyse(dir: string): ToneReport & { file: string; seconds: number; sampleRate: number } {
  const files = decodedRecordings(dir);
  const file = files[files.length - 1];
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const wav = readWav(file);
  const seconds = wav.samples.length / wav.sampleRate;
  // the steady middle: call setup, jitter buffer fill and hangup stay out of the measurement
  const seg = middle(wav.samples, wav.sampleRate, Math.min(3, seconds / 2));
  return { ...toneReport(seg, wav.sampleRate, TONES), file, seconds, sampleRate: wav.sampleRate };
}

const pw = (r: ToneReport, f: number): number => r.power[f] ?? 0;

describe('three-party conference with real decoders (baresip) inside unshare -n', () => {
  let scene: Scene;
  let result: PlanResult;

  beforeAll(async () => {
    requireTool('sipp');
    requireTool('baresip');
    requireNetns();
    const prepared = await prepare();
    scene = prepared.scene;
    result = await runInNetns(scene.dir, prepared.steps, 75_000);
  }, 90_000);

  test('every peer completes its call: sipp exits 0, baresip calls were established, the node exits 0 on SIGTERM', () => {
    const summary = {
      ok: result.ok,
      sipp: result.procs.sipp?.code,
      node: result.procs.node?.code,
    };
    if (!result.ok || summary.sipp !== 0 || summary.node !== 0) {
      throw new Error(`${JSON.stringify(summary)}\n${explain(scene, result)}`);
    }
  });

  test('the node saw 3 participants in meet with their codecs (Opus for A, PCMU for B and sipp), media both ways', () => {
    const parts = (result.fetched.participants ?? []) as ParticipantView[];
    const inMeet = parts.filter((p) => p.conference === 'meet');
    const codecs = inMeet.map((p) => (p.audioCodec ?? '').split('/')[0]?.toLowerCase()).sort();
    expect({ count: inMeet.length, codecs }).toEqual({ count: 3, codecs: ['opus', 'pcmu', 'pcmu'] });
    for (const p of inMeet) {
      expect({ id: p.id, in: p.packetsIn > 0, out: p.packetsOut > 0 }).toEqual({ id: p.id, in: true, out: true });
    }
  });

  test('A (Opus) decodes the two others: 1000 Hz from sipp (PCMU) and 2500 Hz from B (PCMU), transcoded to Opus', () => {
    const a = analyse(scene.aDir);
    expect(a.rms).toBeGreaterThan(300);
    expect({ report: a, ok: pw(a, B_HZ) > PRESENT_RATIO * pw(a, SIPP_HZ) && pw(a, SIPP_HZ) > PRESENT_RATIO * pw(a, B_HZ) })
      .toEqual({ report: a, ok: true });
  });

  test('N-1: what A receives holds none of its own 440 Hz tone', () => {
    const a = analyse(scene.aDir);
    expect({ report: a, ownToneRatio: pw(a, A_HZ) / Math.max(pw(a, SIPP_HZ), pw(a, B_HZ)) < ABSENT_RATIO })
      .toEqual({ report: a, ownToneRatio: true });
  });

  test('B (PCMU) decodes the two others: 440 Hz from A (Opus) and 1000 Hz from sipp', () => {
    const b = analyse(scene.bDir);
    expect(b.rms).toBeGreaterThan(300);
    expect({ report: b, ok: pw(b, A_HZ) > PRESENT_RATIO * pw(b, SIPP_HZ) && pw(b, SIPP_HZ) > PRESENT_RATIO * pw(b, A_HZ) })
      .toEqual({ report: b, ok: true });
  });

  test('N-1: what B receives holds none of its own 2500 Hz tone', () => {
    const b = analyse(scene.bDir);
    expect({ report: b, ownToneRatio: pw(b, B_HZ) / Math.max(pw(b, SIPP_HZ), pw(b, A_HZ)) < ABSENT_RATIO })
      .toEqual({ report: b, ownToneRatio: true });
  });
});
