/**
 * INVITE server transaction (RFC 3261 17.2.1 with the RFC 6026 Accepted state): absorbs INVITE
 * retransmissions (resending the last provisional or non-2xx final response), Timer G/H/I, L.
 * Never passes a retransmitted INVITE or a non-2xx ACK up to the UA core.
 */
import type { SipRequest, SipResponse } from '../message';
import { nextInterval, timerT4Wait, transactionTimeout } from '../timers';
import { type TransactionEnv, TxTimers, safeCall } from './common';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface InviteServerUser {
  /** Timer H fired: no ACK for our non-2xx final response. */
  onAckTimeout?(): void;
  /** The transport failed to deliver a response. */
  onTransportError?(): void;
}

export class InviteServerTransaction {
  private stateValue: InviteServerState = 'proceeding';
  private readonly timers: TxTimers;
  private lastResponse: SipResponse | undefined;
  private interval: number;
  onTerminated: (() => void) | undefined;

  constructor(
    private readonly env: TransactionEnv,
    readonly request: SipRequest,
    private readonly send: (res: SipResponse) => void,
    private readonly user: InviteServerUser = {},
  ) {
    this.timers = new TxTimers(env.clock);
    this.interval = env.timers.t1;
  }

  get state(): InviteServerState {
    return this.stateValue;
  }

  /** True until a final response was sent: CANCEL can still end it with 487. */
  get pending(): boolean {
    return this.stateValue === 'proceeding';
  }

  get lastStatus(): number | undefined {
    return this.lastResponse?.status;
  }

  /** Responses from the TU: 1xx stays Proceeding, 2xx -> Accepted, 300-699 -> Completed. */
  respond(res: SipResponse): void {
    if (this.stateValue === 'accepted' && res.status >= 200 && res.status < 300) {
      this.send(res); // RFC 6026: 2xx retransmissions from the TU pass through
      return;
    }
    if (this.stateValue !== 'proceeding') return;
    this.lastResponse = res;
    this.send(res);
    if (res.status < 200) return;
    if (res.status < 300) {
      this.stateValue = 'accepted';
      this.timers.set('L', transactionTimeout(this.env.timers), () => this.terminate());
      return;
    }
    this.stateValue = 'completed';
    if (!this.env.reliable) this.armG();
    this.timers.set('H', transactionTimeout(this.env.timers), () => {
      this.terminate();
      safeCall(() => this.user.onAckTimeout?.());
    });
  }

  /** A request that matched this transaction: a retransmitted INVITE or the ACK of a non-2xx. */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.stateValue !== 'completed') return;
      this.stateValue = 'confirmed';
      this.timers.clear('G');
      this.timers.clear('H');
      const i = timerT4Wait(this.env.timers, this.env.reliable);
      if (i === 0) this.terminate();
      else this.timers.set('I', i, () => this.terminate());
      return;
    }
    if ((this.stateValue === 'proceeding' || this.stateValue === 'completed') && this.lastResponse) {
      this.send(this.lastResponse);
    }
  }

  transportError(): void {
    if (this.stateValue === 'terminated') return;
    this.terminate();
    safeCall(() => this.user.onTransportError?.());
  }

  terminate(): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    this.timers.clearAll();
    safeCall(this.onTerminated);
  }

  private armG(): void {
    this.timers.set('G', this.interval, () => {
      if (this.lastResponse) this.send(this.lastResponse);
      this.interval = nextInterval(this.interval, this.env.timers.t2);
      this.armG();
    });
  }
}
