/**
 * The seed's locally distributed example across real node processes and a real etcd (issue 10,
 * R1-R5): USConf01-03 in location USA with capacities that make the seed's sequence happen with
 * four audio callers (sipp). Each call is placed at its named signaling node; /api/v1/participants,
 * asked at any node, shows where its signaling and media are and why.
 */
import { join } from 'node:path';
import { startCluster, writeClusterConfig } from './helpers/cluster';
import { makeTempDir } from './helpers/config';
import { EtcdServer } from './helpers/etcd';
import type { NodeUnderTest, ParticipantView } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { startSipp, type SippRun } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';
import { TonePhone } from './helpers/rtp-phone';
import { toneReport } from './helpers/tone';

jest.setTimeout(120_000);

let dir: string;
let etcd: EtcdServer;
let nodes: Record<'USConf01' | 'USConf02' | 'USConf03', NodeUnderTest>;
const calls: SippRun[] = [];
const phones: TonePhone[] = [];
const seenIds = new Set<string>();

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('cluster-usa');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 60);
  etcd = await EtcdServer.start(dir);
  const configs = await writeClusterConfig({
    dir,
    etcdEndpoint: etcd.endpoint,
    // SEED_USA_CAPACITIES (src/node/placement/seed-example.ts): USConf02 has the most room and takes
    // exactly three audio callers while keeping a backplane unit free.
    nodes: [
      { name: 'USConf01', location: 'USA', capacity: 1.25 },
      { name: 'USConf02', location: 'USA', capacity: 1.75 },
      { name: 'USConf03', location: 'USA', capacity: 1.5 },
    ],
    vmrs: [{ name: 'alice', aliases: ['meet.alice', 'meet.alice@example.com'] }],
  });
  const [a, b, c] = await startCluster(configs);
  if (!a || !b || !c) throw new Error('three nodes expected');
  nodes = { USConf01: a, USConf02: b, USConf03: c };
});

afterAll(async () => {
  for (const p of phones) await p.hangUp();
  for (const c of calls) await c.proc.stop(1000);
  await killAll();
  await etcd?.destroy();
});

/** A sipp caller that dials meet.alice at `at` and streams a tone for a minute. */
async function call(at: NodeUnderTest): Promise<SippRun> {
  const run = await startSipp({ scenario: 'uac_call_rtp.xml', target: at.sipTarget, service: 'meet.alice', cwd: dir, pauseMs: 60_000, timeoutS: 90 });
  calls.push(run);
  return run;
}

/** Waits until the cluster (asked at `ask`) lists a new participant signaled at `signaling` with media both ways. */
async function nextParticipant(ask: NodeUnderTest, signaling: string, known: Set<string>): Promise<ParticipantView> {
  const p = await waitFor(
    `a new participant signaled at ${signaling} with media both ways`,
    async () => (await ask.participants()).find((v) => !known.has(v.id) && v.signalingNode === signaling && v.packetsIn > 0 && v.packetsOut > 0),
    15_000,
    200,
  );
  known.add(p.id);
  return p;
}

describe('R1-R4: the seed locally distributed example on three node processes', () => {
  it('Alice USConf01/USConf02, Bob USConf02/USConf02, Carol USConf03/USConf02, Dave USConf01/USConf03', async () => {
    const known = new Set<string>();
    const { USConf01, USConf02, USConf03 } = nodes;

    await call(USConf01); // Alice
    const alice = await nextParticipant(USConf01, 'USConf01', known);
    expect(alice).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf02', placementReason: 'least-loaded' });

    await call(USConf02); // Bob
    const bob = await nextParticipant(USConf03, 'USConf02', known);
    expect(bob).toMatchObject({ signalingNode: 'USConf02', mediaNode: 'USConf02', placementReason: 'affinity' });

    await call(USConf03); // Carol
    const carol = await nextParticipant(USConf02, 'USConf03', known);
    expect(carol).toMatchObject({ signalingNode: 'USConf03', mediaNode: 'USConf02', placementReason: 'affinity' });

    await call(USConf01); // Dave
    const dave = await nextParticipant(USConf01, 'USConf01', known);
    expect(dave).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf03', placementReason: 'expansion' });

    // Every node shows the whole cluster's view, and one conference instance on two media nodes.
    for (const n of Object.values(nodes)) {
      const seen = (await n.participants()).filter((p) => p.conference === 'alice');
      expect(seen.map((p) => `${p.signalingNode}/${p.mediaNode}`).sort()).toEqual(['USConf01/USConf02', 'USConf01/USConf03', 'USConf02/USConf02', 'USConf03/USConf02']);
      const confs = (await n.conferences()).filter((c) => c.name === 'alice');
      expect(confs).toHaveLength(1);
      expect(confs[0]?.mediaNodes).toEqual(['USConf02', 'USConf03']);
    }
    const listed = await USConf03.getJson<Array<{ node: string; location: string }>>('/api/v1/nodes');
    expect(listed.map((n) => `${n.node}@${n.location}`).sort()).toEqual(['USConf01@USA', 'USConf02@USA', 'USConf03@USA']);
  });
});

describe('local backplanes: participants on different media nodes hear each other', () => {
  it('a phone whose media is on USConf03 hears the callers on USConf02 (G.711 decoded, Goertzel); the link carries streams both ways', async () => {
    const { USConf01, USConf03 } = nodes;
    // The conference already runs on USConf02 and USConf03 (the test above): one more caller each.
    const confs = await USConf01.conferences();
    expect(confs.find((c) => c.name === 'alice')?.mediaNodes).toEqual(['USConf02', 'USConf03']);
    const on03 = await TonePhone.call(USConf03.config.sipPort, 'meet.alice', 1000);
    phones.push(on03);
    const placed = await waitFor(
      'the 1000 Hz phone placed',
      async () => (await USConf03.participants()).find((p) => p.signalingNode === 'USConf03' && p.mediaNode !== undefined && p.packetsIn > 0 && !seenIds.has(p.id)),
      10_000,
      200,
    );
    seenIds.add(placed.id);
    const links = await waitFor(
      'a backplane USConf02 <-> USConf03 with streams both ways',
      async () => {
        const l = (await USConf03.getJson<Array<{ peerNode: string; streamsIn: number; streamsOut: number; packetsIn: number; packetsOut: number }>>('/api/v1/backplanes')).find((b) => b.peerNode === 'USConf02');
        return l && l.streamsIn > 0 && l.streamsOut > 0 && l.packetsIn > 0 && l.packetsOut > 0 ? l : undefined;
      },
      15_000,
      250,
    );
    expect(links.peerNode).toBe('USConf02');
    // Alice, Bob and Carol (sipp, 440 Hz) have media on USConf02: the new phone must hear 440 Hz.
    await waitFor(
      '440 Hz (callers on USConf02) in the mix of the phone on USConf03',
      async () => {
        const s = on03.lastSamples(1000);
        if (s.length < 4000) return undefined;
        const report = toneReport(s, 8000, [440, 1000]);
        return (report.power[440] ?? 0) > 100 * (report.power[1000] ?? 1) ? report : undefined;
      },
      15_000,
      500,
    );
  });
});
