/**
 * One UAS call (INVITE dialog) as the UA core drives it: the handler's answer in the 2xx, 2xx
 * retransmission until the ACK (13.3.1.4), CANCEL, BYE both ways, re-INVITE, UPDATE (RFC 3311),
 * INFO, and session timers (RFC 4028: the call ends when the caller's refreshes stop, or we
 * refresh with UPDATE when we are the refresher). Never calls the handler's onEnded twice or
 * before onInvite has settled; never lets a handler error escape.
 */
import { type Clock, type Logger, type TimerHandle, errorMessage, sipStatusFor } from '../../common';
import { type SipHeader, type SipRequest, type SipResponse, getHeader } from './message';
import { parseCSeq } from './headers';
import type { Dialog } from './dialog';
import { expiryMs, negotiateSessionTimer, refreshMs, type SessionTimerDecision } from './session-timer';
import type { CallEndReason, CallInfo, SdpResult, SessionHandler, SipCall, SipTransportKind } from './session';
import type { SipTimerConfig } from './timers';
import type { InboundSource, ServerTransaction, TransactionLayer } from './transactions/layer';
import type { InviteServerTransaction } from './transactions/invite-server';
import type { NonInviteServerTransaction } from './transactions/non-invite-server';

/** What a call needs from the UA core, given as small functions rather than a back-reference. */
export interface CallContext {
  clock: Clock;
  timers: SipTimerConfig;
  handler: SessionHandler;
  layer: TransactionLayer;
  log: Logger;
  /** Builds a response with our To tag, Server header and optional SDP body. */
  respond(tx: ServerTransaction, req: SipRequest, status: number, reason: string, extra?: ResponseExtra): void;
  /** Our Via value (fresh branch) for a request sent over `transport`. */
  viaFor(transport: SipTransportKind): string;
  /** Our Contact header value for requests sent over `transport`. */
  contactFor(transport: SipTransportKind): string;
  userAgentHeaders(): SipHeader[];
  forget(call: UasCall): void;
}

export interface ResponseExtra {
  headers?: SipHeader[];
  sdp?: string;
  /** Adds Contact/Allow/Supported: the response establishes or refreshes the dialog. */
  dialogResponse?: boolean;
}

type CallState = 'offered' | 'accepted' | 'confirmed' | 'ended';

interface PendingAck {
  cseq: number;
  initial: boolean;
  offerless: boolean;
  retransmit: TimerHandle | undefined;
  deadline: TimerHandle;
}

interface Reinvite {
  tx: InviteServerTransaction;
  cseq: number;
}

type SessionTimer = Extract<SessionTimerDecision, { kind: 'timer' }>;

export class UasCall implements SipCall {
  private state: CallState = 'offered';
  private settled: Promise<void> = Promise.resolve();
  private pendingAck: PendingAck | undefined;
  private reinvite: Reinvite | undefined;
  private hangupPromise: Promise<void> | undefined;
  private byeAfterAck: (() => void) | undefined;
  private ended = false;
  private readonly log: Logger;
  /** The session timer in force (RFC 4028), and its one timer: our refresh, or the expiry. */
  private sessionTimer: SessionTimer | undefined;
  private sessionTimerHandle: TimerHandle | undefined;

  constructor(
    readonly id: string,
    readonly info: CallInfo,
    readonly dialog: Dialog,
    readonly inviteTx: InviteServerTransaction,
    private readonly invite: SipRequest,
    private readonly src: InboundSource,
    private readonly ctx: CallContext,
    sessionTimer?: SessionTimer,
  ) {
    this.log = ctx.log.child({ callId: info.callId, call: id });
    this.sessionTimer = sessionTimer;
  }

