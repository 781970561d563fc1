/**
 * Real-peer SIP tests with sipp against a real node process on 127.0.0.1: calls with RTP over UDP
 * and TCP, rejections (404, 488, 400, 503 + Retry-After), 20 concurrent calls over 5 conferences,
 * INVITE retransmissions absorbed, and BYE sent by the node (admin API, SIGTERM).
 */
import { join } from 'node:path';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { DEFAULT_VMRS, makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NodeUnderTest, type ParticipantView } from './helpers/node-process';
import { freePort } from './helpers/ports';
import { killAll, sleep, waitFor } from './helpers/proc';
import { buildRequest, newBranch, newDialogIds, sdpOffer, toTag, UdpSip, type RawMessage } from './helpers/sip-raw';
import { assertSippOk, runSipp, startSipp, whileSippRuns } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

const VMRS = [...DEFAULT_VMRS, { name: 'retrans', aliases: ['retrans'] }, { name: 'hangup', aliases: ['hangup'] }];

let dir: string;
let config: NodeConfig;
let node: NodeUnderTest;

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('sipp');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 30);
  config = await writeNodeConfig({ dir, vmrs: VMRS });
  node = await NodeUnderTest.start(config);
});

afterAll(async () => {
  await killAll();
});

/** Polls the participants of `conference` until one has sent and received RTP. */
async function waitForMediaBothWays(conference: string, on: NodeUnderTest = node): Promise<ParticipantView> {
  return waitFor(
    `a participant of ${conference} with packetsIn > 0 and packetsOut > 0`,
    async () => (await on.participantsOf(conference)).find((p) => p.packetsIn > 0 && p.packetsOut > 0),
    8000,
    200,
  );
}

async function waitForNoParticipants(n: NodeUnderTest, conference: string): Promise<void> {
  await waitFor(`${conference} to be empty`, async () => ((await n.participantsOf(conference)).length === 0 ? true : undefined), 5000, 100);
}

describe('calls from sipp (INVITE, ACK, RTP, BYE)', () => {
  test.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('a call to meet over %s succeeds and the node receives RTP and sends mixed RTP back', async (_name, transport) => {
    const run = await startSipp({ scenario: 'uac_call_rtp.xml', target: node.sipTarget, service: 'meet', transport, cwd: dir, pauseMs: 4000 });
    const seen = await whileSippRuns(run, `call over ${transport}`, () => waitForMediaBothWays('meet'));
    expect(seen.protocol).toBe('sip');
    expect(seen.audioCodec).toMatch(/pcmu/i);
    expect(seen.packetsIn).toBeGreaterThan(0);
    expect(seen.packetsOut).toBeGreaterThan(0);
    await waitForNoParticipants(node, 'meet');
  });
});

describe("RTP over Node's dgram (the fallback when native/rtpio is not built)", () => {
  test('a node started with CONFNODE_RTP_IO=dgram says so and carries a sipp call with RTP both ways', async () => {
    const cfg = await writeNodeConfig({ dir: makeTempDir('sipp-dgram'), nodeName: 'n4', vmrs: VMRS });
    const n4 = await NodeUnderTest.start(cfg, 15000, { CONFNODE_RTP_IO: 'dgram' });
    try {
      expect(n4.proc.stdout).toContain('"rtpIo":"dgram"');
      const run = await startSipp({ scenario: 'uac_call_rtp.xml', target: `127.0.0.1:${cfg.sipPort}`, service: 'meet', cwd: dir, pauseMs: 4000 });
      const seen = await whileSippRuns(run, 'call over the dgram fallback', () => waitForMediaBothWays('meet', n4));
      expect(seen.packetsIn).toBeGreaterThan(0);
      expect(seen.packetsOut).toBeGreaterThan(0);
      await waitForNoParticipants(n4, 'meet');
    } finally {
      await n4.terminate(15000);
    }
  });
});

describe('rejected calls', () => {
  test('INVITE to an unknown alias is answered 404 (and the ACK ends the transaction)', async () => {
    const r = await runSipp({ scenario: 'uac_reject_404.xml', target: node.sipTarget, service: 'nobody-here', cwd: dir });
    assertSippOk(r, '404 for unknown alias');
  });

  test.each([
    ['only G.729 (static PT 18)', '18', '18 G729/8000'],
    ['only an unknown dynamic codec', '97', '97 X-NOSUCH/8000'],
  ])('INVITE offering %s is answered 488', async (_what, pt, rtpmap) => {
    const r = await runSipp({
      scenario: 'uac_reject_488.xml',
      target: node.sipTarget,
      service: 'meet',
      cwd: dir,
      keys: { offer_pt: pt, offer_rtpmap: rtpmap },
    });
    assertSippOk(r, `488 for ${rtpmap}`);
    expect(await node.participantsOf('meet')).toHaveLength(0);
  });

  test('malformed INVITE (CSeq without a number) with a valid Via is answered 400 echoing the branch', async () => {
    const c = await UdpSip.open();
    try {
      const ids = newDialogIds();
      const good = buildRequest({
        method: 'INVITE', user: 'meet', target: { port: config.sipPort }, local: { port: c.port, transport: 'UDP' }, ids,
        body: sdpOffer(40000),
      });
      const bad = good.replace(/^CSeq: .*$/m, 'CSeq: abc INVITE');
      await c.send(bad, config.sipPort);
      const res = await c.expect((m) => m.status >= 200, 3000);
      expect(res.status).toBe(400);
      expect(res.headers.get('via')?.[0]).toContain(ids.branch);
    } finally {
      c.close();
    }
    expect(node.alive).toBe(true);
  });
});


