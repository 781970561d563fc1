import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { silentLogger, systemClock } from '../../common';
import { createWebRtcSignaling, type JoinMessage, type JoinedMessage, type WebRtcSession, type WebRtcSessionHandler } from '../../signaling';
import { ConfigError } from '../config';
import { NodeMetrics, loadTlsFiles, startHttpServer, type NodeApi, type NodeStatusView, type RunningHttpServer } from './index';

const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'tls');
const CERT = join(FIXTURES, 'localhost-cert.pem');
const KEY = join(FIXTURES, 'localhost-key.pem');
const OTHER_KEY = join(FIXTURES, 'other-key.pem');
const CA = readFileSync(CERT);

const status: NodeStatusView = {
  node: 'node1',
  location: 'local',
  capacity: 10,
  load: 0,
  state: 'active',
  sip: { address: '127.0.0.1', port: 5060, transports: ['udp', 'tcp'] },
  http: { address: '127.0.0.1', port: 8443 },
  control: { address: '127.0.0.1', port: 7070 },
  uptimeSeconds: 1,
  version: '0.1.0',
};

const api: NodeApi = {
  health: () => ({ status: 'ok' }),
  status: () => status,
  nodes: () => [status],
  conferences: () => [],
  participants: () => [],
  backplanes: () => [],
  adminLog: () => [],
  endConference: async () => undefined,
  hangupParticipant: async () => false,
};

