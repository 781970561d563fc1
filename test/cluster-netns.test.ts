/**
 * The seed's locally distributed example once more with every node in its own network namespace
 * (issue 10 acceptance): USConf01-03 at 10.77.0.11/.12/.13 on a bridge the test creates, etcd on
 * the bridge's 10.77.0.1, sipp and Chromium in a caller namespace at 10.77.0.50. Nothing routes
 * between namespaces except through the lab's addresses, so an SDP, ICE candidate, control dial or
 * backplane that names the wrong node's address (or 127.0.0.1) loses media instead of passing.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, requireChromium, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir } from './helpers/config';
import type { ParticipantView } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { LabNode, NetnsLab, startLabCluster, startLabEtcd, startLabSipp, writeLabClusterConfig, type LabClusterSpec } from './helpers/netns-cluster';
import type { SippRun } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(120_000);

const ADMIN_TOKEN = 'lab-admin-token-0123456789';
const CALLER = 'c';
/** The calls must outlast both tests: placement of the browsers depends on them (afterAll ends them). */
const CALL_HOLD_MS = 150_000;

let dir: string;
let lab: NetnsLab | undefined;
let nodes: Record<'USConf01' | 'USConf02' | 'USConf03', LabNode>;
const calls: SippRun[] = [];

beforeAll(async () => {
  requireTool('sipp');
  requireChromium();
  dir = makeTempDir('cluster-netns');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 10);
  lab = NetnsLab.create({
    prefix: 'cnx',
    subnet: '10.77.0',
    hosts: [
      { role: 'n1', octet: 11 },
      { role: 'n2', octet: 12 },
      { role: 'n3', octet: 13 },
      { role: CALLER, octet: 50 },
    ],
    dir,
  });
  await lab.startForwarder(CALLER);
  const etcd = await startLabEtcd(lab, lab.bridgeRole, dir);
  const spec: LabClusterSpec = {
    dir,
    etcdEndpoint: etcd.endpoint,
    adminToken: ADMIN_TOKEN,
    // SEED_USA_CAPACITIES (src/node/placement/seed-example.ts). A browser costs what an audio caller
    // does here, so the seed's capacities (in audio units) also seat the two browsers of the second
    // test beside the four calls: one on USConf03 by affinity, one on USConf01 by expansion.
    capacityCosts: { video: 0.25 },
    nodes: [
      { name: 'USConf01', role: 'n1', location: 'USA', capacity: 1.25 },
      { name: 'USConf02', role: 'n2', location: 'USA', capacity: 1.75 },
      { name: 'USConf03', role: 'n3', location: 'USA', capacity: 1.5 },
    ],
    vmrs: [{ name: 'alice', aliases: ['meet.alice', 'meet.alice@example.com'] }],
  };
  const [a, b, c] = await startLabCluster(lab, spec, writeLabClusterConfig(lab, spec));
  if (!a || !b || !c) throw new Error('three nodes expected');
  nodes = { USConf01: a, USConf02: b, USConf03: c };
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every node's output tail, for a failure's message. */
function tails(): string {
  return Object.values(nodes ?? {})
    .map((n) => n.proc.tail(2500))
    .join('\n');
}

/** Runs `body`; a failure carries every node's log tail and every sipp's output. */
async function explained<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const sipps = calls.map((c) => `${c.proc.name}: exit ${JSON.stringify(c.proc.exit)}\n${c.proc.tail(800)}`).join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tails()}\n${sipps}`);
  }
}

/** The k-th sipp caller (in the caller namespace) dialing meet.alice at `at`. */
function call(at: LabNode): void {
  const k = calls.length;
  calls.push(
    startLabSipp(
      lab as NetnsLab,
      CALLER,
      { scenario: 'uac_call_rtp.xml', target: at.sipTarget, service: 'meet.alice', cwd: dir, pauseMs: CALL_HOLD_MS, timeoutS: CALL_HOLD_MS / 1000 + 30 },
      { sipPort: 6000 + k, mediaPort: 20_000 + 100 * k, controlPort: 8900 + k },
    ),
  );
}

/** A new participant signaled at `signaling` with media both ways, as the cluster (asked at `ask`) sees it. */
async function nextParticipant(ask: LabNode, signaling: string, known: Set<string>): Promise<ParticipantView> {
  const p = await waitFor(
    `a new participant signaled at ${signaling} with media both ways`,
    async () => (await ask.participants()).find((v) => !known.has(v.id) && v.signalingNode === signaling && v.packetsIn > 0 && v.packetsOut > 0),
    20_000,
    250,
  );
  known.add(p.id);
  return p;
}

interface LinkView {
  peerNode: string;
  streamsIn?: number;
  streamsOut?: number;
  packetsIn: number;
  packetsOut: number;
}

/** Waits until `at`'s backplane to `peer` carries streams and packets both ways. */
function linkBothWays(at: LabNode, peer: string): Promise<LinkView> {
  return waitFor(
    `a backplane ${at.name} <-> ${peer} with streams both ways`,
    async () => {
      const l = (await at.getJson<LinkView[]>('/api/v1/backplanes')).find((b) => b.peerNode === peer);
      return l && (l.streamsIn ?? 0) > 0 && (l.streamsOut ?? 0) > 0 && l.packetsIn > 0 && l.packetsOut > 0 ? l : undefined;
    },
    15_000,
    250,
  );
}

const known = new Set<string>();

describe('R1-R4 with every node in its own network namespace (10.77.0.11-13, callers at 10.77.0.50)', () => {
  it('R1-R4: Alice USConf01/USConf02, Bob USConf02/USConf02, Carol USConf03/USConf02, Dave USConf01/USConf03, media both ways for each', async () => {
    await explained(async () => {
      const { USConf01, USConf02, USConf03 } = nodes;
      // Media both ways for a call whose signaling node differs from its media node proves the
      // 200 OK's SDP named the media node's lab address: nothing else reaches it from 10.77.0.50.
      call(USConf01); // Alice
      expect(await nextParticipant(USConf01, 'USConf01', known)).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf02', placementReason: 'least-loaded' });
      call(USConf02); // Bob
      expect(await nextParticipant(USConf03, 'USConf02', known)).toMatchObject({ signalingNode: 'USConf02', mediaNode: 'USConf02', placementReason: 'affinity' });
      call(USConf03); // Carol
      expect(await nextParticipant(USConf02, 'USConf03', known)).toMatchObject({ signalingNode: 'USConf03', mediaNode: 'USConf02', placementReason: 'affinity' });
      call(USConf01); // Dave
      expect(await nextParticipant(USConf01, 'USConf01', known)).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf03', placementReason: 'expansion' });

      // Every node (each asking its peers at their own addresses) shows the whole cluster's view.
      for (const n of Object.values(nodes)) {
        const seen = (await n.participants()).filter((p) => p.conference === 'alice');
        expect(seen.map((p) => `${p.signalingNode}/${p.mediaNode}`).sort()).toEqual(['USConf01/USConf02', 'USConf01/USConf03', 'USConf02/USConf02', 'USConf03/USConf02']);
        expect((await n.conferences()).filter((c) => c.name === 'alice').map((c) => c.mediaNodes)).toEqual([['USConf02', 'USConf03']]);
      }
      const listed = await USConf03.getJson<Array<{ node: string; sip?: { address: string } }>>('/api/v1/nodes');
      expect(listed.map((n) => `${n.node}@${n.sip?.address ?? '?'}`).sort()).toEqual(['USConf01@10.77.0.11', 'USConf02@10.77.0.12', 'USConf03@10.77.0.13']);
    });
  });

  it('local backplane: the link USConf02 <-> USConf03 carries streams and packets both ways between their lab addresses', async () => {
    await explained(async () => {
      const { USConf02, USConf03 } = nodes;
      const from02 = await linkBothWays(USConf02, 'USConf03');
      const from03 = await linkBothWays(USConf03, 'USConf02');
      // Alice, Bob and Carol go 02 -> 03; Dave goes 03 -> 02.
      expect(from02.streamsOut).toBeGreaterThanOrEqual(3);
      expect(from03.streamsOut).toBeGreaterThanOrEqual(1);
    });
  });
});

/** The remote address of the page's selected ICE candidate pair (its getStats()). */
function selectedRemoteAddress(p: JoinedPage): Promise<string | undefined> {
  return p.page.evaluate(async () => {
    type Stat = Record<string, unknown>;
    const pc = (globalThis as unknown as { confnode: { pc: { getStats(): Promise<Map<string, Stat>> } | null } }).confnode.pc;
    if (!pc) return undefined;
    const stats = await pc.getStats();
    let pairId: string | undefined;
    stats.forEach((s) => {
      if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pairId = s.selectedCandidatePairId;
    });
    const pair = pairId === undefined ? undefined : stats.get(pairId);
    const remote = pair ? stats.get(String(pair.remoteCandidateId)) : undefined;
    return remote ? String(remote.address ?? remote.ip) : undefined;
  });
}

describe('a browser decodes the video of a participant on another node (Chromium at 10.77.0.50)', () => {
  let pages: JoinedPage[] = [];

  /** Waits until `name` (a browser joined at USConf01) is placed; returns its participant. */
  async function placed(page: JoinedPage): Promise<ParticipantView> {
    const p = await waitFor(
      `${page.name} placed with media both ways`,
      async () => (await nodes.USConf01.participants()).find((v) => v.displayName === page.name && v.packetsIn > 0 && v.packetsOut > 0),
      30_000,
      250,
    ).catch(async (err: unknown) => {
      const seen = await nodes.USConf01.participants().catch(() => []);
      throw new Error(`${String(err)}\nparticipants: ${JSON.stringify(seen)}\npage: ${JSON.stringify(await pageState(page).catch(() => null))}\n${page.log.slice(-20).join('\n')}`);
    });
    known.add(p.id);
    return p;
  }

  it('R1, R3, R4: Erin (media USConf03) and Fay (media USConf01), both joined at USConf01, each decode the other across the backplane', async () => {
    await explained(async () => {
      const { USConf01 } = nodes;
      // A page from http://10.77.0.11 is no secure context, and getUserMedia needs one: the lab's
      // node origins are declared secure, as an operator's TLS front would make them.
      const origins = Object.values(nodes).map((n) => n.baseUrl);
      const ctx = await launchBrowser(dir, [`--unsafely-treat-insecure-origin-as-secure=${origins.join(',')}`], (lab as NetnsLab).chromiumIn(CALLER));
      // Erin first: USConf02 is full, USConf03 has room (R3). Then Fay: both full, USConf01 joins (R4).
      const erin = await openJoinPage(ctx, USConf01.baseUrl, 'meet.alice', 'Erin');
      pages = [erin];
      const erinAt = await placed(erin);
      expect(erinAt).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf03', placementReason: 'affinity' });
      const fay = await openJoinPage(ctx, USConf01.baseUrl, 'meet.alice', 'Fay');
      pages.push(fay);
      const fayAt = await placed(fay);
      expect(fayAt).toMatchObject({ signalingNode: 'USConf01', mediaNode: 'USConf01', placementReason: 'expansion' });

      // Erin's ICE and DTLS are USConf03's (10.77.0.13) while her WebSocket stays on USConf01; Fay's
      // video reaches her only over the USConf01 <-> USConf03 backplane, and hers reaches Fay back.
      for (const [page, other] of [[erin, fayAt], [fay, erinAt]] as const) {
        let proof;
        try {
          proof = await waitForRemoteMedia(page, { remotes: 1, video: true, timeoutMs: 40_000 });
        } catch (err) {
          throw new Error(`${page.name}: ${String(err)}\npage: ${JSON.stringify(await pageState(page).catch(() => null))}\n${page.log.slice(-20).join('\n')}`);
        }
        const from = proof.remotes.find((r) => r.participant === other.id);
        expect(from?.framesDecoded ?? 0).toBeGreaterThan(0);
      }
      // ICE chose each media node's own address: Erin's media is USConf03's, Fay's USConf01's.
      expect(await selectedRemoteAddress(erin)).toBe(nodes.USConf03.address);
      expect(await selectedRemoteAddress(fay)).toBe(nodes.USConf01.address);
      const confs = await USConf01.conferences();
      expect(confs.find((c) => c.name === 'alice')?.mediaNodes?.slice().sort()).toEqual(['USConf01', 'USConf02', 'USConf03']);
      await linkBothWays(USConf01, 'USConf03');
    });
  });

  afterAll(async () => {
    for (const p of pages) await p.page.close().catch(() => undefined);
  });
});
