import { ConfnodeError } from '../../common';
import { getHeader, type SipRequest, type SipResponse } from './message';
import { parseNameAddr, getVias } from './headers';
import type { SdpResult, SipCall } from './session';
import { createSipServer, type SipServer } from './ua';
import { TEST_ANSWER, TEST_OFFER, TestHandler, TestPeer, cseqMethod, sipRequest, sipResponseTo } from './test-peer';

const OFFER = TEST_OFFER;
const ANSWER = TEST_ANSWER;

let server: SipServer;
let handler: TestHandler;
const peers: TestPeer[] = [];
let seq = 0;

async function start(extra: { maxCalls?: number; timers?: { t1?: number; t2?: number; t4?: number } } = {}): Promise<void> {
  handler = new TestHandler();
  server = await createSipServer({ host: '127.0.0.1', port: 0, handler, closeTimeoutMs: 300, ...extra });
}

async function peer(kind: 'udp' | 'tcp'): Promise<TestPeer> {
  const p = kind === 'udp' ? await TestPeer.udp() : await TestPeer.tcp(server.port);
  peers.push(p);
  return p;
}

function ids(): { callId: string; branch: string } {
  seq++;
  return { callId: `call-${seq}-${Date.now()}`, branch: `z9hG4bKtest${seq}x${Date.now()}` };
}

function toTag(res: SipResponse): string | undefined {
  return parseNameAddr(getHeader(res, 'To') ?? '')?.tag;
}

/** INVITE -> 100 -> 200 -> ACK; returns the dialog's ids. */
async function establish(p: TestPeer, offer: string | null = OFFER) {
  const body = offer ?? undefined;
  const { callId, branch } = ids();
  p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body }), server.port);
  const ok = await p.response(200, 'INVITE');
  const tag = toTag(ok) as string;
  p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: branch + 'ack', toTag: tag, body: body === undefined ? OFFER : undefined }), server.port);
  return { callId, tag, ok };
}

afterEach(async () => {
  await server?.close();
  for (const p of peers.splice(0)) await p.close();
});

