/**
 * HTTPS and WSS with the development certificate (issue 12 item 3 acceptance): the node runs in
 * its own network namespace at 10.78.0.11, started by `scripts/start --tls-self-signed`, which
 * makes the certificate with openssl in the test's temp dir. Headless Chromium runs in another
 * namespace at 10.78.0.50 (veth pairs to a bridge: no loopback shortcut), trusts exactly that
 * certificate by its SPKI hash, loads the page over https://, signals over wss:// and decodes
 * the other participant's video. A Chromium without the hash refuses the page.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, requireChromium, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir } from './helpers/config';
import { NetnsLab } from './helpers/netns-cluster';
import { REPO_ROOT } from './helpers/node-process';
import { killAll, waitFor, type Proc } from './helpers/proc';
import { requireTool } from './helpers/tools';

jest.setTimeout(120_000);

const NODE = 'n';
const BROWSER = 'b';
const HTTPS_PORT = 8443;
const ADMIN_TOKEN = 'lab-admin-token-0123456789';

let dir: string;
let lab: NetnsLab | undefined;
let node: Proc;
let nodeAddress: string;
let base: string;
/** What scripts/start printed: the page URL, the certificate file and its fingerprints. */
let banner: { page: string; certFile: string; sha256: string; spki: string };

beforeAll(async () => {
  requireChromium();
  requireTool('openssl');
  dir = makeTempDir('https-browser');
  lab = NetnsLab.create({
    prefix: 'hbx',
    subnet: '10.78.0',
    hosts: [
      { role: NODE, octet: 11 },
      { role: BROWSER, octet: 50 },
    ],
    dir,
  });
  nodeAddress = lab.address(NODE);
  base = `https://${nodeAddress}:${HTTPS_PORT}`;
  const config = join(dir, 'https.yaml');
  writeFileSync(
    config,
    [
      `cluster: { name: lab, secret: "lab-cluster-secret-0123456789", admin_token: "${ADMIN_TOKEN}", store: memory }`,
      'locations: [ { name: lab } ]',
      'nodes:',
      `  - { name: n1, location: lab, address: "${nodeAddress}", sip_port: 5060, http_port: ${HTTPS_PORT}, control_port: 7070, rtp_ports: { min: 40000, max: 40199 }, capacity: 10 }`,
      'media: { workers: 1 }',
      'vmrs: [ { name: meet, aliases: [meet] } ]',
      '',
    ].join('\n'),
  );
  // dist/ is built by the jest global setup; scripts/start must not rebuild it under other tests.
  node = lab.spawn(
    NODE,
    'node n1 (scripts/start --tls-self-signed)',
    'env',
    ['CONFNODE_SKIP_PREPARE=1', `CONFNODE_STATE_DIR=${join(dir, 'state')}`, join(REPO_ROOT, 'scripts', 'start'), '--config', config, '--node', 'n1', '--tls-self-signed'],
    REPO_ROOT,
  );
  await waitFor(
    'the node to log "ready"',
    () => {
      if (node.exit) throw new Error(`the node exited: ${JSON.stringify(node.exit)}`);
      return node.stdout.includes('confnode n1 ready') ? true : undefined;
    },
    30_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${node.tail()}`);
  });
  const field = (label: string): string => {
    const m = new RegExp(`^\\s+${label}: (\\S+)`, 'm').exec(node.stdout);
    if (!m?.[1]) throw new Error(`scripts/start printed no '${label}:' line\n${node.tail()}`);
    return m[1];
  };
  banner = { page: field('page'), certFile: field('certificate'), sha256: field('SHA-256 fingerprint'), spki: field('SPKI SHA-256 \\(Chromium --ignore-certificate-errors-spki-list\\)') };
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** GET `path` from inside the page (same origin, admin token), parsed as JSON. */
function pageGet<T>(p: JoinedPage, path: string): Promise<T> {
  return p.page.evaluate(
    async ([url, token]) => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      return (await res.json()) as unknown;
    },
    [path, ADMIN_TOKEN] as const,
  ) as Promise<T>;
}

describe('scripts/start --tls-self-signed', () => {
  it("made a certificate for the node's address with openssl and printed the https page URL and its SHA-256 fingerprint", () => {
    expect(banner.page).toBe(`${base}/`);
    expect(banner.certFile.startsWith(join(dir, 'state', 'dev-cert'))).toBe(true);
    const cert = new X509Certificate(readFileSync(banner.certFile));
    expect(cert.checkIP(nodeAddress)).toBe(nodeAddress);
    expect(cert.fingerprint256).toBe(banner.sha256);
    expect(node.stdout).toContain(`"http":"${base}/"`);
  });
});

describe('Chromium in its own namespace over HTTPS and WSS', () => {
  let ctx: BrowserContext;
  const pages: JoinedPage[] = [];

  it('a Chromium that does not trust the certificate refuses the page', async () => {
    const untrusting = await launchBrowser(dir, [], (lab as NetnsLab).chromiumIn(BROWSER));
    try {
      const page = await untrusting.newPage();
      const load = (): Promise<string> => page.goto(`${base}/`, { timeout: 10_000 }).then(() => 'loaded', (e: unknown) => String(e));
      let outcome = await load();
      // A Chromium just started in a fresh namespace may report the network as changed once (its
      // interfaces settling): not what this test is about, so that navigation is tried again.
      if (outcome.includes('ERR_NETWORK_CHANGED')) outcome = await load();
      expect(outcome).toMatch(/ERR_CERT/);
    } finally {
      await untrusting.close();
    }
  });

  it('two pages join meet over https:// and wss:// and each decodes the other one\'s video', async () => {
    ctx = await launchBrowser(dir, [`--ignore-certificate-errors-spki-list=${banner.spki}`], (lab as NetnsLab).chromiumIn(BROWSER));
    for (const name of ['Ann', 'Ben']) pages.push(await openJoinPage(ctx, base, 'meet', name));
    const [ann, ben] = pages as [JoinedPage, JoinedPage];
    // A secure context: getUserMedia works, and the page chose wss:// for its signaling.
    expect(await ann.page.evaluate('[location.protocol, isSecureContext]')).toEqual(['https:', true]);
    for (const p of pages) {
      const proof = await waitForRemoteMedia(p, { remotes: 1, video: true, timeoutMs: 40_000 }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}\npage: ${JSON.stringify(await pageState(p).catch(() => null))}\n${node.tail(3000)}`);
      });
      expect(proof.remotes.some((r) => r.framesDecoded > 0)).toBe(true);
    }
    const annId = (await pageState(ann)).participantId;
    const benId = (await pageState(ben)).participantId;
    expect((await waitForRemoteMedia(ann, { remotes: 1 })).remotes.find((r) => r.participant === benId)?.framesDecoded ?? 0).toBeGreaterThan(0);
    expect((await waitForRemoteMedia(ben, { remotes: 1 })).remotes.find((r) => r.participant === annId)?.framesDecoded ?? 0).toBeGreaterThan(0);

    // The node saw both over TLS from the browser's own namespace address.
    const participants = await pageGet<Array<{ id: string; remote?: { transport: string; address: string } }>>(ann, '/api/v1/participants');
    expect(participants.map((p) => p.remote).sort()).toEqual([
      { transport: 'wss', address: lab?.address(BROWSER), port: expect.any(Number) as number },
      { transport: 'wss', address: lab?.address(BROWSER), port: expect.any(Number) as number },
    ]);
    const status = await pageGet<{ http: { scheme?: string; url?: string } }>(ann, '/api/v1/status');
    expect(status.http).toMatchObject({ scheme: 'https', url: `${base}/` });
  });

  afterAll(async () => {
    for (const p of pages) await p.page.close().catch(() => undefined);
  });
});
