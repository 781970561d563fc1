/**
 * SIP behind a real record-routing proxy (issue 12, item 1; RFC 3261 12.1.1, 12.2, 16.12; RFC 4028):
 * one node behind Kamailio 5.6, callers are sipp over UDP and over TCP. Calls are established (RTP
 * reaches the node), key the host PIN by SIP INFO, hold and resume by re-INVITE, and are ended by
 * the caller and by the node (admin API); session timers are negotiated, refreshed by UPDATE and
 * re-INVITE, refused with 422 below Min-SE, and end the call when refreshes stop. Kamailio's log
 * proves that every in-dialog request, both ways, went through it on the route set; sipp's message
 * traces show the node's Contact keeps the dialog's transport. Never leaves Kamailio, sipp or the
 * node running (killAll in afterAll, whileSippRuns kills sipp on failure).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { Kamailio, type RelayRecord } from './helpers/kamailio';
import { NodeUnderTest, type ParticipantView } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { assertSippOk, startSipp, whileSippRuns, type SippRun } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(120_000);

const PIN_ROOM = 'pinroom';
const ROOM = 'proxied';
const TIMER_ROOM = 'timers';
const EXPIRY_ROOM = 'expiry';
/** RFC 4028 10: the side that does not refresh sends BYE at SE - min(32, SE/3) = 60 s for SE 90. */
const EXPECTED_EXPIRY_BYE_S = 60;

type Transport = 'udp' | 'tcp';
const SIPP_TRANSPORT: Record<Transport, 'u1' | 't1'> = { udp: 'u1', tcp: 't1' };

let dir: string;
let node: NodeUnderTest;
/** Relays initial requests to the node over the transport they came in on. */
let proxy: Kamailio;
/** Relays initial requests to the node over TCP whatever the caller used (double Record-Route). */
let proxyTcpToNode: Kamailio;
/** The call whose refreshes stop: started first, judged last (it takes about 60 s). */
let expiry: SippRun;

beforeAll(async () => {
  requireTool('sipp');
  requireTool('kamailio');
  dir = makeTempDir('sip-kamailio');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 20);
  const config = await writeNodeConfig({
    dir,
    // No media timeout may end the expiry call before its session timer does.
    rtpTimeoutS: 600,
    vmrs: [
      { name: PIN_ROOM, aliases: [PIN_ROOM], hostPin: '1234' },
      { name: ROOM, aliases: [ROOM] },
      { name: TIMER_ROOM, aliases: [TIMER_ROOM] },
      { name: EXPIRY_ROOM, aliases: [EXPIRY_ROOM] },
    ],
  });
  node = await NodeUnderTest.start(config);
  proxy = await Kamailio.start({ dir, nodeSipPort: config.sipPort });
  proxyTcpToNode = await Kamailio.start({ dir, nodeSipPort: config.sipPort, toNode: 'tcp' });
  expiry = await startSipp({ ...sippTrace('expiry'), scenario: 'uac_proxy_timer_expire.xml', target: proxy.target, service: EXPIRY_ROOM, cwd: dir, timeoutS: 100 });
});

afterAll(async () => {
  await killAll();
});

/** sipp's message trace (every message it sent and received) into the temp dir. */
function sippTrace(name: string): { extraArgs: string[] } {
  return { extraArgs: ['-trace_msg', '-message_file', join(dir, `sipp-${name}-messages.log`)] };
}

/** sipp's Call-ID of its first call is `1-PID@127.0.0.1` ([call_id]). */
function callIdOf(run: SippRun): string {
  return `1-${String(run.proc.pid)}@127.0.0.1`;
}

function diagnostics(k: Kamailio): string {
  return `${k.tail(6000)}\n${node.proc.tail(3000)}`;
}

/** The one participant of `room` (tests in this file run one call per room at a time). */
async function onlyParticipant(room: string): Promise<ParticipantView | undefined> {
  const ps = await node.participantsOf(room);
  return ps.length === 1 ? ps[0] : undefined;
}

/** The route set of an in-dialog request names this proxy with a loose-routing URI. */
function routesThrough(k: Kamailio, r: RelayRecord): boolean {
  return r.route.includes(`127.0.0.1:${k.port}`) && /;lr\b/.test(r.route);
}

