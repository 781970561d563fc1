"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TransactionLayer = void 0;
exports.serverKey = serverKey;
const message_1 = require("../message");
const headers_1 = require("../headers");
const build_1 = require("../build");
const invite_server_1 = require("./invite-server");
const non_invite_server_1 = require("./non-invite-server");
const invite_client_1 = require("./invite-client");
const non_invite_client_1 = require("./non-invite-client");
const MAGIC_COOKIE = 'z9hG4bK';
class TransactionLayer {
    opts;
    server = new Map();
    client = new Map();
    rejectedOverLimit = 0;
    evicted = 0;
    unmatchedResponses = 0;
    droppedNoVia = 0;
    constructor(opts) {
        this.opts = opts;
    }
    receiveRequest(req, src) {
        const key = serverKey(req, req.method === 'ACK' ? 'INVITE' : req.method);
        if (key === undefined) {
            this.droppedNoVia++;
            return;
        }
        const existing = this.server.get(key);
        if (req.method === 'ACK') {
            // An ACK that hits an INVITE transaction in Accepted is a 2xx ACK from a UA reusing the branch.
            if (existing instanceof invite_server_1.InviteServerTransaction && existing.state !== 'accepted')
                existing.receiveRequest(req);
            else
                this.opts.core.onAck(req, src);
            return;
        }
        if (existing) {
            existing.receiveRequest(req);
            return;
        }
        if (this.size() >= this.opts.maxTransactions && !this.evictCompleted()) {
            this.rejectedOverLimit++;
            const res = (0, build_1.createResponse)(req, 503, 'Service Unavailable', { headers: [{ name: 'Retry-After', value: '5' }] });
            this.opts.sendResponse(res, src, () => undefined);
            return;
        }
        this.createServerTransaction(req, src, key);
    }
    receiveResponse(res, _src) {
        const key = clientKeyOfResponse(res);
        const tx = key === undefined ? undefined : this.client.get(key);
        if (!tx) {
            this.unmatchedResponses++;
            return;
        }
        tx.receiveResponse(res);
    }
    /** Starts a client transaction; the request must already carry our Via with a fresh branch. */
    sendRequest(req, target, user) {
        const key = clientKeyOfRequest(req);
        if (key === undefined)
            return undefined;
        const env = { clock: this.opts.clock, timers: this.opts.timers, reliable: target.transport === 'tcp' };
        const send = (r) => this.opts.sendRequest(r, target, () => tx.transportError());
        const tx = req.method === 'INVITE' ? new invite_client_1.InviteClientTransaction(env, req, send, user) : new non_invite_client_1.NonInviteClientTransaction(env, req, send, user);
        tx.onTerminated = () => {
            if (this.client.get(key) === tx)
                this.client.delete(key);
        };
        this.client.set(key, tx);
        tx.start();
        return tx;
    }
    /**
     * At the limit, a non-INVITE server transaction that already answered (Completed, only waiting
     * out Timer J to absorb retransmissions) gives way to new work: the worst case is a late
     * retransmitted BYE answered 481. Without this, 32 s of Timer J at a high call rate would fill
     * the table with finished work and refuse new calls.
     */
    evictCompleted() {
        for (const tx of this.server.values()) {
            if (tx instanceof non_invite_server_1.NonInviteServerTransaction && tx.state === 'completed') {
                tx.terminate();
                this.evicted++;
                return true;
            }
        }
        return false;
    }
    size() {
        return this.server.size + this.client.size;
    }
    stats() {
        return {
            serverTransactions: this.server.size,
            clientTransactions: this.client.size,
            rejectedOverLimit: this.rejectedOverLimit,
            evictedCompleted: this.evicted,
            unmatchedResponses: this.unmatchedResponses,
            droppedNoVia: this.droppedNoVia,
        };
    }
    /** Stops every timer (shutdown); users are not told. */
    terminateAll() {
        for (const tx of [...this.server.values()])
            tx.terminate();
        for (const tx of [...this.client.values()])
            tx.terminate();
    }
    createServerTransaction(req, src, key) {
        const env = { clock: this.opts.clock, timers: this.opts.timers, reliable: src.transport === 'tcp' };
        const send = (r) => this.opts.sendResponse(r, src, () => tx.transportError());
        const tx = req.method === 'INVITE' ? new invite_server_1.InviteServerTransaction(env, req, send) : new non_invite_server_1.NonInviteServerTransaction(env, req, send);
        tx.onTerminated = () => {
            if (this.server.get(key) === tx)
                this.server.delete(key);
        };
        this.server.set(key, tx);
        if (tx instanceof invite_server_1.InviteServerTransaction) {
            // 17.2.1: we answer INVITEs through a handler that may take a while, so 100 Trying at once.
            tx.respond((0, build_1.createResponse)(req, 100, 'Trying'));
            this.opts.core.onRequest(req, src, tx);
            return;
        }
        if (req.method === 'CANCEL') {
            const inviteKey = serverKey(req, 'INVITE');
            const invite = inviteKey === undefined ? undefined : this.server.get(inviteKey);
            this.opts.core.onCancel(req, src, tx, invite instanceof invite_server_1.InviteServerTransaction ? invite : undefined);
            return;
        }
        this.opts.core.onRequest(req, src, tx);
    }
}
exports.TransactionLayer = TransactionLayer;
/**
 * 17.2.3: branch + sent-by + method for RFC 3261 branches; older peers (no magic cookie) are
 * matched on Call-ID, From tag, CSeq number and sent-by, which is enough for retransmissions.
 */
function serverKey(req, method) {
    const top = (0, headers_1.getVias)(req)?.[0];
    if (!top)
        return undefined;
    const sentBy = `${top.host.toLowerCase()}:${top.port ?? ''}`;
    const branch = top.branch ?? top.params['branch'] ?? undefined;
    if (branch && branch.startsWith(MAGIC_COOKIE))
        return `${branch}|${sentBy}|${method}`;
    const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(req, 'CSeq') ?? '');
    const fromTag = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(req, 'From') ?? '')?.tag ?? '';
    return `legacy|${(0, message_1.getHeader)(req, 'Call-ID') ?? ''}|${fromTag}|${cseq?.seq ?? ''}|${sentBy}|${method}`;
}
function clientKeyOfRequest(req) {
    const branch = topBranch(req);
    return branch === undefined ? undefined : `${branch}|${req.method}`;
}
/** 17.1.3: top Via branch + CSeq method. */
function clientKeyOfResponse(res) {
    const branch = topBranch(res);
    const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(res, 'CSeq') ?? '');
    if (branch === undefined || !cseq)
        return undefined;
    return `${branch}|${cseq.method}`;
}
function topBranch(msg) {
    const top = (0, headers_1.getVias)(msg)?.[0];
    const branch = top?.branch ?? top?.params['branch'];
    return branch ?? undefined;
}
//# sourceMappingURL=layer.js.map