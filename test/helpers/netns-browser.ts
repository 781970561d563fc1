/**
 * A browser and a video-capable baresip for plans run inside `unshare -n` (netns.ts): writes a
 * baresip config with Opus + H.264 (avcodec, fakevideo camera) and a plain-JS Chromium script
 * that joins the page, polls getStats() and writes what it received to a JSON file. The script
 * runs as a plan process inside the namespace; it must never outlive its own deadline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from './browser';
import { REPO_ROOT } from './node-process';

export interface BaresipVideoOptions {
  dir: string;
  user: string;
  sipPort: number;
  rtp: { min: number; max: number };
  /** ausine tone baresip sends as its own audio. */
  toneHz: number;
}

/** Writes `config` + `accounts` for baresip 1.0 with Opus audio and H.264 video; returns the dir. */
export function writeBaresipVideoConfig(o: BaresipVideoOptions): string {
  mkdirSync(join(o.dir, 'rec'), { recursive: true });
  const config = [
    '# baresip 1.0.0 headless Opus + H.264 config written by test/helpers/netns-browser.ts',
    'poll_method\t\tepoll',
    `sip_listen\t\t127.0.0.1:${o.sipPort}`,
    'net_interface\t\t127.0.0.1',
    'call_local_timeout\t120',
    'call_max_calls\t\t4',
    `audio_source\t\tausine,${o.toneHz}`,
    'audio_player\t\taubridge,spk',
    'audio_alert\t\taubridge,spk',
    'ausrc_format\t\ts16',
    'auplay_format\t\ts16',
    'audio_buffer\t\t20-160',
    'video_source\t\tfakevideo,nil',
    'video_display\t\tfakevideo,nil',
    'video_size\t\t352x288',
    'video_bitrate\t\t500000',
    'video_fps\t\t15.00',
    `rtp_ports\t\t${o.rtp.min}-${o.rtp.max}`,
    'rtcp_mux\t\tno',
    'jitter_buffer_delay\t5-10',
    'rtp_stats\t\tyes',
    'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tstdio.so',
    'module\t\t\topus.so',
    'module\t\t\tausine.so',
    'module\t\t\taubridge.so',
    'module\t\t\tfakevideo.so',
    'module\t\t\tavcodec.so',
    'module\t\t\trtcpsummary.so',
    'module\t\t\tsndfile.so',
    'module_tmp\t\tuuid.so',
    'module_tmp\t\taccount.so',
    'module_app\t\tcontact.so',
    'module_app\t\tmenu.so',
    'module_app\t\tdebug_cmd.so',
    `snd_path\t\t${join(o.dir, 'rec')}`,
    '',
  ].join('\n');
  writeFileSync(join(o.dir, 'config'), config);
  // No video_codecs filter: baresip 1.0 keeps only the FIRST codec of a listed name, which for
  // H264 is avcodec's packetization-mode=0 variant; unfiltered it offers pm=0 (PT 96) AND pm=1.
  writeFileSync(join(o.dir, 'accounts'), `<sip:${o.user}@127.0.0.1:${o.sipPort}>;regint=0;audio_codecs=opus/48000/2\n`);
  return o.dir;
}

/** What the page received from one remote participant (inbound-rtp stats summed per owner). */
export interface BrowserRemote {
  participant: string;
  framesDecoded: number;
  frameWidth: number;
  videoPackets: number;
  videoCodec: string;
  audioPackets: number;
  totalSamplesReceived: number;
  audioLevel: number;
  totalAudioEnergy: number;
}

export interface BrowserResult {
  ok: boolean;
  error?: string;
  /** ms from page open until the media condition held (or the wait ended). */
  waitedMs: number;
  state: unknown;
  remotes: BrowserRemote[];
  /** Outbound-rtp summary: what the browser sent (proves its camera and microphone ran). */
  outbound: Array<{ kind: string; packetsSent: number; framesEncoded: number; codec: string }>;
  log: string[];
}

export interface BrowserScriptOptions {
  dir: string;
  baseUrl: string;
  alias: string;
  name: string;
  resultFile: string;
  /** How long to wait for decoded video + audible audio from `remotes` participants. */
  mediaTimeoutMs: number;
  /** Stay in the conference this long after media arrived (the SIP peer records meanwhile). */
  holdMs: number;
  /** Hard limit for the whole script. */
  deadlineMs: number;
}

/**
 * The in-page stats probe, as source text (runs in Chromium; no DOM types in the test build).
 * Sums inbound-rtp per owning participant (page hook trackOwner) and lists outbound-rtp.
 */
