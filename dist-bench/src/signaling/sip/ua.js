"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ALLOWED_METHODS = void 0;
exports.createSipServer = createSipServer;
/**
 * SIP user agent core (RFC 3261 sections 8, 12, 13, 15): answers calls for a SessionHandler over
 * UDP and TCP, and the other methods a conferencing endpoint must answer. Never forwards requests
 * (not a proxy or registrar), never logs per packet, never lets a handler error escape.
 */
const common_1 = require("../../common");
const message_1 = require("./message");
const headers_1 = require("./headers");
const uri_1 = require("./uri");
const build_1 = require("./build");
const dialog_1 = require("./dialog");
const timers_1 = require("./timers");
const transport_1 = require("./transport");
const layer_1 = require("./transactions/layer");
const invite_server_1 = require("./transactions/invite-server");
const call_1 = require("./call");
/** Methods we implement as a UAS. */
exports.ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO'];
/** Known methods we do not serve: 405 with Allow rather than 501 (RFC 3261 8.2.1). */
const KNOWN_UNSUPPORTED = new Set(['REGISTER', 'PRACK', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH']);
/** Option tags we support (none yet): every Require gets 420. */
const SUPPORTED_OPTIONS = [];
const ALLOW = exports.ALLOWED_METHODS.join(', ');
async function createSipServer(opts) {
    const ua = new UserAgent(opts);
    await ua.listen();
    return ua;
}
class UserAgent {
    opts;
    transport;
    layer;
    dialogs = new Map();
    byInviteTx = new Map();
    clock;
    timers;
    log;
    userAgent;
    maxCalls;
    ctx;
    rejectedOverCalls = 0;
    nextCallNo = 1;
    closing;
    constructor(opts) {
        this.opts = opts;
        this.clock = opts.clock ?? common_1.systemClock;
        this.timers = (0, timers_1.resolveTimers)(opts.timers);
        this.log = (opts.logger ?? common_1.silentLogger).child({ component: 'sip' });
        this.userAgent = opts.userAgent ?? 'confnode';
        this.maxCalls = opts.maxCalls ?? 1000;
        this.layer = new layer_1.TransactionLayer({
            clock: this.clock,
            timers: this.timers,
            maxTransactions: opts.maxTransactions ?? 16384,
            sendResponse: (res, src, onError) => this.transport?.sendResponse(res, src, onError),
            sendRequest: (req, target, onError) => (this.transport ? this.transport.sendRequest(req, target, onError) : onError()),
            core: {
                onRequest: (req, src, tx) => this.onRequest(req, src, tx),
                onCancel: (req, _src, tx, invite) => this.onCancel(req, tx, invite),
                onAck: (ack) => this.onAck(ack),
            },
        });
        this.ctx = {
            clock: this.clock,
            timers: this.timers,
            handler: opts.handler,
            layer: this.layer,
            log: this.log,
            respond: (tx, req, status, reason, extra) => this.respond(tx, req, status, reason, extra),
            viaFor: (t) => `SIP/2.0/${t.toUpperCase()} ${hostForUri(this.host)}:${this.port};branch=${(0, build_1.generateBranch)()};rport`,
            userAgentHeaders: () => [{ name: 'User-Agent', value: this.userAgent }],
            forget: (call) => this.forget(call),
        };
    }
    get host() {
        return this.opts.host;
    }
    get port() {
        return this.transport?.port ?? 0;
    }
    get udpPort() {
        return this.port;
    }
    get tcpPort() {
        return this.port;
    }
    async listen() {
        this.transport = await transport_1.SipTransport.listen({ host: this.opts.host, port: this.opts.port, limits: this.opts.limits, logger: this.log }, {
            onRequest: (req, src) => this.layer.receiveRequest(req, src),
            onResponse: (res, src) => this.layer.receiveResponse(res, src),
        });
        this.log.info({ host: this.host, port: this.port }, 'SIP listening on UDP and TCP');
    }
    calls() {
        return [...new Set(this.dialogs.values())].filter((c) => !c.isEnded);
    }
    stats() {
        const transport = this.transport?.stats() ?? { received: 0, sent: 0, dropped: 0, malformed: 0, sendErrors: 0, tcpConnections: 0 };
        return { transport, transactions: this.layer.stats(), calls: this.dialogs.size, rejectedOverCalls: this.rejectedOverCalls };
    }
    close() {
        this.closing ??= this.shutdown();
        return this.closing;
    }
    async shutdown() {
        const calls = [...this.dialogs.values()];
        const bound = this.opts.closeTimeoutMs ?? 5000;
        let timer;
        const timeout = new Promise((resolve) => (timer = this.clock.setTimeout(resolve, bound)));
        await Promise.race([Promise.all(calls.map((c) => c.hangup().catch(() => undefined))), timeout]);
        timer?.cancel();
        for (const c of [...this.dialogs.values()])
            c.abort('local-bye');
        this.layer.terminateAll();
        await this.transport?.close();
        this.log.info({ calls: calls.length }, 'SIP server closed');
    }
    forget(call) {
        if (this.dialogs.get(call.dialog.key) === call)
            this.dialogs.delete(call.dialog.key);
        this.byInviteTx.delete(call.inviteTx);
    }
    respond(tx, req, status, reason, extra = {}) {
        const headers = [...(extra.headers ?? [])];
        if (extra.dialogResponse)
            headers.push(...this.dialogHeaders(tx));
        headers.push({ name: 'Server', value: this.userAgent });
        const toTag = this.toTagFor(tx);
        const res = (0, build_1.createResponse)(req, status, reason, {
            toTag,
            headers,
            body: extra.sdp === undefined ? undefined : Buffer.from(extra.sdp, 'utf8'),
            contentType: extra.sdp === undefined ? undefined : 'application/sdp',
        });
        tx.respond(res);
    }
    /** Contact/Allow/Supported for responses that create or refresh the dialog (12.1.1, 13.3.1.4). */
    dialogHeaders(tx) {
        const call = tx instanceof invite_server_1.InviteServerTransaction ? this.byInviteTx.get(tx) : undefined;
        const transport = call?.info.remote.transport ?? 'udp';
        return [
            { name: 'Contact', value: `<${this.contactUri(transport)}>` },
            { name: 'Allow', value: ALLOW },
            { name: 'Supported', value: SUPPORTED_OPTIONS.join(', ') },
        ];
    }
    contactUri(transport) {
        return `sip:${hostForUri(this.host)}:${this.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
    }
    /** The dialog's tag for an initial INVITE (or its CANCEL); a fresh one for other out-of-dialog requests. */
    toTagFor(tx) {
        if (tx instanceof invite_server_1.InviteServerTransaction) {
            const call = this.byInviteTx.get(tx);
            if (call)
                return call.dialog.localTag;
        }
        return (0, build_1.generateTag)();
    }
    onRequest(req, src, tx) {
        try {
            this.dispatch(req, src, tx);
        }
        catch (err) {
            this.log.error({ err: (0, common_1.errorMessage)(err), method: req.method }, 'SIP request handling failed');
            this.respond(tx, req, 500, 'Server Internal Error');
        }
    }
    dispatch(req, src, tx) {
        if (!exports.ALLOWED_METHODS.includes(req.method)) {
            if (KNOWN_UNSUPPORTED.has(req.method))
                this.respond(tx, req, 405, 'Method Not Allowed', { headers: [{ name: 'Allow', value: ALLOW }] });
            else
                this.respond(tx, req, 501, 'Not Implemented', { headers: [{ name: 'Allow', value: ALLOW }] });
            return;
        }
        const unsupported = unsupportedRequire(req);
        if (unsupported.length > 0) {
            this.respond(tx, req, 420, 'Bad Extension', { headers: [{ name: 'Unsupported', value: unsupported.join(', ') }] });
            return;
        }
        if ((req.method === 'INVITE' || req.method === 'OPTIONS') && (0, message_1.getHeader)(req, 'Max-Forwards')?.trim() === '0') {
            this.respond(tx, req, 483, 'Too Many Hops');
            return;
        }
        const toTag = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(req, 'To') ?? '')?.tag;
        if (toTag !== undefined) {
            this.inDialog(req, tx, toTag);
            return;
        }
        if (req.method === 'OPTIONS')
            this.respond(tx, req, 200, 'OK', { headers: this.optionsHeaders() });
        else if (req.method === 'INVITE' && tx instanceof invite_server_1.InviteServerTransaction)
            this.newCall(req, src, tx);
        else
            this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
    }
    optionsHeaders() {
        return [
            { name: 'Allow', value: ALLOW },
            { name: 'Accept', value: 'application/sdp' },
            { name: 'Supported', value: SUPPORTED_OPTIONS.join(', ') },
        ];
    }
    findDialog(req, localTag) {
        const callId = (0, message_1.getHeader)(req, 'Call-ID') ?? '';
        const remoteTag = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(req, 'From') ?? '')?.tag ?? '';
        return this.dialogs.get((0, dialog_1.dialogKey)(callId, localTag, remoteTag));
    }
    inDialog(req, tx, localTag) {
        const call = this.findDialog(req, localTag);
        if (!call || call.isEnded) {
            this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
            return;
        }
        if (!call.dialog.acceptRemoteCSeq(req)) {
            this.respond(tx, req, 500, 'Server Internal Error', { headers: [{ name: 'Retry-After', value: '1' }] });
            return;
        }
        switch (req.method) {
            case 'BYE':
                call.onBye(req, tx);
                return;
            case 'INFO':
                call.onInfo(req, tx);
                return;
            case 'OPTIONS':
                this.respond(tx, req, 200, 'OK', { headers: this.optionsHeaders() });
                return;
            case 'INVITE': {
                if (!(tx instanceof invite_server_1.InviteServerTransaction))
                    return;
                const offer = sdpBody(req);
                if (offer === false) {
                    this.respond(tx, req, 415, 'Unsupported Media Type', { headers: [{ name: 'Accept', value: 'application/sdp' }] });
                    return;
                }
                this.byInviteTx.set(tx, call);
                tx.onTerminated = chain(tx.onTerminated, () => {
                    if (this.byInviteTx.get(tx) === call && tx !== call.inviteTx)
                        this.byInviteTx.delete(tx);
                });
                call.onReinvite(req, tx, offer);
                return;
            }
            default:
                this.respond(tx, req, 501, 'Not Implemented');
        }
    }
    newCall(req, src, tx) {
        if (this.closing || this.dialogs.size >= this.maxCalls) {
            this.rejectedOverCalls++;
            this.respond(tx, req, 503, 'Service Unavailable', { headers: [{ name: 'Retry-After', value: '30' }] });
            return;
        }
        const offer = sdpBody(req);
        if (offer === false) {
            this.respond(tx, req, 415, 'Unsupported Media Type', { headers: [{ name: 'Accept', value: 'application/sdp' }] });
            return;
        }
        const ruri = (0, uri_1.parseUri)(req.uri);
        const from = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(req, 'From') ?? '');
        const localTag = (0, build_1.generateTag)();
        const created = dialog_1.Dialog.fromInvite(req, localTag);
        if (!ruri || !from || !created.ok) {
            this.respond(tx, req, 400, created.ok ? 'Bad Request' : created.reason);
            return;
        }
        const info = {
            callId: created.dialog.callId,
            requestUser: ruri.user,
            requestHost: ruri.host,
            fromUri: from.uri,
            fromDisplayName: from.displayName,
            remote: { transport: src.transport, address: src.address, port: src.port },
            userAgent: (0, message_1.getHeader)(req, 'User-Agent'),
        };
        const call = new call_1.UasCall(`sip-${this.nextCallNo++}-${localTag}`, info, created.dialog, tx, req, src, this.ctx);
        this.dialogs.set(created.dialog.key, call);
        this.byInviteTx.set(tx, call);
        call.start(offer);
    }
    onCancel(req, tx, invite) {
        const call = invite ? this.byInviteTx.get(invite) : undefined;
        if (!invite || !call) {
            this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
            return;
        }
        // 9.2: the 200 to CANCEL carries the same To tag as the responses to the INVITE.
        const res = (0, build_1.createResponse)(req, 200, 'OK', { toTag: call.dialog.localTag, headers: [{ name: 'Server', value: this.userAgent }] });
        tx.respond(res);
        call.onCancel(invite);
    }
    onAck(ack) {
        const toTag = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(ack, 'To') ?? '')?.tag;
        if (toTag === undefined)
            return;
        this.findDialog(ack, toTag)?.onAck(ack);
    }
}
/** The SDP offer/answer in a body: undefined when empty, false when the body is not SDP (415). */
function sdpBody(req) {
    if (req.body.length === 0)
        return undefined;
    const type = ((0, message_1.getHeader)(req, 'Content-Type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/sdp')
        return false;
    return req.body.toString('utf8');
}
/** Option tags in Require that we do not support (RFC 3261 8.2.2.3); ACK/CANCEL are exempt. */
function unsupportedRequire(req) {
    if (req.method === 'ACK' || req.method === 'CANCEL')
        return [];
    const out = [];
    for (const h of req.headers) {
        if (h.name !== 'Require')
            continue;
        for (const tag of (0, headers_1.splitHeaderList)(h.value)) {
            const t = tag.trim();
            if (t.length > 0 && !SUPPORTED_OPTIONS.includes(t.toLowerCase()))
                out.push(t);
        }
    }
    return out;
}
function hostForUri(host) {
    return host.includes(':') ? `[${host}]` : host;
}
function chain(a, b) {
    return () => {
        a?.();
        b();
    };
}
//# sourceMappingURL=ua.js.map