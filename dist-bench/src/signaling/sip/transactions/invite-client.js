"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.InviteClientTransaction = void 0;
exports.buildAckForFailure = buildAckForFailure;
/**
 * INVITE client transaction (RFC 3261 17.1.1 with the RFC 6026 Accepted state): Timer A
 * (retransmit, doubling without cap), B (64*T1 timeout), D (wait for response retransmissions),
 * M (Accepted). It builds the ACK for non-2xx responses itself; it never ACKs a 2xx (the UA core does).
 */
const message_1 = require("../message");
const timers_1 = require("../timers");
const common_1 = require("./common");
class InviteClientTransaction {
    env;
    request;
    send;
    user;
    stateValue = 'calling';
    timers;
    interval;
    ack;
    onTerminated;
    constructor(env, request, send, user) {
        this.env = env;
        this.request = request;
        this.send = send;
        this.user = user;
        this.timers = new common_1.TxTimers(env.clock);
        this.interval = env.timers.t1;
    }
    get state() {
        return this.stateValue;
    }
    start() {
        this.send(this.request);
        if (!this.env.reliable)
            this.armA();
        this.timers.set('B', (0, timers_1.transactionTimeout)(this.env.timers), () => this.fail());
    }
    receiveResponse(res) {
        switch (this.stateValue) {
            case 'calling':
            case 'proceeding':
                this.onFirstResponses(res);
                return;
            case 'completed':
                // A retransmitted final response means our ACK was lost (17.1.1.2).
                if (res.status >= 300 && this.ack)
                    this.send(this.ack);
                return;
            case 'accepted':
                // RFC 6026: 2xx retransmissions go to the TU, which re-sends its ACK.
                if (res.status >= 200 && res.status < 300)
                    (0, common_1.safeCall)(() => this.user.onResponse(res));
                return;
            case 'terminated':
                return;
        }
    }
    transportError() {
        if (this.stateValue === 'calling' || this.stateValue === 'proceeding')
            this.fail('transport');
        else if (this.stateValue === 'completed')
            this.terminate();
    }
    terminate() {
        if (this.stateValue === 'terminated')
            return;
        this.stateValue = 'terminated';
        this.timers.clearAll();
        (0, common_1.safeCall)(this.onTerminated);
    }
    onFirstResponses(res) {
        this.timers.clear('A');
        if (res.status < 200) {
            this.stateValue = 'proceeding';
            (0, common_1.safeCall)(() => this.user.onResponse(res));
            return;
        }
        this.timers.clear('B');
        if (res.status < 300) {
            this.stateValue = 'accepted';
            (0, common_1.safeCall)(() => this.user.onResponse(res));
            this.timers.set('M', (0, timers_1.transactionTimeout)(this.env.timers), () => this.terminate());
            return;
        }
        this.stateValue = 'completed';
        this.ack = buildAckForFailure(this.request, res);
        this.send(this.ack);
        (0, common_1.safeCall)(() => this.user.onResponse(res));
        const d = (0, timers_1.timerD)(this.env.timers, this.env.reliable);
        if (d === 0)
            this.terminate();
        else
            this.timers.set('D', d, () => this.terminate());
    }
    armA() {
        this.timers.set('A', this.interval, () => {
            this.send(this.request);
            this.interval = (0, timers_1.nextInterval)(this.interval, Infinity);
            this.armA();
        });
    }
    fail(reason = 'timeout') {
        if (this.stateValue === 'terminated')
            return;
        this.terminate();
        (0, common_1.safeCall)(() => this.user.onFailure(reason));
    }
}
exports.InviteClientTransaction = InviteClientTransaction;
/**
 * 17.1.1.3: the ACK for a non-2xx final response shares the INVITE's branch and Request-URI,
 * copies Call-ID, From, the top Via and Route, takes To from the response, CSeq number with ACK.
 */
function buildAckForFailure(invite, res) {
    const headers = [];
    const topVia = (0, message_1.getHeaderLines)(invite, 'Via')[0];
    if (topVia !== undefined)
        headers.push({ name: 'Via', value: firstListElement(topVia) });
    for (const route of (0, message_1.getHeaderLines)(invite, 'Route'))
        headers.push({ name: 'Route', value: route });
    headers.push({ name: 'Max-Forwards', value: '70' });
    const from = (0, message_1.getHeader)(invite, 'From');
    if (from !== undefined)
        headers.push({ name: 'From', value: from });
    const to = (0, message_1.getHeader)(res, 'To') ?? (0, message_1.getHeader)(invite, 'To');
    if (to !== undefined)
        headers.push({ name: 'To', value: to });
    const callId = (0, message_1.getHeader)(invite, 'Call-ID');
    if (callId !== undefined)
        headers.push({ name: 'Call-ID', value: callId });
    const seq = ((0, message_1.getHeader)(invite, 'CSeq') ?? '').trim().split(/\s+/)[0] ?? '1';
    headers.push({ name: 'CSeq', value: `${seq} ACK` });
    headers.push({ name: 'Content-Length', value: '0' });
    return { kind: 'request', version: 'SIP/2.0', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}
/** The Via we put on our own INVITE has one element per line; still, never copy a second hop. */
function firstListElement(value) {
    const comma = value.indexOf(',');
    return comma < 0 ? value : value.slice(0, comma).trim();
}
//# sourceMappingURL=invite-client.js.map