/**
 * Proof that our hand-written G.722 (src/media/codecs/g722.ts) speaks the standard bitstream: a
 * real G.722 implementation (baresip's g722.so, spandsp inside) decodes what we encode and encodes
 * what we decode. Three parties in `meet`, all inside `unshare -n` (netns.ts):
 *   sipp       sends 1000 Hz as PCMU (rtp_stream),
 *   baresip A  sends  440 Hz as G.722 (aufile, 16 kHz WAV) and records what its decoder produced,
 *   baresip B  sends 2500 Hz as PCMU (aufile, 8 kHz WAV) and records what it decodes.
 * A's recording must hold 1000 + 2500 Hz (our encoder -> baresip's decoder) and not 440 Hz;
 * B's must hold 440 Hz (baresip's encoder -> our decoder -> mix -> PCMU) + 1000 Hz and not 2500 Hz.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBaresipConfig, decodedRecordings } from './helpers/baresip';
import { makeTempDir, writeNodeConfig } from './helpers/config';
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
/** Absent: below -30 dB of the strongest present tone. Present: within 17 dB of each other. */
const ABSENT_RATIO = 0.001;
const PRESENT_RATIO = 0.02;

afterAll(async () => {
  await killAll();
});

interface Scene {
  dir: string;
  aDir: string;
  bDir: string;
  sippSipPort: number;
}

/**
 * The shared helper knows Opus and G.711 only: switch A's account to G.722 and load g722.so.
 * baresip 1.0 registers the codec as "G722" with a 16000 Hz sample rate (its RTP clock is 8000),
 * and account `audio_codecs` entries match on name/sample-rate/channels.
 */
function useG722(dir: string): void {
  appendFileSync(join(dir, 'config'), 'module\t\t\tg722.so\n');
  const accounts = join(dir, 'accounts');
  writeFileSync(accounts, readFileSync(accounts, 'utf8').replace(/audio_codecs=[^\s;]+/, 'audio_codecs=G722/16000/1'));
}

async function prepare(): Promise<{ scene: Scene; steps: PlanStep[] }> {
  const dir = makeTempDir('baresip-g722');
  const config = await writeNodeConfig({ dir, mixTalkers: 3 });
  const [aSip, bSip, sSip, sMedia, sCtl] = (await freePorts(5)) as [number, number, number, number, number];
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), SIPP_HZ, 30);
  // aufile refuses a WAV whose rate differs from the codec's: G.722 samples at 16 kHz.
  const aWav = join(dir, 'a-tone.wav');
  writePcmToneWav(aWav, A_HZ, 30, 16000);
  const aDir = writeBaresipConfig({
    dir: join(dir, 'a'), user: 'alice', sipPort: aSip, rtp: await freePortRange(40), codec: 'pcmu',
    source: { kind: 'aufile', wav: aWav },
  });
  useG722(aDir);
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
  const nodeArgs = [NODE_MAIN, '--config', config.path, '--node', config.nodeName, '--log-level', 'debug'];
  const steps: PlanStep[] = [
    { op: 'start', id: 'node', cmd: process.execPath, args: nodeArgs, cwd: REPO_ROOT, logFile: join(dir, 'node.log') },
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
  return { scene: { dir, aDir, bDir, sippSipPort: sSip }, steps };
}

function explain(scene: Scene, result: PlanResult): string {
  return `${describePlan(result)}\n${sippLogs(scene.dir, scene.sippSipPort)}\n(all files in ${scene.dir})`;
}

type Analysis = ToneReport & { file: string; seconds: number; sampleRate: number };

function analyse(dir: string): Analysis {
  const files = decodedRecordings(dir);
  const file = files[files.length - 1];
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const wav = readWav(file);
  const seconds = wav.samples.length / wav.sampleRate;
  const seg = middle(wav.samples, wav.sampleRate, Math.min(3, seconds / 2));
  return { ...toneReport(seg, wav.sampleRate, TONES), file, seconds, sampleRate: wav.sampleRate };
}

const pw = (r: ToneReport, f: number): number => r.power[f] ?? 0;

