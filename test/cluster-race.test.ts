/**
 * R5 across real node processes and a real etcd (issue 10 acceptance): four nodes of one location,
 * each taking only two audio callers per conference, and per trial eight INVITEs sent at the same
 * moment to three signaling nodes for a fresh VMR. Whatever the interleaving of the placers' CAS
 * transactions, a conference never has media on more than three nodes, callers beyond what fits get
 * 503 with Retry-After (never a 500, never a hang), and every 200 is a participant that exists.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawSipCaller, etcdRange, getJsonFrom, startCluster, storedConference, writeClusterConfig, type InviteOutcome } from './helpers/cluster';
import { makeTempDir } from './helpers/config';
import { EtcdServer } from './helpers/etcd';
import type { ConferenceView, NodeUnderTest, ParticipantView } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(240_000);

const TRIALS = 50;
const CALLERS_PER_TRIAL = 8;
/** R5: at most three media nodes of one location per conference. */
const MAX_MEDIA_NODES = 3;
/**
 * Capacity 1.5 with audio at 0.25 and a backplane unit of 1: a lone media node keeps the backplane
 * unit free (two callers), an expansion node takes one caller plus the backplane and then one more.
 * Three media nodes carry six callers; the fourth node must never be used.
 */
const CAPACITY = 1.5;
const MAX_ANSWERED = 6;
/** Bound of the whole run; a trial that would start after it is not run (and fails the test). */
const RUN_BUDGET_MS = 170_000;

let dir: string;
let etcd: EtcdServer;
let nodes: NodeUnderTest[] = [];

beforeAll(async () => {
  dir = makeTempDir('cluster-race');
  etcd = await EtcdServer.start(dir);
  const configs = await writeClusterConfig({
    dir,
    etcdEndpoint: etcd.endpoint,
    nodes: ['r1', 'r2', 'r3', 'r4'].map((name) => ({ name, location: 'USA', capacity: CAPACITY })),
    vmrs: Array.from({ length: TRIALS }, (_, i) => ({ name: `race${i + 1}`, aliases: [`race${i + 1}`] })),
  });
  nodes = await startCluster(configs);
  // Every node's log lines from here on stay in the temp dir for post-mortem.
  for (const n of nodes) n.proc.onLine((line) => appendFileSync(join(dir, `${n.config.nodeName}.log`), `${line}\n`));
});

afterAll(async () => {
  if (etcd) appendFileSync(join(dir, 'etcd.log'), etcd.tail());
  for (const n of nodes) appendFileSync(join(dir, `${n.config.nodeName}.stderr`), n.proc.stderr);
  await killAll();
  await etcd?.destroy();
});

interface TrialResult {
  answered: number;
  refused: number;
  mediaNodes: string[];
  problems: string[];
  ms: number;
  /** Where the time of the trial went. */
  phases: string;
}

/** The conference's entries in each node's /api/v1/conferences (each merges its peers' answers). */
async function conferencesAtEveryNode(vmr: string): Promise<ConferenceView[][]> {
  return Promise.all(nodes.map(async (n) => (await getJsonFrom<ConferenceView[]>(n, '/api/v1/conferences')).filter((c) => c.name === vmr)));
}

/** The conference's participants, asked at the node that signals none of them (it merges every peer's). */
async function participantsOf(vmr: string): Promise<ParticipantView[]> {
  return (await getJsonFrom<ParticipantView[]>(nodes[3] as NodeUnderTest, '/api/v1/participants')).filter((p) => p.conference === vmr);
}

/** Where the conference's media is, as the nodes and the store say. */
async function checkPlacement(vmr: string, answeredPorts: number[], problems: string[]): Promise<string[]> {
  const [parts, confs] = await Promise.all([participantsOf(vmr), conferencesAtEveryNode(vmr)]);
  const media = [...new Set(parts.map((p) => p.mediaNode ?? '?'))].sort();
  if (media.length > MAX_MEDIA_NODES) problems.push(`R5: participants' media on ${media.length} nodes: ${media.join(', ')}`);
  if (parts.length !== answeredPorts.length) problems.push(`${answeredPorts.length} callers answered but ${parts.length} participants listed`);
  const listedPorts = new Set(parts.map((p) => p.remote?.port));
  for (const port of answeredPorts) if (!listedPorts.has(port)) problems.push(`the 200 to the caller at port ${port} has no participant`);
  const stored = await storedConference(etcd.endpoint, vmr);
  const storedMedia = stored.mediaNodes.USA ?? [];
  if (storedMedia.length > MAX_MEDIA_NODES) problems.push(`R5: the store lists ${storedMedia.length} media nodes: ${storedMedia.join(', ')}`);
  for (const m of media) if (!storedMedia.includes(m)) problems.push(`media on ${m}, which the store's media nodes (${storedMedia.join(', ')}) do not list`);
  confs.forEach((list, i) => {
    for (const c of list) {
      if ((c.mediaNodes ?? []).length > MAX_MEDIA_NODES) problems.push(`R5: ${nodes[i]?.config.nodeName ?? '?'} shows media nodes ${(c.mediaNodes ?? []).join(', ')}`);
    }
  });
  return media;
}

