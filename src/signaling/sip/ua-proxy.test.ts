/**
 * The UA behind proxies (issue 12): Record-Route copied into dialog-creating responses (RFC 3261
 * 12.1.1), the route set on the node's own requests (12.2.1.1, loose and strict), UPDATE (RFC
 * 3311) and session timers (RFC 4028) on a fake clock.
 */
import { FakeClock } from '../../common';
import { getHeader, getHeaderLines, type SipRequest } from './message';
import { parseNameAddr } from './headers';
import { createSipServer, type SipServer } from './ua';
import { TEST_OFFER, TestHandler, TestPeer, sipRequest, sipResponseTo } from './test-peer';

let server: SipServer;
let handler: TestHandler;
let clock: FakeClock | undefined;
const peers: TestPeer[] = [];
let seq = 0;

async function start(fake = false): Promise<TestPeer> {
  handler = new TestHandler();
  clock = fake ? new FakeClock() : undefined;
  server = await createSipServer({ host: '127.0.0.1', port: 0, handler, closeTimeoutMs: 300, ...(clock ? { clock } : {}) });
  const p = await TestPeer.udp();
  peers.push(p);
  return p;
}

afterEach(async () => {
  await server?.close();
  for (const p of peers.splice(0)) await p.close();
});

const toTag = (m: { headers: Array<{ name: string; value: string }> }): string => parseNameAddr(getHeader(m as SipRequest, 'To') ?? '')?.tag ?? '';

/** INVITE (with `extra` headers) -> 200 -> ACK. */
async function call(p: TestPeer, extra: string[]): Promise<{ callId: string; tag: string; ok: Awaited<ReturnType<TestPeer['response']>> }> {
  seq++;
  const callId = `proxy-${seq}-${Date.now()}`;
  const branch = `z9hG4bKproxy${seq}${Date.now()}`;
  p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: TEST_OFFER, extra }), server.port);
  const ok = await p.response(200, 'INVITE');
  const tag = toTag(ok);
  p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: `${branch}a`, toTag: tag }), server.port);
  await waitFor(() => handler.events.includes('ack'));
  return { callId, tag, ok };
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('behind a record-routing proxy (RFC 3261 12.1.1, 12.2.1.1)', () => {
  it('the 200 OK copies every Record-Route value in order; the node\'s BYE carries them as Route and goes to the first one (loose routing)', async () => {
    const p = await start();
    const rr = [`<sip:127.0.0.1:${p.port};lr;ftag=abc>`, '<sip:edge.example.com;lr>'];
    const { ok } = await call(p, rr.map((v) => `Record-Route: ${v}`));
    expect(getHeaderLines(ok, 'Record-Route')).toEqual(rr);
    const done = handler.calls[0]?.hangup();
    const bye = await p.request('BYE');
    expect(getHeaderLines(bye, 'Route')).toEqual(rr.map((v) => v.replace(/^<([^>]*)>$/, '<$1>')));
    expect(bye.uri).toBe(`sip:alice@127.0.0.1:${p.port}`);
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await done;
  });

  it('a strict-routing previous hop (no ;lr): the BYE\'s Request-URI is the first route, the remote target goes last', async () => {
    const p = await start();
    await call(p, [`Record-Route: <sip:127.0.0.1:${p.port}>`, 'Record-Route: <sip:edge.example.com;lr>']);
    void handler.calls[0]?.hangup();
    const bye = await p.request('BYE');
    expect(bye.uri).toBe(`sip:127.0.0.1:${p.port}`);
    expect(getHeaderLines(bye, 'Route')).toEqual(['<sip:edge.example.com;lr>', `<sip:alice@127.0.0.1:${p.port}>`]);
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
  });

  it('several Via hops come back in the response, in order', async () => {
    const p = await start();
    const { ok } = await call(p, ['Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKhop2', 'Record-Route: <sip:127.0.0.1;lr>']);
    expect(getHeaderLines(ok, 'Via')).toHaveLength(2);
    expect(getHeaderLines(ok, 'Via')[1]).toBe('SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKhop2');
  });
});

describe('behind NAT (nodes[].public_address)', () => {
  it("the advertised host is in the 200's Contact and in the Via of the node's own BYE; the server still binds its own host", async () => {
    handler = new TestHandler();
    server = await createSipServer({ host: '127.0.0.1', advertisedHost: '203.0.113.9', port: 0, handler, closeTimeoutMs: 300 });
    const p = await TestPeer.udp();
    peers.push(p);
    const { ok } = await call(p, []);
    expect(getHeader(ok, 'Contact')).toBe(`<sip:203.0.113.9:${server.port}>`);
    void handler.calls[0]?.hangup();
    const bye = await p.request('BYE');
    expect(getHeader(bye, 'Via')).toMatch(new RegExp(`^SIP/2.0/UDP 203\\.0\\.113\\.9:${server.port};`));
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
  });
});

