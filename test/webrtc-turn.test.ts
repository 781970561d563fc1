/**
 * Browsers whose network blocks UDP to the node (issue 12 item 5): a real coturn (Debian
 * `coturn`, use-auth-secret) started here, a node configured with it, and two headless Chromium
 * pages forced to relay (`?relay=1`: iceTransportPolicy 'relay') join one room and decode each
 * other's video. Proof: each page's selected ICE pair has a local candidate of type relay, and
 * coturn logged allocations for the credentials the node derived (never the secret).
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPageWith, pageState, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { freePortRange, freePorts } from './helpers/ports';
import { Proc, killAll, waitFor } from './helpers/proc';
import { requireTool } from './helpers/tools';

jest.setTimeout(120_000);

const TURN_SECRET = 'coturn-static-secret-for-tests-0123';

let dir: string;
let turnPort: number;
let coturn: Proc;
let node: NodeUnderTest;
let ctx: BrowserContext;
const pages: JoinedPage[] = [];

/** One STUN Binding request (RFC 5389) to 127.0.0.1:port: resolves true when anything answers within 300 ms. */
function stunAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(req, 8);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    sock.once('message', () => done(true));
    sock.once('error', () => done(false));
    sock.send(req, port, '127.0.0.1');
  });
}

beforeAll(async () => {
  requireTool('turnserver');
  dir = makeTempDir('turn');
  [turnPort] = (await freePorts(1)) as [number];
  const relayPorts = await freePortRange(60);
  // PEERS.md "coturn 4.6"; the pid file and user DB in the temp dir (the defaults are system paths).
  coturn = new Proc('coturn', 'turnserver', [
    '-n',
    '--listening-ip=127.0.0.1',
    `--listening-port=${turnPort}`,
    '--relay-ip=127.0.0.1',
    `--min-port=${relayPorts.min}`,
    `--max-port=${relayPorts.max}`,
    '--use-auth-secret',
    `--static-auth-secret=${TURN_SECRET}`,
    '--realm=confnode.test',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--allow-loopback-peers',
    '--log-file=stdout',
    '--verbose',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ]);
  coturn.onLine((line) => appendFileSync(join(dir, 'coturn.log'), `${line}\n`));
  await waitFor('coturn to answer STUN', async () => {
    if (coturn.exit) throw new Error(`coturn exited: ${JSON.stringify(coturn.exit)}\n${coturn.tail()}`);
    return (await stunAnswers(turnPort)) ? true : undefined;
  }, 10_000, 200).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${coturn.tail()}`);
  });
  const config = await writeNodeConfig({
    dir,
    vmrs: [{ name: 'meet', aliases: ['meet'] }],
    extraYaml: [`turn: [ { urls: ["turn:127.0.0.1:${turnPort}?transport=udp"], secret: "${TURN_SECRET}", ttl_s: 600 } ]`],
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

/** The page's selected ICE candidate pair: local and remote candidate types and addresses. */
interface SelectedPair {
  localType: string;
  localAddress: string;
  remoteType: string;
  remoteAddress: string;
  relayProtocol?: string;
}

function selectedPair(p: JoinedPage): Promise<SelectedPair | null> {
  return p.page.evaluate(async () => {
    const pc = (globalThis as unknown as { confnode: { pc: { getStats(): Promise<{ forEach(cb: (s: Record<string, unknown>) => void): void }> } | null } }).confnode.pc;
    if (!pc) return null;
    const all = new Map<string, Record<string, unknown>>();
    (await pc.getStats()).forEach((s) => all.set(String(s.id), s));
    let pairId: string | undefined;
    for (const s of all.values()) if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pairId = s.selectedCandidatePairId;
    const pair = pairId === undefined ? undefined : all.get(pairId);
    if (!pair) return null;
    const local = all.get(String(pair.localCandidateId));
    const remote = all.get(String(pair.remoteCandidateId));
    if (!local || !remote) return null;
    const out: SelectedPair = {
      localType: String(local.candidateType),
      localAddress: `${String(local.address ?? local.ip)}:${String(local.port)}`,
      remoteType: String(remote.candidateType),
      remoteAddress: `${String(remote.address ?? remote.ip)}:${String(remote.port)}`,
    };
    if (typeof local.relayProtocol === 'string') out.relayProtocol = local.relayProtocol;
    return out;
  });
}

/** The TURN servers the page was handed (from its own peer connection's configuration). */
function pageIceServers(p: JoinedPage): Promise<unknown> {
  return p.page.evaluate(() => {
    const pc = (globalThis as unknown as { confnode: { pc: { getConfiguration(): Record<string, unknown> } | null } }).confnode.pc;
    return pc ? { iceServers: pc.getConfiguration().iceServers, policy: pc.getConfiguration().iceTransportPolicy } : null;
  });
}

it('two Chromium pages forced to relay through coturn join a room and decode each other; the selected pairs are relay', async () => {
  for (const name of ['Ann', 'Bob']) {
    const p = await openJoinPageWith(ctx, node.baseUrl, 'meet', name, { relay: '1', video: 'small' });
    pages.push(p);
    await waitFor(`${name} to connect through TURN`, async () => {
      const s = await pageState(p);
      if (s.error) throw new Error(`${name}: ${JSON.stringify(s.error)}`);
      return s.state === 'joined' ? s : undefined;
    }, 30_000, 200).catch(async (e: unknown) => {
      const s = await pageState(p).catch(() => undefined);
      throw new Error(`${e instanceof Error ? e.message : String(e)}; page: ${JSON.stringify(s)}; log: ${p.log.slice(-10).join(' | ')}\n${coturn.tail()}\n${node.proc.tail()}`);
    });
  }
  const [ann, bob] = pages as [JoinedPage, JoinedPage];
  await Promise.all([waitForRemoteMedia(ann, { remotes: 1, timeoutMs: 30_000 }), waitForRemoteMedia(bob, { remotes: 1, timeoutMs: 30_000 })]);

  const participants = await node.participantsOf('meet');
  expect(participants.map((p) => p.protocol)).toEqual(['webrtc', 'webrtc']);
  for (const p of pages) {
    const config = (await pageIceServers(p)) as { iceServers: Array<{ urls: string[]; username: string; credential: string }>; policy: string };
    expect(config.policy).toBe('relay');
    expect(config.iceServers).toHaveLength(1);
    const server = config.iceServers[0];
    expect(server?.urls).toEqual([`turn:127.0.0.1:${turnPort}?transport=udp`]);
    // <expiry>:<participant id>, the expiry ten minutes (ttl_s 600) ahead; the page never sees the secret.
    const [expiry, who] = (server?.username ?? '').split(':');
    expect(participants.map((x) => x.id)).toContain(who);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(500);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(JSON.stringify(config)).not.toContain(TURN_SECRET);

    const pair = await waitFor(`${p.name}'s selected candidate pair`, () => selectedPair(p).then((x) => x ?? undefined), 5000, 200);
    // The page's side is coturn's relayed address; the node's side is its own host candidate.
    expect(pair).toMatchObject({ localType: 'relay', relayProtocol: 'udp', remoteType: 'host' });
    expect(pair.localAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(pair.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  }

  // coturn allocated for both participants, under the usernames the node derived.
  const log = coturn.stdout;
  for (const p of participants) expect(log).toMatch(new RegExp(`username=<\\d+:${p.id}>`));
  expect(log).toMatch(/ALLOCATE processed, success/);
  // The node never logged the TURN secret.
  expect(node.proc.stdout + node.proc.stderr).not.toContain(TURN_SECRET);
});
