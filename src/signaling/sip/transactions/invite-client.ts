/**
 * INVITE client transaction (RFC 3261 17.1.1 with the RFC 6026 Accepted state): Timer A
 * (retransmit, doubling without cap), B (64*T1 timeout), D (wait for response retransmissions),
 * M (Accepted). It builds the ACK for non-2xx responses itself; it never ACKs a 2xx (the UA core does).
 */
import { type SipRequest, type SipResponse, getHeader, getHeaderLines } from '../message';
import { nextInterval, timerD, transactionTimeout } from '../timers';
import { type TransactionEnv, TxTimers, safeCall } from './common';
import type { ClientTransactionUser } from './non-invite-client';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export class InviteClientTransaction {
  private stateValue: InviteClientState = 'calling';
  private readonly timers: TxTimers;
  private interval: number;
  private ack: SipRequest | undefined;
  onTerminated: (() => void) | undefined;

  constructor(
    private readonly env: TransactionEnv,
    readonly request: SipRequest,
    private readonly send: (req: SipRequest) => void,
    private readonly user: ClientTransactionUser,
  ) {
    this.timers = new TxTimers(env.clock);
    this.interval = env.timers.t1;
  }

  get state(): InviteClientState {
    return this.stateValue;
  }

  start(): void {
    this.send(this.request);
    if (!this.env.reliable) this.armA();
    this.timers.set('B', transactionTimeout(this.env.timers), () => this.fail());
  }

  receiveResponse(res: SipResponse): void {
    switch (this.stateValue) {
      case 'calling':
      case 'proceeding':
        this.onFirstResponses(res);
        return;
      case 'completed':
        // A retransmitted final response means our ACK was lost (17.1.1.2).
        if (res.status >= 300 && this.ack) this.send(this.ack);
        return;
      case 'accepted':
        // RFC 6026: 2xx retransmissions go to the TU, which re-sends its ACK.
        if (res.status >= 200 && res.status < 300) safeCall(() => this.user.onResponse(res));
        return;
      case 'terminated':
        return;
    }
  }

  transportError(): void {
    if (this.stateValue === 'calling' || this.stateValue === 'proceeding') this.fail('transport');
    else if (this.stateValue === 'completed') this.terminate();
  }

  terminate(): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    this.timers.clearAll();
    safeCall(this.onTerminated);
  }

  private onFirstResponses(res: SipResponse): void {
    this.timers.clear('A');
    if (res.status < 200) {
      this.stateValue = 'proceeding';
      safeCall(() => this.user.onResponse(res));
      return;
    }
    this.timers.clear('B');
    if (res.status < 300) {
      this.stateValue = 'accepted';
      safeCall(() => this.user.onResponse(res));
      this.timers.set('M', transactionTimeout(this.env.timers), () => this.terminate());
      return;
    }
    this.stateValue = 'completed';
    this.ack = buildAckForFailure(this.request, res);
    this.send(this.ack);
    safeCall(() => this.user.onResponse(res));
    const d = timerD(this.env.timers, this.env.reliable);
    if (d === 0) this.terminate();
    else this.timers.set('D', d, () => this.terminate());
  }

  private armA(): void {
    this.timers.set('A', this.interval, () => {
      this.send(this.request);
      this.interval = nextInterval(this.interval, Infinity);
      this.armA();
    });
  }

  private fail(reason: 'timeout' | 'transport' = 'timeout'): void {
    if (this.stateValue === 'terminated') return;
    this.terminate();
    safeCall(() => this.user.onFailure(reason));
  }
}

/**
 * 17.1.1.3: the ACK for a non-2xx final response shares the INVITE's branch and Request-URI,
 * copies Call-ID, From, the top Via and Route, takes To from the response, CSeq number with ACK.
 */
export function buildAckForFailure(invite: SipRequest, res: SipResponse): SipRequest {
  const headers = [];
  const topVia = getHeaderLines(invite, 'Via')[0];
  if (topVia !== undefined) headers.push({ name: 'Via', value: firstListElement(topVia) });
  for (const route of getHeaderLines(invite, 'Route')) headers.push({ name: 'Route', value: route });
  headers.push({ name: 'Max-Forwards', value: '70' });
  const from = getHeader(invite, 'From');
  if (from !== undefined) headers.push({ name: 'From', value: from });
  const to = getHeader(res, 'To') ?? getHeader(invite, 'To');
  if (to !== undefined) headers.push({ name: 'To', value: to });
  const callId = getHeader(invite, 'Call-ID');
  if (callId !== undefined) headers.push({ name: 'Call-ID', value: callId });
  const seq = (getHeader(invite, 'CSeq') ?? '').trim().split(/\s+/)[0] ?? '1';
  headers.push({ name: 'CSeq', value: `${seq} ACK` });
  headers.push({ name: 'Content-Length', value: '0' });
  return { kind: 'request', version: 'SIP/2.0', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

/** The Via we put on our own INVITE has one element per line; still, never copy a second hop. */
function firstListElement(value: string): string {
  const comma = value.indexOf(',');
  return comma < 0 ? value : value.slice(0, comma).trim();
}
