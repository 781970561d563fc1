"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.InviteServerTransaction = void 0;
const timers_1 = require("../timers");
const common_1 = require("./common");
class InviteServerTransaction {
    env;
    request;
    send;
    user;
    stateValue = 'proceeding';
    timers;
    lastResponse;
    interval;
    onTerminated;
    constructor(env, request, send, user = {}) {
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
    /** True until a final response was sent: CANCEL can still end it with 487. */
    get pending() {
        return this.stateValue === 'proceeding';
    }
    get lastStatus() {
        return this.lastResponse?.status;
    }
    /** Responses from the TU: 1xx stays Proceeding, 2xx -> Accepted, 300-699 -> Completed. */
    respond(res) {
        if (this.stateValue === 'accepted' && res.status >= 200 && res.status < 300) {
            this.send(res); // RFC 6026: 2xx retransmissions from the TU pass through
            return;
        }
        if (this.stateValue !== 'proceeding')
            return;
        this.lastResponse = res;
        this.send(res);
        if (res.status < 200)
            return;
        if (res.status < 300) {
            this.stateValue = 'accepted';
            this.timers.set('L', (0, timers_1.transactionTimeout)(this.env.timers), () => this.terminate());
            return;
        }
        this.stateValue = 'completed';
        if (!this.env.reliable)
            this.armG();
        this.timers.set('H', (0, timers_1.transactionTimeout)(this.env.timers), () => {
            this.terminate();
            (0, common_1.safeCall)(() => this.user.onAckTimeout?.());
        });
    }
    /** A request that matched this transaction: a retransmitted INVITE or the ACK of a non-2xx. */
    receiveRequest(req) {
        if (req.method === 'ACK') {
            if (this.stateValue !== 'completed')
                return;
            this.stateValue = 'confirmed';
            this.timers.clear('G');
            this.timers.clear('H');
            const i = (0, timers_1.timerT4Wait)(this.env.timers, this.env.reliable);
            if (i === 0)
                this.terminate();
            else
                this.timers.set('I', i, () => this.terminate());
            return;
        }
        if ((this.stateValue === 'proceeding' || this.stateValue === 'completed') && this.lastResponse) {
            this.send(this.lastResponse);
        }
    }
    transportError() {
        if (this.stateValue === 'terminated')
            return;
        this.terminate();
        (0, common_1.safeCall)(() => this.user.onTransportError?.());
    }
    terminate() {
        if (this.stateValue === 'terminated')
            return;
        this.stateValue = 'terminated';
        this.timers.clearAll();
        (0, common_1.safeCall)(this.onTerminated);
    }
    armG() {
        this.timers.set('G', this.interval, () => {
            if (this.lastResponse)
                this.send(this.lastResponse);
            this.interval = (0, timers_1.nextInterval)(this.interval, this.env.timers.t2);
            this.armG();
        });
    }
}
exports.InviteServerTransaction = InviteServerTransaction;
//# sourceMappingURL=invite-server.js.map