/**
 * Renegotiation as participants come and go (issue 3: "at least 8 in a room"; issue 13: as many
 * as the node's media path allows here): N headless Chromium pages join `meet` one after another,
 * two leave, one more joins. One Chromium process holds every page (each page has its own fake
 * devices and RTCPeerConnection). Media proof is each page's own getStats(). N is 10, every page
 * with a camera (CONFNODE_ROOM_BROWSERS changes N; CONFNODE_ROOM_CAMERAS=half leaves every other
 * page without one). The node's and the machine's CPU over the room's steady media are logged.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import {
  closeBrowsers,
  launchBrowserNiced,
  openJoinPageWith,
  remoteMediaSnapshot,
  pageState,
  remoteTileNames,
  toneMicrophoneArgs,
  useRawMicrophone,
  waitForFlowingMedia,
  waitForRemoteMedia,
  type JoinedPage,
} from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { machineJiffies, procCpu } from './helpers/proc-stat';

jest.setTimeout(180_000);

const NEWCOMER = 'Ivy';
const ALL_NAMES = ['Ann', 'Bob', 'Cid', 'Dee', 'Eve', 'Fay', 'Gus', 'Hal', 'Jo', 'Kim'];
const COUNT = Math.max(4, Math.min(ALL_NAMES.length, Number(process.env.CONFNODE_ROOM_BROWSERS ?? 10) || 10));
const NAMES = ALL_NAMES.slice(0, COUNT);
/**
 * Every page has a camera: ten pages decoding nine videos each is Chromium's work (most of both
 * cores), while the node forwards the 180 streams with ~15-20% of a core. With werift's own send
 * path (before issue 13) eight cameras were not reliable here: the node took ~40-50% of a core.
 * CONFNODE_ROOM_CAMERAS=half: every other page joins without one (audio-only and video pages mixed).
 */
const HALF_CAMERAS = process.env.CONFNODE_ROOM_CAMERAS === 'half';
const hasCamera = (name: string): boolean => !HALF_CAMERAS || ALL_NAMES.indexOf(name) % 2 === 0 || name === NEWCOMER;


let dir: string;
let node: NodeUnderTest;
let ctx: BrowserContext;
/** Pages still in the room, in join order. */
let inRoom: JoinedPage[] = [];
const idOf = new Map<JoinedPage, string>();
const timings: Record<string, unknown> = {};

beforeAll(async () => {
  dir = makeTempDir('room');
  const config = await writeNodeConfig({ dir, vmrs: [{ name: 'meet', aliases: ['meet'] }] });
  node = await NodeUnderTest.start(config);
  const logPath = join(dir, 'node.log');
  node.proc.onLine((line) => appendFileSync(logPath, `${line}\n`));
  // Every page's microphone plays a continuous tone, unprocessed: each sends audio all the time.
  ctx = await launchBrowserNiced(dir, 10, toneMicrophoneArgs(dir));
  await useRawMicrophone(ctx);
  // `&camera=off`: the page's getUserMedia finds no camera, so the page joins audio only.
  await ctx.addInitScript({
    content: `if (new URLSearchParams(location.search).get('camera') === 'off') {
      const md = navigator.mediaDevices;
      const real = md.getUserMedia.bind(md);
      md.getUserMedia = (c) => (c && c.video ? Promise.reject(new DOMException('no camera in this test page', 'NotFoundError')) : real(c));
    }`,
  });
});

afterAll(async () => {
  writeFileSync(join(dir, 'timings.json'), JSON.stringify({ ...timings, unsteadyConnections: unsteady }, null, 2));
  await closeBrowsers();
  if (node?.alive) await node.terminate(5000).catch(() => undefined);
  await killAll();
});

/** What a page shows and the node logged, for failure messages. */
async function describePage(p: JoinedPage): Promise<string> {
  const tiles = await remoteTileNames(p).catch((e: unknown) => String(e));
  const state = await pageState(p).catch((e: unknown) => String(e));
  return `tiles: ${JSON.stringify(tiles)}; page: ${JSON.stringify(state)}; log: ${p.log.slice(-10).join(' | ')}; node: ${node.proc.tail()}`;
}

function othersOf(p: JoinedPage): JoinedPage[] {
  return inRoom.filter((q) => q !== p);
}

function idsOf(pages: JoinedPage[]): string[] {
  return pages.map((p) => idOf.get(p) ?? `?${p.name}`).sort();
}

