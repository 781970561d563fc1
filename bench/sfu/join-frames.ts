/**
 * The browser side of the SFU bench, with real headless Chromium pages (one browser process):
 * rounds of N pages joining one room one after another, each page timing the first decoded frame
 * of every remote video; then, with N pages in, the node's CPU per forwarded stream and per
 * forwarded packet, and its memory per participant. Figures only; pages, the browser and the
 * node are closed in finally blocks, every wait is bounded.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { closeBrowsers, launchBrowserNiced, toneMicrophoneArgs, useRawMicrophone } from '../../test/helpers/browser';
import { sleep, waitFor } from '../../test/helpers/proc';
import { getJson, roomAlias, startTarget, type Target } from '../target';
import { cpuSeconds, mb, rssKb } from './memory';
import { corePercent, growingStreams, joinSamples, summarize, usPerPacket, type PageFrames, type Summary } from './stats';

export interface JoinOptions {
  nodeMain: string;
  dir: string;
  rounds: number;
  browsers: number;
  settleMs: number;
  windowMs: number;
  deadline: number;
  log: (line: string) => void;
}

export interface BrowserResult {
  rounds: number;
  browsers: number;
  /** Joining page: join() -> first decoded frame of each remote already in the room. */
  joinToFirstFrameMs: Summary;
  /** Same frames from the bench's page.goto() (page load and getUserMedia included). */
  openToFirstFrameMs: Summary;
  /** Pages already in: a newcomer's join() -> its first decoded frame at them. */
  newcomerFirstFrameMs: Summary;
  missingFrames: number;
  steady?: SteadyState;
  memory: {
    freshNodeMb: number | undefined;
    /** First round, settled: (RSS with N in - fresh node RSS) / N; one-time allocations included. */
    firstRoundWithBrowsersMb: number | undefined;
    firstRoundPerParticipantMb: number | undefined;
    /** Last round: RSS with the room empty after earlier rounds, then with N in; memory freed by earlier rounds is reused. */
    emptyRoomMb: number | undefined;
    withBrowsersMb: number | undefined;
    perParticipantMb: number | undefined;
  };
  errors: string[];
}

export interface SteadyState {
  windowS: number;
  nodeCpuPercent: number;
  expectedStreams: number;
  /** Inbound streams whose packet count grew in the window, summed over the pages (getStats). */
  streamsSeenByPages: number;
  /** Participants of the room with packetsIn and packetsOut growing in the window (API). */
  participantsFlowing: number;
  cpuPerStreamPercent: number;
  packetsOut: number;
  packetsOutPerS: number;
  packetsIn: number;
  usPerPacketOut: number | undefined;
  /** What each forwarded stream carried on average (pages' getStats). */
  media: { videoPacketsPerS: number; videoKbitPerS: number; videoFps: number; maxFrameWidth: number; audioPacketsPerS: number };
}

interface BenchPage {
  page: Page;
  name: string;
  openEpochMs: number;
}

/**
 * Runs inside every page before its scripts: polls the page's own RTCPeerConnection every 40 ms
 * and keeps, per remote participant, the first time an inbound video stream had decoded frames.
 * Self-contained (serialised into the page): it may not use anything from this module.
 */
