/**
 * A phone that goes away without a BYE (power cut, network gone) must not stay in the conference
 * for ever: after media.rtp_timeout_s without RTP or RTCP from it, while its SDP says it sends,
 * the node hangs up (BYE) and says why in the admin log. A phone on hold (a=inactive) owes no
 * media and keeps its call; once it resumes, its silence counts again. A node with a 2 s timeout,
 * sipp for the phone that goes silent, raw SIP over UDP for the hold.
 */
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { freePort } from './helpers/ports';
import { killAll, sleep, waitFor } from './helpers/proc';
import { buildRequest, header, newBranch, newDialogIds, okResponse, sdpOffer, toTag, UdpSip } from './helpers/sip-raw';
import { startSipp, whileSippRuns } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

const TIMEOUT_S = 2;

let dir: string;
let config: NodeConfig;
let node: NodeUnderTest;

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('rtp-timeout');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 30);
  config = await writeNodeConfig({ dir, rtpTimeoutS: TIMEOUT_S });
  node = await NodeUnderTest.start(config);
});

afterAll(async () => {
  await killAll();
});

interface LogEntry {
  message: string;
  conference?: string;
  participant?: string;
}

test('a phone that stops sending (no RTP, no RTCP) gets a BYE after media.rtp_timeout_s; the admin log says why', async () => {
  const run = await startSipp({ scenario: 'uac_silent_wait_bye.xml', target: node.sipTarget, service: 'meet', cwd: dir, timeoutS: 25 });
  const id = await whileSippRuns(run, 'silent phone waiting for the BYE', async () => {
    const p = await waitFor('the phone to stream', async () => (await node.participantsOf('meet')).find((x) => x.packetsIn > 0), 8000, 100);
    await waitFor('the node to drop the silent phone', async () => ((await node.participantsOf('meet')).length === 0 ? true : undefined), 15_000, 200);
    return p.id;
  });
  const log = await node.getJson<LogEntry[]>('/api/v1/log?conference=meet');
  expect(log.filter((e) => e.participant === id).map((e) => e.message)).toEqual([expect.stringMatching(/^No media from the phone for [2-9] s: call ended$/)]);
  expect(node.proc.stdout).toContain('no RTP or RTCP from the phone: hanging up');
  const metrics = await (await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  expect(metrics).toContain(`confnode_calls_ended_total{reason="media-timeout",node="${config.nodeName}"} 1`);
});

describe('a phone on hold (a=inactive) that sends nothing', () => {
  let c: UdpSip | undefined;
  let rtp: Socket | undefined;
  afterEach(() => {
    c?.close();
    rtp?.close();
  });

  test('keeps its call well past the timeout; after it resumes (a=sendrecv) and stays silent, the node hangs up', async () => {
    const rtpPort = await freePort();
    rtp = createSocket('udp4');
    await new Promise<void>((resolve) => rtp?.bind(rtpPort, '127.0.0.1', () => resolve()));
    c = await UdpSip.open();
    const ids = newDialogIds();
    const target = { port: config.sipPort };
    const local = { port: c.port, transport: 'UDP' as const };
    const inactive = sdpOffer(rtpPort).replace('a=sendrecv', 'a=inactive');
    await c.send(buildRequest({ method: 'INVITE', user: 'meet', target, local, ids, body: inactive }), config.sipPort);
    const ok = await c.expect((m) => m.status === 200, 4000);
    const tag = toTag(ok) ?? '';
    await c.send(buildRequest({ method: 'ACK', user: 'meet', target, local, ids: { ...ids, branch: newBranch() }, toTag: tag }), config.sipPort);
    const [p] = await node.participantsOf('meet');
    expect(p?.onHold).toBe(true);

    await sleep((3 * TIMEOUT_S + 1) * 1000);
    expect((await node.participantsOf('meet')).map((x) => x.id)).toEqual([p?.id]);
    expect(c.received.filter((m) => m.method === 'BYE')).toEqual([]);

    // Resume, and still send nothing: now its silence counts.
    const resumeIds = { ...ids, branch: newBranch(), cseq: 2 };
    const before = c.received.length;
    await c.send(buildRequest({ method: 'INVITE', user: 'meet', target, local, ids: resumeIds, toTag: tag, body: sdpOffer(rtpPort) }), config.sipPort);
    await c.expect((m) => m.status === 200 && (header(m, 'cseq') ?? '').startsWith('2 '), 4000, before);
    await c.send(buildRequest({ method: 'ACK', user: 'meet', target, local, ids: { ...resumeIds, branch: newBranch() }, toTag: tag }), config.sipPort);
    const bye = await c.expect((m) => m.method === 'BYE', (2 * TIMEOUT_S + 5) * 1000, before);
    await c.send(okResponse(bye), config.sipPort);
    await waitFor('the node to drop the phone', async () => ((await node.participantsOf('meet')).length === 0 ? true : undefined), 5000, 100);
  });
});