/** Joins one page and waits until it is connected and shows a tile for everyone already in. */
async function joinOne(name: string): Promise<JoinedPage> {
  const p = await openJoinPageWith(ctx, node.baseUrl, 'meet', name, hasCamera(name) ? { video: 'small' } : { video: 'small', camera: 'off' });
  const state = await waitFor(
    `${name} to connect`,
    async () => {
      const s = await pageState(p);
      if (s.error) throw new Error(`${name}: ${JSON.stringify(s.error)}`);
      return s.state === 'joined' && s.participantId ? s : undefined;
    },
    // Usually 1-4 s; with the machine busy with the pages already in, it has taken over 15 s.
    30_000,
    100,
  ).catch(async (e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await describePage(p)}`);
  });
  idOf.set(p, state.participantId ?? '');
  const expected = inRoom.map((q) => q.name).sort();
  inRoom.push(p);
  await waitFor(`${name} to show tiles of ${expected.join(', ')}`, async () => {
    const tiles = await remoteTileNames(p);
    return JSON.stringify(tiles) === JSON.stringify(expected) ? tiles : undefined;
  }, 10_000, 100).catch(async (e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await describePage(p)}`);
  });
  return p;
}

/** Every page in the room shows exactly the others' names on its tiles and lists them. */
async function expectTilesMatchRoom(): Promise<void> {
  for (const p of inRoom) {
    const want = othersOf(p).map((q) => q.name).sort();
    await waitFor(
      `${p.name} to show tiles ${want.join(', ')}`,
      async () => {
        const tiles = await remoteTileNames(p);
        return JSON.stringify(tiles) === JSON.stringify(want) ? true : undefined;
      },
      10_000,
      100,
    ).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await describePage(p)}`);
    });
    // ICE may pass through 'disconnected' for a moment when both cores are full (Chromium's own
    // connectivity checks went unanswered for ~5 s, once in a CI run); the page must come back to
    // 'connected' on its own, as the media checks after this one prove it does.
    const s = await waitFor(`${p.name} to be connected`, async () => {
      const st = await pageState(p);
      return st.connectionState === 'connected' ? st : undefined;
    }, 15_000, 200).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await describePage(p)}`);
    });
    noteConnectionChanges(p.name, s.connectionLog);
    expect(s.state).toBe('joined');
    expect(s.error).toBeNull();
    expect(s.participants.map((x) => x.name).sort()).toEqual(inRoom.map((q) => q.name).sort());
  }
}

/** Pages whose connection left 'connected' after joining, kept for timings.json and the log. */
const unsteady: Record<string, Array<{ state: string; at: number }>> = {};
function noteConnectionChanges(name: string, log: Array<{ state: string; at: number }>): void {
  const firstUp = log.findIndex((x) => x.state === 'connected');
  if (firstUp < 0 || !log.slice(firstUp).some((x) => x.state !== 'connected')) return;
  if (!unsteady[name]) console.log(`${name}: connection left 'connected' and came back: ${JSON.stringify(log)}`);
  unsteady[name] = log;
}

async function expectNodeLists(pages: JoinedPage[]): Promise<void> {
  const want = idsOf(pages);
  const list = await waitFor(
    `node to list ${pages.map((p) => p.name).join(', ')}`,
    async () => {
      const l = await node.participantsOf('meet');
      return JSON.stringify(l.map((x) => x.id).sort()) === JSON.stringify(want) ? l : undefined;
    },
    10_000,
    200,
  );
  for (const x of list) expect(x.protocol).toBe('webrtc');
}

