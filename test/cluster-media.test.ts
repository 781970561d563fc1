/**
 * Issue 10 acceptance, media between nodes with real peers: callers whose media is on different
 * media nodes of one location hear and see each other through the local backplane (R4). Audio is
 * proven by baresip's own decoder (inside `unshare -n`: baresip binds 0.0.0.0), video by a SIP
 * endpoint that records every packet it is sent. Never asserts timings.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { AvPhone } from './helpers/av-phone';
import { decodedRecordings, writeBaresipConfig } from './helpers/baresip';
import { netnsClusterSteps, startCluster, writeClusterConfig } from './helpers/cluster';
import { makeTempDir, type NodeConfig } from './helpers/config';
import { EtcdServer } from './helpers/etcd';
import { describePlan, runInNetns, type PlanResult, type PlanStep } from './helpers/netns';
import type { NodeUnderTest } from './helpers/node-process';
import { freePortRange, freePorts } from './helpers/ports';
import { killAll, sleep, waitFor } from './helpers/proc';
import { toneReport, type ToneReport } from './helpers/tone';
import { requireNetns, requireTool } from './helpers/tools';
import { readWav, writePcmToneWav } from './helpers/wav';

jest.setTimeout(180_000);

const A_HZ = 440;
const B_HZ = 2500;
/** Own tone counts as absent below -30 dB of the other's (N-1 mixing leaks about -100 dB). */
const ABSENT_RATIO = 0.001;

/** The fields of /api/v1/participants this file reads (video ones included). */
interface Placed {
  id: string;
  conference: string;
  displayName?: string;
  signalingNode?: string;
  mediaNode?: string;
  placementReason?: string;
  audioCodec?: string;
  packetsIn: number;
  packetsOut: number;
  videoShowing?: string;
  videoPacketsIn?: number;
  videoPacketsOut?: number;
}

interface LinkView {
  peerNode: string;
  streamsIn?: number;
  streamsOut?: number;
  packetsIn: number;
  packetsOut: number;
}

/** One line per participant: where its signaling and media are, why, and its counters. */
function placement(parts: Placed[] | undefined): string {
  if (!parts) return '(no participant list fetched)';
  return parts
    .map((p) => `${p.id} ${p.displayName ?? ''} signaling ${p.signalingNode ?? '?'} media ${p.mediaNode ?? '?'} (${p.placementReason ?? '?'}) ` +
      `audio ${p.audioCodec ?? '-'} in/out ${p.packetsIn}/${p.packetsOut} video showing ${p.videoShowing ?? '-'} in/out ${p.videoPacketsIn ?? 0}/${p.videoPacketsOut ?? 0}`)
    .join('\n');
}

afterAll(async () => {
  await killAll();
});

// --- 1. audio: two baresip instances, media on USConf02 and USConf03 ---------------------------

interface AudioScene {
  dir: string;
  aDir: string;
  bDir: string;
  nodes: NodeConfig[];
}

const http = (c: NodeConfig, path: string): string => `http://127.0.0.1:${c.httpPort}${path}`;

/**
 * Capacities (audio 0.25, backplane 1): USConf01 (1) never fits 0.25 + the backplane reserve, so it
 * only signals. A is the first caller: the conference starts on USConf02, the most free (1.4).
 * For B, USConf02 is full (0.5 + 1 > 1.4): the conference expands to USConf03 (1.3), which
 * fits 0.25 + 1, and USConf02 pays its backplane from its reserve (0.25 + 1 <= 1.4).
 */
const AUDIO_NODES = [
  { name: 'USConf01', location: 'USA', capacity: 1 },
  { name: 'USConf02', location: 'USA', capacity: 1.4 },
  { name: 'USConf03', location: 'USA', capacity: 1.3 },
];