function installFramePoller(): void {
  type Stat = Record<string, unknown>;
  interface Hooks {
    pc: { getStats(): Promise<{ forEach(cb: (s: Stat) => void): void }> } | null;
    trackOwner: Record<string, string>;
  }
  const g = globalThis as unknown as { confnode?: Hooks; __sfuBench?: { first: Record<string, number>; stop: () => void } };
  const first: Record<string, number> = {};
  let busy = false;
  const timer = setInterval(() => {
    const c = g.confnode;
    if (!c || !c.pc || busy) return;
    busy = true;
    const askedAt = performance.timeOrigin + performance.now();
    c.pc
      .getStats()
      .then((stats) => {
        stats.forEach((s) => {
          if (s.type !== 'inbound-rtp' || s.kind !== 'video' || !(Number(s.framesDecoded ?? 0) > 0)) return;
          const owner = c.trackOwner[String(s.trackIdentifier)];
          if (owner !== undefined && first[owner] === undefined) first[owner] = askedAt;
        });
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 40);
  g.__sfuBench = { first, stop: () => clearInterval(timer) };
}

async function openPage(ctx: BrowserContext, baseUrl: string, alias: string, name: string): Promise<BenchPage> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  await page.addInitScript(installFramePoller);
  const openEpochMs = Date.now();
  await page.goto(`${baseUrl}/?alias=${encodeURIComponent(alias)}&name=${encodeURIComponent(name)}`, { timeout: 15_000 });
  return { page, name, openEpochMs };
}

/**
 * What the page recorded so far (participant id, join time, first frames), all in epoch ms, and
 * where its join went: ms from join() to each step (socket open, joined, offer sent, answer in,
 * connected, each server offer, first remote track), for the bench's log.
 */
function frames(p: BenchPage): Promise<PageFrames & { error: string | null; phases: string }> {
  return p.page
    .evaluate(() => {
      const g = globalThis as unknown as {
        confnode?: {
          participantId: string | null;
          timings: Record<string, number | undefined>;
          sdpLog: Array<{ dir: string; at: number }>;
          error: { code: string } | null;
        };
        __sfuBench?: { first: Record<string, number> };
      };
      const t = g.confnode?.timings ?? {};
      const start = t.start ?? 0;
      const rel = (k: string): string => (t[k] === undefined ? '-' : String(Math.round((t[k] as number) - start)));
      const steps = ['wsOpen', 'joined', 'offerSet', 'connected', 'firstTrack'].map((k) => `${k} ${rel(k)}`);
      const sdp = (g.confnode?.sdpLog ?? []).map((e) => `${e.dir} ${e.at}`);
      return {
        participantId: g.confnode?.participantId ?? '',
        joinEpochMs: performance.timeOrigin + start,
        first: { ...(g.__sfuBench?.first ?? {}) },
        error: g.confnode?.error ? g.confnode.error.code : null,
        phases: [...steps, ...sdp].join(', '),
      };
    })
    .then((r) => ({ participantId: r.participantId, openEpochMs: p.openEpochMs, joinEpochMs: r.joinEpochMs, firstFrameEpochMs: r.first, error: r.error, phases: r.phases }));
}

/** Waits (bounded) until the page has first frames from `remotes` participants. */
async function waitFrames(p: BenchPage, remotes: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `${p.name}: first frames of ${remotes} remote(s)`,
    async () => {
      const f = await frames(p);
      if (f.error !== null) throw new Error(`${p.name}: page error ${f.error}`);
      return Object.keys(f.firstFrameEpochMs).length >= remotes ? true : undefined;
    },
    timeoutMs,
    100,
  );
}

async function roomParticipants(t: Target, alias: string): Promise<Array<{ id: string; packetsIn: number; packetsOut: number }>> {
  const all = await getJson(t, '/api/v1/participants');
  if (!Array.isArray(all)) return [];
  return (all as Array<{ id: string; conference: string; packetsIn: number; packetsOut: number }>).filter((p) => p.conference === alias);
}

interface Inbound {
  /** Stream id -> packetsReceived. */
  packets: Record<string, number>;
  video: { packets: number; bytes: number; frames: number; maxWidth: number };
  audio: { packets: number };
}

/** The page's inbound-rtp counters (getStats). */
function inbound(p: BenchPage): Promise<Inbound> {
  return p.page.evaluate(async () => {
    const c = (globalThis as unknown as { confnode?: { pc: { getStats(): Promise<{ forEach(cb: (s: Record<string, unknown>) => void): void }> } | null } }).confnode;
    const out = { packets: {} as Record<string, number>, video: { packets: 0, bytes: 0, frames: 0, maxWidth: 0 }, audio: { packets: 0 } };
    if (!c?.pc) return out;
    (await c.pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const n = Number(s.packetsReceived ?? 0);
      out.packets[String(s.id)] = n;
      if (s.kind === 'video') {
        out.video.packets += n;
        out.video.bytes += Number(s.bytesReceived ?? 0);
        out.video.frames += Number(s.framesDecoded ?? 0);
        out.video.maxWidth = Math.max(out.video.maxWidth, Number(s.frameWidth ?? 0));
      } else {
        out.audio.packets += n;
      }
    });
    return out;
  });
}

/** Per forwarded video/audio stream, as the pages received them in the window. */
function mediaRates(in0: Inbound[], in1: Inbound[], wallS: number, videoStreams: number): SteadyState['media'] {
  const sum = (f: (x: Inbound) => number): number => in1.reduce((n, x, i) => n + f(x) - (in0[i] ? f(in0[i] as Inbound) : 0), 0);
  const per = Math.max(1, videoStreams) * wallS;
  return {
    videoPacketsPerS: Math.round(sum((x) => x.video.packets) / per),
    videoKbitPerS: Math.round((sum((x) => x.video.bytes) * 8) / 1000 / per),
    videoFps: Math.round((sum((x) => x.video.frames) / per) * 10) / 10,
    maxFrameWidth: Math.max(0, ...in1.map((x) => x.video.maxWidth)),
    audioPacketsPerS: Math.round(sum((x) => x.audio.packets) / per),
  };
}

