import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfnodeError, type Logger } from '../../common';
import { NodeMetrics, startHttpServer, type NodeApi, type NodeStatusView, type RunningHttpServer } from './index';
import { loggableUrl } from './server';

const status: NodeStatusView = {
  node: 'node1',
  location: 'local',
  capacity: 100,
  load: 1.25,
  state: 'active',
  sip: { address: '127.0.0.1', port: 5060, transports: ['udp', 'tcp'] },
  http: { address: '127.0.0.1', port: 8080 },
  control: { address: '127.0.0.1', port: 7070 },
  uptimeSeconds: 12,
  version: '0.1.0',
};

const participant = {
  id: 'p1',
  conference: 'meet',
  protocol: 'sip' as const,
  displayName: 'Alice',
  remote: { transport: 'udp', address: '127.0.0.1', port: 5070 },
  signalingNode: 'node1',
  mediaNode: 'node1',
  mediaLocation: 'local',
  placementReason: 'least-loaded',
  role: 'participant',
  audioCodec: 'PCMU',
  packetsIn: 10,
  packetsOut: 9,
  packetsDropped: 0,
  currentSpeaker: true,
  joinedAt: '2024-01-01T00:00:00.000Z',
};

/** A fake node: records calls; `fail` makes status() throw what it holds. */
function fakeApi() {
  const calls: string[] = [];
  const state = { draining: false, fail: undefined as unknown };
  const api: NodeApi = {
    health: () => ({ status: state.draining ? 'draining' : 'ok' }),
    status: () => {
      if (state.fail !== undefined) throw state.fail;
      return status;
    },
    nodes: async () => [status],
    conferences: () => [{ id: 'c1', name: 'meet', startedAt: '2024-01-01T00:00:00.000Z', participants: 1, locations: ['local'], mediaNodes: ['node1'], proxyNodes: [] }],
    participants: () => [participant],
    backplanes: () => [],
    adminLog: (q) => {
      calls.push(`log ${JSON.stringify(q)}`);
      return [{ time: '2024-01-01T00:00:00.000Z', level: 'info', message: 'hello', conference: 'meet' }];
    },
    endConference: async (name) => {
      calls.push(`end ${name}`);
      return name === 'meet' || name === 'a b/c' ? { participants: 2 } : undefined;
    },
    hangupParticipant: async (id) => {
      calls.push(`hangup ${id}`);
      return id === 'p1';
    },
  };
  return { api, calls, state };
}

function recordingLogger(errors: unknown[]): Logger {
  const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (o) => void errors.push(o), child: () => log };
  return log;
}

/** Raw HTTP, for what fetch would normalise away (dot segments) or refuses to send. */
function raw(port: number, method: string, path: string, body?: Buffer | Buffer[]): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: Array.isArray(body) ? { 'transfer-encoding': 'chunked' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (Array.isArray(body)) for (const b of body) req.write(b);
    else if (body) req.write(body);
    req.end();
  });
}