/**
 * What is wrong with one call's requests in the proxy's log: each expected in-dialog request
 * (`CSeq` values) must have been routed by loose_route on a Route set naming the proxy, and no
 * in-dialog request of the call may have been rejected or routed without its Route set.
 */
function routeProblems(k: Kamailio, callId: string, expected: readonly string[], allowAckNegative = false): string[] {
  const rs = k.relays().filter((r) => r.callId === callId);
  const problems: string[] = [];
  if (!rs.some((r) => r.lr === 'initial' && r.method === 'INVITE')) problems.push('the initial INVITE never went through the proxy');
  for (const cseq of expected) {
    const seen = rs.filter((r) => r.lr !== 'initial' && r.cseq === cseq);
    if (seen.length === 0) problems.push(`${cseq}: never reached the proxy`);
  }
  for (const r of rs.filter((x) => x.lr !== 'initial')) {
    if (r.lr === 'ack-negative' && allowAckNegative && r.method === 'ACK') continue;
    if (r.lr !== 'yes') problems.push(`${r.cseq} from port ${r.srcPort}: not loose-routed (${r.lr}), Route [${r.route}]`);
    else if (!routesThrough(k, r)) problems.push(`${r.cseq} from port ${r.srcPort}: Route [${r.route}] does not name the proxy`);
  }
  return problems;
}

/** The final status the proxy relayed back for `cseq` of a call (the last one), if any. */
function finalReply(k: Kamailio, callId: string, cseq: string): number | undefined {
  return k.replies().filter((r) => r.callId === callId && r.cseq === cseq && r.status >= 200).pop()?.status;
}

/** The first BYE sipp received, as sipp's message trace shows it (its Via lines in order). */
function receivedByeVias(name: string): string[] | undefined {
  const text = readFileSync(join(dir, `sipp-${name}-messages.log`), 'latin1');
  const blocks = text.split(/-{10,}[^\n]*\n/);
  const bye = blocks.find((b) => /message received/.test(b) && /^\s*BYE /m.test(b));
  if (!bye) return undefined;
  return bye.split(/\r?\n/).filter((l) => /^(Via|v)\s*:/i.test(l));
}

/** Start line and Contact of every message sipp received that carries a Contact (from its trace). */
function contactsReceived(name: string): Array<{ startLine: string; contact: string }> {
  const text = readFileSync(join(dir, `sipp-${name}-messages.log`), 'latin1');
  return text.split(/-{10,}[^\n]*\n/).filter((b) => /message received/.test(b)).flatMap((b) => {
    const lines = b.split(/\r?\n/).filter((l) => l.trim() !== '' && !/message received/.test(l));
    const contact = lines.find((l) => /^(Contact|m)\s*:/i.test(l));
    return contact ? [{ startLine: `${lines[0] ?? ''} (${lines.find((l) => /^CSeq\s*:/i.test(l)) ?? ''})`, contact }] : [];
  });
}