describe('UPDATE (RFC 3311) and session timers (RFC 4028)', () => {
  it('UPDATE without a body gets 200 with Contact; with an offer, 200 with the answer; OPTIONS lists UPDATE and Supported: timer', async () => {
    const p = await start();
    const { callId, tag } = await call(p, []);
    p.send(sipRequest({ method: 'UPDATE', peer: p, callId, cseq: 2, branch: 'z9hG4bKupd1', toTag: tag }), server.port);
    const ok = await p.response(200, 'UPDATE');
    expect(getHeader(ok, 'Contact')).toBe(`<sip:127.0.0.1:${server.port}>`);
    expect(ok.body.length).toBe(0);
    p.send(sipRequest({ method: 'UPDATE', peer: p, callId, cseq: 3, branch: 'z9hG4bKupd2', toTag: tag, body: TEST_OFFER }), server.port);
    const answered = await p.response(200, 'UPDATE');
    expect(answered.body.toString()).toContain('a=sendonly');
    expect(handler.events).toContain('reinvite:offer');
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: 'opt-1', cseq: 1, branch: 'z9hG4bKopt' }), server.port);
    const opt = await p.response(200, 'OPTIONS');
    expect(getHeader(opt, 'Allow')).toContain('UPDATE');
    expect(getHeader(opt, 'Supported')).toBe('timer');
  });

  it("over TCP, the 200 to an UPDATE keeps the dialog's transport in its Contact (it is the caller's new remote target)", async () => {
    await start();
    const p = await TestPeer.tcp(server.port);
    peers.push(p);
    const { callId, tag } = await call(p, []);
    p.send(sipRequest({ method: 'UPDATE', peer: p, callId, cseq: 2, branch: 'z9hG4bKupdtcp', toTag: tag }), server.port);
    const ok = await p.response(200, 'UPDATE');
    expect(getHeader(ok, 'Contact')).toBe(`<sip:127.0.0.1:${server.port};transport=tcp>`);
  });

  it('Require: timer is accepted (no 420): the 200 carries Session-Expires with refresher=uac and Require: timer', async () => {
    const p = await start();
    const { ok } = await call(p, ['Supported: timer', 'Require: timer', 'Session-Expires: 120']);
    expect(getHeader(ok, 'Session-Expires')).toBe('120;refresher=uac');
    expect(getHeader(ok, 'Require')).toBe('timer');
  });

  it('an interval under 90 s from a caller that does timers gets 422 with Min-SE: 90; from one that does not, it is raised to 90', async () => {
    const p = await start();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: 'short-1', cseq: 1, branch: 'z9hG4bKshort1', body: TEST_OFFER, extra: ['Supported: timer', 'Session-Expires: 30'] }), server.port);
    const tooSmall = await p.response(422, 'INVITE');
    expect(getHeader(tooSmall, 'Min-SE')).toBe('90');
    const { ok } = await call(p, ['Session-Expires: 30', 'Allow: INVITE, ACK, BYE, UPDATE']);
    expect(getHeader(ok, 'Session-Expires')).toBe('90;refresher=uas');
    expect(getHeader(ok, 'Require')).toBeUndefined();
  });

  it('a caller that neither does timers nor takes UPDATE gets no session timer; a malformed Session-Expires is 400', async () => {
    const p = await start();
    const { ok } = await call(p, ['Session-Expires: 1800']);
    expect(getHeader(ok, 'Session-Expires')).toBeUndefined();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: 'bad-se', cseq: 1, branch: 'z9hG4bKbadse', body: TEST_OFFER, extra: ['Session-Expires: soon'] }), server.port);
    await p.response(400, 'INVITE');
  });

  it('refresher=uac: refreshes (UPDATE, re-INVITE) keep the call; when they stop, the node sends BYE before the session expires (90 - 30 s)', async () => {
    const p = await start(true);
    const fake = clock as FakeClock;
    const { callId, tag } = await call(p, ['Supported: timer', 'Session-Expires: 90;refresher=uac']);
    fake.advance(50_000);
    p.send(sipRequest({ method: 'UPDATE', peer: p, callId, cseq: 2, branch: 'z9hG4bKref1', toTag: tag, extra: ['Supported: timer', 'Session-Expires: 90;refresher=uac'] }), server.port);
    const refreshed = await p.response(200, 'UPDATE');
    expect(getHeader(refreshed, 'Session-Expires')).toBe('90;refresher=uac');
    fake.advance(50_000); // 100 s after the start, 50 s after the refresh
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 3, branch: 'z9hG4bKref2', toTag: tag, body: TEST_OFFER, extra: ['Supported: timer', 'Session-Expires: 90;refresher=uac'] }), server.port);
    const reinvited = await p.response(200, 'INVITE');
    expect(getHeader(reinvited, 'Session-Expires')).toBe('90;refresher=uac');
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 3, branch: 'z9hG4bKref2a', toTag: tag }), server.port);
    await waitFor(() => handler.events.filter((e) => e === 'ack').length === 2);
    fake.advance(59_000);
    expect(handler.ended).toHaveLength(0);
    fake.advance(2000);
    const bye = await p.request('BYE');
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await handler.waitEnded();
    expect(handler.ended[0]?.reason).toBe('session-expired');
  });

  it('refresher=uas: the node refreshes with UPDATE at half the interval, on the route set; a 481 ends the call', async () => {
    const p = await start(true);
    const fake = clock as FakeClock;
    await call(p, ['Supported: timer', 'Session-Expires: 90;refresher=uas', 'Allow: INVITE, ACK, BYE, UPDATE', `Record-Route: <sip:127.0.0.1:${p.port};lr>`]);
    fake.advance(45_000);
    const update = await p.request('UPDATE');
    expect(getHeader(update, 'Session-Expires')).toBe('90;refresher=uas');
    expect(getHeader(update, 'Contact')).toBe(`<sip:127.0.0.1:${server.port}>`);
    expect(getHeaderLines(update, 'Route')).toEqual([`<sip:127.0.0.1:${p.port};lr>`]);
    p.send(sipResponseTo(update, 200, 'OK'), server.port);
    await new Promise((r) => setTimeout(r, 50)); // the 200 reaches the node before time moves on
    fake.advance(45_000);
    const again = await p.request('UPDATE');
    p.send(sipResponseTo(again, 481, 'Call/Transaction Does Not Exist'), server.port);
    const bye = await p.request('BYE');
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await handler.waitEnded();
    expect(handler.ended[0]?.reason).toBe('session-expired');
  });
});