async function prepareAudio(): Promise<{ scene: AudioScene; steps: PlanStep[] }> {
  const dir = makeTempDir('cluster-media');
  const [etcdClient, etcdPeer, aSip, bSip] = (await freePorts(4)) as [number, number, number, number];
  const nodes = await writeClusterConfig({
    dir,
    etcdEndpoint: `http://127.0.0.1:${etcdClient}`,
    nodes: AUDIO_NODES,
    vmrs: [{ name: 'alice', aliases: ['meet.alice', 'meet.alice@example.com'] }],
  });
  const [n1, n2, n3] = nodes as [NodeConfig, NodeConfig, NodeConfig];
  const aDir = writeBaresipConfig({ dir: join(dir, 'a'), user: 'anna', sipPort: aSip, rtp: await freePortRange(40), codec: 'opus', source: { kind: 'ausine', freq: A_HZ } });
  const bWav = join(dir, 'b-tone.wav');
  writePcmToneWav(bWav, B_HZ, 60);
  const bDir = writeBaresipConfig({ dir: join(dir, 'b'), user: 'bert', sipPort: bSip, rtp: await freePortRange(40), codec: 'pcmu', source: { kind: 'aufile', wav: bWav } });
  const alice = { conference: 'alice' };
  const steps: PlanStep[] = [
    ...netnsClusterSteps(dir, { client: etcdClient, peer: etcdPeer }, nodes),
    { op: 'start', id: 'a', cmd: 'baresip', args: ['-f', aDir], cwd: aDir, logFile: join(dir, 'baresip-a.log') },
    { op: 'start', id: 'b', cmd: 'baresip', args: ['-f', bDir], cwd: bDir, logFile: join(dir, 'baresip-b.log') },
    { op: 'waitOutput', id: 'a', pattern: 'baresip is ready', timeoutMs: 10_000 },
    { op: 'waitOutput', id: 'b', pattern: 'baresip is ready', timeoutMs: 10_000 },
    // A first (signaling USConf01): the conference starts on USConf02. Then B (signaling USConf02).
    { op: 'write', id: 'a', text: `/dial sip:meet.alice@127.0.0.1:${n1.sipPort}\n` },
    { op: 'waitOutput', id: 'a', pattern: 'Call established', timeoutMs: 15_000 },
    { op: 'waitJson', url: http(n1, '/api/v1/participants'), timeoutMs: 15_000, minItems: 1, match: alice, positive: ['packetsIn'], key: 'participants' },
    { op: 'write', id: 'b', text: `/dial sip:meet.alice@127.0.0.1:${n2.sipPort}\n` },
    { op: 'waitOutput', id: 'b', pattern: 'Call established', timeoutMs: 15_000 },
    { op: 'waitJson', url: http(n3, '/api/v1/participants'), timeoutMs: 20_000, minItems: 2, match: alice, positive: ['packetsIn', 'packetsOut'], key: 'participants' },
    {
      op: 'waitJson', url: http(n2, '/api/v1/backplanes'), timeoutMs: 20_000, minItems: 1,
      match: { peerNode: 'USConf03' }, positive: ['streamsIn', 'streamsOut', 'packetsIn', 'packetsOut'], key: 'backplanes',
    },
    // Both hear each other from here on: the recordings' last seconds are measured.
    { op: 'sleep', ms: 6000 },
    { op: 'fetchJson', url: http(n1, '/api/v1/participants'), key: 'participants' },
    { op: 'write', id: 'a', text: '/hangup\n' },
    { op: 'write', id: 'b', text: '/hangup\n' },
    { op: 'sleep', ms: 800 },
    { op: 'write', id: 'a', text: '/quit\n' },
    { op: 'write', id: 'b', text: '/quit\n' },
    { op: 'waitExit', id: 'a', timeoutMs: 8000 },
    { op: 'waitExit', id: 'b', timeoutMs: 8000 },
  ];
  return { scene: { dir, aDir, bDir, nodes }, steps };
}

/** The recording's steady end: 4 s ending 1 s before the hangup (both parties and the link up). */
function analyse(dir: string): ToneReport & { file: string; seconds: number } {
  const files = decodedRecordings(dir);
  const file = files[files.length - 1];
  if (!file) throw new Error(`baresip wrote no *-dec.wav under ${dir}/rec`);
  const wav = readWav(file);
  const rate = wav.sampleRate;
  const end = Math.max(0, wav.samples.length - rate);
  const seg = wav.samples.subarray(Math.max(0, end - 4 * rate), end);
  return { ...toneReport(seg, rate, [A_HZ, B_HZ]), file, seconds: wav.samples.length / rate };
}

const pw = (r: ToneReport, f: number): number => r.power[f] ?? 0;

