"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.UasCall = void 0;
/**
 * One UAS call (INVITE dialog) as the UA core drives it: the handler's answer in the 2xx, 2xx
 * retransmission until the ACK (13.3.1.4), CANCEL, BYE both ways, re-INVITE, INFO. Never calls
 * the handler's onEnded twice or before onInvite has settled; never lets a handler error escape.
 */
const common_1 = require("../../common");
const message_1 = require("./message");
const headers_1 = require("./headers");
class UasCall {
    id;
    info;
    dialog;
    inviteTx;
    invite;
    src;
    ctx;
    state = 'offered';
    settled = Promise.resolve();
    pendingAck;
    reinvite;
    hangupPromise;
    byeAfterAck;
    ended = false;
    log;
    constructor(id, info, dialog, inviteTx, invite, src, ctx) {
        this.id = id;
        this.info = info;
        this.dialog = dialog;
        this.inviteTx = inviteTx;
        this.invite = invite;
        this.src = src;
        this.ctx = ctx;
        this.log = ctx.log.child({ callId: info.callId, call: id });
    }
    get established() {
        return this.state === 'accepted' || this.state === 'confirmed';
    }
    get isEnded() {
        return this.ended;
    }
    /** Runs the handler's onInvite; the 2xx (or error) is sent when it settles. */
    start(offer) {
        this.log.info({ event: 'invite', from: this.info.fromUri, user: this.info.requestUser, offer: offer !== undefined }, 'SIP call offered');
        let result;
        try {
            result = this.ctx.handler.onInvite(this, offer);
        }
        catch (err) {
            result = Promise.reject(err);
        }
        this.settled = result.then((answer) => this.onInviteAnswered(answer, offer === undefined), (err) => this.onInviteRejected(err));
    }
    onInviteAnswered(answer, offerless) {
        if (this.state !== 'offered' || !this.inviteTx.pending)
            return; // cancelled or hung up meanwhile
        this.state = 'accepted';
        this.sendOk(this.inviteTx, this.invite, answer.sdp, { cseq: this.inviteCSeq(), initial: true, offerless });
        this.log.info({ event: 'answered' }, 'SIP call answered');
    }
    onInviteRejected(err) {
        if (this.state !== 'offered')
            return;
        this.rejectTx(this.inviteTx, this.invite, err);
        this.log.info({ event: 'rejected', err: (0, common_1.errorMessage)(err) }, 'SIP call rejected');
        this.finish('rejected');
    }
    rejectTx(tx, req, err) {
        const m = (0, common_1.sipStatusFor)(err);
        const headers = m.status === 503 ? [{ name: 'Retry-After', value: String(m.retryAfter ?? 30) }] : [];
        this.ctx.respond(tx, req, m.status, m.reason, { headers });
    }
    /** 13.3.1.4: the 2xx is retransmitted from T1 doubling to T2 until the ACK, 64*T1 at most. */
    sendOk(tx, req, sdp, p) {
        this.ctx.respond(tx, req, 200, 'OK', { sdp, dialogResponse: true });
        const okRetransmit = (interval) => this.ctx.clock.setTimeout(() => {
            this.ctx.respond(tx, req, 200, 'OK', { sdp, dialogResponse: true });
            if (this.pendingAck)
                this.pendingAck.retransmit = okRetransmit(Math.min(interval * 2, this.ctx.timers.t2));
        }, interval);
        const deadline = this.ctx.clock.setTimeout(() => this.onAckTimeout(), 64 * this.ctx.timers.t1);
        this.clearPendingAck();
        this.pendingAck = { ...p, retransmit: okRetransmit(this.ctx.timers.t1), deadline };
    }
    clearPendingAck() {
        this.pendingAck?.retransmit?.cancel();
        this.pendingAck?.deadline.cancel();
        this.pendingAck = undefined;
    }
    onAckTimeout() {
        this.pendingAck = undefined;
        this.reinvite = undefined;
        this.state = 'confirmed';
        this.log.warn({ event: 'ack-timeout' }, 'SIP call got no ACK for its 2xx');
        const bye = this.byeAfterAck;
        this.byeAfterAck = undefined;
        if (bye)
            bye(); // a hangup() was waiting for the ACK: it sends the BYE and ends with local-bye
        else
            void this.sendBye().then(() => this.finish('ack-timeout'));
    }
    /** ACK of one of our 2xx responses (end to end, outside any transaction). */
    onAck(ack) {
        const p = this.pendingAck;
        const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(ack, 'CSeq') ?? '');
        if (!p || !cseq || cseq.seq !== p.cseq)
            return; // an ACK retransmission or a stray one
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
    onCancel(tx) {
        if (!tx.pending)
            return;
        const req = tx === this.inviteTx ? this.invite : this.reinvite?.tx.request;
        if (!req)
            return;
        this.ctx.respond(tx, req, 487, 'Request Terminated');
        if (tx === this.inviteTx) {
            this.log.info({ event: 'cancel' }, 'SIP call cancelled');
            this.finish('cancel');
        }
        else {
            this.reinvite = undefined;
        }
    }
    onBye(req, tx) {
        this.ctx.respond(tx, req, 200, 'OK');
        if (this.ended)
            return;
        if (this.inviteTx.pending)
            this.ctx.respond(this.inviteTx, this.invite, 487, 'Request Terminated');
        this.log.info({ event: 'remote-bye' }, 'SIP call ended by the remote side');
        this.finish('remote-bye');
    }
    onInfo(req, tx) {
        this.ctx.respond(tx, req, 200, 'OK');
        if (this.ended)
            return;
        this.safe(() => this.ctx.handler.onInfo(this, (0, message_1.getHeader)(req, 'Content-Type'), req.body), 'onInfo');
    }
    /** 14.2: one re-INVITE at a time (491 otherwise); the answer or, for an offerless one, our offer. */
    onReinvite(req, tx, offer) {
        if (this.reinvite || this.state !== 'confirmed' || this.hangupPromise) {
            this.ctx.respond(tx, req, 491, 'Request Pending');
            return;
        }
        const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(req, 'CSeq') ?? '')?.seq ?? 0;
        this.reinvite = { tx, cseq };
        this.dialog.refreshTarget(req);
        this.log.info({ event: 'reinvite', offer: offer !== undefined }, 'SIP re-INVITE');
        let result;
        try {
            result = this.ctx.handler.onReinvite(this, offer);
        }
        catch (err) {
            result = Promise.reject(err);
        }
        result.then((answer) => {
            if (this.ended || this.reinvite?.tx !== tx || !tx.pending)
                return;
            this.sendOk(tx, req, answer.sdp, { cseq, initial: false, offerless: offer === undefined });
        }, (err) => {
            if (this.ended || this.reinvite?.tx !== tx || !tx.pending)
                return;
            this.reinvite = undefined;
            this.rejectTx(tx, req, err);
        });
    }
    hangup() {
        if (this.hangupPromise)
            return this.hangupPromise;
        if (this.ended)
            return (this.hangupPromise = this.settled);
        this.log.info({ event: 'hangup', state: this.state }, 'SIP call hung up locally');
        if (this.state === 'offered') {
            if (this.inviteTx.pending)
                this.ctx.respond(this.inviteTx, this.invite, 480, 'Temporarily Unavailable');
            this.finish('local-bye');
            return (this.hangupPromise = this.settled);
        }
        if (this.state === 'accepted') {
            // 15: the callee must not send BYE before the ACK arrives (or the 2xx times out).
            this.hangupPromise = new Promise((resolve) => {
                this.byeAfterAck = () => {
                    if (this.ended)
                        return resolve();
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
    abort(reason) {
        this.finish(reason);
    }
    /** BYE through a non-INVITE client transaction; resolves on any final response or failure. */
    sendBye() {
        const hop = this.dialog.nextHop(this.src.transport) ?? { transport: this.src.transport, address: this.src.address, port: this.src.port };
        const target = hop.transport === 'tcp' && this.src.transport === 'tcp' ? { ...hop, connectionId: this.src.connectionId } : hop;
        const bye = this.dialog.createRequest('BYE', this.ctx.viaFor(target.transport), this.ctx.userAgentHeaders());
        return new Promise((resolve) => {
            const tx = this.ctx.layer.sendRequest(bye, target, {
                onResponse: (res) => {
                    if (res.status >= 200)
                        resolve();
                },
                onFailure: (reason) => {
                    this.log.warn({ event: 'bye-failed', reason }, 'SIP BYE got no final response');
                    resolve();
                },
            });
            if (!tx)
                resolve();
        });
    }
    finish(reason) {
        if (this.ended)
            return;
        this.ended = true;
        this.state = 'ended';
        this.clearPendingAck();
        this.reinvite = undefined;
        this.ctx.forget(this);
        this.log.info({ event: 'ended', reason }, 'SIP call ended');
        void this.settled.then(() => this.safe(() => this.ctx.handler.onEnded(this, reason), 'onEnded'));
    }
    inviteCSeq() {
        return (0, headers_1.parseCSeq)((0, message_1.getHeader)(this.invite, 'CSeq') ?? '')?.seq ?? 0;
    }
    safe(fn, what) {
        try {
            fn();
        }
        catch (err) {
            this.log.error({ err: (0, common_1.errorMessage)(err), hook: what }, 'SIP session handler threw');
        }
    }
}
exports.UasCall = UasCall;
//# sourceMappingURL=call.js.map