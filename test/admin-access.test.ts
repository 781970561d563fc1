/**
 * Admin API access from a client that is really not on loopback: a private network namespace
 * (`unshare -n`) whose lo also carries 10.99.0.1; the node binds that address and a driver inside
 * the namespace connects from 10.99.0.1 (not loopback) and from 127.0.0.1 (loopback) to it. No
 * traffic leaves the namespace; the namespace ends with its processes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/config';
import { NODE_MAIN } from './helpers/node-process';
import { Proc, killAll } from './helpers/proc';
import { requireNetns } from './helpers/tools';

jest.setTimeout(60_000);

const TOKEN = 'netns-admin-token-0123';
const ADDRESS = '10.99.0.1';

/** Runs inside the namespace: address, node, requests; prints one JSON line of HTTP statuses. */
const DRIVER = `
const { spawn, execFileSync } = require('node:child_process');
const http = require('node:http');
const [nodeMain, config, address, token] = process.argv.slice(2);
execFileSync('ip', ['addr', 'add', address + '/32', 'dev', 'lo']);
const node = spawn(process.execPath, [nodeMain, '--config', config, '--node', 'n1'], { stdio: ['ignore', 'ignore', 'inherit'] });
const get = (path, from, headers = {}) => new Promise((resolve) => {
  const req = http.request({ host: address, port: 18080, path, localAddress: from, headers, timeout: 3000 }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', () => resolve(0));
  req.on('timeout', () => req.destroy());
  req.end();
});
(async () => {
  const deadline = Date.now() + 30000;
  while ((await get('/healthz', address)) !== 200) {
    if (Date.now() > deadline) throw new Error('node did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const bearer = { authorization: 'Bearer ' + token };
  const out = {
    remoteParticipants: await get('/api/v1/participants', address),
    remoteMetrics: await get('/metrics', address),
    remoteWrongToken: await get('/api/v1/participants', address, { authorization: 'Bearer wrong-token-0123456789' }),
    remoteWithToken: await get('/api/v1/participants', address, bearer),
    remoteMetricsWithToken: await get('/metrics', address, bearer),
    remoteStatus: await get('/api/v1/status', address),
    remoteHealthz: await get('/healthz', address),
    remotePage: await get('/', address),
    loopbackParticipants: await get('/api/v1/participants', '127.0.0.1'),
  };
  console.log(JSON.stringify(out));
})().catch((e) => console.error(String(e))).finally(() => node.kill('SIGKILL'));
`;

afterAll(() => killAll());

it('a client from 10.99.0.1 gets 401 for the API and /metrics without the admin token and 200 with it; /healthz, /api/v1/status and the page stay open; loopback needs no token', async () => {
  requireNetns();
  const dir = makeTempDir('admin-access');
  const config = join(dir, 'n1.yaml');
  writeFileSync(
    config,
    [
      `cluster: { name: test, secret: "test-secret-0123456789", store: memory, admin_token: "${TOKEN}" }`,
      'locations: [ { name: local } ]',
      'nodes:',
      `  - { name: n1, location: local, address: ${ADDRESS}, sip_port: 15060, http_port: 18080, control_port: 17070, rtp_ports: { min: 30000, max: 30099 }, capacity: 10 }`,
      'media: { workers: 0 }',
      'vmrs: [ { name: meet, aliases: [meet] } ]',
      '',
    ].join('\n'),
  );
  const driver = join(dir, 'driver.js');
  writeFileSync(driver, DRIVER);
  const proc = new Proc('admin netns', 'unshare', ['-n', 'bash', join(__dirname, 'helpers', 'netns-run.sh'), process.execPath, driver, NODE_MAIN, config, ADDRESS, TOKEN]);
  const exit = await proc.wait(45_000);
  const line = proc.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`driver printed no result (exit ${JSON.stringify(exit)})\n${proc.tail()}`);
  expect(JSON.parse(line)).toEqual({
    remoteParticipants: 401,
    remoteMetrics: 401,
    remoteWrongToken: 401,
    remoteWithToken: 200,
    remoteMetricsWithToken: 200,
    remoteStatus: 200,
    remoteHealthz: 200,
    remotePage: 200,
    loopbackParticipants: 200,
  });
});