describe('startHttpServer()', () => {
  let server: RunningHttpServer;
  let base: string;
  let fake: ReturnType<typeof fakeApi>;
  let dir: string;
  const errors: unknown[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'confnode-http-'));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'index.html'), '<h1>index</h1>');
    writeFileSync(join(dir, 'web', 'admin.html'), '<h1>admin</h1>');
    writeFileSync(join(dir, 'web', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'web', '.env'), 'SECRET=1');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'web', 'link.txt'));
    fake = fakeApi();
    const metrics = new NodeMetrics({ nodeName: 'node1', sources: { conferences: () => 1 } });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, logger: recordingLogger(errors), api: fake.api, metrics, staticDir: join(dir, 'web') });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    fake.calls.length = 0;
    fake.state.draining = false;
    fake.state.fail = undefined;
  });

  const getJson = async (path: string, init?: RequestInit): Promise<[number, unknown]> => {
    const res = await fetch(base + path, init);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    return [res.status, await res.json()];
  };

  it('GET /healthz is 200 ok, and 503 draining when the node drains', async () => {
    expect(await getJson('/healthz')).toEqual([200, { status: 'ok' }]);
    fake.state.draining = true;
    expect(await getJson('/healthz')).toEqual([503, { status: 'draining' }]);
  });

  it.each([
    // The server adds the page's scheme and URL as it serves them (https with a certificate).
    ['/api/v1/status', { ...status, http: { ...status.http, scheme: 'http', url: 'http://127.0.0.1:8080/' } }],
    ['/api/v1/nodes', [status]],
    ['/api/v1/participants', [participant]],
    ['/api/v1/backplanes', []],
  ])('GET %s returns what the api returns', async (path, expected) => {
    expect(await getJson(path)).toEqual([200, expected]);
  });

  it('GET /api/v1/conferences lists conferences with media and proxy nodes', async () => {
    const [code, body] = await getJson('/api/v1/conferences');
    expect(code).toBe(200);
    expect(body).toEqual([expect.objectContaining({ name: 'meet', participants: 1, mediaNodes: ['node1'], proxyNodes: [] })]);
  });

  it('GET /api/v1/log passes limit and conference, and refuses a bad limit with 400', async () => {
    expect(await getJson('/api/v1/log?limit=5&conference=meet')).toEqual([200, [expect.objectContaining({ message: 'hello' })]]);
    expect(fake.calls).toEqual(['log {"limit":5,"conference":"meet"}']);
    expect(await getJson('/api/v1/log?limit=0')).toEqual([400, { error: 'limit must be an integer 1..1000' }]);
    expect(await getJson('/api/v1/log?limit=abc')).toEqual([400, { error: 'limit must be an integer 1..1000' }]);
  });

  it('DELETE /api/v1/conferences/{name} ends it (200 with count) or answers 404', async () => {
    expect(await getJson('/api/v1/conferences/meet', { method: 'DELETE' })).toEqual([200, { ended: 'meet', participants: 2 }]);
    expect(await getJson('/api/v1/conferences/a%20b%2Fc', { method: 'DELETE' })).toEqual([200, { ended: 'a b/c', participants: 2 }]);
    const [code, body] = await getJson('/api/v1/conferences/nope', { method: 'DELETE' });
    expect([code, body]).toEqual([404, { error: "no conference named 'nope' on this node" }]);
    expect(fake.calls).toEqual(['end meet', 'end a b/c', 'end nope']);
  });

  it('DELETE /api/v1/participants/{id} hangs up one participant or answers 404', async () => {
    expect(await getJson('/api/v1/participants/p1', { method: 'DELETE' })).toEqual([200, { hungUp: 'p1' }]);
    expect((await getJson('/api/v1/participants/p9', { method: 'DELETE' }))[0]).toBe(404);
  });

  it('GET /metrics serves Prometheus text with the confnode metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('confnode_conferences{node="node1"} 1');
    expect(text).toContain('# TYPE confnode_rtp_packets_total counter');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('unknown path: 404 JSON', async () => {
    expect(await getJson('/api/v1/nothing')).toEqual([404, { error: 'not found' }]);
    expect(await getJson('/api/v1/status/')).toEqual([404, { error: 'not found' }]);
  });

  it('wrong method: 405 with Allow', async () => {
    const res = await fetch(`${base}/api/v1/status`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const del = await fetch(`${base}/api/v1/conferences/meet`);
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('DELETE');
    expect(fake.calls).toEqual([]);
  });

  it('HEAD answers like GET without a body', async () => {
    const res = await raw(server.port, 'HEAD', '/healthz');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });

  it('a body over 64 KiB is refused with 413 (declared length), and the server keeps serving', async () => {
    const res = await raw(server.port, 'POST', '/api/v1/status', Buffer.alloc(100 * 1024, 0x61));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toEqual({ error: 'request body larger than 65536 bytes' });
    expect((await getJson('/healthz'))[0]).toBe(200);
  });

  it('a chunked body that grows past 64 KiB is refused with 413', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(8 * 1024, 0x62));
    const res = await raw(server.port, 'DELETE', '/api/v1/participants/p1', chunks);
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(fake.calls).toEqual([]);
  });

  it('a handler that throws gets 500 JSON without details, is logged, and the server survives', async () => {
    fake.state.fail = new TypeError('secret internals');
    errors.length = 0;
    expect(await getJson('/api/v1/status')).toEqual([500, { error: 'internal error' }]);
    expect(errors).toHaveLength(1);
    fake.state.fail = undefined;
    expect((await getJson('/api/v1/status'))[0]).toBe(200);
  });

  it('a ConfnodeError bad-request from the api becomes 400 with its message', async () => {
    fake.state.fail = new ConfnodeError('bad-request', 'no such thing');
    expect(await getJson('/api/v1/status')).toEqual([400, { error: 'no such thing' }]);
  });

  it('malformed percent-encoding in a path parameter is 400', async () => {
    expect((await raw(server.port, 'DELETE', '/api/v1/participants/%E0%A4%A')).status).toBe(400);
  });

  it('serves index.html at /, admin.html at /admin and other files by name', async () => {
    const index = await fetch(`${base}/`);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toBe('<h1>index</h1>');
    expect(await (await fetch(`${base}/admin`)).text()).toBe('<h1>admin</h1>');
    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it.each(['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/.env', '/link.txt', '/web/../../secret.txt', '/app.js/', '//etc/passwd'])(
    'never serves a file outside the static directory: %s',
    async (path) => {
      const res = await raw(server.port, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.text).not.toContain('outside');
      expect(res.text).not.toContain('SECRET');
    },
  );

  it('a request target that is not a path is 400', async () => {
    expect((await raw(server.port, 'GET', 'http://127.0.0.1/healthz')).status).toBe(400);
  });
});

