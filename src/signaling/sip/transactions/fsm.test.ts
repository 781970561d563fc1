import { FakeClock } from '../../../common';
import type { SipHeader, SipMessage, SipRequest, SipResponse } from '../message';
import { DEFAULT_SIP_TIMERS } from '../timers';
import type { TransactionEnv } from './common';
import { InviteClientTransaction } from './invite-client';
import { InviteServerTransaction } from './invite-server';
import { NonInviteClientTransaction } from './non-invite-client';
import { NonInviteServerTransaction } from './non-invite-server';

const T1 = DEFAULT_SIP_TIMERS.t1;
const T2 = DEFAULT_SIP_TIMERS.t2;
const T4 = DEFAULT_SIP_TIMERS.t4;

function req(method: string): SipRequest {
  const headers: SipHeader[] = [
    { name: 'Via', value: 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc' },
    { name: 'From', value: '<sip:a@x>;tag=f1' },
    { name: 'To', value: '<sip:b@y>' },
    { name: 'Call-ID', value: 'c1' },
    { name: 'CSeq', value: `7 ${method}` },
  ];
  return { kind: 'request', version: 'SIP/2.0', method, uri: 'sip:b@y', headers, body: Buffer.alloc(0) };
}

function res(status: number): SipResponse {
  return { kind: 'response', version: 'SIP/2.0', status, reason: 'R', headers: [{ name: 'To', value: '<sip:b@y>;tag=t9' }], body: Buffer.alloc(0) };
}

function setup(reliable = false) {
  const clock = new FakeClock();
  const env: TransactionEnv = { clock, timers: { ...DEFAULT_SIP_TIMERS }, reliable };
  const sent: { at: number; msg: SipMessage }[] = [];
  const send = (msg: SipMessage) => sent.push({ at: clock.now(), msg });
  const events: string[] = [];
  const user = {
    onResponse: (r: SipResponse) => events.push(`response:${r.status}`),
    onFailure: (reason: string) => events.push(`failure:${reason}`),
  };
  return { clock, env, sent, send, events, user };
}

/** Gaps between consecutive sends, for comparing retransmission schedules. */
function gaps(sent: { at: number }[]): number[] {
  return sent.slice(1).map((s, i) => s.at - (sent[i]?.at ?? 0));
}

describe('non-INVITE client transaction (RFC 3261 17.1.2)', () => {
  it('17.1.2.2 Timer E doubles from T1 and is capped at T2; Timer F fires at 64*T1', () => {
    const s = setup();
    const tx = new NonInviteClientTransaction(s.env, req('BYE'), s.send, s.user);
    tx.start();
    s.clock.advance(64 * T1 - 1);
    expect(s.events).toEqual([]);
    expect(gaps(s.sent).slice(0, 5)).toEqual([T1, 2 * T1, 4 * T1, T2, T2]);
    expect(gaps(s.sent).every((g) => g <= T2)).toBe(true);
    s.clock.advance(1);
    expect(s.events).toEqual(['failure:timeout']);
    expect(tx.state).toBe('terminated');
    expect(s.clock.pending()).toBe(0);
  });

  it('17.1.2.2 in Proceeding the request is retransmitted every T2', () => {
    const s = setup();
    const tx = new NonInviteClientTransaction(s.env, req('BYE'), s.send, s.user);
    tx.start();
    tx.receiveResponse(res(100));
    expect(tx.state).toBe('proceeding');
    s.clock.advance(T1); // E was armed with T1 before the 1xx
    s.clock.advance(3 * T2);
    expect(gaps(s.sent)).toEqual([T1, T2, T2, T2]);
  });

  it.each([
    [false, T4],
    [true, 0],
  ])('17.1.2.2 final response -> Completed, Timer K (reliable=%s) = %i ms, retransmissions absorbed', (reliable, k) => {
    const s = setup(reliable);
    const tx = new NonInviteClientTransaction(s.env, req('BYE'), s.send, s.user);
    tx.start();
    tx.receiveResponse(res(200));
    tx.receiveResponse(res(200));
    expect(s.events).toEqual(['response:200']);
    if (k > 0) {
      expect(tx.state).toBe('completed');
      s.clock.advance(k - 1);
      expect(tx.state).toBe('completed');
      s.clock.advance(1);
    }
    expect(tx.state).toBe('terminated');
    expect(s.sent).toHaveLength(1);
  });

  it('reliable transport: no Timer E retransmissions, Timer F still times out', () => {
    const s = setup(true);
    const tx = new NonInviteClientTransaction(s.env, req('BYE'), s.send, s.user);
    tx.start();
    s.clock.advance(64 * T1);
    expect(s.sent).toHaveLength(1);
    expect(s.events).toEqual(['failure:timeout']);
  });

  it('transport error in Trying reports failure:transport', () => {
    const s = setup();
    const tx = new NonInviteClientTransaction(s.env, req('BYE'), s.send, s.user);
    tx.start();
    tx.transportError();
    expect(s.events).toEqual(['failure:transport']);
    expect(s.clock.pending()).toBe(0);
  });
});

describe('INVITE client transaction (RFC 3261 17.1.1, RFC 6026)', () => {
  it('17.1.1.2 Timer A doubles without cap; Timer B fires at 64*T1', () => {
    const s = setup();
    const tx = new InviteClientTransaction(s.env, req('INVITE'), s.send, s.user);
    tx.start();
    s.clock.advance(64 * T1);
    expect(gaps(s.sent)).toEqual([T1, 2 * T1, 4 * T1, 8 * T1, 16 * T1, 32 * T1]);
    expect(s.events).toEqual(['failure:timeout']);
    expect(tx.state).toBe('terminated');
  });

  it('17.1.1.2 a 1xx stops Timer A', () => {
    const s = setup();
    const tx = new InviteClientTransaction(s.env, req('INVITE'), s.send, s.user);
    tx.start();
    tx.receiveResponse(res(180));
    s.clock.advance(10 * T1);
    expect(s.sent).toHaveLength(1);
    expect(tx.state).toBe('proceeding');
  });

  it('17.1.1.3 a non-2xx final is ACKed by the transaction with the INVITE branch; a retransmitted final re-sends the ACK; Timer D = 32 s', () => {
    const s = setup();
    const tx = new InviteClientTransaction(s.env, req('INVITE'), s.send, s.user);
    tx.start();
    tx.receiveResponse(res(486));
    tx.receiveResponse(res(486));
    expect(s.events).toEqual(['response:486']);
    const acks = s.sent.filter((x) => x.msg.kind === 'request' && x.msg.method === 'ACK').map((x) => x.msg as SipRequest);
    expect(acks).toHaveLength(2);
    const ack = acks[0] as SipRequest;
    const header = (n: string) => ack.headers.find((h) => h.name === n)?.value;
    expect(header('Via')).toBe('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc');
    expect(header('CSeq')).toBe('7 ACK');
    expect(header('To')).toBe('<sip:b@y>;tag=t9');
    expect(ack.uri).toBe('sip:b@y');
    s.clock.advance(32000 - 1);
    expect(tx.state).toBe('completed');
    s.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('RFC 6026 a 2xx moves to Accepted and 2xx retransmissions reach the TU (which ACKs them)', () => {
    const s = setup();
    const tx = new InviteClientTransaction(s.env, req('INVITE'), s.send, s.user);
    tx.start();
    tx.receiveResponse(res(200));
    tx.receiveResponse(res(200));
    expect(s.events).toEqual(['response:200', 'response:200']);
    expect(s.sent).toHaveLength(1);
    s.clock.advance(64 * T1);
    expect(tx.state).toBe('terminated');
  });

  it('reliable transport: no Timer A, Timer D is 0', () => {
    const s = setup(true);
    const tx = new InviteClientTransaction(s.env, req('INVITE'), s.send, s.user);
    tx.start();
    s.clock.advance(10 * T1);
    expect(s.sent).toHaveLength(1);
    tx.receiveResponse(res(404));
    expect(tx.state).toBe('terminated');
  });
});

describe('INVITE server transaction (RFC 3261 17.2.1)', () => {
  it('absorbs a retransmitted INVITE and resends the last provisional response', () => {
    const s = setup();
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(100));
    tx.receiveRequest(req('INVITE'));
    tx.receiveRequest(req('INVITE'));
    expect(s.sent.map((x) => (x.msg as SipResponse).status)).toEqual([100, 100, 100]);
  });

  it('17.2.1 Timer G retransmits a non-2xx final from T1 doubling to T2; Timer H at 64*T1 reports ack timeout', () => {
    const s = setup();
    let ackTimeouts = 0;
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send, { onAckTimeout: () => ackTimeouts++ });
    tx.respond(res(486));
    s.clock.advance(64 * T1 - 1);
    expect(gaps(s.sent).slice(0, 5)).toEqual([T1, 2 * T1, 4 * T1, T2, T2]);
    expect(ackTimeouts).toBe(0);
    s.clock.advance(1);
    expect(ackTimeouts).toBe(1);
    expect(tx.state).toBe('terminated');
    expect(s.clock.pending()).toBe(0);
  });

  it('ACK for a non-2xx is absorbed: Confirmed, Timer G stops, Timer I = T4, then Terminated', () => {
    const s = setup();
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(486));
    tx.receiveRequest(req('ACK'));
    expect(tx.state).toBe('confirmed');
    tx.receiveRequest(req('INVITE')); // late retransmission: absorbed silently in Confirmed
    s.clock.advance(T4 - 1);
    expect(s.sent).toHaveLength(1);
    expect(tx.state).toBe('confirmed');
    s.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('a retransmitted INVITE in Completed resends the final response', () => {
    const s = setup();
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(603));
    tx.receiveRequest(req('INVITE'));
    expect(s.sent.map((x) => (x.msg as SipResponse).status)).toEqual([603, 603]);
  });

  it('RFC 6026 a 2xx moves to Accepted: no retransmission by the transaction, Timer L at 64*T1', () => {
    const s = setup();
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(200));
    expect(tx.pending).toBe(false);
    tx.receiveRequest(req('INVITE'));
    s.clock.advance(64 * T1 - 1);
    expect(s.sent).toHaveLength(1);
    expect(tx.state).toBe('accepted');
    tx.respond(res(200)); // the UA core's 2xx retransmission passes through
    expect(s.sent).toHaveLength(2);
    s.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('reliable transport: no Timer G; Timer I is 0 so the ACK terminates at once', () => {
    const s = setup(true);
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(486));
    s.clock.advance(10 * T1);
    expect(s.sent).toHaveLength(1);
    tx.receiveRequest(req('ACK'));
    expect(tx.state).toBe('terminated');
  });

  it('ignores a second final response from the TU', () => {
    const s = setup();
    const tx = new InviteServerTransaction(s.env, req('INVITE'), s.send);
    tx.respond(res(487));
    tx.respond(res(200));
    expect(tx.lastStatus).toBe(487);
  });
});

describe('non-INVITE server transaction (RFC 3261 17.2.2)', () => {
  it('a retransmission in Trying is dropped; after the final it gets the last response again', () => {
    const s = setup();
    const tx = new NonInviteServerTransaction(s.env, req('BYE'), s.send);
    tx.receiveRequest(req('BYE'));
    expect(s.sent).toHaveLength(0);
    tx.respond(res(200));
    tx.receiveRequest(req('BYE'));
    expect(s.sent.map((x) => (x.msg as SipResponse).status)).toEqual([200, 200]);
  });

  it.each([
    [false, 64 * T1],
    [true, 0],
  ])('Timer J (reliable=%s) = %i ms', (reliable, j) => {
    const s = setup(reliable);
    const tx = new NonInviteServerTransaction(s.env, req('OPTIONS'), s.send);
    tx.respond(res(200));
    if (j > 0) {
      s.clock.advance(j - 1);
      expect(tx.state).toBe('completed');
      s.clock.advance(1);
    }
    expect(tx.state).toBe('terminated');
  });

  it('a provisional response moves to Proceeding and is resent on retransmission', () => {
    const s = setup();
    const tx = new NonInviteServerTransaction(s.env, req('BYE'), s.send);
    tx.respond(res(100));
    expect(tx.state).toBe('proceeding');
    tx.receiveRequest(req('BYE'));
    expect(s.sent).toHaveLength(2);
  });
});