const PROBE = `async () => {
  const c = globalThis.confnode;
  const out = { state: c ? c.state : null, participantId: c ? c.participantId : null,
    connectionState: c && c.pc ? c.pc.connectionState : null, remotes: [], outbound: [] };
  if (!c || !c.pc) return out;
  const stats = await c.pc.getStats();
  const codecs = new Map();
  stats.forEach((s) => { if (s.type === 'codec') codecs.set(s.id, s.mimeType); });
  const by = new Map();
  stats.forEach((s) => {
    if (s.type === 'outbound-rtp') {
      out.outbound.push({ kind: s.kind, packetsSent: Number(s.packetsSent || 0),
        framesEncoded: Number(s.framesEncoded || 0), codec: codecs.get(s.codecId) || '' });
    }
    if (s.type !== 'inbound-rtp') return;
    const owner = (c.trackOwner && c.trackOwner[String(s.trackIdentifier)]) || ('?' + String(s.trackIdentifier));
    const r = by.get(owner) || { participant: owner, framesDecoded: 0, frameWidth: 0, videoPackets: 0,
      videoCodec: '', audioPackets: 0, totalSamplesReceived: 0, audioLevel: 0, totalAudioEnergy: 0 };
    if (s.kind === 'video') {
      r.framesDecoded += Number(s.framesDecoded || 0);
      r.frameWidth = Math.max(r.frameWidth, Number(s.frameWidth || 0));
      r.videoPackets += Number(s.packetsReceived || 0);
      r.videoCodec = codecs.get(s.codecId) || r.videoCodec;
    } else if (s.kind === 'audio') {
      r.audioPackets += Number(s.packetsReceived || 0);
      r.totalSamplesReceived += Number(s.totalSamplesReceived || 0);
      r.audioLevel = Math.max(r.audioLevel, Number(s.audioLevel || 0));
      r.totalAudioEnergy += Number(s.totalAudioEnergy || 0);
    }
    by.set(owner, r);
  });
  out.remotes = [...by.values()];
  return out;
}`;

/**
 * Writes a plain CommonJS script (run with node inside the namespace) that launches Chromium,
 * joins `alias` as `name`, waits for media, holds, writes a BrowserResult to `resultFile`,
 * prints `BROWSER-DONE` and then waits for `quit` on stdin (or its deadline) before closing.
 */
export function writeBrowserScript(o: BrowserScriptOptions): string {
  const settings = {
    playwright: join(REPO_ROOT, 'node_modules', 'playwright-core'),
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    profile: join(o.dir, 'chromium-profile'),
    url: `${o.baseUrl}/?alias=${encodeURIComponent(o.alias)}&name=${encodeURIComponent(o.name)}`,
    resultFile: o.resultFile,
    mediaTimeoutMs: o.mediaTimeoutMs,
    holdMs: o.holdMs,
    deadlineMs: o.deadlineMs,
  };
  const script = `'use strict';
// Generated by test/helpers/netns-browser.ts: one Chromium page in the conference, stats to JSON.
const fs = require('node:fs');
const S = ${JSON.stringify(settings, null, 2)};
const { chromium } = require(S.playwright);
const PROBE = ${PROBE};
const log = [];
let ctx;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hardStop = setTimeout(() => { log.push('deadline'); finish(false, 'script deadline passed'); }, S.deadlineMs);
let written = false;
let last = { state: null, remotes: [], outbound: [] };
let t0 = Date.now();
let waited = 0;
function write(ok, error) {
  if (written) return;
  written = true;
  fs.writeFileSync(S.resultFile, JSON.stringify({ ok, error, waitedMs: waited, state: { state: last.state,
    participantId: last.participantId, connectionState: last.connectionState }, remotes: last.remotes,
    outbound: last.outbound, log: log.slice(-40) }, null, 2));
  console.log('BROWSER-DONE ' + (ok ? 'ok' : 'failed: ' + error));
}
async function finish(ok, error) {
  write(ok, error);
  clearTimeout(hardStop);
  if (ctx) await Promise.race([ctx.close().catch(() => undefined), sleep(5000)]);
  process.exit(0);
}
async function main() {
  ctx = await chromium.launchPersistentContext(S.profile, { executablePath: S.executablePath, headless: true,
    args: S.args, ignoreDefaultArgs: ['--mute-audio'], timeout: 30000 });
  const page = await ctx.newPage();
  page.on('console', (m) => log.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => log.push('pageerror: ' + e.message));
  t0 = Date.now();
  await page.goto(S.url, { timeout: 10000 });
  const good = (r) => r.framesDecoded > 0 && r.totalSamplesReceived > 0 && r.audioLevel > 0;
  for (;;) {
    last = await page.evaluate(PROBE);
    waited = Date.now() - t0;
    if (last.remotes.some(good)) break;
    if (waited > S.mediaTimeoutMs) break;
    await sleep(200);
  }
  await sleep(S.holdMs);
  last = await page.evaluate(PROBE);
  write(last.remotes.some(good), last.remotes.some(good) ? undefined : 'no remote with decoded video and audible audio');
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { if (String(d).includes('quit')) void finish(true); });
  process.stdin.on('end', () => void finish(true));
}
main().catch((e) => finish(false, String(e && e.stack || e)));
process.on('SIGTERM', () => void finish(false, 'SIGTERM'));
`;
  const path = join(o.dir, 'browser-driver.js');
  writeFileSync(path, script);
  return path;
}