describe.each(['udp', 'tcp'] as const)('SIP UA over %s', (kind) => {
  beforeEach(() => start());

  it('createSipServer on port 0 binds UDP and TCP on the same reported port', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.udpPort).toBe(server.port);
    expect(server.tcpPort).toBe(server.port);
  });

  it('INVITE -> 100 Trying (no To tag) -> 200 with answer, Contact, Allow, stable tag -> ACK -> remote BYE ends the call (RFC 3261 13.3, 15.1.2)', async () => {
    const p = await peer(kind);
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER }), server.port);
    const trying = await p.response(100);
    expect(toTag(trying)).toBeUndefined();
    const ok = await p.response(200, 'INVITE');
    expect(ok.body.toString()).toBe(ANSWER);
    expect(getHeader(ok, 'Content-Type')).toBe('application/sdp');
    expect(getHeader(ok, 'Contact')).toBe(`<sip:127.0.0.1:${server.port}${kind === 'tcp' ? ';transport=tcp' : ''}>`);
    expect(getHeader(ok, 'Allow')).toContain('INVITE');
    const tag = toTag(ok) as string;
    expect(tag).toMatch(/^[0-9a-f]{16}$/);
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: branch + 'a', toTag: tag }), server.port);
    await waitFor(() => handler.events.includes('ack'));
    expect(handler.calls[0]?.info).toMatchObject({ callId, requestUser: 'meet', requestHost: '127.0.0.1', fromUri: 'sip:alice@127.0.0.1', fromDisplayName: 'Alice', userAgent: 'test-peer' });
    expect(handler.calls[0]?.info.remote).toEqual({ transport: kind, address: '127.0.0.1', port: p.port });
    p.send(sipRequest({ method: 'BYE', peer: p, callId, cseq: 2, branch: branch + 'b', toTag: tag }), server.port);
    const byeOk = await p.response(200, 'BYE');
    expect(toTag(byeOk)).toBe(tag);
    await handler.waitEnded();
    expect(handler.events).toEqual(['invite:offer', 'ack', 'ended:remote-bye']);
    expect(server.calls()).toHaveLength(0);
  });

  it('hangup() after the ACK sends BYE to the remote target; resolves on its 200; onEnded(local-bye) (RFC 3261 15.1.1)', async () => {
    const p = await peer(kind);
    const { callId, tag } = await establish(p);
    await waitFor(() => handler.events.includes('ack'));
    const call = handler.calls[0] as SipCall;
    const done = call.hangup();
    const bye = await p.request('BYE');
    expect(getHeader(bye, 'Call-ID')).toBe(callId);
    expect(parseNameAddr(getHeader(bye, 'From') ?? '')?.tag).toBe(tag);
    expect(parseNameAddr(getHeader(bye, 'To') ?? '')?.tag).toBe('alice1');
    expect(bye.uri).toBe(`sip:alice@127.0.0.1:${p.port}${kind === 'tcp' ? ';transport=tcp' : ''}`);
    expect(getHeader(bye, 'CSeq')).toBe('2 BYE');
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await done;
    expect(handler.ended.map((e) => e.reason)).toEqual(['local-bye']);
    await call.hangup(); // idempotent
    expect(handler.ended).toHaveLength(1);
  });

  it('offerless INVITE: the 200 carries the handler offer and the answer in the ACK reaches onAck (RFC 3261 13.2.1)', async () => {
    const p = await peer(kind);
    const { ok } = await establish(p, null);
    expect(ok.body.toString()).toBe(ANSWER);
    await waitFor(() => handler.acks.length === 1);
    expect(handler.events[0]).toBe('invite:none');
    expect(handler.acks[0]).toBe(OFFER);
  });

  it('CANCEL before the answer: 200 to CANCEL, 487 to INVITE, onEnded(cancel) after onInvite settled, late answer discarded (RFC 3261 9.2)', async () => {
    let release: (v: SdpResult) => void = () => undefined;
    handler.inviteImpl = () => new Promise((r) => (release = r));
    const p = await peer(kind);
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER }), server.port);
    await p.response(100);
    p.send(sipRequest({ method: 'CANCEL', peer: p, callId, cseq: 1, branch }), server.port);
    const cancelOk = await p.response(200, 'CANCEL');
    const terminated = await p.response(487, 'INVITE');
    expect(toTag(terminated)).toBe(toTag(cancelOk));
    await sleep(50);
    expect(handler.ended).toHaveLength(0); // onInvite has not settled yet
    release({ sdp: ANSWER });
    await handler.waitEnded();
    expect(handler.events).toEqual(['invite:offer', 'ended:cancel']);
    await sleep(50);
    expect(p.inbox.filter((m) => m.kind === 'response' && m.status === 200 && cseqMethod(m) === 'INVITE')).toHaveLength(0);
  });

  it('CANCEL matching no transaction -> 481', async () => {
    const p = await peer(kind);
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'CANCEL', peer: p, callId, cseq: 1, branch }), server.port);
    await p.response(481, 'CANCEL');
  });

  it('re-INVITE -> onReinvite -> 200 with new SDP; ACK; a second re-INVITE while one is pending -> 491 (RFC 3261 14.2)', async () => {
    const p = await peer(kind);
    const { callId, tag } = await establish(p);
    await waitFor(() => handler.events.includes('ack'));
    let release: (v: SdpResult) => void = () => undefined;
    handler.reinviteImpl = () => new Promise((r) => (release = r));
    const b = ids().branch;
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 2, branch: b, toTag: tag, body: OFFER }), server.port);
    await waitFor(() => handler.events.includes('reinvite:offer'));
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 3, branch: b + 'x', toTag: tag, body: OFFER }), server.port);
    await p.response(491, 'INVITE');
    release({ sdp: ANSWER + 'a=sendonly\r\n' });
    const ok = await p.next((m) => m.kind === 'response' && m.status === 200 && getHeader(m, 'CSeq') === '2 INVITE');
    expect(ok.body.toString()).toContain('a=sendonly');
    expect(toTag(ok as SipResponse)).toBe(tag);
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 2, branch: b + 'ack', toTag: tag }), server.port);
    await waitFor(() => handler.events.filter((e) => e === 'ack').length === 2);
  });

  it('INFO in the dialog -> 200 and onInfo; OPTIONS -> 200 with Allow, Accept, Supported', async () => {
    const p = await peer(kind);
    const { callId, tag } = await establish(p);
    p.send(sipRequest({ method: 'INFO', peer: p, callId, cseq: 2, branch: ids().branch, toTag: tag, body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' }), server.port);
    await p.response(200, 'INFO');
    expect(handler.infos).toEqual(['application/dtmf-relay:Signal=5\r\nDuration=160\r\n']);
    const o = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: o.callId, cseq: 1, branch: o.branch }), server.port);
    const ok = await p.response(200, 'OPTIONS');
    expect(getHeader(ok, 'Allow')).toBe('INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE');
    expect(getHeader(ok, 'Accept')).toBe('application/sdp');
    expect(getHeader(ok, 'Supported')).toBeDefined();
    expect(toTag(ok)).toBeDefined();
  });

  it('REGISTER -> 405 with Allow, unknown method -> 501, BYE outside a dialog -> 481 (RFC 3261 8.2.1, 12.2.2)', async () => {
    const p = await peer(kind);
    const a = ids();
    p.send(sipRequest({ method: 'REGISTER', peer: p, callId: a.callId, cseq: 1, branch: a.branch }), server.port);
    expect(getHeader(await p.response(405, 'REGISTER'), 'Allow')).toContain('OPTIONS');
    const b = ids();
    p.send(sipRequest({ method: 'FROB', peer: p, callId: b.callId, cseq: 1, branch: b.branch }), server.port);
    await p.response(501, 'FROB');
    const c = ids();
    p.send(sipRequest({ method: 'BYE', peer: p, callId: c.callId, cseq: 1, branch: c.branch, toTag: 'nope' }), server.port);
    await p.response(481, 'BYE');
    const d = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: d.callId, cseq: 1, branch: d.branch, toTag: 'nope', body: OFFER }), server.port);
    await p.response(481, 'INVITE');
  });

  it('Require with an unknown option -> 420 with Unsupported; Max-Forwards 0 on OPTIONS -> 483', async () => {
    const p = await peer(kind);
    const a = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: a.callId, cseq: 1, branch: a.branch, body: OFFER, extra: ['Require: 100rel, foo'] }), server.port);
    expect(getHeader(await p.response(420, 'INVITE'), 'Unsupported')).toBe('100rel, foo');
    const b = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: b.callId, cseq: 1, branch: b.branch }).replace('Max-Forwards: 70', 'Max-Forwards: 0'), server.port);
    await p.response(483, 'OPTIONS');
    expect(handler.events).toEqual([]);
  });

  it('a non-SDP body on INVITE -> 415; a handler ConfnodeError(capacity) -> 503 with Retry-After and onEnded(rejected)', async () => {
    const p = await peer(kind);
    const a = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: a.callId, cseq: 1, branch: a.branch, body: '<xml/>', contentType: 'application/xml' }), server.port);
    await p.response(415, 'INVITE');
    handler.inviteImpl = async () => {
      throw new ConfnodeError('capacity', 'full');
    };
    const b = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: b.callId, cseq: 1, branch: b.branch, body: OFFER }), server.port);
    const res = await p.response(503, 'INVITE');
    expect(getHeader(res, 'Retry-After')).toBe('30');
    expect(toTag(res)).toBeDefined();
    await handler.waitEnded();
    expect(handler.ended[0]?.reason).toBe('rejected');
  });

  it('close() sends BYE to every established call and waits for the answers', async () => {
    const p = await peer(kind);
    await establish(p);
    await waitFor(() => handler.events.includes('ack'));
    const closing = server.close();
    const bye = await p.request('BYE');
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await closing;
    expect(handler.ended.map((e) => e.reason)).toEqual(['local-bye']);
  });
});

