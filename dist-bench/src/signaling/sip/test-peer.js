"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.TestPeer = void 0;
exports.cseqMethod = cseqMethod;
exports.sipRequest = sipRequest;
exports.sipResponseTo = sipResponseTo;
/**
 * Test-only SIP peer over real loopback UDP/TCP sockets: sends hand-written messages and waits
 * for parsed ones. Used by the UA tests; never imported by production code.
 */
const dgram = __importStar(require("node:dgram"));
const net = __importStar(require("node:net"));
const message_1 = require("./message");
const parser_1 = require("./parser");
const framing_1 = require("./framing");
const serializer_1 = require("./serializer");
class TestPeer {
    transport;
    inbox = [];
    waiters = [];
    udp;
    tcp;
    server;
    port = 0;
    constructor(transport) {
        this.transport = transport;
    }
    /** UDP peer bound to an ephemeral port. */
    static async udp() {
        const p = new TestPeer('udp');
        const s = dgram.createSocket('udp4');
        p.udp = s;
        s.on('message', (d) => p.deliver(d));
        await new Promise((r) => s.bind(0, '127.0.0.1', () => r()));
        p.port = s.address().port;
        return p;
    }
    /** TCP peer connected to the server (its local port is its "port"). */
    static async tcp(serverPort) {
        const p = new TestPeer('tcp');
        const framer = new framing_1.StreamFramer();
        const sock = net.connect({ host: '127.0.0.1', port: serverPort });
        p.tcp = sock;
        sock.on('data', (chunk) => {
            framer.push(chunk);
            for (let m = framer.next(); m; m = framer.next())
                p.deliver(m);
        });
        sock.on('error', () => undefined);
        await new Promise((r) => sock.once('connect', () => r()));
        p.port = sock.localPort ?? 0;
        return p;
    }
    send(msg, port) {
        const data = typeof msg === 'string' ? Buffer.from(msg) : Buffer.isBuffer(msg) ? msg : (0, serializer_1.serializeMessage)(msg);
        if (this.udp)
            this.udp.send(data, port, '127.0.0.1');
        else
            this.tcp?.write(data);
    }
    raw(data) {
        this.tcp?.write(data);
    }
    /** Next message (already received or future) matching pred; rejects after timeoutMs. */
    next(pred = () => true, timeoutMs = 3000) {
        const idx = this.inbox.findIndex(pred);
        if (idx >= 0)
            return Promise.resolve(this.inbox.splice(idx, 1)[0]);
        return new Promise((resolve, reject) => {
            const w = {
                pred,
                resolve: (m) => {
                    clearTimeout(timer);
                    resolve(m);
                },
            };
            this.waiters.push(w);
            const timer = setTimeout(() => {
                if (!this.waiters.includes(w))
                    return;
                this.waiters = this.waiters.filter((x) => x !== w);
                reject(new Error('timed out waiting for a SIP message'));
            }, timeoutMs);
        });
    }
    response(status, method) {
        return this.next((m) => m.kind === 'response' && m.status === status && (method === undefined || cseqMethod(m) === method));
    }
    request(method) {
        return this.next((m) => m.kind === 'request' && m.method === method);
    }
    closed() {
        return new Promise((r) => (this.tcp ? this.tcp.once('close', () => r()) : r()));
    }
    async close() {
        this.udp?.close();
        this.tcp?.destroy();
        await new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
    }
    deliver(data) {
        const r = (0, parser_1.parseMessage)(data);
        if (!r.ok)
            return;
        const w = this.waiters.find((x) => x.pred(r.message));
        if (w) {
            this.waiters = this.waiters.filter((x) => x !== w);
            w.resolve(r.message);
        }
        else {
            this.inbox.push(r.message);
        }
    }
}
exports.TestPeer = TestPeer;
function cseqMethod(m) {
    return ((0, message_1.getHeader)(m, 'CSeq') ?? '').trim().split(/\s+/)[1] ?? '';
}
/** A request as a UA on `peer` would write it; CSeq method = method (ACK/CANCEL pass their own). */
function sipRequest(s) {
    const t = s.peer.transport.toUpperCase();
    const body = s.body ?? '';
    const lines = [
        `${s.method} ${s.uri ?? 'sip:meet@127.0.0.1'} SIP/2.0`,
        `Via: SIP/2.0/${t} ${s.viaHost ?? '127.0.0.1'}:${s.peer.port};branch=${s.branch};rport`,
        'Max-Forwards: 70',
        `From: "Alice" <sip:alice@127.0.0.1>;tag=${s.fromTag ?? 'alice1'}`,
        `To: <sip:meet@127.0.0.1>${s.toTag ? `;tag=${s.toTag}` : ''}`,
        `Call-ID: ${s.callId}`,
        `CSeq: ${s.cseq} ${s.method}`,
        `Contact: <sip:alice@127.0.0.1:${s.peer.port}${s.peer.transport === 'tcp' ? ';transport=tcp' : ''}>`,
        'User-Agent: test-peer',
        ...(s.extra ?? []),
    ];
    if (body.length > 0)
        lines.push(`Content-Type: ${s.contentType ?? 'application/sdp'}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    return lines.join('\r\n') + '\r\n\r\n' + body;
}
/** A response to `req` as the peer's UAS would write it (copies Via, From, To, Call-ID, CSeq). */
function sipResponseTo(req, status, reason) {
    const lines = [`SIP/2.0 ${status} ${reason}`];
    for (const h of req.headers) {
        if (['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(h.name))
            lines.push(`${h.name}: ${h.value}`);
    }
    lines.push('Content-Length: 0');
    return lines.join('\r\n') + '\r\n\r\n';
}
//# sourceMappingURL=test-peer.js.map