/** After every caller hung up: the store holds nothing of the conference and no node shows it. */
async function checkGone(vmr: string, problems: string[]): Promise<void> {
  try {
    // Each media node takes itself out (a CAS each, retried while the store fails).
    await waitFor(`${vmr} gone from the store`, async () => ((await storedConference(etcd.endpoint, vmr)).keys.length === 0 ? true : undefined), 20_000, 100);
    await waitFor(
      `${vmr} gone from every node`,
      async () => {
        const [parts, confs] = await Promise.all([participantsOf(vmr), conferencesAtEveryNode(vmr)]);
        return parts.length === 0 && confs.every((list) => list.length === 0) ? true : undefined;
      },
      10_000,
      // Each poll asks four nodes, each of which asks its three peers: not faster than this.
      250,
    );
  } catch (e) {
    const stored = await storedConference(etcd.endpoint, vmr).catch(() => undefined);
    problems.push(`${e instanceof Error ? e.message : String(e)}; store keys: ${JSON.stringify(stored?.keys)}`);
  }
}

async function trial(vmr: string): Promise<TrialResult> {
  const signaling = nodes.slice(0, 3);
  const problems: string[] = [];
  const t0 = Date.now();
  const callers = await Promise.all(Array.from({ length: CALLERS_PER_TRIAL }, () => RawSipCaller.open()));
  try {
    const outcomes: Array<InviteOutcome | undefined> = await Promise.all(
      callers.map((c, i) => c.invite((signaling[i % signaling.length] as NodeUnderTest).config.sipPort, vmr, 15_000)),
    );
    const tInvite = Date.now();
    const answeredPorts: number[] = [];
    let refused = 0;
    outcomes.forEach((o, i) => {
      const c = callers[i] as RawSipCaller;
      if (o === undefined) problems.push(`caller ${i} (port ${c.port}) got no final response within 15 s`);
      else if (o.status === 200) answeredPorts.push(c.port);
      else if (o.status === 503 && /^\d+$/.test(o.retryAfter ?? '')) refused++;
      else problems.push(`caller ${i} got ${o.status}${o.status === 503 ? ` without a numeric Retry-After (${String(o.retryAfter)})` : ''}`);
    });
    if (answeredPorts.length > MAX_ANSWERED) problems.push(`${answeredPorts.length} callers answered: more than three nodes' worth (${MAX_ANSWERED})`);
    if (answeredPorts.length === 0) problems.push('no caller was answered');
    const mediaNodes = await checkPlacement(vmr, answeredPorts, problems).catch((e: unknown) => {
      problems.push(`reading the placement failed: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    });
    const tChecked = Date.now();
    const byes = await Promise.all(callers.filter((c) => answeredPorts.includes(c.port)).map((c) => c.bye(10_000)));
    byes.forEach((s, i) => {
      if (s !== 200) problems.push(`BYE ${i} got ${String(s)}`);
    });
    const tBye = Date.now();
    await checkGone(vmr, problems);
    const phases = `answers ${tInvite - t0} ms, checks ${tChecked - tInvite} ms, BYEs ${tBye - tChecked} ms, cleanup ${Date.now() - tBye} ms`;
    return { answered: answeredPorts.length, refused, mediaNodes, problems, ms: Date.now() - t0, phases };
  } finally {
    for (const c of callers) c.close();
  }
}

describe('R5: race-free expansion across node processes', () => {
  it('R5: concurrent joins at three signaling nodes never put a conference on more than 3 media nodes (50 trials)', async () => {
    const started = Date.now();
    const problems: string[] = [];
    const summary = { trials: 0, answered: 0, refused: 0, maxMediaNodes: 0, mediaNodeCounts: [0, 0, 0, 0, 0], slowest: '' };
    let slowestMs = 0;
    for (let t = 1; t <= TRIALS; t++) {
      if (Date.now() - started > RUN_BUDGET_MS) {
        problems.push(`only ${t - 1} of ${TRIALS} trials ran within ${RUN_BUDGET_MS / 1000} s`);
        break;
      }
      const r = await trial(`race${t}`);
      summary.trials++;
      summary.answered += r.answered;
      summary.refused += r.refused;
      summary.maxMediaNodes = Math.max(summary.maxMediaNodes, r.mediaNodes.length);
      if (r.ms > slowestMs) {
        slowestMs = r.ms;
        summary.slowest = `trial ${t}: ${r.phases}`;
      }
      const bucket = Math.min(r.mediaNodes.length, 4);
      summary.mediaNodeCounts[bucket] = (summary.mediaNodeCounts[bucket] ?? 0) + 1;
      for (const p of r.problems) problems.push(`trial ${t} (${Math.round((Date.now() - started) / 1000)} s): ${p}`);
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(
      `R5 race: ${summary.trials} trials in ${seconds} s, ${summary.answered} answered, ${summary.refused} refused (503), ` +
        `max media nodes ${summary.maxMediaNodes}, trials by media node count [0..4]: ${summary.mediaNodeCounts.join(' ')}; slowest ${summary.slowest}`,
    );
    const leftovers = await etcdRange(etcd.endpoint, '/confnode/v1/conferences/');
    if (leftovers.length > 0) problems.push(`store keys left: ${leftovers.map((kv) => kv.key).join(', ')}`);
    const dead = nodes.filter((n) => !n.alive);
    expect({ problems, dead: dead.map((n) => `${n.config.nodeName}\n${n.proc.tail()}`) }).toEqual({ problems: [], dead: [] });
    expect(summary.maxMediaNodes).toBeLessThanOrEqual(MAX_MEDIA_NODES);
  });
});
