/**
 * Headless Debian Chromium for WebRTC tests, driven by playwright-core (never a downloaded
 * browser): fake camera and microphone, loopback ICE, a fresh profile per launch (PEERS.md). Reads
 * media proof from the page's own RTCPeerConnection (getStats) through window.confnode.
 * Every context launched here is closed by closeBrowsers() in afterAll, even after a failure.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { writePcmToneWav } from './wav';

export const CHROMIUM = '/usr/bin/chromium';

/** PEERS.md flags, plus loopback candidates and no mDNS names (werift would have to resolve them). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

const open = new Set<BrowserContext>();

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium is not installed (${CHROMIUM}): scripts/test should have installed it (Debian package chromium)`);
  }
}

/** One Chromium process with a fresh profile under `dir`; `extraArgs` e.g. to drop the fake camera. */
export async function launchBrowser(dir: string, extraArgs: string[] = [], executablePath = CHROMIUM): Promise<BrowserContext> {
  requireChromium();
  const profile = mkdtempSync(join(dir, 'chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    ignoreDefaultArgs: ['--mute-audio'],
    timeout: 30_000,
  });
  open.add(ctx);
  ctx.on('close', () => open.delete(ctx));
  return ctx;
}

/**
 * From now on every page of `ctx` asks getUserMedia for its microphone without echo cancellation,
 * noise suppression or gain control. Chromium runs that processing for all pages in its one audio
 * service process: 40-45% of a core for eight pages, which delayed their ICE consent answers by
 * seconds. Fake devices have no echo; but Chromium's fake beep is digital silence between beeps
 * once unprocessed, so pair this with a continuous fake microphone file (toneMicrophoneArgs) when
 * the node's audio load should be a real room's.
 */
export async function useRawMicrophone(ctx: BrowserContext): Promise<void> {
  await ctx.addInitScript({ content: RAW_MICROPHONE });
}

/** Chromium flags for a fake microphone that plays `freq` Hz without pause (a WAV file in `dir`). */
export function toneMicrophoneArgs(dir: string, freq = 440): string[] {
  const path = join(dir, `mic-${freq}hz.wav`);
  writePcmToneWav(path, freq, 10, 48000);
  return [`--use-file-for-fake-audio-capture=${path}`];
}

const RAW_MICROPHONE = `{
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const real = md.getUserMedia.bind(md);
    const raw = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
    md.getUserMedia = (c) => real(c && c.audio ? { ...c, audio: { ...(typeof c.audio === 'object' ? c.audio : {}), ...raw } } : c);
  }
}`;

/** Closes every context launched by this file's tests (bounded: a hung browser is not waited for). */
export async function closeBrowsers(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.allSettled(
    all.map((c) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise((r) => (timer = setTimeout(r, 5000)));
      return Promise.race([c.close(), bound]).finally(() => clearTimeout(timer));
    }),
  );
}

/** Opens the join page with `?alias=&name=` (it joins at once); page errors are kept for messages. */
export async function openJoinPage(ctx: BrowserContext, baseUrl: string, alias: string, name: string): Promise<JoinedPage> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(`${baseUrl}/?alias=${encodeURIComponent(alias)}&name=${encodeURIComponent(name)}`, { timeout: 10_000 });
  return { page, name, log };
}

export interface JoinedPage {
  page: Page;
  name: string;
  /** Console lines and page errors, for assertion messages. */
  log: string[];
}

export interface PageState {
  state: string;
  participantId: string | null;
  participants: Array<{ id: string; name: string; protocol: string; audio: boolean; video: boolean }>;
  error: { code: string; message: string } | null;
  note: string | null;
  activeSpeaker: string | null;
  connectionState: string | null;
  /** Every change of the page's connection state since its join, ms from join (last 20). */
  connectionLog: Array<{ state: string; at: number }>;
}

/** The parts of the page's RTCPeerConnection the tests read (the test build has no DOM types). */
interface StatsLike {
  forEach(cb: (s: Record<string, unknown>) => void): void;
}
interface PeerLike {
  connectionState: string;
  getStats(): Promise<StatsLike>;
}