describe('what an operator scrapes', () => {
  test('/metrics after those calls: SIP requests and responses, answered, refused and ended calls, mix slots on time', async () => {
    const res = await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    };
    const node1 = 'node="n1"';
    // Two calls with RTP (UDP, TCP), one 404, two 488 so far in this file.
    expect(value(`confnode_sip_requests_total{method="INVITE",${node1}}`)).toBeGreaterThanOrEqual(5);
    expect(value(`confnode_sip_requests_total{method="BYE",${node1}}`)).toBeGreaterThanOrEqual(2);
    expect(value(`confnode_sip_responses_total{status="404",${node1}}`)).toBeGreaterThanOrEqual(1);
    expect(value(`confnode_sip_responses_total{status="488",${node1}}`)).toBeGreaterThanOrEqual(2);
    // The malformed INVITE above: the transport's own 400 counts too.
    expect(value(`confnode_sip_responses_total{status="400",${node1}}`)).toBeGreaterThanOrEqual(1);
    expect(value(`confnode_calls_total{result="answered",${node1}}`)).toBeGreaterThanOrEqual(2);
    expect(value(`confnode_calls_total{result="not-found",${node1}}`)).toBeGreaterThanOrEqual(1);
    expect(value(`confnode_calls_total{result="no-common-codec",${node1}}`)).toBeGreaterThanOrEqual(2);
    // The two answered calls ended with sipp's BYE.
    expect(value(`confnode_calls_ended_total{reason="remote-bye",${node1}}`)).toBeGreaterThanOrEqual(2);
    // Two 4 s calls mixed: about 400 slot runs, nearly all on time on an idle node.
    expect(value(`confnode_mix_ticks_total{timing="on_time",${node1}}`)).toBeGreaterThan(100);
  });
});
describe('load', () => {
  test('20 concurrent calls over 5 conferences all succeed; the API shows 5 conferences of 4 while they run', async () => {
    const csv = join(dir, 'rooms.csv');
    writeFileSync(csv, ['SEQUENTIAL', ...[1, 2, 3, 4, 5].map((i) => `room${i};`), ''].join('\n'));
    const run = await startSipp({
      scenario: 'uac_call_inf.xml', target: node.sipTarget, cwd: dir, injectFile: csv,
      calls: 20, rate: 40, limit: 20, pauseMs: 7000, timeoutS: 40,
    });
    const snapshot = await whileSippRuns(run, '20 calls over 5 conferences', () =>
      waitFor(
        'room1..room5 with 4 participants each',
        async () => {
          const confs = await node.conferences();
          const counts: Record<string, number> = {};
          for (const c of confs) if (/^room[1-5]$/.test(c.name)) counts[c.name] = c.participants;
          return Object.keys(counts).length === 5 && Object.values(counts).every((n) => n === 4) ? counts : undefined;
        },
        6000,
        200,
      ),
    );
    expect(snapshot).toEqual({ room1: 4, room2: 4, room3: 4, room4: 4, room5: 4 });
    for (const room of Object.keys(snapshot)) await waitForNoParticipants(node, room);
  });
});