describe('startHttpServer(): admin access (cluster.admin_token)', () => {
  // A client behind a proxy (forwarding header) is not local: the same rule as a remote client.
  const proxied = { 'x-forwarded-for': '203.0.113.7' };
  const start = (adminToken?: string): Promise<RunningHttpServer> =>
    startHttpServer({ host: '127.0.0.1', port: 0, logger: recordingLogger([]), api: fakeApi().api, metrics: new NodeMetrics({ defaultMetrics: false }), ...(adminToken ? { adminToken } : {}) });

  it('with a token: a remote client needs it for the API and /metrics (401 + WWW-Authenticate), not for /healthz or /api/v1/status', async () => {
    const server = await start('tok-0123456789abcdef');
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const denied = await fetch(`${base}/api/v1/participants`, { headers: proxied });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await fetch(`${base}/metrics`, { headers: proxied })).status).toBe(401);
      expect((await fetch(`${base}/api/v1/participants/p1`, { method: 'DELETE', headers: { ...proxied, authorization: 'Bearer nope-nope-nope-nope' } })).status).toBe(401);
      const ok = await fetch(`${base}/api/v1/participants`, { headers: { ...proxied, authorization: 'Bearer tok-0123456789abcdef' } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as unknown[]).length).toBe(1);
      expect((await fetch(`${base}/healthz`, { headers: proxied })).status).toBe(200);
      expect((await fetch(`${base}/api/v1/status`, { headers: proxied })).status).toBe(200);
      expect((await fetch(`${base}/api/v1/participants`)).status).toBe(200); // direct loopback
    } finally {
      await server.close();
    }
  });

  it('without a token: remote clients get 403 naming cluster.admin_token; loopback still works', async () => {
    const server = await start();
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const denied = await fetch(`${base}/api/v1/conferences`, { headers: proxied });
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: string }).error).toMatch(/cluster\.admin_token/);
      expect((await fetch(`${base}/api/v1/conferences`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('startHttpServer() lifecycle', () => {
  const api = fakeApi().api;
  const quiet = recordingLogger([]);

  it('without staticDir, / is 404', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, logger: quiet, api, metrics: new NodeMetrics({ defaultMetrics: false }) });
    try {
      expect((await fetch(`http://127.0.0.1:${s.port}/`)).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  it('serves the repository web/ pages: / is the join page (app.js), /admin polls the API', async () => {
    const web = join(__dirname, '../../../web');
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, logger: quiet, api, metrics: new NodeMetrics({ defaultMetrics: false }), staticDir: web });
    try {
      expect(await (await fetch(`http://127.0.0.1:${s.port}/`)).text()).toContain('<script src="app.js"');
      expect(await (await fetch(`http://127.0.0.1:${s.port}/app.js`)).text()).toContain('/ws');
      expect(await (await fetch(`http://127.0.0.1:${s.port}/admin`)).text()).toContain("get('/api/v1/participants')");
    } finally {
      await s.close();
    }
  });

  it('refuses a port in use with a config error naming it; close() is idempotent and frees the port', async () => {
    const metrics = new NodeMetrics({ defaultMetrics: false });
    const a = await startHttpServer({ host: '127.0.0.1', port: 0, logger: quiet, api, metrics });
    await expect(startHttpServer({ host: '127.0.0.1', port: a.port, logger: quiet, api, metrics })).rejects.toThrow(
      `cannot listen for HTTP on 127.0.0.1:${a.port}: EADDRINUSE`,
    );
    await Promise.all([a.close(), a.close()]);
    await expect(fetch(`http://127.0.0.1:${a.port}/healthz`)).rejects.toThrow();
  });

  it('an upgrade the hook takes is its own; any other upgrade gets 404', async () => {
    const seen: string[] = [];
    const s = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger: quiet,
      api,
      metrics: new NodeMetrics({ defaultMetrics: false }),
      upgrade: (req, socket) => {
        if (req.url !== '/ws') return false;
        seen.push(req.url);
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
        return true;
      },
    });
    try {
      expect(await rawUpgrade(s.port, '/ws')).toMatch(/^HTTP\/1.1 101/);
      expect(await rawUpgrade(s.port, '/elsewhere')).toMatch(/^HTTP\/1.1 404/);
      expect(seen).toEqual(['/ws']);
    } finally {
      await s.close();
    }
  });

  it('without an upgrade hook every upgrade gets 404', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, logger: quiet, api, metrics: new NodeMetrics({ defaultMetrics: false }) });
    try {
      expect(await rawUpgrade(s.port, '/ws')).toMatch(/^HTTP\/1.1 404/);
    } finally {
      await s.close();
    }
  });
});

/** Sends an Upgrade request on a raw socket; resolves with what came back before the close. */
function rawUpgrade(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`);
    });
    let text = '';
    sock.setEncoding('utf8');
    sock.setTimeout(3000, () => sock.destroy(new Error('no reply to the upgrade')));
    sock.on('data', (d: string) => (text += d));
    sock.on('close', () => resolve(text));
    sock.on('error', reject);
  });
}

describe('loggableUrl', () => {
  it('never logs a join token a page link carries, and stays bounded', () => {
    expect(loggableUrl('/?alias=meet&token=eyJhbGciOiJIUzI1NiJ9.x.y&name=Ann')).toBe('/?alias=meet&token=[redacted]&name=Ann');
    expect(loggableUrl('/ws?TOKEN=abc')).toBe('/ws?TOKEN=[redacted]');
    expect(loggableUrl(`/${'a'.repeat(500)}`)).toHaveLength(200);
  });
});
