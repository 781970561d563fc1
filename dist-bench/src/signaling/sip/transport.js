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
exports.SipTransport = void 0;
exports.sanitizeReason = sanitizeReason;
exports.stampVia = stampVia;
exports.responseDestination = responseDestination;
/**
 * SIP transport (RFC 3261 section 18, RFC 3581 rport) over UDP and TCP on one host:port: parses
 * inbound messages, stamps received/rport, answers malformed requests with 400 when it can, and
 * sends requests and responses. Never throws on network input and never awaits per packet.
 */
const dgram = __importStar(require("node:dgram"));
const net = __importStar(require("node:net"));
const common_1 = require("../../common");
const message_1 = require("./message");
const headers_1 = require("./headers");
const parser_1 = require("./parser");
const serializer_1 = require("./serializer");
const framing_1 = require("./framing");
const build_1 = require("./build");
const MALFORMED_REASONS = { 400: 'Bad Request', 505: 'Version Not Supported', 513: 'Message Too Large' };
const MAX_MESSAGES_PER_CHUNK = 10000;
const BIND_ATTEMPTS = 8;
class SipTransport {
    host;
    handler;
    tcpServer;
    udp;
    conns = new Map();
    byPeer = new Map();
    nextConnId = 1;
    boundPort = 0;
    closed = false;
    limits;
    log;
    maxConns;
    idleMs;
    counters = { received: 0, sent: 0, dropped: 0, malformed: 0, sendErrors: 0 };
    constructor(host, handler, opts) {
        this.host = host;
        this.handler = handler;
        this.limits = opts.limits ?? parser_1.DEFAULT_PARSE_LIMITS;
        this.log = opts.logger ?? common_1.silentLogger;
        this.maxConns = opts.maxTcpConnections ?? 1024;
        this.idleMs = opts.tcpIdleMs ?? 300_000;
    }
    /** Binds TCP first (port 0 -> ephemeral), then UDP on the same port, retrying if UDP's is taken. */
    static async listen(opts, handler) {
        const t = new SipTransport(opts.host, handler, opts);
        let lastErr;
        for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
            try {
                await t.bind(opts.port);
                return t;
            }
            catch (err) {
                lastErr = err;
                await t.unbind();
                if (opts.port !== 0)
                    break;
            }
        }
        throw new Error(`SIP transport cannot bind ${opts.host}:${opts.port}: ${(0, common_1.errorMessage)(lastErr)}`, { cause: lastErr });
    }
    get port() {
        return this.boundPort;
    }
    stats() {
        return { ...this.counters, tcpConnections: this.conns.size };
    }
    /** RFC 3261 18.2.2 + RFC 3581: TCP on the request's connection, UDP to received/rport. */
    sendResponse(res, src, onError) {
        if (this.closed)
            return;
        if (src.transport === 'tcp') {
            const conn = src.connectionId === undefined ? undefined : this.conns.get(src.connectionId);
            if (conn && !conn.socket.destroyed) {
                this.writeTcp(conn, (0, serializer_1.serializeMessage)(res), onError);
                return;
            }
        }
        const dest = responseDestination(res, src);
        this.send(res, { ...dest, transport: src.transport }, onError);
    }
    /** Sends to a target, reusing an open TCP connection to it (or the one named in the target). */
    sendRequest(req, target, onError) {
        if (this.closed) {
            onError();
            return;
        }
        this.send(req, target, onError);
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        await this.unbind();
    }
    send(msg, target, onError) {
        let data;
        try {
            data = (0, serializer_1.serializeMessage)(msg);
        }
        catch (err) {
            this.counters.sendErrors++;
            this.log.warn({ err: (0, common_1.errorMessage)(err) }, 'SIP message could not be serialized');
            onError();
            return;
        }
        if (target.transport === 'udp') {
            this.sendUdp(data, target.address, target.port, onError);
            return;
        }
        const conn = this.connectionFor(target);
        if (!conn) {
            this.counters.sendErrors++;
            onError();
            return;
        }
        this.writeTcp(conn, data, onError);
    }
    sendUdp(data, address, port, onError) {
        const udp = this.udp;
        if (!udp)
            return;
        this.counters.sent++;
        try {
            udp.send(data, port, address, (err) => {
                if (err) {
                    this.counters.sendErrors++;
                    onError();
                }
            });
        }
        catch {
            this.counters.sendErrors++;
            onError();
        }
    }
    writeTcp(conn, data, onError) {
        this.counters.sent++;
        let failed = false;
        const fail = () => {
            if (failed)
                return;
            failed = true;
            this.counters.sendErrors++;
            onError();
        };
        if (!conn.connected)
            conn.pending.push(fail);
        conn.socket.write(data, (err) => {
            if (err)
                fail();
        });
    }
    connectionFor(target) {
        if (target.connectionId !== undefined) {
            const pinned = this.conns.get(target.connectionId);
            if (pinned && !pinned.socket.destroyed)
                return pinned;
        }
        const existingId = this.byPeer.get(peerKey(target.address, target.port));
        const existing = existingId === undefined ? undefined : this.conns.get(existingId);
        if (existing && !existing.socket.destroyed)
            return existing;
        if (this.conns.size >= this.maxConns)
            return undefined;
        const socket = net.connect({ host: target.address, port: target.port });
        const conn = this.adopt(socket, target.address, target.port, false);
        socket.once('connect', () => {
            conn.connected = true;
            conn.pending = [];
        });
        return conn;
    }
    adopt(socket, address, port, connected) {
        const conn = { id: this.nextConnId++, socket, framer: new framing_1.StreamFramer(this.limits), address, port, connected, pending: [] };
        this.conns.set(conn.id, conn);
        this.byPeer.set(peerKey(address, port), conn.id);
        socket.setNoDelay(true);
        socket.setTimeout(this.idleMs, () => socket.destroy());
        socket.on('data', (chunk) => this.onTcpData(conn, chunk));
        socket.on('error', (err) => this.log.debug({ err: err.message, peer: `${address}:${port}` }, 'SIP TCP connection error'));
        socket.on('close', () => {
            this.conns.delete(conn.id);
            if (this.byPeer.get(peerKey(address, port)) === conn.id)
                this.byPeer.delete(peerKey(address, port));
            const pending = conn.pending;
            conn.pending = [];
            for (const fail of pending)
                fail();
        });
        return conn;
    }
    onTcpData(conn, chunk) {
        try {
            conn.framer.push(chunk);
            for (let i = 0; i < MAX_MESSAGES_PER_CHUNK; i++) {
                if (conn.framer.takePing())
                    conn.socket.write('\r\n');
                const frame = conn.framer.next();
                if (!frame)
                    break;
                this.onDatagram(frame, { transport: 'tcp', address: conn.address, port: conn.port, connectionId: conn.id });
            }
            if (conn.framer.takePing())
                conn.socket.write('\r\n');
        }
        catch (err) {
            // FramingError (or anything else): the stream is out of sync and cannot be resynchronised.
            this.counters.malformed++;
            this.rejectStream(conn, err);
        }
    }
    rejectStream(conn, err) {
        const partial = partialOf(err);
        if (partial && hasHeadersFor400(partial)) {
            const res = (0, build_1.createResponse)(partial, 400, sanitizeReason(`Bad Request (${(0, common_1.errorMessage)(err)})`));
            try {
                conn.socket.end((0, serializer_1.serializeMessage)(res));
                this.counters.sent++;
                return;
            }
            catch {
                // fall through to destroy
            }
        }
        conn.socket.destroy();
    }
    /** One whole message (a UDP datagram or a framed TCP message). */
    onDatagram(data, src) {
        if (isKeepAlive(data))
            return;
        let result;
        try {
            result = (0, parser_1.parseMessage)(data, this.limits);
        }
        catch {
            result = { ok: false, error: 'parser failure' };
        }
        if (!result.ok) {
            this.counters.malformed++;
            const partial = result.partial;
            if (partial && hasHeadersFor400(partial))
                this.answerMalformed(partial, result.error, result.status ?? 400, src);
            else
                this.counters.dropped++;
            return;
        }
        this.counters.received++;
        const msg = result.message;
        try {
            if (msg.kind === 'request') {
                if (!stampVia(msg, src.address, src.port)) {
                    this.counters.dropped++;
                    return;
                }
                this.handler.onRequest(msg, src);
            }
            else {
                this.handler.onResponse(msg, src);
            }
        }
        catch (err) {
            this.log.error({ err: (0, common_1.errorMessage)(err) }, 'SIP handler threw on an inbound message');
        }
    }
    /** 400 normally; the parser may suggest 505 (SIP version) or 513 (too large). */
    answerMalformed(partial, error, status, src) {
        if (partial.method === 'ACK') {
            this.counters.dropped++;
            return;
        }
        try {
            stampVia(partial, src.address, src.port);
            const phrase = MALFORMED_REASONS[status] ?? 'Bad Request';
            const res = (0, build_1.createResponse)(partial, MALFORMED_REASONS[status] ? status : 400, sanitizeReason(`${phrase} (${error})`));
            this.sendResponse(res, src, () => undefined);
        }
        catch {
            this.counters.dropped++;
        }
    }
    async bind(port) {
        const server = net.createServer((socket) => this.onAccept(socket));
        server.maxConnections = this.maxConns;
        this.tcpServer = server;
        await new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen({ host: this.host, port, exclusive: true }, () => {
                server.off('error', reject);
                resolve();
            });
        });
        server.on('error', (err) => this.log.error({ err: err.message }, 'SIP TCP listener error'));
        const addr = server.address();
        const tcpPort = typeof addr === 'object' && addr ? addr.port : port;
        const udp = dgram.createSocket({ type: net.isIPv6(this.host) ? 'udp6' : 'udp4' });
        this.udp = udp;
        await new Promise((resolve, reject) => {
            udp.once('error', reject);
            udp.bind({ address: this.host, port: tcpPort, exclusive: true }, () => {
                udp.off('error', reject);
                resolve();
            });
        });
        udp.on('error', (err) => this.log.error({ err: err.message }, 'SIP UDP socket error'));
        udp.on('message', (data, rinfo) => this.onDatagram(data, { transport: 'udp', address: rinfo.address, port: rinfo.port }));
        this.boundPort = tcpPort;
    }
    onAccept(socket) {
        if (this.closed || this.conns.size >= this.maxConns) {
            socket.destroy();
            return;
        }
        this.adopt(socket, stripV4Mapped(socket.remoteAddress ?? ''), socket.remotePort ?? 0, true);
    }
    async unbind() {
        for (const conn of [...this.conns.values()])
            conn.socket.destroy();
        const server = this.tcpServer;
        const udp = this.udp;
        this.tcpServer = undefined;
        this.udp = undefined;
        if (server)
            await new Promise((resolve) => server.close(() => resolve()));
        if (udp)
            await new Promise((resolve) => {
                try {
                    udp.close(() => resolve());
                }
                catch {
                    resolve(); // not bound yet
                }
            });
    }
}
exports.SipTransport = SipTransport;
function peerKey(address, port) {
    return `${address.toLowerCase()}|${port}`;
}
function stripV4Mapped(address) {
    return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
/** RFC 5626 keep-alives (CRLF, CRLFCRLF) arrive as whole datagrams over UDP. */
function isKeepAlive(data) {
    if (data.length > 4)
        return false;
    for (const b of data)
        if (b !== 0x0d && b !== 0x0a)
            return false;
    return true;
}
function hasHeadersFor400(req) {
    return ['Via', 'From', 'To', 'Call-ID', 'CSeq'].every((h) => (0, message_1.getHeader)(req, h) !== undefined);
}
function partialOf(err) {
    if (typeof err !== 'object' || err === null || !('partial' in err))
        return undefined;
    const p = err.partial;
    if (typeof p === 'object' && p !== null && p.kind === 'request')
        return p;
    return undefined;
}
/** A reason phrase must stay one line of printable text whatever the peer sent. */
function sanitizeReason(text) {
    return text.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
}
/**
 * RFC 3261 18.2.1 / RFC 3581 section 4: add `received` when the top Via's host is not the source
 * address (always when rport was asked for) and fill an empty rport. Returns false without a Via.
 */
function stampVia(req, address, port) {
    const idx = req.headers.findIndex((h) => h.name === 'Via');
    const header = req.headers[idx];
    if (!header)
        return false;
    const vias = (0, headers_1.parseVia)(header.value);
    const top = vias?.[0];
    if (!vias || !top)
        return false;
    const wantsRport = top.rport === null || (top.params['rport'] === null && top.rport === undefined);
    if (top.host.replace(/^\[|\]$/g, '').toLowerCase() === address.toLowerCase() && !wantsRport)
        return true;
    setViaParam(top, 'received', address);
    if (wantsRport)
        setViaParam(top, 'rport', String(port));
    header.value = vias.map((v) => (0, headers_1.formatVia)(v)).join(', ');
    return true;
}
function setViaParam(via, name, value) {
    via.params[name] = value;
    if (name === 'received')
        via.received = value;
    else
        via.rport = Number(value);
}
/** 18.2.2 for UDP (and TCP after the connection is gone): received/rport, else sent-by, default 5060. */
function responseDestination(res, src) {
    const line = (0, message_1.getHeaderLines)(res, 'Via')[0];
    const top = line === undefined ? undefined : (0, headers_1.parseVia)(line)?.[0];
    if (!top)
        return { address: src.address, port: src.port };
    const address = top.received ?? top.params['received'] ?? top.host.replace(/^\[|\]$/g, '');
    const rport = typeof top.rport === 'number' ? top.rport : undefined;
    return { address, port: rport ?? top.port ?? 5060 };
}
//# sourceMappingURL=transport.js.map