/** Decoded video from each of `from` (their cameras) on page p, within `ms`. */
async function waitForVideoFrom(p: JoinedPage, from: JoinedPage[], ms: number): Promise<void> {
  const want = idsOf(from);
  await waitFor(`${p.name} to decode video from ${from.map((q) => q.name).join(', ')}`, async () => {
    const got = (await remoteMediaSnapshot(p)).filter((r) => r.framesDecoded > 0).map((r) => r.participant);
    return want.every((id) => got.includes(id)) ? true : undefined;
  }, ms, 200).catch(async (e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await describePage(p)}`);
  });
}

/** Audio keeps flowing from every other page, and video from those with a camera. */
async function flowing(p: JoinedPage, ms: number): Promise<void> {
  const others = othersOf(p);
  await Promise.all([
    waitForFlowingMedia(p, idsOf(others.filter((q) => hasCamera(q.name))), { timeoutMs: ms }),
    waitForFlowingMedia(p, idsOf(others.filter((q) => !hasCamera(q.name))), { video: false, timeoutMs: ms }),
  ]);
}

it(`${COUNT} browsers join one after another: each decodes video and hears audio from the ${COUNT - 1} others`, async () => {
  const t0 = Date.now();
  for (const name of NAMES) await joinOne(name);
  timings.eightJoinedMs = Date.now() - t0;
  const proofs = await Promise.all(inRoom.map((p) => waitForRemoteMedia(p, { remotes: COUNT - 1, video: false, timeoutMs: 40_000 })));
  await Promise.all(inRoom.map((p) => waitForVideoFrom(p, othersOf(p).filter((q) => hasCamera(q.name)), 30_000)));
  timings.eightMediaMs = Date.now() - t0;
  timings.eightJoinToMedia = proofs.map((x) => Math.round(x.elapsedMs));
  console.log(`${COUNT} browsers: all joined in ${timings.eightJoinedMs as number} ms, all media in ${timings.eightMediaMs as number} ms; ` +
    `join -> ${COUNT - 1} remote videos and audio per page: ${proofs.map((x) => `${Math.round(x.elapsedMs)} ms`).join(', ')}`);
  for (const [i, p] of inRoom.entries()) {
    const heard = (proofs[i]?.remotes ?? []).filter((r) => r.totalSamplesReceived > 0);
    expect(heard.map((r) => r.participant).sort()).toEqual(idsOf(othersOf(p)));
  }
  await expectTilesMatchRoom();
  await expectNodeLists(inRoom);
  // A figure, not a verdict: where the CPU goes with every page in (the node vs everything, mostly Chromium).
  const nodeCpu = (): number => {
    const t = procCpu(node.proc.pid);
    return t.user + t.system;
  };
  const [n0, m0, w0] = [nodeCpu(), machineJiffies().busy, Date.now()];
  await new Promise((r) => setTimeout(r, 5000));
  const wallS = (Date.now() - w0) / 1000;
  timings.steadyNodeCpuPercent = Math.round(((nodeCpu() - n0) / wallS) * 100);
  // Jiffies are 1/100 s: busy jiffies per second are % of one core.
  timings.steadyMachineCpuPercent = Math.round((machineJiffies().busy - m0) / wallS);
  console.log(`${COUNT} browsers in: node ${timings.steadyNodeCpuPercent as number}% of a core, the whole machine ${timings.steadyMachineCpuPercent as number}% (2 cores = 200%)`);
});

it(`two leave (Leave button, page closed): ${COUNT - 2} see ${COUNT - 3} tiles and media from the others keeps flowing`, async () => {
  const clicker = inRoom[2];
  const closer = inRoom[Math.min(5, COUNT - 1)];
  if (!clicker || !closer) throw new Error('pages missing');
  await clicker.page.click('#leave');
  await closer.page.close();
  inRoom = inRoom.filter((p) => p !== clicker && p !== closer);
  expect(inRoom).toHaveLength(COUNT - 2);
  await expectTilesMatchRoom();
  await expectNodeLists(inRoom);
  const t0 = Date.now();
  await Promise.all(inRoom.map((p) => flowing(p, 15_000)));
  timings.afterLeaveFlowingMs = Date.now() - t0;
  for (const p of inRoom) expect((await remoteTileNames(p)).length).toBe(COUNT - 3);
});

it(`one more browser joins after the leaves: all ${COUNT - 1} see ${COUNT - 2} tiles and media flows both ways`, async () => {
  const t0 = Date.now();
  const newcomer = await joinOne(NEWCOMER);
  const proof = await waitForRemoteMedia(newcomer, { remotes: COUNT - 2, video: false, timeoutMs: 30_000 });
  await waitForVideoFrom(newcomer, othersOf(newcomer).filter((q) => hasCamera(q.name)), 30_000);
  timings.newcomerJoinToMediaMs = Math.round(proof.elapsedMs);
  expect(proof.remotes.filter((r) => r.totalSamplesReceived > 0).map((r) => r.participant).sort()).toEqual(idsOf(othersOf(newcomer)));
  await expectTilesMatchRoom();
  // The old pages get the newcomer on a new or recycled m-line and still get each other.
  await Promise.all(inRoom.map((p) => flowing(p, 20_000)));
  timings.newcomerAllFlowingMs = Date.now() - t0;
  await expectNodeLists(inRoom);
  console.log(`after two leaves, ${NEWCOMER} joined: media from ${COUNT - 2} in ${timings.newcomerJoinToMediaMs as number} ms, all ${COUNT - 1} flowing in ${timings.newcomerAllFlowingMs as number} ms`);
});