describe('SIP UA over UDP: retransmissions, limits, malformed input, NAT', () => {
  it('a retransmitted INVITE never reaches onInvite twice; the server transaction resends the last response (RFC 3261 17.2.1)', async () => {
    await start();
    let release: (v: SdpResult) => void = () => undefined;
    handler.inviteImpl = () => new Promise((r) => (release = r));
    const p = await peer('udp');
    const { callId, branch } = ids();
    const inv = sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER });
    p.send(inv, server.port);
    await p.response(100);
    p.send(inv, server.port);
    await p.response(100);
    release({ sdp: ANSWER });
    await p.response(200, 'INVITE');
    p.send(inv, server.port);
    await sleep(100);
    expect(handler.events).toEqual(['invite:offer']);
  });

  it('maxCalls reached -> 503 with Retry-After', async () => {
    await start({ maxCalls: 1 });
    const p = await peer('udp');
    await establish(p);
    const b = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: b.callId, cseq: 1, branch: b.branch, body: OFFER }), server.port);
    const res = await p.response(503, 'INVITE');
    expect(getHeader(res, 'Retry-After')).toBeDefined();
    expect(handler.events.filter((e) => e.startsWith('invite'))).toHaveLength(1);
  });

  it('a malformed request with a valid Via gets 400; garbage without headers is dropped; counters move', async () => {
    await start();
    const p = await peer('udp');
    const a = ids();
    const bad = sipRequest({ method: 'OPTIONS', peer: p, callId: a.callId, cseq: 1, branch: a.branch, extra: ['Broken header line without colon'] });
    p.send(bad, server.port);
    const res = await p.response(400);
    expect(res.reason).toMatch(/^Bad Request/);
    p.send('\x00\x01garbage\r\n\r\n', server.port);
    await sleep(50);
    const s = server.stats().transport;
    expect(s.malformed).toBe(2);
    expect(s.dropped).toBeGreaterThanOrEqual(1);
  });

  it('RFC 3581: the response goes to the source port with received and rport filled', async () => {
    await start();
    const p = await peer('udp');
    const a = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: a.callId, cseq: 1, branch: a.branch, viaHost: '192.0.2.99' }), server.port);
    const res = await p.response(200, 'OPTIONS');
    const via = getVias(res)?.[0];
    expect(via?.received).toBe('127.0.0.1');
    expect(via?.rport).toBe(p.port);
  });

  it('no ACK for the 2xx: it is retransmitted, then after 64*T1 the UA sends BYE and ends with ack-timeout (RFC 3261 13.3.1.4)', async () => {
    await start({ timers: { t1: 10, t2: 40, t4: 50 } });
    const p = await peer('udp');
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER }), server.port);
    await p.response(200, 'INVITE');
    await p.response(200, 'INVITE'); // retransmission
    const bye = await p.request('BYE');
    p.send(sipResponseTo(bye, 200, 'OK'), server.port);
    await handler.waitEnded();
    expect(handler.ended[0]?.reason).toBe('ack-timeout');
  });

  it('hangup() while waiting for the ACK defers the BYE until the ACK arrives (RFC 3261 15)', async () => {
    await start();
    const p = await peer('udp');
    const { callId, branch } = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER }), server.port);
    const ok = await p.response(200, 'INVITE');
    const done = (handler.calls[0] as SipCall).hangup();
    await sleep(50);
    expect(p.inbox.some((m) => m.kind === 'request' && m.method === 'BYE')).toBe(false);
    p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: branch + 'a', toTag: toTag(ok) }), server.port);
    const bye = await p.request('BYE');
    p.send(sipResponseTo(bye as SipRequest, 200, 'OK'), server.port);
    await done;
    expect(handler.events).toEqual(['invite:offer', 'ack', 'ended:local-bye']);
  });

  it('hangup() before the answer sends 480 to the INVITE; onEnded waits for onInvite to settle', async () => {
    await start();
    handler.inviteImpl = async (call) => {
      await call.hangup();
      return { sdp: ANSWER };
    };
    const p = await peer('udp');
    const a = ids();
    p.send(sipRequest({ method: 'INVITE', peer: p, callId: a.callId, cseq: 1, branch: a.branch, body: OFFER }), server.port);
    await p.response(480, 'INVITE');
    await handler.waitEnded();
    expect(handler.events).toEqual(['invite:offer', 'ended:local-bye']);
  });
});

