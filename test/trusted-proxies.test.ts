/**
 * Reverse proxies (issue 12 item 3) against a real node process: `http.trusted_proxies` names
 * 127.0.0.2. A WebSocket from 127.0.0.1 that sends X-Forwarded-For or Forwarded is keyed by its
 * own address for the PIN lockout (the header is ignored); one from 127.0.0.2 is keyed by the
 * client its header names (rightmost untrusted hop), so one browser's wrong PINs behind a proxy
 * do not lock out everyone else behind it, and the API shows the real client.
 */
import WebSocket from 'ws';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest, type ParticipantView } from './helpers/node-process';
import { killAll } from './helpers/proc';
import { rmSync } from 'node:fs';

jest.setTimeout(60_000);

const PROXY = '127.0.0.2';
const DIRECT = '127.0.0.1';
const ADMIN_TOKEN = 'admin-token-0123456789';
let dir: string;
let node: NodeUnderTest;

beforeAll(async () => {
  dir = makeTempDir('trusted-proxies');
  const config = await writeNodeConfig({
    dir,
    vmrs: [
      { name: 'locked', aliases: ['locked'], hostPin: '1234' },
      { name: 'other', aliases: ['other'], hostPin: '1234' },
    ],
    adminToken: ADMIN_TOKEN,
    extraYaml: [`http: { trusted_proxies: ["${PROXY}"] }`],
  });
  node = await NodeUnderTest.start(config);
});

afterAll(async () => {
  await killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Attempt {
  first: Record<string, unknown> | undefined;
  ws: WebSocket;
}

/**
 * A join to `alias` with `pin` from the local address `from`, with extra `headers`; resolves
 * with the first message the node sends (joined or error). The socket stays open for the caller.
 */
function join(from: string, headers: Record<string, string>, pin: string, alias = 'locked', timeoutMs = 5000): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.config.httpPort}/ws`, { localAddress: from, headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no reply from the node within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', alias, name: 'Pat', pin })));
    ws.on('message', (d) => {
      clearTimeout(timer);
      resolve({ first: JSON.parse(String(d)) as Record<string, unknown>, ws });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A wrong PIN from `from` with `headers`: the refusal's text ("wrong PIN (N more before a pause)"). */
async function wrongPin(from: string, headers: Record<string, string>, alias = 'locked'): Promise<string> {
  const a = await join(from, headers, '0000', alias);
  a.ws.close();
  expect(a.first).toMatchObject({ type: 'error', code: 'pin-invalid' });
  return String(a.first?.message);
}

async function adminGet<T>(path: string): Promise<T> {
  const res = await fetch(`${node.baseUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(3000) });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('http.trusted_proxies: who the PIN lockout keys on', () => {
  it('a peer that is not a trusted proxy is keyed by its own address whatever X-Forwarded-For or Forwarded says', async () => {
    expect(await wrongPin(DIRECT, { 'x-forwarded-for': '198.51.100.1' }, 'other')).toMatch(/4 more/);
    expect(await wrongPin(DIRECT, { 'x-forwarded-for': '198.51.100.2' }, 'other')).toMatch(/3 more/);
    expect(await wrongPin(DIRECT, { forwarded: 'for=198.51.100.3' }, 'other')).toMatch(/2 more/);
    expect(await wrongPin(DIRECT, {}, 'other')).toMatch(/1 more/);
  });

  it('behind the trusted proxy each client has its own count (rightmost untrusted hop); one locked-out client does not lock out the others', async () => {
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '198.51.100.1' })).toMatch(/4 more/);
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '198.51.100.1' })).toMatch(/3 more/);
    // What the client put in front of the proxy's own entry is never believed.
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '203.0.113.99, 198.51.100.1' })).toMatch(/2 more/);
    expect(await wrongPin(PROXY, { forwarded: 'for="198.51.100.1:4711";proto=https' })).toMatch(/1 more/);
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '198.51.100.1' })).toMatch(/too many wrong PINs/);
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '198.51.100.1' })).toMatch(/too many wrong PINs from your address/);
    // Another browser behind the same proxy, and the proxy's own address, are not locked out.
    expect(await wrongPin(PROXY, { 'x-forwarded-for': '203.0.113.5' })).toMatch(/4 more/);
    expect(await wrongPin(PROXY, {})).toMatch(/4 more/);

    const log = await adminGet<Array<{ message: string; conference?: string; from?: string }>>('/api/v1/log?conference=locked');
    expect(log.filter((e) => e.message === 'Browser refused: wrong PIN').map((e) => e.from)).toEqual(
      expect.arrayContaining(['ws:198.51.100.1:0', 'ws:198.51.100.1:4711', 'ws:203.0.113.5:0', expect.stringMatching(/^ws:127\.0\.0\.2:\d+$/)]),
    );
  });

  it('a browser behind the trusted proxy joins with the right PIN and the API shows its own address', async () => {
    const a = await join(PROXY, { 'x-forwarded-for': '203.0.113.5' }, '1234');
    try {
      expect(a.first).toMatchObject({ type: 'joined' });
      const ps = await adminGet<ParticipantView[]>('/api/v1/participants');
      const me = ps.find((p) => p.conference === 'locked' && p.displayName === 'Pat');
      expect(me?.remote).toEqual({ transport: 'ws', address: '203.0.113.5', port: 0 });
    } finally {
      a.ws.close();
    }
  });
});