describe('R4/backplane: two baresip callers whose media is on two media nodes decode each other (unshare -n, real etcd)', () => {
  let scene: AudioScene;
  let result: PlanResult;
  let parts: Placed[] | undefined;
  const explain = (): string => `placement:\n${placement(parts)}\nbackplanes: ${JSON.stringify(result.fetched.backplanes)}\n${describePlan(result)}`;

  beforeAll(async () => {
    requireTool('baresip');
    requireTool('etcd');
    requireNetns();
    const prepared = await prepareAudio();
    scene = prepared.scene;
    result = await runInNetns(scene.dir, prepared.steps, 110_000);
    parts = (result.fetched.participants as Placed[] | undefined)?.filter((p) => p.conference === 'alice');
    process.stdout.write(`cluster-media placement (audio):\n${placement(parts)}\n`);
  }, 130_000);

  afterAll(() => {
    if (scene) rmSync(scene.dir, { recursive: true, force: true });
  });

  test('R1/R4: A signaled at USConf01 has media on USConf02 (least-loaded), B signaled at USConf02 on USConf03 (expansion); a link carries streams both ways', () => {
    if (!result.ok) throw new Error(explain());
    const seen = (parts ?? []).map((p) => `${p.signalingNode}/${p.mediaNode}/${p.placementReason}`).sort();
    expect({ seen, why: placement(parts) }).toEqual({ seen: ['USConf01/USConf02/least-loaded', 'USConf02/USConf03/expansion'], why: placement(parts) });
    const link = (result.fetched.backplanes as LinkView[] | undefined)?.find((l) => l.peerNode === 'USConf03');
    expect(link?.packetsIn ?? 0).toBeGreaterThan(0);
    expect(link?.packetsOut ?? 0).toBeGreaterThan(0);
  });

  test('R4/backplane: baresip A (Opus, media on USConf02) decodes the 2500 Hz tone of B whose media is on USConf03, and none of its own', () => {
    const a = analyse(scene.aDir);
    const report = { ...a, placement: placement(parts) };
    expect({ report, rms: a.rms > 300, dominantB: Math.abs(a.dominant - B_HZ) < 20, ownAbsent: pw(a, A_HZ) < ABSENT_RATIO * pw(a, B_HZ) })
      .toEqual({ report, rms: true, dominantB: true, ownAbsent: true });
  });

  test('R4/backplane: baresip B (PCMU, media on USConf03) decodes the 440 Hz tone of A whose media is on USConf02, and none of its own', () => {
    const b = analyse(scene.bDir);
    const report = { ...b, placement: placement(parts) };
    expect({ report, rms: b.rms > 300, dominantA: Math.abs(b.dominant - A_HZ) < 20, ownAbsent: pw(b, B_HZ) < ABSENT_RATIO * pw(b, A_HZ) })
      .toEqual({ report, rms: true, dominantA: true, ownAbsent: true });
  });
});

// --- 2. video: a SIP viewer on USConf02 switched to a speaker whose media is on USConf03 --------

/**
 * Capacities (video 1, backplane 1): A and the viewer R fit on USConf02 (3.5, the most free) with
 * its backplane reserve (2 + 1); for B it is full (3 + 1 > 3.5), so B's media expands to USConf03.
 * Every call is signaled at USConf02.
 */
const VIDEO_NODES = [
  { name: 'USConf02', location: 'USA', capacity: 3.5 },
  { name: 'USConf03', location: 'USA', capacity: 3 },
];