describe('G.722 interop with a real G.722 peer (baresip g722.so) inside unshare -n', () => {
  let scene: Scene;
  let result: PlanResult;
  const recordings: { a?: Analysis; b?: Analysis } = {};
  // Read lazily: a missing recording fails the tests that need it, not the call summary above.
  const recA = (): Analysis => (recordings.a ??= analyse(scene.aDir));
  const recB = (): Analysis => (recordings.b ??= analyse(scene.bDir));

  beforeAll(async () => {
    requireTool('sipp');
    requireTool('baresip');
    requireNetns();
    const prepared = await prepare();
    scene = prepared.scene;
    result = await runInNetns(scene.dir, prepared.steps, 75_000);
  }, 90_000);

  test('every peer completes its call: sipp exits 0, both baresip calls were established, the node exits 0', () => {
    const summary = { ok: result.ok, sipp: result.procs.sipp?.code, node: result.procs.node?.code };
    if (!result.ok || summary.sipp !== 0 || summary.node !== 0) {
      throw new Error(`${JSON.stringify(summary)}\n${explain(scene, result)}`);
    }
  });

  test('the node negotiated G722 (RFC 3551 PT 9) with A and PCMU with B and sipp, media both ways', () => {
    const parts = (result.fetched.participants ?? []) as ParticipantView[];
    const inMeet = parts.filter((p) => p.conference === 'meet');
    const codecs = inMeet.map((p) => (p.audioCodec ?? '').split('/')[0]?.toUpperCase()).sort();
    expect({ count: inMeet.length, codecs }).toEqual({ count: 3, codecs: ['G722', 'PCMU', 'PCMU'] });
    for (const p of inMeet) {
      expect({ id: p.id, in: p.packetsIn > 0, out: p.packetsOut > 0 }).toEqual({ id: p.id, in: true, out: true });
    }
  });

  test('A records wideband audio: its G.722 decoder runs at 16 kHz', () => {
    const a = recA();
    expect({ sampleRate: a.sampleRate, file: a.file }).toEqual({ sampleRate: 16000, file: a.file });
  });

  test('our G.722 encoder -> baresip decoder: A hears 1000 Hz (sipp) and 2500 Hz (B)', () => {
    const a = recA();
    expect(a.rms).toBeGreaterThan(300);
    expect({ report: a, ok: pw(a, B_HZ) > PRESENT_RATIO * pw(a, SIPP_HZ) && pw(a, SIPP_HZ) > PRESENT_RATIO * pw(a, B_HZ) })
      .toEqual({ report: a, ok: true });
  });

  test('N-1: what A receives holds none of its own 440 Hz tone', () => {
    const a = recA();
    expect({ report: a, ownToneRatio: pw(a, A_HZ) / Math.max(pw(a, SIPP_HZ), pw(a, B_HZ)) < ABSENT_RATIO })
      .toEqual({ report: a, ownToneRatio: true });
  });

  test('baresip G.722 encoder -> our decoder -> PCMU: B hears 440 Hz (A) and 1000 Hz (sipp), not its own 2500 Hz', () => {
    const b = recB();
    expect(b.rms).toBeGreaterThan(300);
    expect({ report: b, ok: pw(b, A_HZ) > PRESENT_RATIO * pw(b, SIPP_HZ) && pw(b, SIPP_HZ) > PRESENT_RATIO * pw(b, A_HZ) })
      .toEqual({ report: b, ok: true });
    expect({ report: b, ownToneRatio: pw(b, B_HZ) / Math.max(pw(b, SIPP_HZ), pw(b, A_HZ)) < ABSENT_RATIO })
      .toEqual({ report: b, ownToneRatio: true });
  });

  test('levels agree: the same sipp tone reaches A (via our G.722) within 3 dB of B (via PCMU)', () => {
    const a = recA();
    const b = recB();
    // A 6 dB scaling slip in the sub-band signals would still decode, only too loud or too quiet.
    const db = 10 * Math.log10(pw(a, SIPP_HZ) / pw(b, SIPP_HZ));
    expect({ db: Math.round(db * 10) / 10, ok: Math.abs(db) < 3 }).toEqual({ db: Math.round(db * 10) / 10, ok: true });
  });
});
