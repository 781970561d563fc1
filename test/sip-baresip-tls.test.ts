/**
 * SIP over TLS with SDES-SRTP against real phones (issue 12 acceptance): a node with a
 * certificate made by `openssl req -x509` in the test's temp dir and `media.sip_srtp: required`;
 * two baresip callers dial its TLS port with `mediaenc=srtp-mand` (RTP/SAVP, a=crypto on audio
 * and video), trusting the certificate as their CA file, inside `unshare -n` (baresip binds 0.0.0.0):
 *   baresip A sends  440 Hz as Opus (ausine) and H.264 video, and records what it decodes,
 *   baresip B sends 2500 Hz as PCMU (aufile) and H.264 video, and records what it decodes.
 * Each decodes the other's tone and receives the other's (voice-switched) video: SRTP works both
 * ways with the keys of every answer (a wrong key decodes to nothing: every packet fails
 * authentication). And a plain RTP/AVP offer to a node that requires SRTP gets 488.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBaresipConfig, decodedRecordings } from './helpers/baresip';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NODE_MAIN, NodeUnderTest, REPO_ROOT, type ParticipantView } from './helpers/node-process';
import { describePlan, runInNetns, type PlanResult, type PlanStep } from './helpers/netns';
import { freePortRange, freePorts } from './helpers/ports';
import { killAll } from './helpers/proc';
import { UdpSip, buildRequest, newDialogIds, sdpOffer } from './helpers/sip-raw';
import { middle, toneReport, type ToneReport } from './helpers/tone';
import { requireNetns, requireTool } from './helpers/tools';
import { readWav, writePcmToneWav } from './helpers/wav';

jest.setTimeout(90_000);

const A_HZ = 440;
const B_HZ = 2500;
const TONES = [A_HZ, B_HZ];
/** The other's tone must dominate a listener's own (the mix is N-1): -30 dB, as in sip-baresip.test.ts. */
const ABSENT_RATIO = 0.001;

afterAll(async () => {
  await killAll();
});

interface Scene {
  dir: string;
  config: NodeConfig;
  tlsPort: number;
  aDir: string;
  bDir: string;
}