describe.each<Transport>(['udp', 'tcp'])('a call through Kamailio over %s', (transport) => {
  test(`${transport}: established, PIN 1234# by INFO (host), held and resumed, ended by the caller: every request on the route set`, async () => {
    const run = await startSipp({
      ...sippTrace(`call-${transport}`),
      scenario: 'uac_proxy_call.xml',
      target: proxy.target,
      service: PIN_ROOM,
      transport: SIPP_TRANSPORT[transport],
      cwd: dir,
      timeoutS: 40,
    });
    const seen = await whileSippRuns(run, `call through the proxy over ${transport}`, async () => {
      const waiting = await waitFor('the caller in the room, waiting for its PIN', () => onlyParticipant(PIN_ROOM), 8000, 100);
      const host = await waitFor('the caller admitted as host (PIN by INFO through the proxy)', async () => {
        const p = await onlyParticipant(PIN_ROOM);
        return p?.role === 'host' ? p : undefined;
      }, 12000, 100);
      const held = await waitFor('onHold after the sendonly re-INVITE', async () => {
        const p = await onlyParticipant(PIN_ROOM);
        return p?.onHold === true ? p : undefined;
      }, 12000, 100);
      // The API leaves `onHold` out (or false) for a call that is not held.
      const resumed = await waitFor('onHold no longer true after the sendrecv re-INVITE', async () => {
        const p = await onlyParticipant(PIN_ROOM);
        return p && p.onHold !== true ? p : undefined;
      }, 12000, 100);
      return { waitingRole: waiting.role, hostRole: host.role, held: held.onHold === true, resumed: resumed.onHold === true, packetsIn: resumed.packetsIn };
    }).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${diagnostics(proxy)}`);
    });
    expect(seen).toEqual({ waitingRole: 'waiting-for-pin', hostRole: 'host', held: true, resumed: false, packetsIn: expect.any(Number) as unknown });
    expect(seen.packetsIn).toBeGreaterThan(0);

    const callId = callIdOf(run);
    const expected = ['1 ACK', '2 INFO', '3 INFO', '4 INFO', '5 INFO', '6 INFO', '7 INVITE', '7 ACK', '8 INVITE', '8 ACK', '9 BYE'];
    expect({ problems: routeProblems(proxy, callId, expected), bye: finalReply(proxy, callId, '9 BYE') }).toEqual({ problems: [], bye: 200 });
    await waitFor(`${PIN_ROOM} empty after the caller's BYE`, async () => ((await node.participantsOf(PIN_ROOM)).length === 0 ? true : undefined), 5000, 100);
  });

  test(`${transport}: ended by the node (DELETE /api/v1/participants/ID): its BYE goes through Kamailio with the Route set, sipp answers 200`, async () => {
    await endedByTheNode(proxy, transport, `bye-${transport}`, [transport]);
  });
});

/**
 * One call through `k` ended by the admin API; checks the node's BYE and sipp's view of it.
 * `routeTransports`: the transport of each Route entry of the node's BYE naming the proxy, in
 * order (the UAS route set is the Record-Route list as received, RFC 3261 12.1.1).
 */
async function endedByTheNode(k: Kamailio, transport: Transport, name: string, routeTransports: Transport[]): Promise<void> {
  const run = await startSipp({ ...sippTrace(name), scenario: 'uac_proxy_wait_bye.xml', target: k.target, service: ROOM, transport: SIPP_TRANSPORT[transport], cwd: dir, timeoutS: 30 });
  await whileSippRuns(run, `node hangs up through the proxy (${name})`, async () => {
    const p = await waitFor('the caller with RTP arriving', async () => {
      const q = await onlyParticipant(ROOM);
      return q && q.packetsIn > 0 ? q : undefined;
    }, 8000, 100);
    const res = await fetch(`${node.baseUrl}/api/v1/participants/${encodeURIComponent(p.id)}`, { method: 'DELETE', signal: AbortSignal.timeout(3000) });
    expect(res.status).toBe(200);
  }).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${diagnostics(k)}`);
  });

  const callId = callIdOf(run);
  const byes = k.relays().filter((r) => r.callId === callId && r.method === 'BYE');
  const bye = byes[0];
  const uris = bye ? bye.route.split(',').filter((u) => u.includes(`127.0.0.1:${k.port}`)) : [];
  const vias = receivedByeVias(name) ?? [];
  expect({
    problems: routeProblems(k, callId, ['1 ACK']),
    nodeByeThroughProxy: byes.length > 0,
    byeRouteTransports: uris.map((u) => (/;transport=tcp/i.test(u) ? 'tcp' : 'udp')),
    sipp200ThroughProxy: bye ? finalReply(k, callId, bye.cseq) : undefined,
    // sipp got the BYE from the proxy: its top Via is the proxy's, below it the node's own.
    sippSawProxyVia: vias[0]?.includes(`127.0.0.1:${k.port}`) ?? false,
    sippSawNodeVia: vias[1]?.includes(`127.0.0.1:${node.config.sipPort}`) ?? false,
    sippSawViaHops: vias.length,
  }).toEqual({
    problems: [],
    nodeByeThroughProxy: true,
    byeRouteTransports: routeTransports,
    sipp200ThroughProxy: 200,
    sippSawProxyVia: true,
    sippSawNodeVia: true,
    sippSawViaHops: 2,
  });
  await waitFor(`${ROOM} empty after the node's BYE`, async () => ((await node.participantsOf(ROOM)).length === 0 ? true : undefined), 5000, 100);
}

