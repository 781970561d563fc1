/**
 * nodes[].ice_ports (issue 12 item 4): a browser's ICE with the node uses a port of the configured
 * range, so a firewall in front of the node can open exactly that range. Real node, headless
 * Chromium; the node's candidates are read from the page's remote description and the pair in use
 * from getStats.
 */
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, requireChromium, type JoinedPage } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { freePortRange } from './helpers/ports';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(60_000);

let node: NodeUnderTest;
let ctx: BrowserContext;
let range: { min: number; max: number };

beforeAll(async () => {
  requireChromium();
  const dir = makeTempDir('webrtc-ice-ports');
  range = await freePortRange(40);
  const config = await writeNodeConfig({ dir, nodeExtra: `ice_ports: { min: ${range.min}, max: ${range.max} }`, mediaExtra: 'workers: 1' });
  node = await NodeUnderTest.start(config);
  ctx = await launchBrowser(dir);
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
});

/** The node's candidate ports (from the page's remote SDP) and the remote port of the pair in use. */
async function icePorts(p: JoinedPage): Promise<{ candidates: number[]; selected: number | undefined }> {
  return p.page.evaluate(async () => {
    type Stats = { forEach(cb: (s: Record<string, unknown>) => void): void };
    const c = (globalThis as unknown as { confnode: { pc: { remoteDescription: { sdp: string } | null; getStats(): Promise<Stats> } | null } }).confnode;
    const sdp = c.pc?.remoteDescription?.sdp ?? '';
    const candidates = [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/gim)].map((m) => Number(m[1]));
    let selected: number | undefined;
    const byId = new Map<string, Record<string, unknown>>();
    const stats = c.pc ? await c.pc.getStats() : undefined;
    stats?.forEach((s) => byId.set(String(s.id), s));
    for (const s of byId.values()) {
      if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated === true) {
        const remote = byId.get(String(s.remoteCandidateId));
        if (remote) selected = Number(remote.port);
      }
    }
    return { candidates, selected };
  });
}

describe('nodes[].ice_ports', () => {
  it('a browser connects to the node on a port of the configured range (candidates and the nominated pair)', async () => {
    const a = await openJoinPage(ctx, node.baseUrl, 'meet', 'Ann');
    const b = await openJoinPage(ctx, node.baseUrl, 'meet', 'Ben');
    for (const p of [a, b]) await waitFor(`${p.name} connected`, async () => ((await pageState(p)).connectionState === 'connected' ? true : undefined), 20_000, 200);
    for (const p of [a, b]) {
      const ports = await waitFor(`${p.name}'s nominated pair`, async () => {
        const r = await icePorts(p);
        return r.selected !== undefined ? r : undefined;
      }, 10_000, 200);
      expect(ports.candidates.length).toBeGreaterThan(0);
      for (const port of [...ports.candidates, ports.selected ?? 0]) {
        expect(port).toBeGreaterThanOrEqual(range.min);
        expect(port).toBeLessThanOrEqual(range.max);
      }
    }
  });
});
