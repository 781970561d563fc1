/**
 * Bad input and refusals on the browser signaling path (DESIGN.md section 8, issue 3 item 6)
 * against a real node process: raw WebSocket clients send invalid JSON, unknown types, oversized
 * and binary frames (error message, then close 1008, node still serving); the join page shows
 * clear text for an unknown room, a full room and a PIN-protected room.
 */
import WebSocket from 'ws';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(60_000);

let dir: string;
let node: NodeUnderTest;
let ctx: BrowserContext;
const ADMIN_TOKEN = 'admin-token-0123456789';

beforeAll(async () => {
  dir = makeTempDir('webrtc-errors');
  const config = await writeNodeConfig({
    dir,
    vmrs: [
      { name: 'meet', aliases: ['meet'] },
      { name: 'tiny', aliases: ['tiny'], maxParticipants: 1 },
      { name: 'locked', aliases: ['locked'], hostPin: '1234', guestPin: '5678' },
    ],
    adminToken: ADMIN_TOKEN,
  });
  node = await NodeUnderTest.start(config);
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
});

interface RawResult {
  messages: Array<Record<string, unknown>>;
  close: { code: number; reason: string };
}

/** Opens /ws, sends `frames` in order, and collects what comes back until the server closes. */
function rawSession(frames: Array<string | Buffer>, timeoutMs = 5000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.config.httpPort}/ws`);
    const messages: Array<Record<string, unknown>> = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`the server did not close within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
    }, timeoutMs);
    ws.on('open', () => {
      for (const f of frames) ws.send(f);
    });
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ messages, close: { code, reason: String(reason) } });
    });
  });
}

describe('raw WebSocket clients: bad input -> {type:error, code:bad-message} then close 1008', () => {
  it.each([
    ['invalid JSON', '{"type": "join", '],
    ['an unknown type', JSON.stringify({ type: 'subscribe', topic: 'all' })],
    ['a join with a wrong field type', JSON.stringify({ type: 'join', alias: 'meet', name: 42 })],
    ['an offer before join', JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' })],
    ['a message over 64 KB', JSON.stringify({ type: 'join', alias: 'meet', name: 'x'.repeat(70 * 1024) })],
    ['a binary frame', Buffer.from(JSON.stringify({ type: 'leave' }))],
  ])('%s', async (_what, frame) => {
    const r = await rawSession([frame]);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]).toMatchObject({ type: 'error', code: 'bad-message' });
    expect(r.close.code).toBe(1008);
  });

  it('an unknown alias -> not-found and close; a PIN-protected room -> pin-required, a PIN not of digits -> bad-message, the host PIN joins', async () => {
    const missing = await rawSession([JSON.stringify({ type: 'join', alias: 'nosuchroom', name: 'Ann' })]);
    expect(missing.messages).toEqual([{ type: 'error', code: 'not-found', message: expect.stringContaining('nosuchroom') }]);
    const locked = await rawSession([JSON.stringify({ type: 'join', alias: 'locked', name: 'Ann' })]);
    expect(locked.messages).toEqual([{ type: 'error', code: 'pin-required', message: expect.stringContaining('PIN') }]);
    const nonDigits = await rawSession([JSON.stringify({ type: 'join', alias: 'locked', name: 'Ann', pin: '12a4' })]);
    expect(nonDigits.messages).toEqual([{ type: 'error', code: 'bad-message', message: expect.stringContaining('pin') }]);
    const host = await rawSession([JSON.stringify({ type: 'join', alias: 'locked', name: 'Hal', pin: '1234' }), JSON.stringify({ type: 'leave' })]);
    expect(host.messages[0]).toMatchObject({ type: 'joined', conference: 'locked' });
    await waitFor('locked to be empty again', async () => ((await node.participants()).length === 0 ? true : undefined), 5000, 100);
    expect(await node.participants()).toEqual([]);
  });

  it('resume with an unknown token -> resume-failed and close 4001; a malformed token or a ping first -> bad-message and close 1008', async () => {
    const unknown = await rawSession([JSON.stringify({ type: 'resume', token: 'A'.repeat(32), lastSeq: 0 })]);
    expect(unknown.messages).toEqual([{ type: 'error', code: 'resume-failed', message: expect.stringMatching(/join again/) }]);
    expect(unknown.close.code).toBe(4001);
    const malformed = await rawSession([JSON.stringify({ type: 'resume', token: '../../etc', lastSeq: -1 })]);
    expect(malformed.messages).toEqual([{ type: 'error', code: 'bad-message', message: expect.stringContaining('token') }]);
    expect(malformed.close.code).toBe(1008);
    const ping = await rawSession([JSON.stringify({ type: 'ping' })]);
    expect(ping.messages[0]).toMatchObject({ type: 'error', code: 'bad-message' });
    expect(ping.close.code).toBe(1008);
  });

  it('after all that the node still serves HTTP and WebSocket joins', async () => {
    expect(node.alive).toBe(true);
    expect((await fetch(`${node.baseUrl}/healthz`)).status).toBe(200);
    // A join that is accepted then left: joined, participants, then a clean close.
    const r = await rawSession([JSON.stringify({ type: 'join', alias: 'meet', name: 'Raw' }), JSON.stringify({ type: 'leave' })]);
    expect(r.messages[0]).toMatchObject({ type: 'joined', conference: 'meet', videoCodec: 'H264' });
    expect(r.close.code).toBe(1000);
    await waitFor('meet to be empty again', async () => ((await node.participants()).length === 0 ? true : undefined), 5000, 100);
  });
});