async function leaveAll(pages: BenchPage[], t: Target, alias: string): Promise<void> {
  for (const p of pages) {
    await p.page.evaluate(() => (globalThis as unknown as { confnode?: { leave?: () => void } }).confnode?.leave?.()).catch(() => undefined);
    await p.page.close().catch(() => undefined);
  }
  pages.length = 0;
  await waitFor('the room to empty', async () => ((await roomParticipants(t, alias)).length === 0 ? true : undefined), 15_000, 200);
}

async function steadyState(o: JoinOptions, t: Target, alias: string, pages: BenchPage[]): Promise<SteadyState> {
  for (const p of pages) await p.page.evaluate(() => (globalThis as unknown as { __sfuBench?: { stop: () => void } }).__sfuBench?.stop()).catch(() => undefined);
  await sleep(o.settleMs);
  const in0 = await Promise.all(pages.map(inbound));
  const api0 = await roomParticipants(t, alias);
  const c0 = cpuSeconds(t.proc.pid);
  const t0 = performance.now();
  await sleep(o.windowMs);
  const cpu = cpuSeconds(t.proc.pid) - c0;
  const wallS = (performance.now() - t0) / 1000;
  const api1 = await roomParticipants(t, alias);
  const in1 = await Promise.all(pages.map(inbound));
  const n = pages.length;
  const expectedStreams = n * (n - 1) * 2;
  let packetsOut = 0;
  let packetsIn = 0;
  let flowing = 0;
  for (const p of api1) {
    const b = api0.find((q) => q.id === p.id);
    if (!b) continue;
    packetsOut += p.packetsOut - b.packetsOut;
    packetsIn += p.packetsIn - b.packetsIn;
    if (p.packetsOut > b.packetsOut && p.packetsIn > b.packetsIn) flowing++;
  }
  const streamsSeen = in1.reduce((s, after, i) => s + growingStreams(in0[i]?.packets ?? {}, after.packets), 0);
  const nodeCpuPercent = corePercent(cpu, wallS);
  return {
    windowS: Math.round(wallS * 10) / 10,
    nodeCpuPercent,
    expectedStreams,
    streamsSeenByPages: streamsSeen,
    participantsFlowing: flowing,
    cpuPerStreamPercent: Math.round((nodeCpuPercent / expectedStreams) * 100) / 100,
    packetsOut,
    packetsOutPerS: Math.round(packetsOut / wallS),
    packetsIn,
    usPerPacketOut: usPerPacket(cpu, packetsOut),
    media: mediaRates(in0, in1, wallS, expectedStreams / 2),
  };
}

/** One round: N pages join one after another, each waiting for the frames of those already in. */
async function joinRound(ctx: BrowserContext, baseUrl: string, alias: string, o: JoinOptions, round: number, pages: BenchPage[]): Promise<void> {
  for (let i = 0; i < o.browsers; i++) {
    const p = await openPage(ctx, baseUrl, alias, `r${round}p${i}`);
    pages.push(p);
    await waitFrames(p, i, 20_000);
  }
  for (const p of pages) await waitFrames(p, o.browsers - 1, 15_000);
}

/** What the rounds accumulate. */
interface JoinState {
  samples: { joinerMs: number[]; fromOpenMs: number[]; newcomerMs: number[]; missing: number };
  memory: BrowserResult['memory'];
  errors: string[];
  steady: SteadyState | undefined;
  rounds: number;
}

interface Session {
  ctx: BrowserContext;
  baseUrl: string;
  alias: string;
  target: Target;
  pages: BenchPage[];
}

async function firstRoundMemory(o: JoinOptions, pid: number | undefined, m: BrowserResult['memory']): Promise<void> {
  await sleep(o.settleMs);
  const kb = rssKb(pid);
  m.firstRoundWithBrowsersMb = mb(kb);
  if (kb !== undefined && m.freshNodeMb !== undefined) m.firstRoundPerParticipantMb = Math.round(((kb / 1024 - m.freshNodeMb) / o.browsers) * 100) / 100;
}

