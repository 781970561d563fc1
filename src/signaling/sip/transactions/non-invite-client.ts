/**
 * Non-INVITE client transaction (RFC 3261 17.1.2): Trying -> Proceeding -> Completed -> Terminated,
 * Timer E (retransmit, T1 doubling to T2), F (64*T1 timeout), K (T4 wait). Pure over the Clock;
 * never parses or sends anything except through the send callback.
 */
import type { SipRequest, SipResponse } from '../message';
import { nextInterval, timerT4Wait, transactionTimeout } from '../timers';
import { type ClientFailure, type TransactionEnv, TxTimers, safeCall } from './common';

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ClientTransactionUser {
  /** Every response the transaction passes up (provisional and the first final one). */
  onResponse(res: SipResponse): void;
  /** Timer B/F fired or the transport failed; the transaction is terminated. */
  onFailure(reason: ClientFailure): void;
}

export class NonInviteClientTransaction {
  private stateValue: NonInviteClientState = 'trying';
  private readonly timers: TxTimers;
  private interval: number;
  /** Set by the owner (transaction layer) to forget the transaction. */
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

  get state(): NonInviteClientState {
    return this.stateValue;
  }

  /** Sends the request and arms Timer E (unreliable only) and Timer F. */
  start(): void {
    this.send(this.request);
    if (!this.env.reliable) this.armE();
    this.timers.set('F', transactionTimeout(this.env.timers), () => this.fail('timeout'));
  }

  receiveResponse(res: SipResponse): void {
    if (this.stateValue === 'completed' || this.stateValue === 'terminated') return;
    if (res.status < 200) {
      this.stateValue = 'proceeding';
      safeCall(() => this.user.onResponse(res));
      return;
    }
    this.stateValue = 'completed';
    this.timers.clear('E');
    this.timers.clear('F');
    safeCall(() => this.user.onResponse(res));
    const k = timerT4Wait(this.env.timers, this.env.reliable);
    if (k === 0) this.terminate();
    else this.timers.set('K', k, () => this.terminate());
  }

  transportError(): void {
    if (this.stateValue === 'trying' || this.stateValue === 'proceeding') this.fail('transport');
  }

  /** Stops everything without telling the user (owner shutdown). */
  terminate(): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    this.timers.clearAll();
    safeCall(this.onTerminated);
  }

  private armE(): void {
    this.timers.set('E', this.interval, () => {
      this.send(this.request);
      // 17.1.2.2: in Proceeding the request is retransmitted every T2.
      this.interval = this.stateValue === 'proceeding' ? this.env.timers.t2 : nextInterval(this.interval, this.env.timers.t2);
      this.armE();
    });
  }

  private fail(reason: ClientFailure): void {
    if (this.stateValue === 'terminated') return;
    this.terminate();
    safeCall(() => this.user.onFailure(reason));
  }
}
