/**
 * Non-INVITE server transaction (RFC 3261 17.2.2): Trying -> Proceeding -> Completed, Timer J.
 * Absorbs request retransmissions (resending the last response); never passes them to the UA core.
 */
import type { SipRequest, SipResponse } from '../message';
import { timerJ } from '../timers';
import { type TransactionEnv, TxTimers, safeCall } from './common';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction {
  private stateValue: NonInviteServerState = 'trying';
  private readonly timers: TxTimers;
  private lastResponse: SipResponse | undefined;
  onTerminated: (() => void) | undefined;

  constructor(
    private readonly env: TransactionEnv,
    readonly request: SipRequest,
    private readonly send: (res: SipResponse) => void,
  ) {
    this.timers = new TxTimers(env.clock);
  }

  get state(): NonInviteServerState {
    return this.stateValue;
  }

  /** No final response sent yet. */
  get pending(): boolean {
    return this.stateValue === 'trying' || this.stateValue === 'proceeding';
  }

  respond(res: SipResponse): void {
    if (this.stateValue === 'completed' || this.stateValue === 'terminated') return;
    this.lastResponse = res;
    this.send(res);
    if (res.status < 200) {
      this.stateValue = 'proceeding';
      return;
    }
    this.stateValue = 'completed';
    const j = timerJ(this.env.timers, this.env.reliable);
    if (j === 0) this.terminate();
    else this.timers.set('J', j, () => this.terminate());
  }

  /** A retransmission of the request: in Trying it is dropped, later the last response is resent. */
  receiveRequest(_req: SipRequest): void {
    if ((this.stateValue === 'proceeding' || this.stateValue === 'completed') && this.lastResponse) {
      this.send(this.lastResponse);
    }
  }

  transportError(): void {
    this.terminate();
  }

  terminate(): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    this.timers.clearAll();
    safeCall(this.onTerminated);
  }
}