/** A self-signed certificate for 127.0.0.1 in `dir` (what an operator would make with openssl). */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'node-cert.pem');
  const key = join(dir, 'node-key.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=confnode test node',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** A baresip that calls over TLS with mandatory SDES-SRTP, trusting the node's certificate. */
function tlsBaresip(dir: string, user: string, sipPort: number, rtp: { min: number; max: number }, codec: 'opus' | 'pcmu', source: Parameters<typeof writeBaresipConfig>[0]['source'], ca: string): string {
  writeBaresipConfig({ dir, user, sipPort, rtp, codec, source, video: true });
  appendFileSync(join(dir, 'config'), [`sip_cafile\t\t${ca}`, 'module\t\t\tsrtp.so', ''].join('\n'));
  const codecParam = codec === 'opus' ? 'opus/48000/2' : 'PCMU/8000/1';
  writeFileSync(join(dir, 'accounts'), `<sip:${user}@127.0.0.1:${sipPort};transport=tls>;regint=0;audio_codecs=${codecParam};mediaenc=srtp-mand\n`);
  return dir;
}

async function prepare(): Promise<{ scene: Scene; steps: PlanStep[] }> {
  requireTool('openssl');
  const dir = makeTempDir('baresip-tls');
  const { cert, key } = makeCertificate(dir);
  const [tlsPort, aSip, bSip] = (await freePorts(3)) as [number, number, number];
  const config = await writeNodeConfig({
    dir,
    nodeExtra: `sip_tls_port: ${tlsPort}, tls: { cert_file: ${JSON.stringify(cert)}, key_file: ${JSON.stringify(key)} }`,
    mediaExtra: 'sip_srtp: required',
  });
  const aDir = tlsBaresip(join(dir, 'a'), 'alice', aSip, await freePortRange(40), 'opus', { kind: 'ausine', freq: A_HZ }, cert);
  const bWav = join(dir, 'b-tone.wav');
  writePcmToneWav(bWav, B_HZ, 30);
  const bDir = tlsBaresip(join(dir, 'b'), 'bob', bSip, await freePortRange(40), 'pcmu', { kind: 'aufile', wav: bWav }, cert);
  // The account says ;transport=tls: baresip adds it to the dialled URI itself.
  const dial = `/dial sip:meet@127.0.0.1:${tlsPort}\n`;
  // The API is HTTPS now (same certificate): read it with a small script that trusts the certificate.
  const fetcher = join(dir, 'fetch-json.js');
  writeFileSync(fetcher, FETCH_JSON);
  const api = (id: string, path: string): PlanStep[] => [
    { op: 'start', id, cmd: process.execPath, args: [fetcher, `https://127.0.0.1:${config.httpPort}/api/v1/${path}`, cert, join(dir, `${id}.json`)], cwd: dir, logFile: join(dir, `${id}.log`) },
    { op: 'waitExit', id, timeoutMs: 5000 },
  ];
  const steps: PlanStep[] = [
    { op: 'start', id: 'node', cmd: process.execPath, args: [NODE_MAIN, '--config', config.path, '--node', config.nodeName], cwd: REPO_ROOT, logFile: join(dir, 'node.log') },
    { op: 'waitOutput', id: 'node', pattern: 'ready: dial', timeoutMs: 15000 },
    { op: 'start', id: 'a', cmd: 'baresip', args: ['-f', aDir], cwd: aDir, logFile: join(dir, 'baresip-a.log') },
    { op: 'start', id: 'b', cmd: 'baresip', args: ['-f', bDir], cwd: bDir, logFile: join(dir, 'baresip-b.log') },
    { op: 'waitOutput', id: 'a', pattern: 'baresip is ready', timeoutMs: 10000 },
    { op: 'waitOutput', id: 'b', pattern: 'baresip is ready', timeoutMs: 10000 },
    { op: 'write', id: 'a', text: dial },
    { op: 'write', id: 'b', text: dial },
    { op: 'waitOutput', id: 'a', pattern: 'Call established', timeoutMs: 10000 },
    { op: 'waitOutput', id: 'b', pattern: 'Call established', timeoutMs: 10000 },
    { op: 'sleep', ms: 7000 },
    ...api('participants', 'participants'),
    ...api('status', 'status'),
    { op: 'write', id: 'a', text: '/hangup\n' },
    { op: 'write', id: 'b', text: '/hangup\n' },
    { op: 'sleep', ms: 800 },
    { op: 'write', id: 'a', text: '/quit\n' },
    { op: 'write', id: 'b', text: '/quit\n' },
    { op: 'waitExit', id: 'a', timeoutMs: 8000 },
    { op: 'waitExit', id: 'b', timeoutMs: 8000 },
    { op: 'signal', id: 'node', signal: 'SIGTERM' },
    { op: 'waitExit', id: 'node', timeoutMs: 10000 },
  ];
  return { scene: { dir, config, tlsPort, aDir, bDir }, steps };
}

/** GET url trusting the CA file; writes the body to a file; exit 0 only on 200. */
const FETCH_JSON = `const https = require('node:https');
const fs = require('node:fs');
const [url, ca, out] = process.argv.slice(2);
https.get(url, { ca: fs.readFileSync(ca), timeout: 3000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => (body += d));
  res.on('end', () => { fs.writeFileSync(out, body); process.exit(res.statusCode === 200 ? 0 : 1); });
}).on('error', (e) => { console.error(e.message); process.exit(2); });
`;

function fetched(dir: string, id: string): unknown {
  return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8'));
}

function analyse(dir: string): ToneReport & { file: string; seconds: number } {
  const file = decodedRecordings(dir).pop();
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const wav = readWav(file);
  const seconds = wav.samples.length / wav.sampleRate;
  const seg = middle(wav.samples, wav.sampleRate, Math.min(3, seconds / 2));
  return { ...toneReport(seg, wav.sampleRate, TONES), file, seconds };
}

const pw = (r: ToneReport, f: number): number => r.power[f] ?? 0;

describe('baresip over TLS with SDES-SRTP (media.sip_srtp: required) inside unshare -n', () => {
  let scene: Scene;
  let result: PlanResult;
  const explain = (): string => `${describePlan(result)}\n(all files in ${scene.dir})`;

  beforeAll(async () => {
    requireTool('baresip');
    requireNetns();
    const prepared = await prepare();
    scene = prepared.scene;
    result = await runInNetns(scene.dir, prepared.steps, 75_000);
  }, 90_000);

  test('both calls are established over TLS with SRTP (AES_CM_128_HMAC_SHA1_80) and the node exits 0 on SIGTERM', () => {
    const fetchers = [result.procs.participants?.code, result.procs.status?.code];
    if (!result.ok || result.procs.node?.code !== 0 || fetchers.some((c) => c !== 0)) throw new Error(`node exit ${String(result.procs.node?.code)}\n${explain()}`);
    for (const id of ['a', 'b']) {
      const log = readFileSync(join(scene.dir, `baresip-${id}.log`), 'utf8');
      const srtp = {
        audio: log.includes('srtp: audio: SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)'),
        video: log.includes('srtp: video: SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)'),
      };
      expect({ id, srtp, tls: log.includes(';transport=tls') }).toEqual({ id, srtp: { audio: true, video: true }, tls: true });
    }
  });

  test('/api/v1/status names the TLS port; both participants came over TLS, audio and video both ways, nothing refused by SRTP', () => {
    const status = fetched(scene.dir, 'status') as { sip: { port: number; tlsPort?: number; transports: string[] } };
    expect(status.sip).toMatchObject({ port: scene.config.sipPort, tlsPort: scene.tlsPort, transports: ['udp', 'tcp', 'tls'] });
    const inMeet = (fetched(scene.dir, 'participants') as ParticipantView[]).filter((p) => p.conference === 'meet');
    expect(inMeet).toHaveLength(2);
    for (const p of inMeet) {
      expect({ id: p.id, transport: p.remote?.transport, in: p.packetsIn > 100, out: p.packetsOut > 100, dropped: p.packetsDropped ?? 0 })
        .toEqual({ id: p.id, transport: 'tls', in: true, out: true, dropped: 0 });
      const v = p as ParticipantView & { videoCodec?: string; videoPacketsIn?: number; videoPacketsOut?: number };
      expect({ id: p.id, codec: v.videoCodec, in: (v.videoPacketsIn ?? 0) > 20, out: (v.videoPacketsOut ?? 0) > 20 }).toEqual({ id: p.id, codec: 'H264', in: true, out: true });
    }
  });

  test("each baresip received the other's H.264 video over SRTP without errors (its own rtp_stats at hangup)", () => {
    for (const id of ['a', 'b']) {
      const log = readFileSync(join(scene.dir, `baresip-${id}.log`), 'utf8');
      // video           Transmit:     Receive:
      // packets:            114          114
      // errors:               0            0
      const m = /video\s+Transmit:\s+Receive:\s*\n\s*packets:\s+(\d+)\s+(\d+)[\s\S]*?errors:\s+(\d+)\s+(\d+)/.exec(log);
      expect({ id, stats: m ? { rx: Number(m[2]) > 20, rxErrors: Number(m[4]) } : 'no video stats' }).toEqual({ id, stats: { rx: true, rxErrors: 0 } });
    }
  });

  test('A (Opus over SRTP) decodes B\'s 2500 Hz and none of its own 440 Hz', () => {
    const a = analyse(scene.aDir);
    expect(a.rms).toBeGreaterThan(300);
    expect({ report: a, ok: pw(a, A_HZ) < ABSENT_RATIO * pw(a, B_HZ) }).toEqual({ report: a, ok: true });
  });

  test('B (PCMU over SRTP) decodes A\'s 440 Hz and none of its own 2500 Hz', () => {
    const b = analyse(scene.bDir);
    expect(b.rms).toBeGreaterThan(300);
    expect({ report: b, ok: pw(b, B_HZ) < ABSENT_RATIO * pw(b, A_HZ) }).toEqual({ report: b, ok: true });
  });

  test('the node log holds no SRTP key and no SDP crypto line', () => {
    const log = readFileSync(join(scene.dir, 'node.log'), 'utf8');
    expect(log).toContain('"srtp":"AES_CM_128_HMAC_SHA1_80"');
    expect(log).not.toMatch(/inline:|a=crypto/);
  });
});

describe("media.sip_srtp: required on a real node (raw SIP over UDP)", () => {
  let node: NodeUnderTest | undefined;
  let sip: UdpSip | undefined;

  afterAll(async () => {
    sip?.close();
    await node?.terminate();
  });

  test('a plain RTP/AVP offer gets 488 Not Acceptable Here; an RTP/SAVP offer with a=crypto is answered RTP/SAVP with the node\'s own key', async () => {
    const dir = makeTempDir('srtp-required');
    const config = await writeNodeConfig({ dir, mediaExtra: 'sip_srtp: required' });
    node = await NodeUnderTest.start(config);
    sip = await UdpSip.open();
    const target = { port: config.sipPort };
    const local = { port: sip.port, transport: 'UDP' as const };

    const plain = newDialogIds();
    await sip.send(buildRequest({ method: 'INVITE', user: 'meet', target, local, ids: plain, body: sdpOffer(40000) }), config.sipPort);
    const refused = await sip.expect((m) => m.status >= 200 && m.raw.includes(plain.callId), 5000);
    expect(refused.startLine).toBe('SIP/2.0 488 Not Acceptable Here');
    expect(await node.participants()).toEqual([]);

    const theirKey = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
    const secure = newDialogIds();
    const offer = sdpOffer(40002).replace('RTP/AVP', 'RTP/SAVP').replace('a=sendrecv', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${theirKey}\r\na=sendrecv`);
    const from = sip.received.length;
    await sip.send(buildRequest({ method: 'INVITE', user: 'meet', target, local, ids: secure, body: offer }), config.sipPort);
    const ok = await sip.expect((m) => m.status === 200 && m.raw.includes(secure.callId), 5000, from);
    expect(ok.body).toMatch(/m=audio \d+ RTP\/SAVP 0\r\n/);
    const ours = /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/]{40})\r\n/.exec(ok.body)?.[1];
    expect(ours).toBeDefined();
    expect(ours).not.toBe(theirKey);
    const toTag = /;\s*tag=([^;>\s]+)/.exec(ok.headers.get('to')?.[0] ?? '')?.[1];
    await sip.send(buildRequest({ method: 'ACK', user: 'meet', target, local, ids: { ...secure, branch: `${secure.branch}a` }, toTag }), config.sipPort);
    await sip.send(buildRequest({ method: 'BYE', user: 'meet', target, local, ids: { ...secure, branch: `${secure.branch}b`, cseq: 2 }, toTag }), config.sipPort);
    await sip.expect((m) => m.status === 200 && m.raw.includes(secure.callId) && /CSeq:\s*2 BYE/i.test(m.raw), 5000, from);
  });
});
