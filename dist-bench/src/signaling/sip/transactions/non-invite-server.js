"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NonInviteServerTransaction = void 0;
const timers_1 = require("../timers");
const common_1 = require("./common");
class NonInviteServerTransaction {
    env;
    request;
    send;
    stateValue = 'trying';
    timers;
    lastResponse;
    onTerminated;
    constructor(env, request, send) {
        this.env = env;
        this.request = request;
        this.send = send;
        this.timers = new common_1.TxTimers(env.clock);
    }
    get state() {
        return this.stateValue;
    }
    respond(res) {
        if (this.stateValue === 'completed' || this.stateValue === 'terminated')
            return;
        this.lastResponse = res;
        this.send(res);
        if (res.status < 200) {
            this.stateValue = 'proceeding';
            return;
        }
        this.stateValue = 'completed';
        const j = (0, timers_1.timerJ)(this.env.timers, this.env.reliable);
        if (j === 0)
            this.terminate();
        else
            this.timers.set('J', j, () => this.terminate());
    }
    /** A retransmission of the request: in Trying it is dropped, later the last response is resent. */
    receiveRequest(_req) {
        if ((this.stateValue === 'proceeding' || this.stateValue === 'completed') && this.lastResponse) {
            this.send(this.lastResponse);
        }
    }
    transportError() {
        this.terminate();
    }
    terminate() {
        if (this.stateValue === 'terminated')
            return;
        this.stateValue = 'terminated';
        this.timers.clearAll();
        (0, common_1.safeCall)(this.onTerminated);
    }
}
exports.NonInviteServerTransaction = NonInviteServerTransaction;
//# sourceMappingURL=non-invite-server.js.map