export function pageState(p: JoinedPage): Promise<PageState> {
  return p.page.evaluate(() => {
    const c = (globalThis as unknown as { confnode: Record<string, unknown> & { pc: PeerLike | null } }).confnode;
    return {
      state: c.state as string,
      participantId: c.participantId as string | null,
      participants: c.participants as PageState['participants'],
      error: c.error as PageState['error'],
      note: c.note as string | null,
      activeSpeaker: c.activeSpeaker as string | null,
      connectionState: c.pc ? c.pc.connectionState : null,
      connectionLog: (c.connectionLog ?? []) as PageState['connectionLog'],
    };
  });
}

/** What one page receives from one remote participant, from its inbound-rtp stats. */
export interface RemoteMedia {
  participant: string;
  framesDecoded: number;
  frameWidth: number;
  videoPackets: number;
  audioPackets: number;
  totalSamplesReceived: number;
  audioLevel: number;
  totalAudioEnergy: number;
}

export interface MediaProof {
  /** ms from the page's join() to the moment every expected remote had frames and audio. */
  elapsedMs: number;
  /** ms from join() to the first decoded video frame of any remote. */
  firstFrameMs: number | null;
  remotes: RemoteMedia[];
}

/**
 * Polls the page's getStats() (remoteMediaSnapshot, every 100 ms) until `remotes` participants
 * each have decoded video frames (unless `video: false`) and received audio samples with energy;
 * rejects after `timeoutMs` with the last stats. Times are the page's own, from its join().
 */
export async function waitForRemoteMedia(p: JoinedPage, opts: { remotes: number; video?: boolean; timeoutMs?: number }): Promise<MediaProof> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const video = opts.video !== false;
  const sinceJoin = (): Promise<number> =>
    p.page.evaluate(() => {
      const c = (globalThis as unknown as { confnode: { timings: { start?: number } } }).confnode;
      return performance.now() - (c.timings.start ?? 0);
    });
  const deadline = Date.now() + timeoutMs;
  let firstFrameMs: number | null = null;
  let last: RemoteMedia[] = [];
  for (;;) {
    last = await remoteMediaSnapshot(p);
    if (firstFrameMs === null && last.some((r) => r.framesDecoded > 0)) firstFrameMs = await sinceJoin();
    const good = last.filter((r) => (!video || r.framesDecoded > 0) && r.totalSamplesReceived > 0 && (r.audioLevel > 0 || r.totalAudioEnergy > 0));
    if (good.length >= opts.remotes) return { elapsedMs: await sinceJoin(), firstFrameMs, remotes: last };
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const state = await pageState(p).catch(() => undefined);
  throw new Error(
    `${p.name}: expected media from ${opts.remotes} remote participant(s) within ${timeoutMs} ms; ` +
      `inbound stats: ${JSON.stringify(last)}; page: ${JSON.stringify(state)}; log: ${p.log.slice(-10).join(' | ')}`,
  );
}

/** Names on the remote tiles of the page (the DOM the user sees), self excluded. */
export function remoteTileNames(p: JoinedPage): Promise<string[]> {
  return p.page.$$eval('.tile:not(.self) .name', (els) => els.map((e) => e.textContent ?? '').sort());
}

/** One getStats() of the page: what it has received so far from each remote participant. */
export async function remoteMediaSnapshot(p: JoinedPage): Promise<RemoteMedia[]> {
  return p.page.evaluate(async () => {
    const c = (globalThis as unknown as { confnode: { pc: PeerLike | null; trackOwner: Record<string, string> } }).confnode;
    const byOwner = new Map<string, RemoteMedia>();
    if (!c.pc) return [];
    const stats = await c.pc.getStats();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const owner = c.trackOwner[String(s.trackIdentifier)] ?? `?${String(s.trackIdentifier)}`;
      const r = byOwner.get(owner) ?? {
        participant: owner,
        framesDecoded: 0,
        frameWidth: 0,
        videoPackets: 0,
        audioPackets: 0,
        totalSamplesReceived: 0,
        audioLevel: 0,
        totalAudioEnergy: 0,
      };
      if (s.kind === 'video') {
        r.framesDecoded += Number(s.framesDecoded ?? 0);
        r.frameWidth = Math.max(r.frameWidth, Number(s.frameWidth ?? 0));
        r.videoPackets += Number(s.packetsReceived ?? 0);
      } else if (s.kind === 'audio') {
        r.audioPackets += Number(s.packetsReceived ?? 0);
        r.totalSamplesReceived += Number(s.totalSamplesReceived ?? 0);
        r.audioLevel = Math.max(r.audioLevel, Number(s.audioLevel ?? 0));
        r.totalAudioEnergy += Number(s.totalAudioEnergy ?? 0);
      }
      byOwner.set(owner, r);
    });
    return [...byOwner.values()];
  });
}

