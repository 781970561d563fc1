/**
 * Video between a browser and a SIP endpoint (issue 3 item 4, video part): a headless Chromium
 * and a SIP phone sending H.264 from a real libx264 capture are in one H264 conference. The
 * browser decodes the SIP endpoint's video (forwarded untouched) and hears it; the SIP endpoint
 * is shown the browser's video (voice switching with one source) from a keyframe on, with one
 * SSRC and gap-free sequence numbers.
 */
import type { BrowserContext } from 'playwright-core';
import { AvPhone } from './helpers/av-phone';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, waitForRemoteMedia } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, sleep, waitFor } from './helpers/proc';

jest.setTimeout(90_000);

let node: NodeUnderTest;
let ctx: BrowserContext;
let phone: AvPhone | undefined;

beforeAll(async () => {
  const dir = makeTempDir('webrtc-sip-video');
  const config = await writeNodeConfig({ dir, vmrs: [{ name: 'meet', aliases: ['meet'], videoCodec: 'H264' }] });
  node = await NodeUnderTest.start(config);
  ctx = await launchBrowser(dir);
});

afterAll(async () => {
  phone?.close();
  await closeBrowsers();
  await killAll();
});

it('the browser decodes the SIP endpoint video and audio; the SIP endpoint gets the browser video from a keyframe', async () => {
  const browser = await openJoinPage(ctx, node.baseUrl, 'meet', 'Ann');
  await waitFor('the browser to join', async () => ((await pageState(browser)).participantId ? true : undefined), 10_000, 100);
  phone = await AvPhone.call({ sipPort: node.config.sipPort, alias: 'meet', toneHz: 440, talking: () => true, sendVideo: true, videoTag: 0x5a });
  expect(phone.videoAnswered).toBe(true);
  const sip = await waitFor('the SIP participant in the API', async () => (await node.participantsOf('meet')).find((p) => p.protocol === 'sip'), 10_000, 100);

  // Browser side: the SIP endpoint's H.264 decodes in Chromium, and its tone is heard.
  const proof = await waitForRemoteMedia(browser, { remotes: 1, video: true, timeoutMs: 15_000 });
  const fromSip = proof.remotes.find((r) => r.participant === sip.id);
  expect(fromSip?.framesDecoded ?? 0).toBeGreaterThan(0);
  expect(fromSip?.audioLevel ?? 0).toBeGreaterThan(0);

  // SIP side: the browser is the only other video source, so the phone is shown it.
  await waitFor('the phone to receive video', async () => (phone && phone.video.length > 20 ? true : undefined), 10_000, 100);
  await sleep(500);
  const v = phone.video;
  expect(v[0]?.keyframe).toBe(true);
  expect(new Set(v.map((p) => p.ssrc)).size).toBe(1);
  expect(v.slice(1).filter((p, i) => ((p.sequence - (v[i]?.sequence ?? 0)) & 0xffff) !== 1)).toEqual([]);
  const listed = (await node.participantsOf('meet')).find((p) => p.protocol === 'sip') as unknown as { videoShowing?: string };
  const browserId = (await pageState(browser)).participantId;
  expect(listed.videoShowing).toBe(browserId);
  await phone.hangup();
});
