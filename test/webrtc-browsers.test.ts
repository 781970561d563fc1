/**
 * Browsers in a conference (issue 3 acceptance): headless Debian Chromium with fake camera and
 * microphone joins a real node process through the join page. Media proof comes from each page's
 * own getStats() (frames decoded, audio samples with energy), the participant list from the page
 * hooks and the DOM, and the node's view from /api/v1/participants.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import {
  closeBrowsers,
  launchBrowser,
  openJoinPage,
  pageState,
  remoteMediaSnapshot,
  remoteTileNames,
  waitForFlowingMedia,
  waitForRemoteMedia,
  audioPacketsSent,
  type JoinedPage,
  type MediaProof,
} from './helpers/browser';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';

jest.setTimeout(90_000);

let dir: string;
let node: NodeUnderTest;
let ctx: BrowserContext;
const timings: Record<string, unknown> = {};

beforeAll(async () => {
  dir = makeTempDir('webrtc');
  const config = await writeNodeConfig({
    dir,
    vmrs: [
      { name: 'meet', aliases: ['meet', 'meet@localhost'] },
      { name: 'four', aliases: ['four'] },
    ],
  });
  node = await NodeUnderTest.start(config);
  ctx = await launchBrowser(dir);
});

afterAll(async () => {
  writeFileSync(join(dir, 'timings.json'), JSON.stringify(timings, null, 2));
  await closeBrowsers();
  await killAll();
});

/** The ICE ufrag of the page's local and remote descriptions (changes with an ICE restart). */
async function iceUfrags(p: JoinedPage): Promise<{ local: string; remote: string }> {
  return p.page.evaluate(() => {
    const pc = (globalThis as unknown as { confnode: { pc: { localDescription: { sdp: string } | null; remoteDescription: { sdp: string } | null } } }).confnode.pc;
    const ufrag = (sdp: string | undefined): string => /a=ice-ufrag:(\S+)/.exec(sdp ?? '')?.[1] ?? '';
    return { local: ufrag(pc.localDescription?.sdp), remote: ufrag(pc.remoteDescription?.sdp) };
  });
}

async function closePages(pages: JoinedPage[]): Promise<void> {
  await Promise.allSettled(pages.map((p) => p.page.close()));
}

function summary(proof: MediaProof): { elapsedMs: number; firstFrameMs: number | null } {
  return { elapsedMs: Math.round(proof.elapsedMs), firstFrameMs: proof.firstFrameMs === null ? null : Math.round(proof.firstFrameMs) };
}

