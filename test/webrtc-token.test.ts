/**
 * Who may join (issue 12 item 6): a room with `require_token` refuses a headless Chromium that
 * brings no join token (WebSocket error 'token', an admin log entry, the refusal counted), and
 * admits one that opens the invitation link minted by `scripts/token` (its CLI, dist/node/token-cli.js)
 * with the token's name and role, as /api/v1/participants shows. A tampered token is refused too.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, type JoinedPage } from './helpers/browser';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NodeUnderTest, REPO_ROOT } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(90_000);

const TOKEN_SECRET = 'join-token-secret-for-tests-0123456789';

let dir: string;
let config: NodeConfig;
let node: NodeUnderTest;
let ctx: BrowserContext;

beforeAll(async () => {
  dir = makeTempDir('token');
  config = await writeNodeConfig({
    dir,
    vmrs: [
      { name: 'board', aliases: ['board'], requireToken: true },
      { name: 'meet', aliases: ['meet'] },
    ],
    extraYaml: [`join_tokens: { secret: "${TOKEN_SECRET}" }`],
  });
  node = await NodeUnderTest.start(config);
  node.proc.onLine((line) => appendFileSync(join(dir, 'node.log'), `${line}\n`));
  ctx = await launchBrowser(dir);
});

afterAll(async () => {
  await closeBrowsers();
  if (node?.alive) await node.terminate(5000).catch(() => undefined);
  await killAll();
});

/** What scripts/token runs: mints a token and its invitation link from the config. */
function mintWithCli(args: string[]): { token: string; url: string; expires: string } {
  const res = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'node', 'token-cli.js'), '--config', config.path, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (res.status !== 0) throw new Error(`token CLI exit ${String(res.status)}: ${res.stderr}`);
  return JSON.parse(res.stdout) as { token: string; url: string; expires: string };
}

async function pageAt(url: string, name: string): Promise<JoinedPage> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(url, { timeout: 10_000 });
  return { page, name, log };
}

async function refusedWith(p: JoinedPage): Promise<{ code: string; message: string }> {
  return waitFor(`${p.name} to be refused`, async () => {
    const s = await pageState(p);
    if (s.state === 'joined') throw new Error(`${p.name} joined, but should have been refused`);
    return s.error ?? undefined;
  }, 15_000, 100);
}

async function metricValue(reason: string): Promise<number> {
  const text = await (await fetch(`${node.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('confnode_join_tokens_refused_total{') && l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

it('a join without a token to a room that requires one is refused with a clear error, logged and counted', async () => {
  const p = await openJoinPage(ctx, node.baseUrl, 'board', 'Ann');
  const error = await refusedWith(p);
  expect(error.code).toBe('token');
  expect(error.message).toMatch(/invitation/);
  expect(await node.participantsOf('board')).toEqual([]);
  const log = await node.getJson<Array<{ message: string; conference?: string; reason?: string }>>('/api/v1/log?conference=board');
  expect(log.at(-1)).toMatchObject({ conference: 'board', reason: 'missing', message: expect.stringMatching(/^Browser refused: no join token/) });
  expect(await metricValue('missing')).toBe(1);
  await p.page.close();
});

it("with the invitation link from scripts/token the browser joins with the token's name and role", async () => {
  const minted = mintWithCli(['--room', 'board', '--name', 'Grace Hopper', '--role', 'host', '--ttl', '600']);
  expect(minted.url).toBe(`http://127.0.0.1:${config.httpPort}/?alias=board&token=${minted.token}`);
  const p = await pageAt(minted.url, 'Grace');
  const state = await waitFor('the invited page to join', async () => {
    const s = await pageState(p);
    if (s.error) throw new Error(`refused: ${JSON.stringify(s.error)}; log: ${p.log.join(' | ')}`);
    return s.state === 'joined' && s.participantId ? s : undefined;
  }, 30_000, 100);
  const [me] = await node.participantsOf('board');
  expect(me).toMatchObject({ id: state.participantId, protocol: 'webrtc', displayName: 'Grace Hopper', role: 'host' });
  // The page shows the token's name on its own tile and in the (read-only) name field.
  expect(await p.page.textContent('.tile.self .name')).toBe('Grace Hopper (you)');
  expect(await p.page.inputValue('#name')).toBe('Grace Hopper');
  await p.page.close();
});

it('a tampered token and a token for another room are refused with the token error, each counted by reason', async () => {
  const minted = mintWithCli(['--room', 'board', '--name', 'Eve', '--role', 'host']);
  // The signature's first character carries six bits of it (the last one may carry only padding).
  const [h, b, sig = ''] = minted.token.split('.');
  const tampered = `${h}.${b}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
  const p1 = await pageAt(`${node.baseUrl}/?alias=board&token=${tampered}`, 'tampered');
  expect(await refusedWith(p1)).toMatchObject({ code: 'token', message: expect.stringMatching(/not signed by this service/) });
  const other = mintWithCli(['--room', 'meet', '--name', 'Mallory', '--role', 'guest']);
  const p2 = await pageAt(`${node.baseUrl}/?alias=board&token=${other.token}`, 'other-room');
  expect(await refusedWith(p2)).toMatchObject({ code: 'token', message: expect.stringMatching(/for room 'meet', not 'board'/) });
  expect(await metricValue('signature')).toBe(1);
  expect(await metricValue('wrong-room')).toBe(1);
  // Tokens are never written to the node's log or the admin log.
  const adminLog = JSON.stringify(await node.getJson<unknown>('/api/v1/log'));
  for (const t of [minted.token, tampered, other.token]) {
    expect(adminLog).not.toContain(t);
    expect(node.proc.stdout).not.toContain(t.split('.')[2]);
  }
  expect(node.proc.stdout + node.proc.stderr).not.toContain(TOKEN_SECRET);
});