describe('R4/backplane: voice-switched video across media nodes (H.264 SIP endpoints, real etcd)', () => {
  let dir: string;
  let etcd: EtcdServer | undefined;
  let n2: NodeUnderTest;
  const phones: AvPhone[] = [];

  beforeAll(async () => {
    requireTool('etcd');
    dir = makeTempDir('cluster-media-video');
    etcd = await EtcdServer.start(dir);
    const configs = await writeClusterConfig({ dir, etcdEndpoint: etcd.endpoint, nodes: VIDEO_NODES, vmrs: [{ name: 'alice', aliases: ['meet.alice'], videoCodec: 'H264' }] });
    const started = await startCluster(configs);
    if (!started[0]) throw new Error('two nodes expected');
    n2 = started[0];
  }, 60_000);

  afterAll(async () => {
    for (const p of phones) p.close();
    await killAll();
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const list = async (): Promise<Placed[]> => (await n2.getJson<Placed[]>('/api/v1/participants')).filter((p) => p.conference === 'alice');
  const placedNew = (what: string, known: Set<string>, mediaNode: string): Promise<Placed> =>
    waitFor(what, async () => {
      const p = (await list()).find((v) => !known.has(v.id) && v.mediaNode === mediaNode && v.packetsIn > 0);
      if (p) known.add(p.id);
      return p;
    }, 15_000, 200);

  it('R4/backplane: a SIP video endpoint whose media is on USConf02 is switched to the speaker whose media is on USConf03, from a keyframe it asked for across the backplane', async () => {
    const sipPort = n2.config.sipPort;
    const known = new Set<string>();
    let aTalks = true;
    let bTalks = false;
    const a = await AvPhone.call({ sipPort, alias: 'meet.alice', toneHz: 440, talking: () => aTalks, sendVideo: true, videoTag: 0xa1 });
    phones.push(a);
    const pa = await placedNew('A placed on USConf02', known, 'USConf02');
    const r = await AvPhone.call({ sipPort, alias: 'meet.alice', toneHz: 700, talking: () => false, sendVideo: false });
    phones.push(r);
    const pr = await placedNew('the viewer R placed on USConf02', known, 'USConf02');
    const showing = async (): Promise<Placed | undefined> => (await list()).find((p) => p.id === pr.id);
    await waitFor('R is shown A (both on USConf02)', async () => ((await showing())?.videoShowing === pa.id ? true : undefined), 10_000, 100);
    const b = await AvPhone.call({ sipPort, alias: 'meet.alice', toneHz: 1000, talking: () => bTalks, sendVideo: true, videoTag: 0xb2 });
    phones.push(b);
    const pb = await placedNew('B placed on USConf03', known, 'USConf03');
    const why = async (): Promise<string> => placement(await list());
    const placedWhy = await why();
    expect({ a: pa.placementReason, r: pr.placementReason, b: pb.placementReason, placedWhy }).toEqual({ a: 'least-loaded', r: 'affinity', b: 'expansion', placedWhy });
    expect([a.videoAnswered, r.videoAnswered, b.videoAnswered]).toEqual([true, true, true]);
    await waitFor('a backplane USConf02 <-> USConf03 with streams both ways', async () => {
      const l = (await n2.getJson<LinkView[]>('/api/v1/backplanes')).find((v) => v.peerNode === 'USConf03');
      return l && (l.streamsIn ?? 0) >= 2 && (l.streamsOut ?? 0) > 0 && l.packetsIn > 0 ? l : undefined;
    }, 15_000, 200);
    // Let any keyframe request made at B's join pass the throttle before B starts talking.
    await sleep(1500);
    const requestsBefore = b.keyframeRequests;
    const outBefore = (await showing())?.videoPacketsOut ?? 0;

    aTalks = false;
    bTalks = true;
    await waitFor(`R is shown B (media on USConf03)\n${await why()}`, async () => ((await showing())?.videoShowing === pb.id ? true : undefined), 15_000, 100);
    await waitFor('R receives B video', async () => (r.video.filter((p) => p.tag === 0xb2).length > 20 ? true : undefined), 10_000, 100);

    const v = r.video;
    const firstB = v.findIndex((p) => p.tag === 0xb2);
    const summary = {
      aBeforeB: firstB > 0 && v.slice(0, firstB).every((p) => p.tag === 0xa1),
      onlyBAfter: v.slice(firstB).every((p) => p.tag === 0xb2),
      firstBIsKeyframe: v[firstB]?.keyframe === true,
      oneSsrc: new Set(v.map((p) => p.ssrc)).size === 1,
      keyframeAskedOfB: b.keyframeRequests > requestsBefore,
      viewerOutGrew: ((await showing())?.videoPacketsOut ?? 0) > outBefore,
    };
    const finalWhy = await why();
    expect({ summary, finalWhy }).toEqual({
      summary: { aBeforeB: true, onlyBAfter: true, firstBIsKeyframe: true, oneSsrc: true, keyframeAskedOfB: true, viewerOutGrew: true },
      finalWhy,
    });
  });
});
