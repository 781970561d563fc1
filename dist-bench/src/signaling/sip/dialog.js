"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Dialog = void 0;
exports.dialogKey = dialogKey;
exports.uriTarget = uriTarget;
/**
 * Dialog state (RFC 3261 section 12): identifiers, remote target, route set and CSeq spaces,
 * built from an INVITE on the UAS side; builds in-dialog requests (BYE) with loose or strict routing.
 * Pure: tags and initial CSeq come from the caller; no I/O, no clock.
 */
const message_1 = require("./message");
const headers_1 = require("./headers");
const uri_1 = require("./uri");
function dialogKey(callId, localTag, remoteTag) {
    return `${callId}\n${localTag}\n${remoteTag}`;
}
class Dialog {
    callId;
    localTag;
    remoteTag;
    localParty;
    remoteParty;
    remoteTargetValue;
    routeSet;
    remoteSeqValue;
    /** Our CSeq space for requests we send; RFC 3261 12.1.1 leaves the start to us. */
    localSeqValue;
    constructor(callId, localTag, remoteTag, 
    /** Our side as a header value (the INVITE's To plus our tag): From of requests we send. */
    localParty, 
    /** Their side as received (the INVITE's From): To of requests we send. */
    remoteParty, remoteTargetValue, 
    /** Record-Route URIs (with their params) in the order received (12.1.1, UAS side). */
    routeSet, remoteSeqValue, localSeqStart) {
        this.callId = callId;
        this.localTag = localTag;
        this.remoteTag = remoteTag;
        this.localParty = localParty;
        this.remoteParty = remoteParty;
        this.remoteTargetValue = remoteTargetValue;
        this.routeSet = routeSet;
        this.remoteSeqValue = remoteSeqValue;
        this.localSeqValue = localSeqStart;
    }
    /** 12.1.1: the UAS dialog of an INVITE we are about to answer with `localTag`. */
    static fromInvite(invite, localTag, localSeqStart = 1) {
        const callId = (0, message_1.getHeader)(invite, 'Call-ID');
        const from = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(invite, 'From') ?? '');
        const to = (0, headers_1.parseNameAddr)((0, message_1.getHeader)(invite, 'To') ?? '');
        const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(invite, 'CSeq') ?? '');
        if (!callId || !from || !to || !cseq)
            return { ok: false, status: 400, reason: 'Bad Request (From/To/Call-ID/CSeq)' };
        const contact = contactUri(invite);
        if (contact === undefined)
            return { ok: false, status: 400, reason: 'Bad Request (Contact)' };
        const routes = recordRoutes(invite);
        if (routes === undefined)
            return { ok: false, status: 400, reason: 'Bad Request (Record-Route)' };
        const local = { ...to, params: { ...to.params }, tag: localTag };
        const remoteParty = (0, message_1.getHeader)(invite, 'From') ?? '';
        const dialog = new Dialog(callId, localTag, from.tag ?? '', (0, headers_1.formatNameAddr)(local), remoteParty, contact, routes, cseq.seq, localSeqStart);
        return { ok: true, dialog };
    }
    get key() {
        return dialogKey(this.callId, this.localTag, this.remoteTag);
    }
    get remoteTarget() {
        return this.remoteTargetValue;
    }
    get remoteSeq() {
        return this.remoteSeqValue;
    }
    get localSeq() {
        return this.localSeqValue;
    }
    /**
     * 12.2.2: a request whose CSeq is lower than the last one is out of order (answer 500); ACK and
     * CANCEL reuse the INVITE's number and are not checked. Returns false when out of order.
     */
    acceptRemoteCSeq(req) {
        if (req.method === 'ACK' || req.method === 'CANCEL')
            return true;
        const cseq = (0, headers_1.parseCSeq)((0, message_1.getHeader)(req, 'CSeq') ?? '');
        if (!cseq)
            return false;
        if (cseq.seq < this.remoteSeqValue)
            return false;
        this.remoteSeqValue = cseq.seq;
        return true;
    }
    /** 12.2.2 target refresh: a re-INVITE's Contact replaces the remote target. */
    refreshTarget(req) {
        const contact = contactUri(req);
        if (contact)
            this.remoteTargetValue = contact;
    }
    /**
     * 12.2.1.1: a new in-dialog request (not ACK/CANCEL). Loose routing when the first route has
     * ;lr, otherwise strict routing (the first route becomes the Request-URI). `via` is the
     * complete Via value with a fresh branch; Content-Length is left to the serializer.
     */
    createRequest(method, via, extra = [], body = Buffer.alloc(0)) {
        this.localSeqValue++;
        const { uri, routes } = this.routing();
        const headers = [{ name: 'Via', value: via }, { name: 'Max-Forwards', value: '70' }];
        for (const r of routes)
            headers.push({ name: 'Route', value: `<${r}>` });
        headers.push({ name: 'From', value: this.localParty }, { name: 'To', value: this.remoteParty }, { name: 'Call-ID', value: this.callId }, { name: 'CSeq', value: `${this.localSeqValue} ${method}` }, ...extra);
        return { kind: 'request', version: 'SIP/2.0', method, uri, headers, body };
    }
    /** Where in-dialog requests go first: the first route, else the remote target (RFC 3263 minus DNS SRV). */
    nextHop(defaultTransport) {
        const first = this.routeSet[0] ?? this.remoteTargetValue;
        return uriTarget(first, defaultTransport);
    }
    routing() {
        const first = this.routeSet[0];
        if (first === undefined)
            return { uri: this.remoteTargetValue, routes: [] };
        const parsed = (0, uri_1.parseUri)(first);
        if (!parsed || 'lr' in parsed.params)
            return { uri: this.remoteTargetValue, routes: [...this.routeSet] };
        return { uri: first, routes: [...this.routeSet.slice(1), this.remoteTargetValue] };
    }
}
exports.Dialog = Dialog;
/** Host/port/transport of a SIP URI; sips goes over TCP (no TLS yet), default port 5060. */
function uriTarget(uriText, defaultTransport) {
    const uri = (0, uri_1.parseUri)(uriText);
    if (!uri || uri.scheme === 'tel')
        return undefined;
    const tp = uri.params['transport'];
    const transport = typeof tp === 'string' ? (tp.toLowerCase() === 'tcp' ? 'tcp' : 'udp') : uri.scheme === 'sips' ? 'tcp' : defaultTransport;
    const maddr = uri.params['maddr'];
    return { transport, address: typeof maddr === 'string' ? maddr : uri.host, port: uri.port ?? 5060 };
}
/** The single Contact URI of a dialog-creating request, undefined when absent or malformed. */
function contactUri(req) {
    const lines = (0, message_1.getHeaderLines)(req, 'Contact');
    const first = lines[0];
    if (first === undefined)
        return undefined;
    const parts = (0, headers_1.splitHeaderList)(first);
    const na = parts[0] === undefined ? null : (0, headers_1.parseNameAddr)(parts[0]);
    if (!na || !(0, uri_1.parseUri)(na.uri))
        return undefined;
    return na.uri;
}
/** Record-Route entries across lines and commas, in order; undefined when one is malformed. */
function recordRoutes(req) {
    const out = [];
    for (const line of (0, message_1.getHeaderLines)(req, 'Record-Route')) {
        for (const part of (0, headers_1.splitHeaderList)(line)) {
            const na = (0, headers_1.parseNameAddr)(part);
            if (!na)
                return undefined;
            out.push(na.uri);
        }
    }
    return out;
}
//# sourceMappingURL=dialog.js.map