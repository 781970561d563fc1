/**
 * SIP and WebRTC in one conference (issue 3 item 4, audio part): a sipp caller streams a PCMU
 * tone into `meet` while a headless Chromium is in the same conference. The browser must receive
 * the SIP participant's audio as its own stream (getStats: samples with energy, attributed to the
 * SIP participant's id) and show it as an audio-only SIP tile; the SIP participant must get the
 * mix (packetsOut > 0 in the API) and the browser must send media the node receives.
 */
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, remoteTileNames, waitForRemoteMedia } from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { startSipp, whileSippRuns } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(90_000);

let dir: string;
let node: NodeUnderTest;
let ctx: BrowserContext;

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('webrtc-mixed');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 30);
  const config = await writeNodeConfig({ dir, vmrs: [{ name: 'meet', aliases: ['meet'] }] });
  node = await NodeUnderTest.start(config);
  ctx = await launchBrowser(dir);
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
});

it('a browser and a sipp PCMU caller in meet: the browser hears the SIP caller, the caller gets the mix', async () => {
  const browser = await openJoinPage(ctx, node.baseUrl, 'meet', 'Ann');
  await waitFor('the browser to join', async () => ((await pageState(browser)).participantId ? true : undefined), 10_000, 100);
  const run = await startSipp({ scenario: 'uac_call_rtp.xml', target: node.sipTarget, service: 'meet', cwd: dir, pauseMs: 8000, timeoutS: 40 });
  await whileSippRuns(run, 'PCMU caller with a browser', async () => {
    const sip = await waitFor('the SIP participant in the API', async () => (await node.participantsOf('meet')).find((p) => p.protocol === 'sip'), 10_000, 100);
    const proof = await waitForRemoteMedia(browser, { remotes: 1, video: false, timeoutMs: 10_000 });
    const fromSip = proof.remotes.find((r) => r.participant === sip.id);
    expect(fromSip?.totalSamplesReceived).toBeGreaterThan(0);
    expect(fromSip?.audioLevel ?? 0).toBeGreaterThan(0);
    // The page shows the caller as a SIP participant with an audio-only tile.
    const state = await pageState(browser);
    expect(state.participants.find((p) => p.id === sip.id)).toMatchObject({ protocol: 'sip', video: false });
    expect((await remoteTileNames(browser)).length).toBe(1);
    expect(await browser.page.$eval(`.tile[data-participant="${sip.id}"]`, (e) => e.className)).not.toMatch(/video-on/);
    // The tone caller is the only talker: the page highlights its tile as the active speaker.
    await waitFor('the SIP caller as active speaker on the page', async () => ((await pageState(browser)).activeSpeaker === sip.id ? true : undefined), 8000, 100);
    expect(await browser.page.$eval(`.tile[data-participant="${sip.id}"]`, (e) => e.className)).toMatch(/speaking/);
    // Node side: the caller sends and gets its mix; the browser sends and receives.
    const both = await waitFor(
      'packets both ways for the caller and the browser',
      async () => {
        const l = await node.participantsOf('meet');
        return l.length === 2 && l.every((p) => p.packetsIn > 0 && p.packetsOut > 0) ? l : undefined;
      },
      8000,
      200,
    );
    expect(both.map((p) => p.protocol).sort()).toEqual(['sip', 'webrtc']);
  });
});
