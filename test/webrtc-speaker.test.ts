/**
 * A room of browsers only (issue 13 item 4): nobody listens to the mix, so the node decodes no
 * browser audio and picks the active speaker from the RFC 6464 levels Chromium puts in each
 * packet. Two headless Chromium pages with a continuous 440 Hz fake microphone: the one that keeps
 * its microphone on is the speaker on both pages, and the speaker follows when they swap.
 */
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, toneMicrophoneArgs, useRawMicrophone, waitForRemoteMedia, type JoinedPage } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(90_000);

let node: NodeUnderTest;
let ctx: BrowserContext;
const pages: JoinedPage[] = [];

beforeAll(async () => {
  const dir = makeTempDir('webrtc-speaker');
  node = await NodeUnderTest.start(await writeNodeConfig({ dir, vmrs: [{ name: 'talk', aliases: ['talk'] }] }));
  ctx = await launchBrowser(dir, toneMicrophoneArgs(dir, 440));
  // No noise suppression: it learns a steady tone as noise and fades it within seconds.
  await useRawMicrophone(ctx);
});

afterAll(async () => {
  await Promise.allSettled(pages.map((p) => p.page.close()));
  await closeBrowsers();
  await killAll();
});

async function toggleMic(p: JoinedPage): Promise<void> {
  await p.page.evaluate(() => (globalThis as unknown as { confnode: { toggle(kind: string): void } }).confnode.toggle('audio'));
}

async function speakerOnBothPages(id: string, what: string): Promise<void> {
  await waitFor(what, async () => {
    const states = await Promise.all(pages.map((p) => pageState(p)));
    return states.every((s) => s.activeSpeaker === id) ? true : undefined;
  }, 15_000, 200);
}

it('the unmuted browser is the active speaker on every page, from RFC 6464 levels alone, and the speaker follows a swap', async () => {
  pages.push(await openJoinPage(ctx, node.baseUrl, 'talk', 'Ann'));
  pages.push(await openJoinPage(ctx, node.baseUrl, 'talk', 'Bob'));
  await Promise.all(pages.map((p) => waitForRemoteMedia(p, { remotes: 1, timeoutMs: 20_000 })));
  const [ann, bob] = pages as [JoinedPage, JoinedPage];
  const annId = (await pageState(ann)).participantId!;
  const bobId = (await pageState(bob)).participantId!;
  await toggleMic(bob);
  await speakerOnBothPages(annId, 'Ann (the only open microphone) as the speaker');
  await toggleMic(bob);
  await toggleMic(ann);
  await speakerOnBothPages(bobId, 'Bob as the speaker once Ann muted');
});
