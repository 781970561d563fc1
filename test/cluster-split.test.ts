/**
 * R1 across node processes (issue 10, signaling/media split): calls and browsers received by node A
 * whose media is on node B. A's SDP carries B's media; PIN digits (RFC 4733 events seen by B, SIP
 * INFO received by A), hold/resume re-INVITEs and BYE act on B through the control channel; a
 * browser keeps its WebSocket on A while its ICE and DTLS are B's, and decodes the others.
 */
import { join } from 'node:path';
import { closeBrowsers, launchBrowser, openJoinPage, pageState, requireChromium, waitForRemoteMedia } from './helpers/browser';
import { startCluster, writeClusterConfig } from './helpers/cluster';
import { makeTempDir } from './helpers/config';
import { EtcdServer } from './helpers/etcd';
import type { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { assertSippOk, startSipp, whileSippRuns } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(90_000);

let dir: string;
let etcd: EtcdServer;
let a: NodeUnderTest;
let b: NodeUnderTest;

beforeAll(async () => {
  requireTool('sipp');
  requireChromium();
  dir = makeTempDir('cluster-split');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 30);
  etcd = await EtcdServer.start(dir);
  // B has the most free capacity: every conference starts there (R2) and stays (R3).
  const configs = await writeClusterConfig({
    dir,
    etcdEndpoint: etcd.endpoint,
    nodes: [
      { name: 'A', location: 'here', capacity: 4 },
      { name: 'B', location: 'here', capacity: 20 },
    ],
    vmrs: [
      { name: 'split', aliases: ['split'] },
      { name: 'secret', aliases: ['secret'], hostPin: '1234', guestPin: '5678' },
      { name: 'hold', aliases: ['hold'] },
    ],
  });
  const started = await startCluster(configs);
  if (!started[0] || !started[1]) throw new Error('two nodes expected');
  [a, b] = started as [NodeUnderTest, NodeUnderTest];
});

afterAll(async () => {
  await closeBrowsers();
  await killAll();
  await etcd?.destroy();
});

interface Placed {
  conference: string;
  displayName?: string;
  role?: string;
  signalingNode?: string;
  mediaNode?: string;
  packetsIn: number;
}

describe('R1: signaling stays on A, media on B', () => {
  it('a SIP caller of A keys the host PIN (RFC 4733, seen by B) and is admitted as host', async () => {
    const run = await startSipp({ scenario: 'uac_pin_rfc4733.xml', target: a.sipTarget, service: 'secret', cwd: dir, calls: 1, timeoutS: 30 });
    await whileSippRuns(run, 'PIN by RFC 4733 with media on B', async () => {
      const admitted = await waitFor(
        'the caller admitted as host',
        async () => (await a.getJson<Placed[]>('/api/v1/participants')).find((p) => p.conference === 'secret' && p.role === 'host'),
        10_000,
        100,
      );
      expect(admitted).toMatchObject({ signalingNode: 'A', mediaNode: 'B' });
    });
  });

  it('three wrong PINs by SIP INFO (received by A, heard on B) end the call with a BYE from A', async () => {
    const run = await startSipp({ scenario: 'uac_pin_wrong_info.xml', target: a.sipTarget, service: 'secret', cwd: dir, calls: 1, timeoutS: 30 });
    assertSippOk(await run.done, 'wrong PIN three times, media on B');
    const log = await a.getJson<{ message: string }[]>('/api/v1/log');
    expect(log.map((e) => e.message)).toContain('Wrong PIN entered three times: call ended');
  });

  it('hold and resume re-INVITEs at A apply on B (every 200 carries the right direction)', async () => {
    const run = await startSipp({ scenario: 'uac_hold_resume.xml', target: a.sipTarget, service: 'hold', cwd: dir, timeoutS: 40 });
    await whileSippRuns(run, 'hold/resume with media on B', async () => {
      const p = await waitFor('the holder with media on B', async () => (await b.getJson<Placed[]>('/api/v1/participants')).find((v) => v.conference === 'hold' && v.packetsIn > 0), 10_000, 200);
      expect(p).toMatchObject({ signalingNode: 'A', mediaNode: 'B' });
    });
    assertSippOk(await run.done, 'hold/resume through A with media on B');
  });

  it('two browsers joined at A get ICE and DTLS from B and decode each other', async () => {
    const ctx = await launchBrowser(dir);
    const ann = await openJoinPage(ctx, a.baseUrl, 'split', 'Ann');
    const bob = await openJoinPage(ctx, a.baseUrl, 'split', 'Bob');
    for (const page of [ann, bob]) {
      try {
        await waitForRemoteMedia(page, { remotes: 1, video: true, timeoutMs: 30_000 });
      } catch (err) {
        throw new Error(`${page.name}: ${String(err)}\npage: ${JSON.stringify(await pageState(page))}\n${[ann, bob].map((q) => `${q.name}'s console:\n${q.log.slice(-20).join('\n')}`).join('\n')}\nA:\n${a.proc.tail()}\nB:\n${b.proc.tail()}`);
      }
    }
    const placed = (await b.getJson<Placed[]>('/api/v1/participants')).filter((p) => p.conference === 'split');
    expect(placed.map((p) => `${p.displayName}:${p.signalingNode}/${p.mediaNode}`).sort()).toEqual(['Ann:A/B', 'Bob:A/B']);
    expect((await pageState(ann)).participants.map((p) => p.name).sort()).toEqual(['Ann', 'Bob']);
  });
});
