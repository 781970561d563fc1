/**
 * Browsers whose network blocks UDP to the node (issue 12 item 5 and its acceptance): every party
 * in its own network namespace on a lab bridge (NetnsLab, 10.81.0.0/24, no loopback shortcut):
 * the node at 10.81.0.11, a real coturn (Debian `coturn`, use-auth-secret) at 10.81.0.12, and
 * headless Chromium at 10.81.0.50, whose namespace drops every UDP packet not addressed to coturn.
 * Two pages forced to relay (`&relay=1`: iceTransportPolicy 'relay') join one room and decode
 * each other's video. Proof: each page's selected ICE pair has a local candidate of type relay on
 * coturn's address and the node's host candidate as remote, coturn logged allocations for the
 * credentials the node derived, and the TURN secret is in neither the pages nor the node's log.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPageWith, pageState, requireChromium, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir } from './helpers/config';
import { LabNode, NetnsLab } from './helpers/netns-cluster';
import { killAll, waitFor, type Proc } from './helpers/proc';
import { requireTool } from './helpers/tools';

jest.setTimeout(90_000);

const TURN_SECRET = 'coturn-static-secret-for-tests-0123';
const ADMIN_TOKEN = 'turn-admin-token-0123456789';
const NODE = 'n';
const TURN = 't';
const BROWSER = 'b';
const TURN_PORT = 3478;
const RELAY_PORTS = { min: 49152, max: 49251 } as const;

let dir: string;
let lab: NetnsLab | undefined;
let coturn: Proc;
let node: LabNode;
let ctx: BrowserContext;
const pages: JoinedPage[] = [];

/** A STUN Binding request (RFC 5389) with a random transaction id. */
function stunBindingRequest(): Buffer {
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(req, 8);
  return req;
}

