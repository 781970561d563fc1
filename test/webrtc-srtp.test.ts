/**
 * Browser SRTP on our keyed contexts (issue 13 item 1): after DTLS, each browser transport's SRTP
 * runs on native/srtp (src/media/werift/srtp-session.ts), and on Node's crypto when the addon is
 * missing (CONFNODE_SRTP=js, the fallback). Real headless Chromium: the page's own getStats says
 * which SRTP profile it negotiated, and each page decodes the other's video and audio.
 */
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(90_000);

let ctx: BrowserContext;

beforeAll(async () => {
  ctx = await launchBrowser(makeTempDir('webrtc-srtp-browser'));
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
});

/** The SRTP cipher of the page's selected transport, from Chromium's getStats. */
async function srtpCipher(p: JoinedPage): Promise<string> {
  return p.page.evaluate(async () => {
    type Stats = { forEach(f: (s: { type: string; srtpCipher?: string }) => void): void };
    const pc = (globalThis as unknown as { confnode: { pc: { getStats(): Promise<Stats> } } }).confnode.pc;
    const stats = await pc.getStats();
    let cipher = '';
    stats.forEach((s) => {
      if (s.type === 'transport' && s.srtpCipher) cipher = s.srtpCipher;
    });
    return cipher;
  });
}

describe.each([
  ['native/srtp (the default)', {}, 'native'],
  ["Node's crypto (CONFNODE_SRTP=js: the fallback without the addon)", { CONFNODE_SRTP: 'js' }, 'js'],
])('browser SRTP on %s', (_what, env, kind) => {
  let node: NodeUnderTest;
  const pages: JoinedPage[] = [];

  beforeAll(async () => {
    const config = await writeNodeConfig({ dir: makeTempDir(`webrtc-srtp-${kind}`), vmrs: [{ name: 'meet', aliases: ['meet'] }] });
    node = await NodeUnderTest.start(config, 20_000, env);
  });

  afterAll(async () => {
    await Promise.allSettled(pages.splice(0).map((p) => p.page.close()));
    await node.terminate(15_000);
  });

  it(`says at start which SRTP it uses ("srtp":"${kind}"); two Chromium pages negotiate AES_CM_128_HMAC_SHA1_80 and decode each other`, async () => {
    expect(node.proc.stdout).toContain(`"srtp":"${kind}"`);
    pages.push(await openJoinPage(ctx, node.baseUrl, 'meet', 'Ann'));
    pages.push(await openJoinPage(ctx, node.baseUrl, 'meet', 'Bob'));
    const proofs = await Promise.all(pages.map((p) => waitForRemoteMedia(p, { remotes: 1, timeoutMs: 15_000 })));
    for (const proof of proofs) expect(proof.remotes).toHaveLength(1);
    for (const p of pages) expect(await srtpCipher(p)).toBe('SRTP_AES128_CM_HMAC_SHA1_80'); // Chromium's name for it
    // The node protects every transport itself: werift's own SRTP was never left in place.
    expect(node.proc.stdout).not.toContain('werift protects this transport');
    // And sends through its own path (fast-send.ts): Ann's page leaves, her endpoint's counters are logged.
    await pages[0]!.page.close();
    await waitFor('the closed endpoint to log its counters', async () => (/"packetsFast":\d+/.test(node.proc.stdout) ? true : undefined), 10_000, 100);
    const closed = /"packetsOut":(\d+),"packetsFast":(\d+)/.exec(node.proc.stdout);
    expect(Number(closed?.[2])).toBeGreaterThan(0);
    // Everything but what went out before the transport was ours (a few packets at most).
    expect(Number(closed?.[2])).toBeGreaterThan(Number(closed?.[1]) * 0.9);
  });
});