  get established(): boolean {
    return this.state === 'accepted' || this.state === 'confirmed';
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Runs the handler's onInvite; the 2xx (or error) is sent when it settles. */
  start(offer: string | undefined): void {
    this.log.info({ event: 'invite', from: this.info.fromUri, user: this.info.requestUser, offer: offer !== undefined }, 'SIP call offered');
    let result: Promise<SdpResult>;
    try {
      result = this.ctx.handler.onInvite(this, offer);
    } catch (err) {
      result = Promise.reject(err);
    }
    this.settled = result.then(
      (answer) => this.onInviteAnswered(answer, offer === undefined),
      (err: unknown) => this.onInviteRejected(err),
    );
  }

  private onInviteAnswered(answer: SdpResult, offerless: boolean): void {
    if (this.state !== 'offered' || !this.inviteTx.pending) return; // cancelled or hung up meanwhile
    this.state = 'accepted';
    this.sendOk(this.inviteTx, this.invite, answer.sdp, { cseq: this.inviteCSeq(), initial: true, offerless });
    this.armSessionTimer();
    this.log.info({ event: 'answered', ...(this.sessionTimer ? { sessionExpiresS: this.sessionTimer.intervalS, refresher: this.sessionTimer.refresher } : {}) }, 'SIP call answered');
  }

  private onInviteRejected(err: unknown): void {
    if (this.state !== 'offered') return;
    this.rejectTx(this.inviteTx, this.invite, err);
    this.log.info({ event: 'rejected', err: errorMessage(err) }, 'SIP call rejected');
    this.finish('rejected');
  }

  private rejectTx(tx: ServerTransaction, req: SipRequest, err: unknown): void {
    const m = sipStatusFor(err);
    const headers: SipHeader[] = m.status === 503 ? [{ name: 'Retry-After', value: String(m.retryAfter ?? 30) }] : [];
    this.ctx.respond(tx, req, m.status, m.reason, { headers });
  }

  /** 13.3.1.4: the 2xx is retransmitted from T1 doubling to T2 until the ACK, 64*T1 at most. */
  private sendOk(tx: InviteServerTransaction, req: SipRequest, sdp: string, p: { cseq: number; initial: boolean; offerless: boolean }): void {
    const headers = this.sessionTimer?.headers ?? [];
    this.ctx.respond(tx, req, 200, 'OK', { sdp, dialogResponse: true, headers });
    const okRetransmit = (interval: number): TimerHandle =>
      this.ctx.clock.setTimeout(() => {
        this.ctx.respond(tx, req, 200, 'OK', { sdp, dialogResponse: true, headers });
        if (this.pendingAck) this.pendingAck.retransmit = okRetransmit(Math.min(interval * 2, this.ctx.timers.t2));
      }, interval);
    const deadline = this.ctx.clock.setTimeout(() => this.onAckTimeout(), 64 * this.ctx.timers.t1);
    this.clearPendingAck();
    this.pendingAck = { ...p, retransmit: okRetransmit(this.ctx.timers.t1), deadline };
  }

  private clearPendingAck(): void {
    this.pendingAck?.retransmit?.cancel();
    this.pendingAck?.deadline.cancel();
    this.pendingAck = undefined;
  }

  private onAckTimeout(): void {
    this.pendingAck = undefined;
    this.reinvite = undefined;
    this.state = 'confirmed';
    this.log.warn({ event: 'ack-timeout' }, 'SIP call got no ACK for its 2xx');
    const bye = this.byeAfterAck;
    this.byeAfterAck = undefined;
    if (bye) bye(); // a hangup() was waiting for the ACK: it sends the BYE and ends with local-bye
    else void this.sendBye().then(() => this.finish('ack-timeout'));
  }

  /** ACK of one of our 2xx responses (end to end, outside any transaction). */
  onAck(ack: SipRequest): void {
    const p = this.pendingAck;
    const cseq = parseCSeq(getHeader(ack, 'CSeq') ?? '');
    if (!p || !cseq || cseq.seq !== p.cseq) return; // an ACK retransmission or a stray one
    this.clearPendingAck();
    this.reinvite = undefined;
    if (p.initial) {
      this.state = 'confirmed';
      this.log.info({ event: 'confirmed' }, 'SIP call confirmed');
    }
    const answer = p.offerless && ack.body.length > 0 ? ack.body.toString('utf8') : undefined;
    this.safe(() => this.ctx.handler.onAck(this, answer), 'onAck');
    const bye = this.byeAfterAck;
    this.byeAfterAck = undefined;
    bye?.();
  }

  /** CANCEL matched `tx` (9.2): 487 when no final response yet; ends the call if it is the initial INVITE. */
  onCancel(tx: InviteServerTransaction): void {
    if (!tx.pending) return;
    const req = tx === this.inviteTx ? this.invite : this.reinvite?.tx.request;
    if (!req) return;
    this.ctx.respond(tx, req, 487, 'Request Terminated');
    if (tx === this.inviteTx) {
      this.log.info({ event: 'cancel' }, 'SIP call cancelled');
      this.finish('cancel');
    } else {
      this.reinvite = undefined;
    }
  }

  onBye(req: SipRequest, tx: NonInviteServerTransaction): void {
    this.ctx.respond(tx, req, 200, 'OK');
    if (this.ended) return;
    if (this.inviteTx.pending) this.ctx.respond(this.inviteTx, this.invite, 487, 'Request Terminated');
    this.log.info({ event: 'remote-bye' }, 'SIP call ended by the remote side');
    this.finish('remote-bye');
  }

  onInfo(req: SipRequest, tx: NonInviteServerTransaction): void {
    this.ctx.respond(tx, req, 200, 'OK');
    if (this.ended) return;
    this.safe(() => this.ctx.handler.onInfo(this, getHeader(req, 'Content-Type'), req.body), 'onInfo');
  }

  /** 14.2: one re-INVITE at a time (491 otherwise); the answer or, for an offerless one, our offer. */
  onReinvite(req: SipRequest, tx: InviteServerTransaction, offer: string | undefined): void {
    if (this.reinvite || this.state !== 'confirmed' || this.hangupPromise) {
      this.ctx.respond(tx, req, 491, 'Request Pending');
      return;
    }
    if (!this.acceptRefresh(tx, req)) return;
    const cseq = parseCSeq(getHeader(req, 'CSeq') ?? '')?.seq ?? 0;
    this.reinvite = { tx, cseq };
    this.dialog.refreshTarget(req);
    this.log.info({ event: 'reinvite', offer: offer !== undefined }, 'SIP re-INVITE');
    let result: Promise<SdpResult>;
    try {
      result = this.ctx.handler.onReinvite(this, offer);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (answer) => {
        if (this.ended || this.reinvite?.tx !== tx || !tx.pending) return;
        this.sendOk(tx, req, answer.sdp, { cseq, initial: false, offerless: offer === undefined });
        this.armSessionTimer();
      },
      (err: unknown) => {
        if (this.ended || this.reinvite?.tx !== tx || !tx.pending) return;
        this.reinvite = undefined;
        this.rejectTx(tx, req, err);
      },
    );
  }

  /**
   * RFC 3311 UPDATE in the dialog: a session refresh (no body) or a new offer (answered in the
   * 200 like a re-INVITE's, no ACK). An offer while another is in progress gets 491 (5.2).
   */
  onUpdate(req: SipRequest, tx: NonInviteServerTransaction, offer: string | undefined): void {
    if (this.ended || this.hangupPromise) {
      this.ctx.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (offer !== undefined && (this.reinvite || this.pendingAck || this.state !== 'confirmed')) {
      this.ctx.respond(tx, req, 491, 'Request Pending');
      return;
    }
    if (!this.acceptRefresh(tx, req)) return;
    this.dialog.refreshTarget(req);
    if (offer === undefined) {
      this.ctx.respond(tx, req, 200, 'OK', { dialogResponse: true, headers: this.sessionTimer?.headers ?? [] });
      this.armSessionTimer();
      return;
    }
    this.log.info({ event: 'update', offer: true }, 'SIP UPDATE with an offer');
    let result: Promise<SdpResult>;
    try {
      result = this.ctx.handler.onReinvite(this, offer);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (answer) => {
        if (this.ended || !tx.pending) return;
        this.ctx.respond(tx, req, 200, 'OK', { sdp: answer.sdp, dialogResponse: true, headers: this.sessionTimer?.headers ?? [] });
        this.armSessionTimer();
      },
      (err: unknown) => {
        if (this.ended || !tx.pending) return;
        this.rejectTx(tx, req, err);
      },
    );
  }

  /**
   * RFC 4028 on a refresh request (re-INVITE, UPDATE): 400 or 422 when its Session-Expires or
   * Min-SE cannot be taken (false: answered); else the timer it asks for (none: timers off).
   */
  private acceptRefresh(tx: ServerTransaction, req: SipRequest): boolean {
    const timer = negotiateSessionTimer(req);
    if (timer.kind === 'bad') {
      this.ctx.respond(tx, req, 400, timer.reason);
      return false;
    }
    if (timer.kind === 'too-small') {
      this.ctx.respond(tx, req, 422, 'Session Interval Too Small', { headers: [{ name: 'Min-SE', value: String(timer.minSe) }] });
      return false;
    }
    this.sessionTimer = timer.kind === 'timer' ? timer : undefined;
    return true;
  }

  /** (Re)starts the session timer after a 2xx that set it: our refresh at half the interval, or the expiry. */
  private armSessionTimer(): void {
    this.sessionTimerHandle?.cancel();
    this.sessionTimerHandle = undefined;
    const t = this.sessionTimer;
    if (!t || this.ended) return;
    if (t.refresher === 'uac') {
      this.sessionTimerHandle = this.ctx.clock.setTimeout(() => this.onSessionExpired(t.intervalS), expiryMs(t.intervalS));
    } else {
      this.sessionTimerHandle = this.ctx.clock.setTimeout(() => void this.refreshSession(t), refreshMs(t.intervalS));
    }
  }

  /** Section 10: no refresh came in time: the caller (or its network) is gone. */
  private onSessionExpired(intervalS: number): void {
    this.sessionTimerHandle = undefined;
    if (this.ended || this.hangupPromise) return;
    this.log.warn({ event: 'session-expired', sessionExpiresS: intervalS }, 'SIP session timer expired: no refresh from the caller');
    this.hangupPromise = this.sendBye().then(() => this.finish('session-expired'));
  }

  /** We refresh (refresher=uas): an UPDATE without a body; a 408 or 481 (or no answer) ends the call. */
  private async refreshSession(t: SessionTimer): Promise<void> {
    this.sessionTimerHandle = undefined;
    if (this.ended || this.hangupPromise || this.state !== 'confirmed') {
      if (!this.ended) this.armSessionTimer();
      return;
    }
    const status = await this.sendInDialog('UPDATE', [
      { name: 'Session-Expires', value: `${t.intervalS};refresher=uas` },
      { name: 'Supported', value: 'timer' },
      { name: 'Contact', value: this.ctx.contactFor(this.src.transport) },
    ]);
    if (this.ended) return;
    if (status !== undefined && status >= 200 && status < 300) {
      this.armSessionTimer();
      return;
    }
    if (status === undefined || status === 408 || status === 481) {
      this.log.warn({ event: 'refresh-failed', status: status ?? 'no answer' }, 'SIP session refresh failed: ending the call');
      this.hangupPromise = this.sendBye().then(() => this.finish('session-expired'));
      return;
    }
    // Any other answer (e.g. 501): the caller will not take our refreshes; the timer is off.
    this.log.warn({ event: 'refresh-refused', status }, 'SIP session refresh refused: session timer off');
    this.sessionTimer = undefined;
  }

  hangup(): Promise<void> {
    if (this.hangupPromise) return this.hangupPromise;
    if (this.ended) return (this.hangupPromise = this.settled);
    this.log.info({ event: 'hangup', state: this.state }, 'SIP call hung up locally');
    if (this.state === 'offered') {
      if (this.inviteTx.pending) this.ctx.respond(this.inviteTx, this.invite, 480, 'Temporarily Unavailable');
      this.finish('local-bye');
      return (this.hangupPromise = this.settled);
    }
    if (this.state === 'accepted') {
      // 15: the callee must not send BYE before the ACK arrives (or the 2xx times out).
      this.hangupPromise = new Promise<void>((resolve) => {
        this.byeAfterAck = () => {
          if (this.ended) return resolve();
          void this.sendBye().then(() => {
            this.finish('local-bye');
            resolve();
          });
        };
      });
      return this.hangupPromise;
    }
    this.hangupPromise = this.sendBye().then(() => this.finish('local-bye'));
    return this.hangupPromise;
  }

  /** Ends the call without signalling (server shutdown after its bound). */
  abort(reason: CallEndReason): void {
    this.finish(reason);
  }

  /** BYE through a non-INVITE client transaction; resolves on any final response or failure. */
  private async sendBye(): Promise<void> {
    await this.sendInDialog('BYE');
  }

  /**
   * A request of ours in the dialog (12.2.1.1: on the route set, to its first hop; over the
   * caller's TCP or TLS connection when that is where it goes): the final status, or undefined when
   * none came (timeout, transport failure).
   */
  private sendInDialog(method: string, extra: SipHeader[] = []): Promise<number | undefined> {
    const hop = this.dialog.nextHop(this.src.transport) ?? { transport: this.src.transport, address: this.src.address, port: this.src.port };
    const target = hop.transport !== 'udp' && hop.transport === this.src.transport ? { ...hop, connectionId: this.src.connectionId } : hop;
    const req = this.dialog.createRequest(method, this.ctx.viaFor(target.transport), [...this.ctx.userAgentHeaders(), ...extra]);
    return new Promise<number | undefined>((resolve) => {
      const tx = this.ctx.layer.sendRequest(req, target, {
        onResponse: (res: SipResponse) => {
          if (res.status >= 200) resolve(res.status);
        },
        onFailure: (reason) => {
          this.log.warn({ event: 'request-failed', method, reason }, 'SIP request got no final response');
          resolve(undefined);
        },
      });
      if (!tx) resolve(undefined);
    });
  }

  private finish(reason: CallEndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.state = 'ended';
    this.sessionTimerHandle?.cancel();
    this.sessionTimerHandle = undefined;
    this.clearPendingAck();
    this.reinvite = undefined;
    this.ctx.forget(this);
    this.log.info({ event: 'ended', reason }, 'SIP call ended');
    void this.settled.then(() => this.safe(() => this.ctx.handler.onEnded(this, reason), 'onEnded'));
  }

  private inviteCSeq(): number {
    return parseCSeq(getHeader(this.invite, 'CSeq') ?? '')?.seq ?? 0;
  }

  private safe(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: errorMessage(err), hook: what }, 'SIP session handler threw');
    }
  }
}
