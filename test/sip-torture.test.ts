/**
 * SIP torture against a real node process (RFC 3261 sections 7, 18.3; RFC 4475 in spirit):
 * malformed, oversized and fragmented messages over UDP and TCP. The node answers 400 where it
 * can (a Via to answer to survived) or drops, never crashes or hangs: afterwards OPTIONS still
 * gets 200 on both transports and a normal sipp call still succeeds.
 */
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, sleep, waitFor } from './helpers/proc';
import { buildRequest, newDialogIds, optionsTcp, optionsUdp, sdpOffer, TcpSip, UdpSip, type RawMessage } from './helpers/sip-raw';
import { assertSippOk, runSipp } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

let dir: string;
let config: NodeConfig;
let node: NodeUnderTest;

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('torture');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 10);
  config = await writeNodeConfig({ dir });
  node = await NodeUnderTest.start(config);
});

afterAll(async () => {
  await killAll();
});

afterEach(() => {
  // a crash must fail the test that caused it, with the node's last log lines
  if (!node.alive) throw new Error(`the node exited: ${JSON.stringify(node.proc.exit)}\n${node.proc.tail()}`);
});

/** Deterministic pseudo-random bytes (xorshift), so a failing junk input can be reproduced. */
function junk(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

type Local = { port: number; transport: 'UDP' | 'TCP' };

function invite(local: Local, extra: string[] = []): { text: string; branch: string } {
  const ids = newDialogIds();
  const text = buildRequest({
    method: 'INVITE', user: 'meet', target: { port: config.sipPort }, local, ids, body: sdpOffer(40000), extraHeaders: extra,
  });
  return { text, branch: ids.branch };
}

/** Responses that came back over UDP within `ms` to the datagram `build(ourPort)` makes. */
async function udpAnswers(build: (localPort: number) => string | Buffer, ms = 700): Promise<RawMessage[]> {
  const c = await UdpSip.open();
  try {
    await c.send(build(c.port), config.sipPort);
    await sleep(ms);
    return c.received.filter((m) => m.status > 0);
  } finally {
    c.close();
  }
}

/** Sends one corrupted INVITE over UDP and requires exactly a 400 that echoes our Via branch. */
async function expect400Udp(corrupt: (text: string) => string): Promise<void> {
  const c = await UdpSip.open();
  try {
    const { text, branch } = invite({ port: c.port, transport: 'UDP' });
    await c.send(corrupt(text), config.sipPort);
    const res = await c.expect((m) => m.status >= 200, 3000);
    expect({ status: res.status, viaHasBranch: (res.headers.get('via')?.[0] ?? '').includes(branch) }).toEqual({ status: 400, viaHasBranch: true });
  } finally {
    c.close();
  }
}

/** An OPTIONS padded with X-Pad headers to exactly 65507 bytes (the IPv4 UDP payload maximum). */
function maxSizeOptions(port: number): string {
  const base = buildRequest({ method: 'OPTIONS', user: 'meet', target: { port: config.sipPort }, local: { port, transport: 'UDP' }, ids: newDialogIds() });
  const room = 65507 - Buffer.byteLength(base);
  const lines: string[] = [];
  let left = room;
  for (let i = 0; left > 0 && i < 200; i++) {
    const prefix = `X-Pad-${i}: `;
    const len = Math.min(1000, left - prefix.length - 2);
    if (len < 1) break;
    lines.push(`${prefix}${'p'.repeat(len)}`);
    left -= prefix.length + len + 2;
  }
  const text = base.replace('Content-Length: 0', `${lines.join('\r\n')}\r\nContent-Length: 0`);
  return text + ' '.repeat(Math.max(0, 65507 - Buffer.byteLength(text)));
}

/** Statuses a node may use to refuse an oversized message (or it may drop it: no answer). */
const REFUSALS = [400, 413, 494, 513];

describe('malformed requests over UDP', () => {
  test('random binary junk gets no answer other than a refusal', async () => {
    const statuses = (await udpAnswers(() => junk(600, 7))).map((m) => m.status);
    expect(statuses.filter((s) => !REFUSALS.includes(s))).toEqual([]);
  });

  // A response must carry the request's Call-ID (RFC 3261 8.2.6.2), so without one the node may
  // only drop the request; what it must never do is accept it or answer anything but 400.
  test('missing Call-ID (RFC 3261 8.1.1) -> 400 or dropped, never accepted', async () => {
    const statuses = (await udpAnswers((port) => invite({ port, transport: 'UDP' }).text.replace(/^Call-ID: .*\r\n/m, ''))).map((m) => m.status);
    expect(statuses.filter((s) => s !== 400)).toEqual([]);
  });

  test('CSeq without a number -> 400', async () => {
    await expect400Udp((t) => t.replace(/^CSeq: .*$/m, 'CSeq: one INVITE'));
  });

  test('a header line without a colon -> 400', async () => {
    await expect400Udp((t) => t.replace(/^Max-Forwards: 70$/m, 'Max-Forwards 70 and no colon'));
  });

  test('negative Content-Length -> 400', async () => {
    await expect400Udp((t) => t.replace(/^Content-Length: \d+$/m, 'Content-Length: -5'));
  });

  test('Content-Length larger than the datagram body -> 400 (RFC 3261 18.3)', async () => {
    await expect400Udp((t) => t.replace(/^Content-Length: (\d+)$/m, (_m, n: string) => `Content-Length: ${Number(n) + 500}`));
  });

  test('too many headers (600) is refused or dropped, never accepted', async () => {
    const pad = Array.from({ length: 600 }, (_v, i) => `X-Pad-${i}: ${i}`);
    const statuses = (await udpAnswers((port) => invite({ port, transport: 'UDP' }, pad).text)).map((m) => m.status);
    expect(statuses.filter((s) => !REFUSALS.includes(s) && s !== 100)).toEqual([]);
  });

  test('a 20 kB header line is refused or dropped, never accepted', async () => {
    const statuses = (await udpAnswers((port) => invite({ port, transport: 'UDP' }, [`Subject: ${'x'.repeat(20000)}`]).text)).map((m) => m.status);
    expect(statuses.filter((s) => !REFUSALS.includes(s) && s !== 100)).toEqual([]);
  });

  test('an OPTIONS of the largest UDP datagram (65507 bytes) is answered 200 or refused, without harm', async () => {
    const statuses = (await udpAnswers((port) => maxSizeOptions(port))).map((m) => m.status);
    expect(statuses.filter((s) => s !== 200 && !REFUSALS.includes(s))).toEqual([]);
  });
});

describe('malformed and unusual input over TCP', () => {
  test('binary junk on a connection, then a valid OPTIONS on a new connection -> 200', async () => {
    const c = await TcpSip.open(config.sipPort);
    await c.write(junk(4000, 11));
    await sleep(300);
    const statuses = c.received.map((m) => m.status);
    c.close();
    expect(statuses.filter((s) => !REFUSALS.includes(s))).toEqual([]);
    expect(await optionsTcp(config.sipPort)).toBe(200);
  });

  test('missing Call-ID over TCP -> 400 or dropped, and the same connection still serves OPTIONS', async () => {
    const c = await TcpSip.open(config.sipPort);
    try {
      const { text } = invite({ port: c.localPort, transport: 'TCP' });
      await c.write(text.replace(/^Call-ID: .*\r\n/m, ''));
      await c.write(buildRequest({
        method: 'OPTIONS', user: 'meet', target: { port: config.sipPort }, local: { port: c.localPort, transport: 'TCP' }, ids: newDialogIds(),
      }));
      await c.expect((m) => (m.headers.get('cseq')?.[0] ?? '').includes('OPTIONS'), 3000);
      const summary = c.received.map((m) => `${m.status} ${m.headers.get('cseq')?.[0] ?? ''}`);
      expect(summary.filter((x) => !/^(400 \d+ INVITE|200 \d+ OPTIONS)$/.test(x))).toEqual([]);
    } finally {
      c.close();
    }
  });

  test('a 200 kB message over TCP is refused or the connection closed; the listener keeps serving', async () => {
    const c = await TcpSip.open(config.sipPort);
    const pad = Array.from({ length: 200 }, (_v, i) => `X-Big-${i}: ${'z'.repeat(1000)}`);
    await c.write(invite({ port: c.localPort, transport: 'TCP' }, pad).text);
    await sleep(500);
    const statuses = c.received.map((m) => m.status);
    c.close();
    expect(statuses.filter((s) => !REFUSALS.includes(s) && s !== 100)).toEqual([]);
    expect(await optionsTcp(config.sipPort)).toBe(200);
  });

  test('Content-Length larger than what is sent, then the peer goes away: no hang, next connection served', async () => {
    const c = await TcpSip.open(config.sipPort);
    const { text } = invite({ port: c.localPort, transport: 'TCP' });
    await c.write(text.replace(/^Content-Length: (\d+)$/m, (_m, n: string) => `Content-Length: ${Number(n) + 300}`));
    await sleep(300);
    expect(c.received.filter((m) => m.status >= 200 && m.status < 300)).toEqual([]);
    c.close();
    expect(await optionsTcp(config.sipPort)).toBe(200);
  });

  test('OPTIONS split across many 1-3 byte writes -> 200', async () => {
    const c = await TcpSip.open(config.sipPort);
    try {
      const text = buildRequest({
        method: 'OPTIONS', user: 'meet', target: { port: config.sipPort }, local: { port: c.localPort, transport: 'TCP' }, ids: newDialogIds(),
      });
      for (let i = 0, n = 1; i < text.length; i += n, n = (n % 3) + 1) {
        await c.write(text.slice(i, i + n));
        if (i % 40 === 0) await sleep(2);
      }
      expect((await c.expect((m) => m.status >= 200, 3000)).status).toBe(200);
    } finally {
      c.close();
    }
  });

  test('two OPTIONS in one TCP write (with CRLF keep-alives between) -> two 200s (RFC 5626 3.5.1)', async () => {
    const c = await TcpSip.open(config.sipPort);
    try {
      const opt = (): string => buildRequest({
        method: 'OPTIONS', user: 'meet', target: { port: config.sipPort }, local: { port: c.localPort, transport: 'TCP' }, ids: newDialogIds(),
      });
      await c.write(`${opt()}\r\n\r\n${opt()}`);
      await waitFor('two responses', () => (c.received.length >= 2 ? true : undefined), 3000, 20);
      expect(c.received.map((m) => m.status)).toEqual([200, 200]);
    } finally {
      c.close();
    }
  });
});

describe('after the barrage', () => {
  test('OPTIONS over UDP and TCP still get 200, and a normal sipp call succeeds', async () => {
    expect(await optionsUdp(config.sipPort)).toBe(200);
    expect(await optionsTcp(config.sipPort)).toBe(200);
    const r = await runSipp({ scenario: 'uac_call_rtp.xml', target: node.sipTarget, service: 'meet', cwd: dir, pauseMs: 1500 });
    assertSippOk(r, 'normal call after the torture messages');
    expect(node.alive).toBe(true);
  });
});
