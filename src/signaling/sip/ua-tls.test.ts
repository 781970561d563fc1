import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { getHeader, type SipRequest } from './message';
import { StreamFramer } from './framing';
import { parseMessage } from './parser';
import { parseNameAddr, getVias } from './headers';
import { uriTarget } from './dialog';
import { createSipServer, type SipServer } from './ua';
import { TEST_OFFER, TestHandler, TestPeer, sipRequest, sipResponseTo } from './test-peer';

// The self-signed test certificate (127.0.0.1, ::1, localhost) of test/fixtures/tls.
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tls');
const CERT = readFileSync(path.join(FIXTURES, 'localhost-cert.pem'));
const KEY = readFileSync(path.join(FIXTURES, 'localhost-key.pem'));

let server: SipServer;
let handler: TestHandler;
const cleanup: Array<() => Promise<void> | void> = [];

async function start(opts: { ca?: Buffer } = {}): Promise<void> {
  handler = new TestHandler();
  server = await createSipServer({ host: '127.0.0.1', port: 0, tls: { port: 0, cert: CERT, key: KEY, ...opts }, handler, closeTimeoutMs: 500 });
}

async function tlsPeer(): Promise<TestPeer> {
  const p = await TestPeer.tls(server.tlsPort ?? 0, CERT);
  cleanup.push(() => p.close());
  return p;
}

let seq = 0;
function ids(): { callId: string; branch: string } {
  seq++;
  return { callId: `tls-${seq}-${Date.now()}`, branch: `z9hG4bKtls${seq}x${Date.now()}` };
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterEach(async () => {
  await server?.close();
  for (const f of cleanup.splice(0)) await f();
});

describe('SIP over TLS (RFC 3261 26.2)', () => {
  it('listens on its own port beside UDP/TCP; without a certificate there is no TLS port', async () => {
    await start();
    expect(server.tlsPort).toBeGreaterThan(0);
    expect(server.tlsPort).not.toBe(server.port);
    const plain = await createSipServer({ host: '127.0.0.1', port: 0, handler: new TestHandler() });
    cleanup.push(() => plain.close());
    expect(plain.tlsPort).toBeUndefined();
  });

  it('a call over TLS: 200 with Contact ;transport=tls on the TLS port, the call knows it is TLS, our BYE goes back over the same connection with Via TLS', async () => {
    await start();
    const p = await tlsPeer();
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: TEST_OFFER }), 0);
    const ok = await p.response(200, 'INVITE');
    expect(getHeader(ok, 'Contact')).toBe(`<sip:127.0.0.1:${server.tlsPort};transport=tls>`);
    const tag = parseNameAddr(getHeader(ok, 'To') ?? '')?.tag ?? '';
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: `${branch}a`, toTag: tag }), 0);
    await waitFor(() => handler.events.includes('ack'));
    expect(handler.calls[0]?.info.remote).toEqual({ transport: 'tls', address: '127.0.0.1', port: p.port });

    const hangup = handler.calls[0]?.hangup();
    const bye = await p.request('BYE');
    expect(getVias(bye)?.[0]).toMatchObject({ transport: 'TLS', host: '127.0.0.1', port: server.tlsPort });
    p.send(sipResponseTo(bye, 200, 'OK'), 0);
    await hangup;
    await handler.waitEnded();
    expect(handler.ended[0]?.reason).toBe('local-bye');
    expect(server.stats().transport).toMatchObject({ tlsConnections: 1 });
  });

  it('plain SIP on the TLS port fails the handshake, is counted, and the port goes on serving TLS calls', async () => {
    await start();
    const raw = net.connect({ host: '127.0.0.1', port: server.tlsPort ?? 0 });
    raw.on('error', () => undefined);
    raw.write('OPTIONS sip:meet@127.0.0.1 SIP/2.0\r\n\r\n');
    await new Promise<void>((r) => raw.once('close', () => r()));
    await waitFor(() => server.stats().transport.tlsHandshakeFailures === 1);
    const p = await tlsPeer();
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId, cseq: 1, branch }), 0);
    await p.response(200, 'OPTIONS');
  });

  it("after the caller's connection is gone, our BYE opens a new TLS connection to its Contact and verifies its certificate", async () => {
    await start({ ca: CERT });
    // The phone listens for TLS (with the same test certificate) and calls from another connection.
    const got: SipRequest[] = [];
    const phoneServer = tls.createServer({ cert: CERT, key: KEY }, (sock) => {
      const framer = new StreamFramer();
      sock.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let m = framer.next(); m; m = framer.next()) {
          const r = parseMessage(m);
          if (r.ok && r.message.kind === 'request') {
            got.push(r.message);
            sock.write(sipResponseTo(r.message, 200, 'OK'));
          }
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => phoneServer.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => phoneServer.close(() => r())));
    const listenPort = (phoneServer.address() as net.AddressInfo).port;

    const p = await TestPeer.tls(server.tlsPort ?? 0, CERT);
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: TEST_OFFER, contactPort: listenPort }), 0);
    const ok = await p.response(200, 'INVITE');
    const tag = parseNameAddr(getHeader(ok, 'To') ?? '')?.tag ?? '';
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: `${branch}a`, toTag: tag }), 0);
    await waitFor(() => handler.events.includes('ack'));
    await p.close();
    await waitFor(() => server.stats().transport.tlsConnections === 0);

    await handler.calls[0]?.hangup();
    expect(got.map((r) => r.method)).toEqual(['BYE']);
    expect(got[0]?.uri).toBe(`sip:alice@127.0.0.1:${listenPort};transport=tls`);
  });

  it('URIs: sips: and ;transport=tls are TLS (port 5061 by default)', () => {
    expect(uriTarget('sips:alice@example.com', 'udp')).toEqual({ transport: 'tls', address: 'example.com', port: 5061 });
    expect(uriTarget('sip:alice@10.0.0.1:5071;transport=TLS', 'udp')).toEqual({ transport: 'tls', address: '10.0.0.1', port: 5071 });
    expect(uriTarget('sip:alice@10.0.0.1;transport=tcp', 'tls')).toEqual({ transport: 'tcp', address: '10.0.0.1', port: 5060 });
    expect(uriTarget('sip:alice@10.0.0.1', 'tls')).toEqual({ transport: 'tls', address: '10.0.0.1', port: 5061 });
  });
});
