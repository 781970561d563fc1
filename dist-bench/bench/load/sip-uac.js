"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SipUac = void 0;
exports.parseSip = parseSip;
exports.sdpAudioTarget = sdpAudioTarget;
/**
 * A minimal SIP UAC over one UDP socket for the load generator: INVITE with an SDP offer (PCMU or
 * Opus), ACK the 200 (and its retransmissions), BYE; answers any request the node sends (BYE,
 * OPTIONS) with 200. Written for the bench only: it parses just what it needs and never trusts a
 * byte from the network beyond that. Binds only 127.0.0.1.
 */
const node_dgram_1 = require("node:dgram");
const node_crypto_1 = require("node:crypto");
const audio_1 = require("./audio");
const COMPACT = { i: 'call-id', f: 'from', t: 'to', v: 'via', l: 'content-length', m: 'contact', c: 'content-type' };
const MAX_MESSAGE = 65535;
function parseSip(text) {
    if (text.length > MAX_MESSAGE)
        return undefined;
    const sep = text.indexOf('\r\n\r\n');
    const head = sep >= 0 ? text.slice(0, sep) : text;
    const lines = head.split('\r\n');
    const start = lines[0] ?? '';
    const st = /^SIP\/2\.0 (\d{3})/.exec(start);
    const req = /^([A-Z]+) \S+ SIP\/2\.0$/.exec(start);
    if (!st && !req)
        return undefined;
    const headers = new Map();
    for (const line of lines.slice(1, 200)) {
        const colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        const raw = line.slice(0, colon).trim().toLowerCase();
        const name = COMPACT[raw] ?? raw;
        const list = headers.get(name) ?? [];
        list.push(line.slice(colon + 1).trim());
        headers.set(name, list);
    }
    return { status: st ? Number(st[1]) : 0, method: req?.[1] ?? '', headers, body: sep >= 0 ? text.slice(sep + 4) : '' };
}
function first(m, name) {
    return m.headers.get(name)?.[0] ?? '';
}
/** The address and port of the first audio m-line of an SDP answer, if well formed. */
function sdpAudioTarget(sdp) {
    let address;
    let port;
    let mediaAddress;
    let inAudio = false;
    for (const line of sdp.split(/\r?\n/).slice(0, 200)) {
        const c = /^c=IN IP4 (\d{1,3}(?:\.\d{1,3}){3})/.exec(line);
        if (c) {
            if (inAudio)
                mediaAddress = c[1];
            else if (port === undefined)
                address = c[1];
        }
        const m = /^m=(\w+) (\d{1,5}) /.exec(line);
        if (m) {
            inAudio = m[1] === 'audio' && port === undefined;
            if (inAudio)
                port = Number(m[2]);
        }
    }
    const addr = mediaAddress ?? address;
    if (addr === undefined || port === undefined || port <= 0 || port > 65535)
        return undefined;
    return { address: addr, port };
}
const token = () => (0, node_crypto_1.randomBytes)(6).toString('hex');
const branch = () => `z9hG4bK-${token()}`;
class SipUac {
    sock;
    target;
    pending = new Map();
    acks = new Map();
    calls = new Map();
    /** Requests the node sent us (BYE on its shutdown, OPTIONS), by method. */
    received = new Map();
    constructor(sock, target) {
        this.sock = sock;
        this.target = target;
        sock.on('message', (buf, rinfo) => this.onMessage(buf, rinfo));
    }
    static open(target) {
        return new Promise((resolve, reject) => {
            const sock = (0, node_dgram_1.createSocket)('udp4');
            sock.once('error', reject);
            sock.bind(0, '127.0.0.1', () => {
                sock.setRecvBufferSize(4 * 1024 * 1024);
                resolve(new SipUac(sock, target));
            });
        });
    }
    get localPort() {
        return this.sock.address().port;
    }
    send(text) {
        this.sock.send(text, this.target.port, this.target.host);
    }
    onMessage(buf, rinfo) {
        const m = parseSip(buf.toString('utf8'));
        if (!m)
            return;
        const callId = first(m, 'call-id');
        if (m.status === 0)
            return this.answerRequest(m, rinfo);
        const method = (first(m, 'cseq').split(/\s+/)[1] ?? '').toUpperCase();
        if (method === 'INVITE' && m.status >= 200 && m.status < 300) {
            const ack = this.acks.get(callId);
            if (ack)
                this.send(ack); // a retransmitted 200: our ACK was lost or late
        }
        const p = this.pending.get(`${callId} ${method}`);
        if (!p)
            return;
        if (m.status < 200)
            return p.provisional();
        this.pending.delete(`${callId} ${method}`);
        p.resolve(m);
    }
    answerRequest(m, rinfo) {
        this.received.set(m.method, (this.received.get(m.method) ?? 0) + 1);
        if (m.method === 'ACK')
            return;
        const call = this.calls.get(first(m, 'call-id'));
        if (m.method === 'BYE' && call)
            call.ended = true;
        const vias = (m.headers.get('via') ?? []).map((v) => `Via: ${v}`);
        const lines = [
            'SIP/2.0 200 OK',
            ...vias,
            `From: ${first(m, 'from')}`,
            `To: ${first(m, 'to')}${/;\s*tag=/i.test(first(m, 'to')) ? '' : `;tag=${token()}`}`,
            `Call-ID: ${first(m, 'call-id')}`,
            `CSeq: ${first(m, 'cseq')}`,
            'Content-Length: 0',
            '',
            '',
        ];
        this.sock.send(lines.join('\r\n'), rinfo.port, rinfo.address);
    }
    /**
     * Sends `text` and retransmits it (500 ms doubling, RFC 3261 timer A/E) until a response comes
     * or `timeoutMs` passes; then waits for the final response up to the same deadline.
     */
    transact(callId, method, text, timeoutMs) {
        return new Promise((resolve, reject) => {
            const key = `${callId} ${method}`;
            let interval = 500;
            let retransmit;
            const stopRetransmit = () => {
                if (retransmit)
                    clearTimeout(retransmit);
                retransmit = undefined;
            };
            const again = () => {
                this.send(text);
                retransmit = setTimeout(again, interval);
                interval = Math.min(interval * 2, 4000);
            };
            const deadline = setTimeout(() => {
                stopRetransmit();
                this.pending.delete(key);
                reject(new Error(`${method} timed out after ${timeoutMs} ms`));
            }, timeoutMs);
            this.pending.set(key, {
                method,
                provisional: stopRetransmit,
                resolve: (m) => {
                    stopRetransmit();
                    clearTimeout(deadline);
                    resolve(m);
                },
            });
            again();
        });
    }
    /** INVITE `user`@target offering `codec` on `rtpPort`; resolves after the ACK is sent. */
    async invite(user, rtpPort, codec, timeoutMs = 10_000) {
        const profile = audio_1.CODECS[codec];
        const callId = `${token()}@127.0.0.1`;
        const requestUri = `sip:${user}@${this.target.host}:${this.target.port}`;
        const fromHeader = `<sip:bench@127.0.0.1:${this.localPort}>;tag=${token()}`;
        const sdp = [
            'v=0',
            `o=bench ${rtpPort} 1 IN IP4 127.0.0.1`,
            's=-',
            'c=IN IP4 127.0.0.1',
            't=0 0',
            `m=audio ${rtpPort} RTP/AVP ${profile.sdpFormats}`,
            ...profile.sdpAttributes,
            'a=ptime:20',
            'a=sendrecv',
            '',
        ].join('\r\n');
        const invite = [
            `INVITE ${requestUri} SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
            'Max-Forwards: 70',
            `From: ${fromHeader}`,
            `To: <sip:${user}@${this.target.host}>`,
            `Call-ID: ${callId}`,
            'CSeq: 1 INVITE',
            `Contact: <sip:bench@127.0.0.1:${this.localPort}>`,
            'Content-Type: application/sdp',
            `Content-Length: ${Buffer.byteLength(sdp)}`,
            '',
            sdp,
        ].join('\r\n');
        const t0 = performance.now();
        const res = await this.transact(callId, 'INVITE', invite, timeoutMs);
        const setupMs = performance.now() - t0;
        if (res.status >= 300)
            throw new Error(`INVITE ${user}: ${res.status}`);
        const toHeader = first(res, 'to');
        const contact = /<([^>]+)>/.exec(first(res, 'contact'))?.[1] ?? requestUri;
        const ack = [
            `ACK ${contact} SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
            'Max-Forwards: 70',
            `From: ${fromHeader}`,
            `To: ${toHeader}`,
            `Call-ID: ${callId}`,
            'CSeq: 1 ACK',
            'Content-Length: 0',
            '',
            '',
        ].join('\r\n');
        this.acks.set(callId, ack);
        this.send(ack);
        const media = sdpAudioTarget(res.body);
        if (!media)
            throw new Error(`INVITE ${user}: 200 OK without a usable audio m-line`);
        const call = { callId, user, requestUri: contact, fromHeader, toHeader, media, setupMs, ended: false };
        this.calls.set(callId, call);
        return call;
    }
    /** BYE; resolves with the final status (0 if the node never answered). */
    async bye(call, timeoutMs = 5000) {
        this.acks.delete(call.callId);
        this.calls.delete(call.callId);
        if (call.ended)
            return 200;
        const bye = [
            `BYE ${call.requestUri} SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
            'Max-Forwards: 70',
            `From: ${call.fromHeader}`,
            `To: ${call.toHeader}`,
            `Call-ID: ${call.callId}`,
            'CSeq: 2 BYE',
            'Content-Length: 0',
            '',
            '',
        ].join('\r\n');
        call.ended = true;
        try {
            return (await this.transact(call.callId, 'BYE', bye, timeoutMs)).status;
        }
        catch {
            return 0;
        }
    }
    close() {
        return new Promise((resolve) => {
            try {
                this.sock.close(() => resolve());
            }
            catch {
                resolve();
            }
        });
    }
}
exports.SipUac = SipUac;
//# sourceMappingURL=sip-uac.js.map