describe('a proxy that changes transport (UDP caller, TCP to the node: double Record-Route)', () => {
  test('udp->tcp: ended by the node: its BYE carries both Route entries (TCP one first, as recorded) and reaches sipp through the proxy', async () => {
    await endedByTheNode(proxyTcpToNode, 'udp', 'bye-udp-tcp', ['tcp', 'udp']);
  });
});

describe('session timers through Kamailio (RFC 4028)', () => {
  test.each<Transport>(['udp', 'tcp'])('%s: Require: timer is accepted (200 with Session-Expires: 90;refresher=uac and Require: timer), refreshed by UPDATE without SDP and by re-INVITE', async (transport) => {
    const run = await startSipp({ ...sippTrace(`timer-${transport}`), scenario: 'uac_proxy_timer.xml', target: proxy.target, service: TIMER_ROOM, transport: SIPP_TRANSPORT[transport], cwd: dir, timeoutS: 30 });
    const r = await run.done;
    assertSippOk(r, `session timer refreshes over ${transport}\n${diagnostics(proxy)}`);
    const callId = callIdOf(run);
    expect({
      problems: routeProblems(proxy, callId, ['1 ACK', '2 UPDATE', '3 INVITE', '3 ACK', '4 BYE']),
      update: finalReply(proxy, callId, '2 UPDATE'),
      reinvite: finalReply(proxy, callId, '3 INVITE'),
    }).toEqual({ problems: [], update: 200, reinvite: 200 });
  });

  test('tcp: every Contact the node sent in the TCP dialogs above says transport=tcp (the 2xx to UPDATE is a target refresh: RFC 3311 5.2, RFC 3261 12.2.1.2)', () => {
    const contacts = ['call-tcp', 'timer-tcp'].flatMap((name) => contactsReceived(name).map((c) => ({ ...c, name })));
    expect(contacts.length).toBeGreaterThan(0);
    expect(contacts.filter((c) => !/;transport=tcp/i.test(c.contact))).toEqual([]);
  });

  test('Session-Expires: 30 gets 422 with Min-SE: 90; the retry with 90 is accepted', async () => {
    const run = await startSipp({ ...sippTrace('timer-422'), scenario: 'uac_proxy_timer_422.xml', target: proxy.target, service: TIMER_ROOM, cwd: dir, timeoutS: 30 });
    assertSippOk(await run.done, `422 then retry\n${diagnostics(proxy)}`);
    const callId = callIdOf(run);
    expect({
      first: finalReply(proxy, callId, '1 INVITE'),
      retry: finalReply(proxy, callId, '2 INVITE'),
      problems: routeProblems(proxy, callId, ['2 ACK', '3 BYE'], true),
    }).toEqual({ first: 422, retry: 200, problems: [] });
  });

  test(`a call whose refreshes stop is ended by the node with a BYE on the route set about ${EXPECTED_EXPIRY_BYE_S} s after the last refresh`, async () => {
    assertSippOk(await expiry.done, `refreshes stop: the node's BYE\n${diagnostics(proxy)}`);
    const callId = callIdOf(expiry);
    const answered = proxy.replies().find((r) => r.callId === callId && r.cseq === '1 INVITE' && r.status === 200);
    const bye = proxy.relays().find((r) => r.callId === callId && r.method === 'BYE');
    const afterS = answered && bye ? bye.t - answered.t : undefined;
    console.log(`session timer: the node's BYE came ${afterS?.toFixed(2) ?? '?'} s after its 200 OK (Session-Expires 90, expected ${EXPECTED_EXPIRY_BYE_S} s)`);
    expect({
      problems: routeProblems(proxy, callId, ['1 ACK']),
      byeThroughProxy: bye !== undefined && routesThrough(proxy, bye),
      byeAnswered: bye ? finalReply(proxy, callId, bye.cseq) : undefined,
      onTime: afterS !== undefined && afterS >= EXPECTED_EXPIRY_BYE_S - 3 && afterS <= 90,
    }).toEqual({ problems: [], byeThroughProxy: true, byeAnswered: 200, onTime: true });
    expect(await node.participantsOf(EXPIRY_ROOM)).toEqual([]);
  });
});