describe('two browsers in meet', () => {
  const pages: JoinedPage[] = [];
  afterAll(() => closePages(pages));

  it('each decodes the other one video and receives its audio (join-to-media time recorded)', async () => {
    pages.push(await openJoinPage(ctx, node.baseUrl, 'meet', 'Ann'));
    pages.push(await openJoinPage(ctx, node.baseUrl, 'meet', 'Bob'));
    const proofs = await Promise.all(pages.map((p) => waitForRemoteMedia(p, { remotes: 1, timeoutMs: 10_000 })));
    timings.twoBrowsers = proofs.map(summary);
    console.log(`two browsers: join -> remote video and audio: ${proofs.map((p) => `${Math.round(p.elapsedMs)} ms (first frame ${Math.round(p.firstFrameMs ?? -1)} ms)`).join(', ')}`);
    for (const proof of proofs) {
      expect(proof.remotes).toHaveLength(1);
      expect(proof.remotes[0]?.framesDecoded).toBeGreaterThan(0);
      expect(proof.remotes[0]?.totalSamplesReceived).toBeGreaterThan(0);
    }
    // Each page attributes the media to the other participant (msid = participant id).
    const [a, b] = await Promise.all(pages.map(pageState));
    expect(proofs[0]?.remotes[0]?.participant).toBe(b?.participantId);
    expect(proofs[1]?.remotes[0]?.participant).toBe(a?.participantId);
  });

  it('each page lists both participants and shows a tile named after the other', async () => {
    for (const [i, p] of pages.entries()) {
      const s = await pageState(p);
      expect(s.state).toBe('joined');
      expect(s.participants.map((x) => `${x.name}/${x.protocol}`).sort()).toEqual(['Ann/webrtc', 'Bob/webrtc']);
      expect(await remoteTileNames(p)).toEqual([i === 0 ? 'Bob' : 'Ann']);
    }
  });

  it('/api/v1/participants lists the browsers with protocol webrtc and packet counters both ways', async () => {
    const list = await waitFor(
      'two webrtc participants with packets in and out',
      async () => {
        const l = await node.participantsOf('meet');
        return l.length === 2 && l.every((p) => p.packetsIn > 0 && p.packetsOut > 0) ? l : undefined;
      },
      5000,
      200,
    );
    for (const p of list) {
      expect(p.protocol).toBe('webrtc');
      expect(p.remote?.transport).toBe('ws');
      expect(p.remote?.address).toBe('127.0.0.1');
    }
  });

  it('a muted microphone sends a few Opus DTX frames of digital silence, which the SFU does not forward (RFC 6464 level 127); unmuting resumes it', async () => {
    const [ann, bob] = pages;
    if (!ann || !bob) throw new Error('pages missing');
    const annId = (await pageState(ann)).participantId ?? '';
    const audioFromAnn = async (): Promise<number> => (await remoteMediaSnapshot(bob)).find((r) => r.participant === annId)?.audioPackets ?? 0;
    const annIn = async (): Promise<number> => (await node.participantsOf('meet')).find((p) => p.id === annId)?.packetsIn ?? 0;
    await ann.page.click('#mute-audio');
    await new Promise((r) => setTimeout(r, 1500)); // packets in flight and the node's stats snapshot
    const [bob0, in0, sent0] = [await audioFromAnn(), await annIn(), await audioPacketsSent(ann)];
    await new Promise((r) => setTimeout(r, 2000));
    const [bob1, in1, sent1] = [await audioFromAnn(), await annIn(), await audioPacketsSent(ann)];
    // Ann's browser still sends (video, and Opus DTX frames of silence: a few per second, not 50,
    // since the page asks for DTX); Bob gets (almost) none of her audio.
    expect(in1 - in0).toBeGreaterThan(40);
    expect(sent1 - sent0).toBeGreaterThan(0);
    expect(sent1 - sent0).toBeLessThan(30);
    expect(bob1 - bob0).toBeLessThan(10);
    await ann.page.click('#mute-audio');
    await waitFor('Bob to receive Ann\'s audio again', async () => ((await audioFromAnn()) > bob1 + 25 ? true : undefined), 5000, 200);
  });

  it('ICE restart from a page (as after a network change): new ICE credentials both ways, the call stays and media flows both ways again', async () => {
    const [ann, bob] = pages;
    if (!ann || !bob) throw new Error('pages missing');
    const [annId, bobId] = [(await pageState(ann)).participantId ?? '', (await pageState(bob)).participantId ?? ''];
    const before = await iceUfrags(ann);
    await ann.page.evaluate(() => (globalThis as unknown as { confnode: { restartIce(): void } }).confnode.restartIce());
    const after = await waitFor('Ann\'s restart to be negotiated and connected', async () => {
      const u = await iceUfrags(ann);
      const s = await pageState(ann);
      return u.local !== before.local && u.remote !== before.remote && u.remote && s.connectionState === 'connected' ? u : undefined;
    }, 10_000, 200);
    expect(after.local).not.toBe(before.local);
    await Promise.all([waitForFlowingMedia(ann, [bobId]), waitForFlowingMedia(bob, [annId])]);
    expect((await pageState(ann)).state).toBe('joined');
    // What an operator scrapes: one restart asked for by a browser, connected again.
    const metric = async (series: string): Promise<number> => {
      const text = await (await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    };
    await waitFor('the restart in /metrics', async () => ((await metric('confnode_webrtc_ice_reconnects_total{node="n1"}')) === 1 ? true : undefined), 3000, 200);
    expect(await metric('confnode_webrtc_ice_restarts_total{by="browser",node="n1"}')).toBe(1);
    expect(await metric('confnode_webrtc_ice_restarts_total{by="node",node="n1"}')).toBe(0);
    expect((await node.participantsOf('meet')).map((p) => p.id).sort()).toEqual([annId, bobId].sort());
  });

  it('a page whose signaling WebSocket drops resumes it: the same participant, media never stops, and what the node sent meanwhile (a newcomer\'s renegotiation) arrives', async () => {
    const [ann, bob] = pages;
    if (!ann || !bob) throw new Error('pages missing');
    const [annId, bobId] = [(await pageState(ann)).participantId ?? '', (await pageState(bob)).participantId ?? ''];
    const hooks = (): Promise<{ resumes: number; status: string }> =>
      ann.page.evaluate(() => ({
        resumes: (globalThis as unknown as { confnode: { resumes: number } }).confnode.resumes,
        status: (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById('status')?.textContent ?? '',
      }));
    // Ann's socket drops and stays down for 5 s: Cat joins meanwhile.
    await ann.page.evaluate(() => (globalThis as unknown as { confnode: { dropSocket(holdMs: number): void } }).confnode.dropSocket(5000));
    await waitFor('Ann\'s page to say it is reconnecting', async () => ((await hooks()).status.startsWith('Reconnecting') ? true : undefined), 3000, 50);
    const cat = await openJoinPage(ctx, node.baseUrl, 'meet', 'Cat');
    try {
      const catId = await waitFor('Cat to join', async () => (await pageState(cat)).participantId ?? undefined, 10_000, 100);
      expect((await hooks()).resumes).toBe(0); // still away while Cat joined
      await waitForFlowingMedia(bob, [annId]); // Ann's media never stopped
      await waitFor('Ann to resume', async () => ((await hooks()).resumes === 1 ? true : undefined), 15_000, 200);
      // The offer the node sent Ann while she was away (Cat's tracks) was replayed and answered.
      const proof = await waitForRemoteMedia(ann, { remotes: 2, timeoutMs: 15_000 });
      expect(proof.remotes.map((r) => r.participant).sort()).toEqual([bobId, catId].sort());
      const s = await pageState(ann);
      expect(s.state).toBe('joined');
      expect(s.participantId).toBe(annId);
      expect(s.participants.map((x) => x.name).sort()).toEqual(['Ann', 'Bob', 'Cat']);
      expect((await node.participantsOf('meet')).map((p) => p.id).sort()).toEqual([annId, bobId, catId].sort());
      const metrics = await (await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      expect(metrics).toContain('confnode_webrtc_signaling_sessions_total{event="detached",node="n1"} 1');
      expect(metrics).toContain('confnode_webrtc_signaling_sessions_total{event="resumed",node="n1"} 1');
    } finally {
      await cat.page.close();
    }
    await waitFor('node to list Ann and Bob again', async () => ((await node.participantsOf('meet')).length === 2 ? true : undefined), 5000, 100);
  });

  it('a socket that dies silently (nothing arrives, no close) while the node renegotiates is noticed by the page heartbeat and resumed; the page answers the replayed offer', async () => {
    const [ann, bob] = pages;
    if (!ann || !bob) throw new Error('pages missing');
    const annId = (await pageState(ann)).participantId ?? '';
    const hooks = (): Promise<{ resumes: number; state: string; status: string; error: unknown }> =>
      ann.page.evaluate(() => {
        const c = (globalThis as unknown as { confnode: { resumes: number; state: string; error: unknown } }).confnode;
        const status = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById('status')?.textContent ?? '';
        return { resumes: c.resumes, state: c.state, status, error: c.error };
      });
    const before = (await hooks()).resumes;
    await ann.page.evaluate(() => (globalThis as unknown as { confnode: { deafSocket(): void } }).confnode.deafSocket());
    // Eve joins: the node's offer of her tracks goes into Ann's dead socket. The node's answer
    // deadline must outlast the page noticing (a ping every 5 s, 12 s of silence) and resuming.
    const eve = await openJoinPage(ctx, node.baseUrl, 'meet', 'Eve');
    try {
      const eveId = await waitFor('Eve to join', async () => (await pageState(eve)).participantId ?? undefined, 10_000, 100);
      await waitFor('Ann\'s heartbeat to resume', async () => ((await hooks()).resumes === before + 1 ? true : undefined), 30_000, 250).catch(async (e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; Ann's page: ${JSON.stringify(await hooks())}`);
      });
      const proof = await waitForRemoteMedia(ann, { remotes: 2, timeoutMs: 15_000 });
      expect(proof.remotes.map((r) => r.participant).sort()).toEqual([(await pageState(bob)).participantId, eveId].sort());
      const s = await pageState(ann);
      expect(s.participantId).toBe(annId);
      expect(s.state).toBe('joined');
      expect((await node.participantsOf('meet')).map((p) => p.id)).toContain(annId);
      await waitForFlowingMedia(bob, [annId]);
    } finally {
      await eve.page.close();
    }
    await waitFor('node to list Ann and Bob again', async () => ((await node.participantsOf('meet')).length === 2 ? true : undefined), 5000, 100);
  });

  it('a page that leaves while its socket is down says so through a resume: the node removes it at once, not after the 20 s grace', async () => {
    const dan = await openJoinPage(ctx, node.baseUrl, 'meet', 'Dan');
    try {
      const danId = await waitFor('Dan to join', async () => (await pageState(dan)).participantId ?? undefined, 10_000, 100);
      await dan.page.evaluate(() => (globalThis as unknown as { confnode: { dropSocket(holdMs: number): void } }).confnode.dropSocket(30_000));
      await waitFor('Dan\'s socket to be down', async () => ((await dan.page.textContent('#status'))?.startsWith('Reconnecting') ? true : undefined), 3000, 50);
      await dan.page.click('#leave');
      await waitFor('the node to drop Dan', async () => ((await node.participantsOf('meet')).every((p) => p.id !== danId) ? true : undefined), 5000, 100);
      expect((await pageState(dan)).state).toBe('left');
    } finally {
      await dan.page.close();
    }
  });

  it('leave: the other page sees the tile go and the list shrink; the node lists one participant', async () => {
    const [ann, bob] = pages;
    if (!ann || !bob) throw new Error('pages missing');
    await bob.page.click('#leave');
    await waitFor('Ann to see Bob leave', async () => ((await remoteTileNames(ann)).length === 0 ? true : undefined), 5000, 100);
    expect((await pageState(ann)).participants.map((p) => p.name)).toEqual(['Ann']);
    expect((await pageState(bob)).state).toBe('left');
    await waitFor('node to list only Ann', async () => ((await node.participantsOf('meet')).length === 1 ? true : undefined), 5000, 100);
  });
});

describe('four browsers in one conference', () => {
  const pages: JoinedPage[] = [];
  afterAll(() => closePages(pages));

  it('each decodes three remote videos and hears three remote audio streams', async () => {
    for (const name of ['P1', 'P2', 'P3', 'P4']) pages.push(await openJoinPage(ctx, node.baseUrl, 'four', name));
    const proofs = await Promise.all(pages.map((p) => waitForRemoteMedia(p, { remotes: 3, timeoutMs: 20_000 })));
    timings.fourBrowsers = proofs.map(summary);
    console.log(`four browsers: join -> 3 remote videos and audio: ${proofs.map((p) => `${Math.round(p.elapsedMs)} ms`).join(', ')}`);
    for (const proof of proofs) {
      const good = proof.remotes.filter((r) => r.framesDecoded > 0 && r.totalSamplesReceived > 0);
      expect(good).toHaveLength(3);
    }
  });

  it('one leaves (page closed): the others see its tile go and the list shrink to three', async () => {
    const leaver = pages.pop();
    if (!leaver) throw new Error('no page');
    await leaver.page.close();
    for (const p of pages) {
      await waitFor(`${p.name} to drop P4's tile`, async () => ((await remoteTileNames(p)).length === 2 ? true : undefined), 5000, 100);
      expect(await remoteTileNames(p)).not.toContain('P4');
      expect((await pageState(p)).participants.map((x) => x.name).sort()).toEqual(['P1', 'P2', 'P3']);
    }
    await waitFor('node to list three', async () => ((await node.participantsOf('four')).length === 3 ? true : undefined), 5000, 100);
  });
});