describe('SIP UA: flood and ordering protection', () => {
  it('transactions over maxTransactions get a stateless 503 (memory bound against floods)', async () => {
    handler = new TestHandler();
    // INVITEs the handler never answers keep their transactions busy (Proceeding).
    handler.inviteImpl = () => new Promise<SdpResult>(() => undefined);
    server = await createSipServer({ host: '127.0.0.1', port: 0, handler, maxTransactions: 2, closeTimeoutMs: 300 });
    const p = await peer('udp');
    for (let i = 0; i < 2; i++) {
      const a = ids();
      p.send(sipRequest({ method: 'INVITE', peer: p, callId: a.callId, cseq: 1, branch: a.branch, body: OFFER }), server.port);
      await p.response(100, 'INVITE');
    }
    const c = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: c.callId, cseq: 1, branch: c.branch }), server.port);
    expect(getHeader(await p.response(503, 'OPTIONS'), 'Retry-After')).toBeDefined();
    expect(server.stats().transactions.rejectedOverLimit).toBe(1);
  });

  it('at the limit, answered non-INVITE transactions waiting out Timer J give way to new requests', async () => {
    handler = new TestHandler();
    server = await createSipServer({ host: '127.0.0.1', port: 0, handler, maxTransactions: 2, closeTimeoutMs: 300 });
    const p = await peer('udp');
    for (let i = 0; i < 5; i++) {
      const a = ids();
      p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: a.callId, cseq: 1, branch: a.branch }), server.port);
      await p.response(200, 'OPTIONS');
    }
    expect(server.stats().transactions.rejectedOverLimit).toBe(0);
    expect(server.stats().transactions.evictedCompleted).toBe(3);
  });

  it('an in-dialog request with a lower CSeq gets 500 (RFC 3261 12.2.2)', async () => {
    await start();
    const p = await peer('udp');
    const { callId, tag } = await establish(p);
    p.send(sipRequest({ method: 'INFO', peer: p, callId, cseq: 5, branch: ids().branch, toTag: tag }), server.port);
    await p.response(200, 'INFO');
    p.send(sipRequest({ method: 'INFO', peer: p, callId, cseq: 4, branch: ids().branch, toTag: tag }), server.port);
    await p.response(500, 'INFO');
    expect(handler.infos).toHaveLength(1);
  });
});

describe('SIP UA over TCP: framing', () => {
  it('answers a CRLFCRLF keep-alive ping with CRLF and closes a connection that breaks framing', async () => {
    await start();
    const p = await peer('tcp');
    p.raw(Buffer.from('\r\n\r\n'));
    const a = ids();
    p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: a.callId, cseq: 1, branch: a.branch }), server.port);
    await p.response(200, 'OPTIONS');
    const closed = p.closed();
    p.raw(Buffer.from('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKq\r\nContent-Length: zz\r\n\r\n'));
    await closed;
    expect(server.stats().transport.malformed).toBeGreaterThanOrEqual(1);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await sleep(5);
  }
}
