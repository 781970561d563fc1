"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NonInviteClientTransaction = void 0;
const timers_1 = require("../timers");
const common_1 = require("./common");
class NonInviteClientTransaction {
    env;
    request;
    send;
    user;
    stateValue = 'trying';
    timers;
    interval;
    /** Set by the owner (transaction layer) to forget the transaction. */
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
    /** Sends the request and arms Timer E (unreliable only) and Timer F. */
    start() {
        this.send(this.request);
        if (!this.env.reliable)
            this.armE();
        this.timers.set('F', (0, timers_1.transactionTimeout)(this.env.timers), () => this.fail('timeout'));
    }
    receiveResponse(res) {
        if (this.stateValue === 'completed' || this.stateValue === 'terminated')
            return;
        if (res.status < 200) {
            this.stateValue = 'proceeding';
            (0, common_1.safeCall)(() => this.user.onResponse(res));
            return;
        }
        this.stateValue = 'completed';
        this.timers.clear('E');
        this.timers.clear('F');
        (0, common_1.safeCall)(() => this.user.onResponse(res));
        const k = (0, timers_1.timerT4Wait)(this.env.timers, this.env.reliable);
        if (k === 0)
            this.terminate();
        else
            this.timers.set('K', k, () => this.terminate());
    }
    transportError() {
        if (this.stateValue === 'trying' || this.stateValue === 'proceeding')
            this.fail('transport');
    }
    /** Stops everything without telling the user (owner shutdown). */
    terminate() {
        if (this.stateValue === 'terminated')
            return;
        this.stateValue = 'terminated';
        this.timers.clearAll();
        (0, common_1.safeCall)(this.onTerminated);
    }
    armE() {
        this.timers.set('E', this.interval, () => {
            this.send(this.request);
            // 17.1.2.2: in Proceeding the request is retransmitted every T2.
            this.interval = this.stateValue === 'proceeding' ? this.env.timers.t2 : (0, timers_1.nextInterval)(this.interval, this.env.timers.t2);
            this.armE();
        });
    }
    fail(reason) {
        if (this.stateValue === 'terminated')
            return;
        this.terminate();
        (0, common_1.safeCall)(() => this.user.onFailure(reason));
    }
}
exports.NonInviteClientTransaction = NonInviteClientTransaction;
//# sourceMappingURL=non-invite-client.js.map