describe('the join page shows refusals as text', () => {
  beforeAll(async () => {
    ctx = await launchBrowser(dir);
  });

  it('unknown room', async () => {
    const p = await openJoinPage(ctx, node.baseUrl, 'nosuchroom', 'Ann');
    await waitFor('the error text', async () => ((await p.page.isVisible('#error')) ? true : undefined), 10_000, 100);
    expect(await p.page.textContent('#error')).toBe('There is no room called "nosuchroom". Check the room name.');
    expect((await pageState(p)).error?.code).toBe('not-found');
    // The form is back so the user can fix the room name.
    expect(await p.page.isVisible('#join-form')).toBe(true);
    await p.page.close();
  });

  it('full room: the second browser is told the room is full', async () => {
    const first = await openJoinPage(ctx, node.baseUrl, 'tiny', 'First');
    await waitFor('First to join', async () => ((await pageState(first)).participantId ? true : undefined), 10_000, 100);
    const second = await openJoinPage(ctx, node.baseUrl, 'tiny', 'Second');
    await waitFor('the error text', async () => ((await second.page.isVisible('#error')) ? true : undefined), 10_000, 100);
    expect(await second.page.textContent('#error')).toMatch(/room is full/);
    await Promise.all([first.page.close(), second.page.close()]);
  });

  it('PIN-protected room: the page asks for the PIN, refuses a wrong one, joins with the guest PIN (role guest)', async () => {
    const p = await openJoinPage(ctx, node.baseUrl, 'locked', 'Ann');
    await waitFor('the error text', async () => ((await p.page.isVisible('#error')) ? true : undefined), 10_000, 100);
    expect(await p.page.textContent('#error')).toMatch(/needs a PIN/);
    expect(await p.page.isVisible('#pin')).toBe(true);
    await p.page.fill('#pin', '9999');
    await p.page.click('#join');
    await waitFor('the wrong-PIN text', async () => ((await pageState(p)).error?.code === 'pin-invalid' ? true : undefined), 10_000, 100);
    expect(await p.page.textContent('#error')).toMatch(/PIN was not accepted: wrong PIN/);
    expect(await node.participantsOf('locked')).toEqual([]);
    await p.page.fill('#pin', '5678');
    await p.page.click('#join');
    const id = await waitFor('Ann to join with the PIN', async () => (await pageState(p)).participantId ?? undefined, 10_000, 100);
    // The PIN never reaches the address bar.
    expect(p.page.url()).not.toMatch(/5678/);
    const [me] = await node.participantsOf('locked');
    expect(me).toMatchObject({ id, protocol: 'webrtc', role: 'guest' });
    await p.page.close();
    await waitFor('locked to be empty', async () => ((await node.participantsOf('locked')).length === 0 ? true : undefined), 5000, 100);
  });

  it('admin hangup (DELETE /api/v1/participants/{id}): the page says the call was ended, the node lists nobody', async () => {
    const p = await openJoinPage(ctx, node.baseUrl, 'meet', 'Kicked');
    const id = await waitFor('Kicked to join', async () => (await pageState(p)).participantId ?? undefined, 10_000, 100);
    const res = await fetch(`${node.baseUrl}/api/v1/participants/${id}`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    await waitFor('the error text', async () => ((await p.page.isVisible('#error')) ? true : undefined), 5000, 100);
    expect(await p.page.textContent('#error')).toBe('The call was ended: removed by the administrator.');
    await waitFor('nobody in the node', async () => ((await node.participants()).length === 0 ? true : undefined), 5000, 100);
    await p.page.close();
  });

  it('the admin page from elsewhere (here: through a proxy) asks for the admin token, then lists and hangs up participants', async () => {
    const p = await openJoinPage(ctx, node.baseUrl, 'meet', 'Remote');
    const id = await waitFor('Remote to join', async () => (await pageState(p)).participantId ?? undefined, 10_000, 100);
    const admin = await ctx.newPage();
    try {
      await admin.setExtraHTTPHeaders({ 'x-forwarded-for': '203.0.113.7' });
      await admin.goto(`${node.baseUrl}/admin`);
      await waitFor('the token form', async () => ((await admin.isVisible('#token-form')) ? true : undefined), 5000, 100);
      expect(await admin.textContent('#status')).toMatch(/admin token required/);
      await admin.fill('#token', ADMIN_TOKEN);
      await admin.click('#token-form button');
      await waitFor('Remote in the admin table', async () => ((await admin.textContent('#participants'))?.includes('Remote') ? true : undefined), 5000, 100);
      expect(await admin.isVisible('#token-form')).toBe(false);
      admin.on('dialog', (d) => void d.accept());
      await admin.click('#participants button');
      await waitFor('the page to be ended', async () => ((await p.page.isVisible('#error')) ? true : undefined), 5000, 100);
      expect(await p.page.textContent('#error')).toBe('The call was ended: removed by the administrator.');
      expect((await node.participants()).map((x) => x.id)).not.toContain(id);
    } finally {
      await admin.close();
      await p.page.close();
    }
  });

  it('no camera: the page joins with audio only and says so', async () => {
    // A page whose getUserMedia finds no camera: video requests fail, audio works.
    const page = await ctx.newPage();
    await page.addInitScript(() => {
      const md = (globalThis as unknown as { navigator: { mediaDevices: { getUserMedia(c: { video?: unknown }): Promise<unknown> } } }).navigator.mediaDevices;
      const real = md.getUserMedia.bind(md);
      md.getUserMedia = (c) => (c.video ? Promise.reject(Object.assign(new Error('Requested device not found'), { name: 'NotFoundError' })) : real(c));
    });
    await page.goto(`${node.baseUrl}/?alias=meet&name=NoCam`);
    await waitFor('the note', async () => ((await page.isVisible('#note')) ? true : undefined), 10_000, 100);
    expect(await page.textContent('#note')).toMatch(/No camera available \(NotFoundError\): you joined with audio only/);
    const list = await waitFor('NoCam in the node', async () => (await node.participantsOf('meet')).find((x) => x.protocol === 'webrtc'), 10_000, 100);
    expect(list.protocol).toBe('webrtc');
    await page.close();
  });

  // Last: it ends the node.
  it('connection lost (node killed): the page tries to resume ("Reconnecting…"), then says the connection was lost', async () => {
    const p = await openJoinPage(ctx, node.baseUrl, 'meet', 'Lost');
    // Joined with media up: a page killed before its media connected fails media instead (another test).
    await waitFor('Lost to join with media connected', async () => {
      const st = await pageState(p);
      return st.participantId && st.connectionState === 'connected' ? true : undefined;
    }, 10_000, 100);
    node.proc.kill('SIGKILL');
    await waitFor('the page to try to resume', async () => ((await p.page.textContent('#status'))?.startsWith('Reconnecting') ? true : undefined), 5000, 50);
    expect(await p.page.isVisible('#error')).toBe(false);
    // The page tries for 18 s (RESUME_MS in app.js): no node answers, so it gives up.
    await waitFor('the error text', async () => ((await p.page.isVisible('#error')) ? true : undefined), 25_000, 200);
    expect(await p.page.textContent('#error')).toBe('The connection to the server was lost.');
    expect((await pageState(p)).state).toBe('error');
  });
});