function configIssue(fn: () => unknown): { path: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError && err.issues[0]) return err.issues[0];
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('loadTlsFiles(): nodes[].tls is checked at start, naming the key', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'confnode-tls-'));
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
    writeFileSync(join(dir, 'broken-cert.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a good pair loads with its fingerprint, SPKI hash and names', () => {
    const t = loadTlsFiles({ cert_file: CERT, key_file: KEY }, 'nodes[0].tls');
    const x = new X509Certificate(CA);
    expect(t.fingerprint256).toBe(x.fingerprint256);
    expect(t.spkiSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(t.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(t.cert.equals(CA)).toBe(true);
  });

  it.each([
    ['a missing certificate', { cert_file: '/nonexistent/cert.pem', key_file: KEY }, 'nodes[1].tls.cert_file', /cannot read certificate file '\/nonexistent\/cert.pem': no such file/],
    ['a missing key', { cert_file: CERT, key_file: '/nonexistent/key.pem' }, 'nodes[1].tls.key_file', /cannot read private key file .*: no such file/],
    ['a certificate that is not PEM', { cert_file: 'NOTPEM', key_file: KEY }, 'nodes[1].tls.cert_file', /is not a PEM file/],
    ['a broken PEM certificate', { cert_file: 'BROKEN', key_file: KEY }, 'nodes[1].tls.cert_file', /holds no readable PEM certificate/],
    ['a certificate given as the key', { cert_file: CERT, key_file: CERT }, 'nodes[1].tls.key_file', /holds no readable unencrypted PEM private key/],
    ['a key of another certificate', { cert_file: CERT, key_file: OTHER_KEY }, 'nodes[1].tls.key_file', /does not belong to the certificate/],
  ])('%s is a config error on its key', (_what, files, path, message) => {
    const fix = (f: string): string => (f === 'NOTPEM' ? join(dir, 'not-pem.txt') : f === 'BROKEN' ? join(dir, 'broken-cert.pem') : f);
    const issue = configIssue(() => loadTlsFiles({ cert_file: fix(files.cert_file), key_file: fix(files.key_file) }, 'nodes[1].tls'));
    expect(issue.path).toBe(path);
    expect(issue.message).toMatch(message);
    expect(issue.message).not.toContain('PRIVATE KEY-----');
  });

  it('the error text says config error and the key', () => {
    expect(() => loadTlsFiles({ cert_file: '/nonexistent/cert.pem', key_file: KEY }, 'nodes[0].tls')).toThrow(/^config error: nodes\[0\]\.tls\.cert_file: /);
  });
});

/** GET over HTTPS trusting only the fixture certificate; resolves with status and body. */
function httpsGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: CA, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Records each session's remote (what the PIN lockout keys on) and refuses nothing. */
class RecordingHandler implements WebRtcSessionHandler {
  remotes: string[] = [];
  async onJoin(session: WebRtcSession, join: JoinMessage): Promise<JoinedMessage> {
    this.remotes.push(session.remote);
    return { type: 'joined', participantId: `p-${join.name}`, conference: 'meet', videoCodec: 'H264' };
  }
  async onOffer(): Promise<string | undefined> {
    return undefined;
  }
  async onAnswer(): Promise<void> {}
  onMediaState(): void {}
  onClosed(): void {}
}

describe('startHttpServer() with tls: HTTPS and WSS on one port', () => {
  let server: RunningHttpServer;
  const handler = new RecordingHandler();
  const signaling = createWebRtcSignaling({ handler, clock: systemClock, logger: silentLogger });
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    const tls = loadTlsFiles({ cert_file: CERT, key_file: KEY }, 'nodes[0].tls');
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      api,
      metrics: new NodeMetrics({ defaultMetrics: false }),
      tls,
      trustedProxies: ['127.0.0.1'],
      upgrade: (req, socket, head, client) => signaling.handleUpgrade(req, socket, head, client),
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await signaling.close();
    await server.close();
  });

  it('serves the API over HTTPS; /api/v1/status gives the https page URL', async () => {
    expect(server.scheme).toBe('https');
    expect(await httpsGet(server.port, '/healthz')).toEqual({ status: 200, text: '{"status":"ok"}' });
    const s = JSON.parse((await httpsGet(server.port, '/api/v1/status')).text) as NodeStatusView;
    expect(s.http).toEqual({ address: '127.0.0.1', port: 8443, scheme: 'https', url: 'https://127.0.0.1:8443/' });
    expect((await httpsGet(server.port, '/metrics')).status).toBe(200);
  });

  it('a plain HTTP request on the HTTPS port gets no HTTP reply, and the server goes on serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = connect(server.port, '127.0.0.1', () => sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      sock.setEncoding('latin1');
      sock.setTimeout(3000, () => sock.destroy(new Error('no close')));
      sock.on('data', (d: string) => (text += d));
      sock.on('close', () => resolve(text));
      sock.on('error', reject);
    });
    expect(reply).not.toMatch(/^HTTP\/1.1 200/);
    expect((await httpsGet(server.port, '/healthz')).status).toBe(200);
  });

  /** Joins over wss:// with `headers`; resolves once the handler saw the join. */
  async function joinOverWss(name: string, headers: Record<string, string>): Promise<string> {
    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/ws`, { ca: CA, headers });
    sockets.push(ws);
    const joined = new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => {
        if ((JSON.parse(String(d)) as { type?: string }).type === 'joined') resolve();
      });
      ws.on('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.send(JSON.stringify({ type: 'join', alias: 'meet', name }));
    await joined;
    return handler.remotes[handler.remotes.length - 1] ?? '';
  }

  it('the WebSocket upgrades over TLS (wss:), and a trusted proxy names the browser the session keys on', async () => {
    expect(await joinOverWss('direct', {})).toMatch(/^wss:127\.0\.0\.1:\d+$/);
    expect(await joinOverWss('proxied', { 'x-forwarded-for': '1.1.1.1, 203.0.113.7' })).toBe('wss:203.0.113.7:0');
    expect(await joinOverWss('rfc7239', { forwarded: 'for="[2001:db8::7]:4711"' })).toBe('wss:2001:db8::7:4711');
  });
});

describe('startHttpServer() without tls, forwarding headers from an untrusted peer', () => {
  it('stays plain HTTP, and the upgrade hook gets the TCP peer, not the header', async () => {
    const seen: Array<{ address: string; forwarded: boolean }> = [];
    const s = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      api,
      metrics: new NodeMetrics({ defaultMetrics: false }),
      trustedProxies: ['10.0.0.2'],
      upgrade: (_req, socket, _head, client) => {
        seen.push({ address: client.address, forwarded: client.forwarded });
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
        return true;
      },
    });
    try {
      expect(s.scheme).toBe('http');
      expect((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status).toBe(200);
      await new Promise<void>((resolve, reject) => {
        const sock = connect(s.port, '127.0.0.1', () =>
          sock.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n'),
        );
        sock.on('close', () => resolve());
        sock.on('error', reject);
        sock.resume();
      });
      expect(seen).toEqual([{ address: '127.0.0.1', forwarded: false }]);
    } finally {
      await s.close();
    }
  });
});