/**
 * Waits until media from each of `owners` is flowing now, not just received once: between two
 * getStats() polls its decoded frames grew (unless `video: false`) and its audio samples and energy
 * grew. Growth, unlike a positive counter, cannot come from a stats object left over from an
 * earlier stream on a reused transceiver. Rejects after `timeoutMs` naming the owners still silent.
 */
/** Audio RTP packets the page has sent so far (its outbound-rtp stats). */
export function audioPacketsSent(p: JoinedPage): Promise<number> {
  return p.page.evaluate(async () => {
    const pc = (globalThis as unknown as { confnode: { pc: PeerLike | null } }).confnode.pc;
    let n = 0;
    if (pc) {
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'audio') n += Number(r.packetsSent ?? 0);
      });
    }
    return n;
  });
}

export async function waitForFlowingMedia(
  p: JoinedPage,
  owners: string[],
  opts: { video?: boolean; timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 500;
  const video = opts.video !== false;
  const deadline = Date.now() + timeoutMs;
  const flowing = new Set<string>();
  let prev = new Map((await remoteMediaSnapshot(p)).map((r) => [r.participant, r]));
  let last: RemoteMedia[] = [];
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await remoteMediaSnapshot(p);
    for (const r of last) {
      const before = prev.get(r.participant);
      if (!before) continue;
      const frames = r.framesDecoded > before.framesDecoded;
      const audio = r.totalSamplesReceived > before.totalSamplesReceived && r.totalAudioEnergy > before.totalAudioEnergy;
      if ((frames || !video) && audio) flowing.add(r.participant);
    }
    if (owners.every((o) => flowing.has(o))) return;
    prev = new Map(last.map((r) => [r.participant, r]));
  }
  const silent = owners.filter((o) => !flowing.has(o));
  const state = await pageState(p).catch(() => undefined);
  throw new Error(
    `${p.name}: media from ${silent.join(', ')} did not flow within ${timeoutMs} ms; ` +
      `inbound stats: ${JSON.stringify(last)}; page: ${JSON.stringify(state)}; log: ${p.log.slice(-10).join(' | ')}`,
  );
}

/** openJoinPage() with extra join-page URL options, e.g. `{ video: 'small' }` (320x240 at 15 fps). */
export async function openJoinPageWith(
  ctx: BrowserContext,
  baseUrl: string,
  alias: string,
  name: string,
  options: Record<string, string>,
): Promise<JoinedPage> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  const query = new URLSearchParams({ alias, name, ...options });
  // 20 s: with seven pages already decoding video on two cores, Chromium once took over 10 s to
  // load an eighth (the room test); a page that never loads still fails here.
  await page.goto(`${baseUrl}/?${query.toString()}`, { timeout: 20_000 });
  return { page, name, log };
}

/**
 * launchBrowser() with every Chromium process at nice `niceness` (a wrapper script in `dir`
 * execs `nice -n N /usr/bin/chromium`; children inherit it). Many pages stand in for many
 * machines: on two shared cores they must yield to the node under test, or the node's media
 * thread starves, its sockets overflow and ICE consent (RFC 7675) expires for reasons that are
 * the test's, not the node's.
 */
export async function launchBrowserNiced(dir: string, niceness: number, extraArgs: string[] = []): Promise<BrowserContext> {
  requireChromium();
  const wrapper = join(dir, 'chromium-niced.sh');
  const n = Math.trunc(niceness);
  // Playwright starts Chromium in its own session, and Linux autogroup scheduling (on by default)
  // shares CPU between sessions before nice ranks threads inside one: nice alone leaves the node
  // a fair share only. Chromium run as root also lifts its display threads to nice -8. So the
  // session's autogroup is niced too (lowering one's own priority needs no privilege).
  writeFileSync(wrapper, `#!/bin/sh\necho ${n} > /proc/self/autogroup 2>/dev/null\nexec nice -n ${n} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  return launchBrowser(dir, extraArgs, wrapper);
}