/** A SIP OPTIONS (RFC 3261) from `from` to the node's SIP port. */
function sipOptions(from: string, to: string): Buffer {
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  return Buffer.from(
    [
      `OPTIONS sip:${to}:5060 SIP/2.0`,
      `Via: SIP/2.0/UDP ${from}:5099;branch=${branch};rport`,
      `From: <sip:probe@${from}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${to}>`,
      `Call-ID: ${randomBytes(8).toString('hex')}@${from}`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

/**
 * Sends `payload` over UDP from inside `role`'s namespace (from port 5099) to host:port; true when
 * anything answers within 500 ms. A tiny Node script, since the test process is outside the lab.
 */
function udpAnswersFrom(role: string, host: string, port: number, payload: Buffer): boolean {
  const script =
    `const s=require('node:dgram').createSocket('udp4');const t=setTimeout(()=>process.exit(1),500);` +
    `s.once('message',()=>{clearTimeout(t);process.exit(0)});s.once('error',()=>process.exit(2));` +
    `s.bind(5099,()=>s.send(Buffer.from('${payload.toString('base64')}','base64'),${port},'${host}'));`;
  const res = spawnSync('ip', ['netns', 'exec', (lab as NetnsLab).ns(role), process.execPath, '-e', script], { timeout: 5000 });
  return res.status === 0;
}

/** nftables in the browser's namespace: UDP only to coturn's address; everything else is dropped. */
function blockUdpExceptTurn(turnAddress: string): void {
  const rules = join(dir, 'browser.nft');
  writeFileSync(
    rules,
    `table ip confnode_browser {
  counter udp_dropped {}
  chain output {
    type filter hook output priority filter; policy accept;
    oifname "eth0" meta l4proto udp ip daddr != ${turnAddress} counter name udp_dropped drop
  }
}
`,
  );
  const res = spawnSync('ip', ['netns', 'exec', (lab as NetnsLab).ns(BROWSER), 'nft', '-f', rules], { encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0) throw new Error(`nft in the browser namespace failed: ${res.stderr.trim()}`);
}

beforeAll(async () => {
  requireTool('turnserver');
  requireTool('nft');
  requireChromium();
  dir = makeTempDir('turn');
  lab = NetnsLab.create({
    prefix: 'twx',
    subnet: '10.81.0',
    hosts: [
      { role: NODE, octet: 11 },
      { role: TURN, octet: 12 },
      { role: BROWSER, octet: 50 },
    ],
    dir,
  });
  const turnAddress = lab.address(TURN);
  blockUdpExceptTurn(turnAddress);
  await lab.startForwarder(BROWSER);
  // PEERS.md "coturn 4.6"; the pid file and user DB in the temp dir (the defaults are system paths).
  coturn = lab.spawn(TURN, 'coturn', 'turnserver', [
    '-n',
    `--listening-ip=${turnAddress}`,
    `--listening-port=${TURN_PORT}`,
    `--relay-ip=${turnAddress}`,
    `--min-port=${RELAY_PORTS.min}`,
    `--max-port=${RELAY_PORTS.max}`,
    '--use-auth-secret',
    `--static-auth-secret=${TURN_SECRET}`,
    '--realm=confnode.test',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--log-file=stdout',
    '--verbose',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ]);
  coturn.onLine((line) => appendFileSync(join(dir, 'coturn.log'), `${line}\n`));
  // From the browser's namespace: the one UDP path its network leaves open.
  await waitFor('coturn to answer STUN from the browser namespace', () => {
    if (coturn.exit) throw new Error(`coturn exited: ${JSON.stringify(coturn.exit)}`);
    return udpAnswersFrom(BROWSER, turnAddress, TURN_PORT, stunBindingRequest()) ? true : undefined;
  }, 10_000, 200).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${coturn.tail()}`);
  });

  const config = join(dir, 'turn.yaml');
  writeFileSync(
    config,
    [
      `cluster: { name: lab, secret: "lab-cluster-secret-0123456789", admin_token: "${ADMIN_TOKEN}", store: memory }`,
      'locations: [ { name: lab } ]',
      'nodes:',
      `  - { name: n1, location: lab, address: "${lab.address(NODE)}", sip_port: 5060, http_port: 8080, control_port: 7070, rtp_ports: { min: 40000, max: 40199 }, capacity: 10 }`,
      'media: { workers: 1 }',
      'vmrs: [ { name: meet, aliases: [meet] } ]',
      `turn: [ { urls: ["turn:${turnAddress}:${TURN_PORT}?transport=udp"], secret: "${TURN_SECRET}", ttl_s: 600 } ]`,
      '',
    ].join('\n'),
  );
  node = await LabNode.start(lab, { name: 'n1', role: NODE, location: 'lab', capacity: 10 }, config, ADMIN_TOKEN);
  node.proc.onLine((line) => appendFileSync(join(dir, 'node.log'), `${line}\n`));
  // http://10.81.0.11 is no secure context and getUserMedia needs one: the node's origin is
  // declared secure, as an operator's TLS front would make it (https-browser.test.ts tests that).
  ctx = await launchBrowser(dir, [`--unsafely-treat-insecure-origin-as-secure=${node.baseUrl}`], lab.chromiumIn(BROWSER));
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
  lab?.destroy();
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

it("the browser's network blocks UDP to the node: an OPTIONS from its namespace gets no answer, the same from coturn's gets one", () => {
  const l = lab as NetnsLab;
  const nodeAddress = l.address(NODE);
  expect({
    fromBrowser: udpAnswersFrom(BROWSER, nodeAddress, 5060, sipOptions(l.address(BROWSER), nodeAddress)),
    fromCoturn: udpAnswersFrom(TURN, nodeAddress, 5060, sipOptions(l.address(TURN), nodeAddress)),
  }).toEqual({ fromBrowser: false, fromCoturn: true });
});

it('two Chromium pages in their own namespace, forced to relay through coturn in another, join a room and decode each other; the selected pairs are relay', async () => {
  const l = lab as NetnsLab;
  const turnAddress = l.address(TURN);
  const esc = (s: string): string => s.replace(/\./g, '\\.');
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
  const [annMedia, bobMedia] = await Promise.all([
    waitForRemoteMedia(ann, { remotes: 1, timeoutMs: 30_000 }),
    waitForRemoteMedia(bob, { remotes: 1, timeoutMs: 30_000 }),
  ]).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${coturn.tail()}\n${node.proc.tail()}`);
  });
  const annId = (await pageState(ann)).participantId;
  const bobId = (await pageState(bob)).participantId;
  expect(annMedia.remotes.find((r) => r.participant === bobId)?.framesDecoded ?? 0).toBeGreaterThan(0);
  expect(bobMedia.remotes.find((r) => r.participant === annId)?.framesDecoded ?? 0).toBeGreaterThan(0);

  const participants = (await node.participants()).filter((p) => p.conference === 'meet');
  expect(participants.map((p) => p.protocol)).toEqual(['webrtc', 'webrtc']);
  // Signaling came straight from the browser's namespace (TCP is not blocked there).
  expect(participants.map((p) => p.remote?.address)).toEqual([l.address(BROWSER), l.address(BROWSER)]);
  for (const p of pages) {
    const config = (await pageIceServers(p)) as { iceServers: Array<{ urls: string[]; username: string; credential: string }>; policy: string };
    expect(config.policy).toBe('relay');
    expect(config.iceServers).toHaveLength(1);
    const server = config.iceServers[0];
    expect(server?.urls).toEqual([`turn:${turnAddress}:${TURN_PORT}?transport=udp`]);
    // <expiry>:<participant id>, the expiry ten minutes (ttl_s 600) ahead; the page never sees the secret.
    const [expiry, who] = (server?.username ?? '').split(':');
    expect(participants.map((x) => x.id)).toContain(who);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(500);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(JSON.stringify(config)).not.toContain(TURN_SECRET);

    const pair = await waitFor(`${p.name}'s selected candidate pair`, () => selectedPair(p).then((x) => x ?? undefined), 5000, 200);
    // The page's side is coturn's relayed address; the node's side is its own host candidate.
    expect(pair).toMatchObject({ localType: 'relay', relayProtocol: 'udp', remoteType: 'host' });
    expect(pair.localAddress).toMatch(new RegExp(`^${esc(turnAddress)}:\\d+$`));
    expect(pair.remoteAddress).toMatch(new RegExp(`^${esc(l.address(NODE))}:\\d+$`));
  }

  // coturn allocated for both participants, under the usernames the node derived.
  const log = coturn.stdout;
  for (const p of participants) expect(log).toMatch(new RegExp(`username=<\\d+:${p.id}>`));
  expect(log).toMatch(/ALLOCATE processed, success/);
  // The node never logged the TURN secret.
  expect(node.proc.stdout + node.proc.stderr).not.toContain(TURN_SECRET);
});