/** One round; when `measure`, the room's steady state and memory are taken before everyone leaves. */
async function round(o: JoinOptions, s: Session, r: number, measure: boolean, st: JoinState): Promise<void> {
  const pid = s.target.proc.pid;
  let emptyKb: number | undefined;
  if (measure) {
    await sleep(o.settleMs);
    emptyKb = rssKb(pid);
  }
  let complete = false;
  try {
    await joinRound(s.ctx, s.baseUrl, s.alias, o, r, s.pages);
    st.rounds++;
    complete = true;
    if (r === 0) await firstRoundMemory(o, pid, st.memory);
  } catch (e) {
    st.errors.push(`round ${r}: ${e instanceof Error ? e.message.slice(0, 400) : String(e)}`);
  }
  const recorded = await Promise.all(s.pages.map(frames));
  const j = joinSamples(recorded);
  for (const f of recorded) {
    const firsts = Object.values(f.firstFrameEpochMs).map((e) => Math.round(e - f.joinEpochMs)).sort((a, b) => a - b);
    o.log(`sfu browsers: round ${r}: page ${f.participantId.slice(0, 8)}: ${f.phases}; first frames ${firsts.join(', ')} ms`);
  }
  st.samples.joinerMs.push(...j.joinerMs);
  st.samples.fromOpenMs.push(...j.fromOpenMs);
  st.samples.newcomerMs.push(...j.newcomerMs);
  st.samples.missing += j.missing;
  o.log(`sfu browsers: round ${r}: join->first frame ${j.joinerMs.map((x) => Math.round(x)).join(', ')} ms`);
  if (measure && complete) {
    const steady = await steadyState(o, s.target, s.alias, s.pages);
    st.steady = steady;
    const withKb = rssKb(pid);
    st.memory.emptyRoomMb = mb(emptyKb);
    st.memory.withBrowsersMb = mb(withKb);
    if (emptyKb !== undefined && withKb !== undefined) st.memory.perParticipantMb = Math.round(((withKb - emptyKb) / 1024 / o.browsers) * 100) / 100;
    o.log(`sfu browsers: steady state ${steady.nodeCpuPercent}% core for ${steady.streamsSeenByPages}/${steady.expectedStreams} streams`);
  }
  await leaveAll(s.pages, s.target, s.alias);
}

export async function runJoinFrames(o: JoinOptions): Promise<BrowserResult> {
  const st: JoinState = {
    samples: { joinerMs: [], fromOpenMs: [], newcomerMs: [], missing: 0 },
    memory: {
      freshNodeMb: undefined, firstRoundWithBrowsersMb: undefined, firstRoundPerParticipantMb: undefined,
      emptyRoomMb: undefined, withBrowsersMb: undefined, perParticipantMb: undefined,
    },
    errors: [],
    steady: undefined,
    rounds: 0,
  };
  const target = await startTarget({ kind: 'node', nodeMain: o.nodeMain, dir: o.dir, rooms: 1, mixTalkers: 3, rtpPorts: 200 });
  const pages: BenchPage[] = [];
  try {
    await sleep(1000);
    st.memory.freshNodeMb = mb(rssKb(target.proc.pid));
    // The pages stand in for other machines: Chromium yields to the node (niced, its autogroup
    // too) and skips microphone processing; each microphone plays a tone without pause, so every
    // page sends audio all the time as a real room's microphones do.
    const ctx = await launchBrowserNiced(o.dir, 10, toneMicrophoneArgs(o.dir));
    await useRawMicrophone(ctx);
    const s: Session = { ctx, baseUrl: `http://127.0.0.1:${target.httpPort ?? 0}`, alias: roomAlias(1), target, pages };
    // The last planned round also measures the steady state; when that round fails to bring
    // every video up, one extra round tries again (its join samples count like the others).
    for (let r = 0; r < o.rounds + 1 && Date.now() + 30_000 < o.deadline; r++) {
      if (r >= o.rounds && st.steady !== undefined) break;
      await round(o, s, r, r >= o.rounds - 1, st);
    }
  } catch (e) {
    st.errors.push(e instanceof Error ? e.message.slice(0, 600) : String(e));
  } finally {
    for (const p of pages) await p.page.close().catch(() => undefined);
    await closeBrowsers();
    await target.stop();
  }
  return {
    rounds: st.rounds,
    browsers: o.browsers,
    joinToFirstFrameMs: summarize(st.samples.joinerMs),
    openToFirstFrameMs: summarize(st.samples.fromOpenMs),
    newcomerFirstFrameMs: summarize(st.samples.newcomerMs),
    missingFrames: st.samples.missing,
    ...(st.steady ? { steady: st.steady } : {}),
    memory: st.memory,
    errors: st.errors,
  };
}