describe('INVITE retransmissions (RFC 3261 17.2.1)', () => {
  let rtp: Socket | undefined;
  afterEach(() => rtp?.close());

  test('the same INVITE sent 3 times creates one call, answered by 100/200 with one To tag', async () => {
    const rtpPort = await freePort();
    rtp = createSocket('udp4');
    let rtpPackets = 0;
    rtp.on('message', () => rtpPackets++);
    await new Promise<void>((resolve) => rtp?.bind(rtpPort, '127.0.0.1', () => resolve()));
    const c = await UdpSip.open();
    try {
      const ids = newDialogIds();
      const target = { port: config.sipPort };
      const local = { port: c.port, transport: 'UDP' as const };
      const invite = buildRequest({ method: 'INVITE', user: 'retrans', target, local, ids, body: sdpOffer(rtpPort) });
      for (let i = 0; i < 3; i++) {
        await c.send(invite, config.sipPort);
        await sleep(30);
      }
      await c.expect((m) => m.status === 200, 4000);
      await sleep(800); // time for 200 retransmissions (T1 = 500 ms) to show up
      const responses = c.received.filter((m) => m.status > 0);
      const summary = responses.map((m: RawMessage) => `${m.status} to-tag=${toTag(m) ?? '-'}`);
      expect(summary.filter((s) => !/^(100|200) /.test(s))).toEqual([]);
      const okTags = new Set(responses.filter((m) => m.status === 200).map((m) => toTag(m)));
      // the summary rides along so a failure shows every response received
      expect({ distinctToTagsOf200: okTags.size, summary }).toEqual({ distinctToTagsOf200: 1, summary });
      expect(await node.participantsOf('retrans')).toHaveLength(1);

      const tag = [...okTags][0] ?? '';
      await c.send(buildRequest({ method: 'ACK', user: 'retrans', target, local, ids: { ...ids, branch: newBranch() }, toTag: tag }), config.sipPort);
      await waitFor('RTP from the node', () => (rtpPackets > 0 ? true : undefined), 3000);
      expect(await node.participantsOf('retrans')).toHaveLength(1);

      const before = c.received.length;
      const byeIds = { ...ids, branch: newBranch(), cseq: 2 };
      await c.send(buildRequest({ method: 'BYE', user: 'retrans', target, local, ids: byeIds, toTag: tag }), config.sipPort);
      const byeRes = await c.expect((m) => m.status >= 200 && (m.headers.get('cseq')?.[0] ?? '').includes('BYE'), 3000, before);
      expect(byeRes.status).toBe(200);
      await waitForNoParticipants(node, 'retrans');
    } finally {
      c.close();
    }
  });
});

/**
 * Waits until `room` has `calls` established calls (media flowing), not merely admitted ones: a
 * call still being set up when its conference closes gets 480, not a BYE.
 */
function waitForEstablished(on: NodeUnderTest, room: string, calls: number, ms: number): Promise<true> {
  return waitFor(
    `${calls} established call(s) in ${room}`,
    async () => {
      const ps = await on.participantsOf(room);
      return ps.length === calls && ps.every((p) => p.packetsIn > 0) ? true : undefined;
    },
    ms,
    100,
  );
}

describe('BYE from the node', () => {
  test('DELETE /api/v1/conferences/hangup sends BYE to the caller, which answers 200', async () => {
    const run = await startSipp({ scenario: 'uac_wait_bye.xml', target: node.sipTarget, service: 'hangup', cwd: dir, timeoutS: 30 });
    const status = await whileSippRuns(run, 'wait for BYE after DELETE', async () => {
      await waitForEstablished(node, 'hangup', 1, 8000);
      return node.deleteConference('hangup');
    });
    expect(status).toBe(200);
    await waitForNoParticipants(node, 'hangup');
  });

  test('SIGTERM: the node BYEs every call (UDP and TCP), which answer 200, and exits 0', async () => {
    const cfg = await writeNodeConfig({ dir: makeTempDir('sipp-sigterm'), nodeName: 'n2', vmrs: VMRS });
    const n2 = await NodeUnderTest.start(cfg);
    const target = `127.0.0.1:${cfg.sipPort}`;
    const udp = await startSipp({ scenario: 'uac_wait_bye.xml', target, service: 'meet', cwd: dir, transport: 'u1', timeoutS: 30 });
    const tcp = await startSipp({ scenario: 'uac_wait_bye.xml', target, service: 'meet', cwd: dir, transport: 't1', timeoutS: 30 });
    const exit = await whileSippRuns(tcp, 'TCP call waiting for BYE at SIGTERM', () =>
      whileSippRuns(udp, 'UDP call waiting for BYE at SIGTERM', async () => {
        await waitForEstablished(n2, 'meet', 2, 10000);
        return n2.terminate(15000);
      }),
    );
    expect({ exit, log: exit.code === 0 ? '' : n2.proc.tail() }).toEqual({ exit: { code: 0, signal: null }, log: '' });
  });
});

describe('capacity', () => {
  test('a node of capacity 1 admits 4 audio calls and answers the 5th 503 with Retry-After', async () => {
    const cfg = await writeNodeConfig({ dir: makeTempDir('sipp-capacity'), nodeName: 'n3', capacity: 1, vmrs: VMRS });
    const n3 = await NodeUnderTest.start(cfg);
    const target = `127.0.0.1:${cfg.sipPort}`;
    const four = await startSipp({ scenario: 'uac_call_rtp.xml', target, service: 'meet', cwd: dir, calls: 4, limit: 4, rate: 20, pauseMs: 6000, timeoutS: 30 });
    const after = await whileSippRuns(four, 'the 4 admitted calls', async () => {
      await waitFor('4 participants on n3', async () => ((await n3.participants()).length === 4 ? true : undefined), 6000, 100);
      const fifth = await runSipp({ scenario: 'uac_reject_503.xml', target, service: 'meet', cwd: dir });
      assertSippOk(fifth, '5th call must get 503 with Retry-After');
      return (await n3.participants()).length;
    });
    expect(after).toBe(4);
    await n3.stop();
  });
});
