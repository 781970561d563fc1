/**
 * SIP transport (RFC 3261 section 18, RFC 3581 rport) over UDP and TCP on one host:port, and TLS
 * (26.2, framed like TCP) on its own port when a certificate is given: parses inbound messages,
 * stamps received/rport, answers malformed requests with 400 when it can, and sends requests and
 * responses (a response and our in-dialog requests go back on the caller's connection). Never
 * throws on network input, never awaits per packet, never logs key material.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type Logger, errorMessage, silentLogger } from '../../common';
import { type SipMessage, type SipRequest, type SipResponse, getHeader, getHeaderLines } from './message';
import { type Via, formatVia, parseVia } from './headers';
import { DEFAULT_PARSE_LIMITS, type ParseLimits, parseMessage } from './parser';
import { serializeMessage } from './serializer';
import { StreamFramer } from './framing';
import { createResponse } from './build';
import type { InboundSource, OutboundTarget } from './transactions/layer';
import type { SipTransportKind } from './session';

export type { InboundSource, OutboundTarget } from './transactions/layer';

/** SIP over TLS: the node's certificate chain and key (PEM), on a port of its own. */
export interface SipTlsOptions {
  /** 0 picks a free port. */
  port: number;
  cert: Buffer | string;
  key: Buffer | string;
  /**
   * CAs for connections we open (a request after the caller's connection is gone): the peer's
   * certificate is verified against these (default: Node's bundled roots).
   */
  ca?: Buffer | string;
}

type StreamKind = Exclude<SipTransportKind, 'udp'>;

export interface SipTransportOptions {
  host: string;
  /** 0 picks a free port, the same for UDP and TCP. */
  port: number;
  limits?: ParseLimits;
  logger?: Logger;
  /** Inbound plus outbound TCP connections at once (default 1024). */
  maxTcpConnections?: number;
  /** A TCP connection without traffic for this long is closed (default 5 minutes). */
  tcpIdleMs?: number;
  /** Also listen for SIP over TLS. */
  tls?: SipTlsOptions;
}

export interface SipTransportHandler {
  onRequest(req: SipRequest, src: InboundSource): void;
  onResponse(res: SipResponse, src: InboundSource): void;
  /** Every response this transport sends, transactions' and its own 400/505/513 to malformed requests. */
  responseSent?(status: number): void;
}

export interface SipTransportStats {
  received: number;
  sent: number;
  dropped: number;
  malformed: number;
  sendErrors: number;
  /** TCP and TLS connections. */
  tcpConnections: number;
  tlsConnections: number;
  /** TLS handshakes that failed (bad client hello, protocol or certificate). */
  tlsHandshakeFailures: number;
}

interface TcpConn {
  id: number;
  kind: StreamKind;
  /** A TLSSocket for kind 'tls'. */
  socket: net.Socket;
  framer: StreamFramer;
  address: string;
  port: number;
  connected: boolean;
  /** Failure callbacks of sends queued before an outbound connection is up. */
  pending: Array<() => void>;
}

const MALFORMED_REASONS: Record<number, string> = { 400: 'Bad Request', 505: 'Version Not Supported', 513: 'Message Too Large' };
const MAX_MESSAGES_PER_CHUNK = 10000;
const BIND_ATTEMPTS = 8;
/** A TLS client has this long to finish its handshake. */
const TLS_HANDSHAKE_MS = 10_000;

export class SipTransport {
  private tcpServer: net.Server | undefined;
  private tlsServer: tls.Server | undefined;
  /** Raw sockets of the TLS port, handshake or not: closed on shutdown without waiting. */
  private readonly tlsSockets = new Set<net.Socket>();
  private udp: dgram.Socket | undefined;
  private readonly conns = new Map<number, TcpConn>();
  private readonly byPeer = new Map<string, number>();
  private nextConnId = 1;
  private boundPort = 0;
  private boundTlsPort: number | undefined;
  private tlsHandshakeFailures = 0;
  private closed = false;
  private readonly limits: ParseLimits;
  private readonly log: Logger;
  private readonly maxConns: number;
  private readonly idleMs: number;
  private readonly tlsOpts: SipTlsOptions | undefined;
  private readonly counters = { received: 0, sent: 0, dropped: 0, malformed: 0, sendErrors: 0 };

  private constructor(
    readonly host: string,
    private readonly handler: SipTransportHandler,
    opts: SipTransportOptions,
  ) {
    this.limits = opts.limits ?? DEFAULT_PARSE_LIMITS;
    this.log = opts.logger ?? silentLogger;
    this.maxConns = opts.maxTcpConnections ?? 1024;
    this.idleMs = opts.tcpIdleMs ?? 300_000;
    this.tlsOpts = opts.tls;
  }

  /** Binds TCP first (port 0 -> ephemeral), then UDP on the same port, retrying if UDP's is taken. */
  static async listen(opts: SipTransportOptions, handler: SipTransportHandler): Promise<SipTransport> {
    const t = new SipTransport(opts.host, handler, opts);
    let lastErr: unknown;
    for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
      try {
        await t.bind(opts.port);
        return t;
      } catch (err) {
        lastErr = err;
        await t.unbind();
        if (opts.port !== 0) break;
      }
    }
    throw new Error(`SIP transport cannot bind ${opts.host}:${opts.port}: ${errorMessage(lastErr)}`, { cause: lastErr });
  }

  get port(): number {
    return this.boundPort;
  }

  /** The TLS port, when TLS was asked for. */
  get tlsPort(): number | undefined {
    return this.boundTlsPort;
  }

  stats(): SipTransportStats {
    let tlsConnections = 0;
    for (const c of this.conns.values()) if (c.kind === 'tls') tlsConnections++;
    return { ...this.counters, tcpConnections: this.conns.size, tlsConnections, tlsHandshakeFailures: this.tlsHandshakeFailures };
  }

  /** RFC 3261 18.2.2 + RFC 3581: TCP/TLS on the request's connection, UDP to received/rport. */
  sendResponse(res: SipResponse, src: InboundSource, onError: () => void): void {
    if (this.closed) return;
    this.handler.responseSent?.(res.status);
    if (src.transport !== 'udp') {
      const conn = src.connectionId === undefined ? undefined : this.conns.get(src.connectionId);
      if (conn && !conn.socket.destroyed) {
        this.writeTcp(conn, serializeMessage(res), onError);
        return;
      }
    }
    const dest = responseDestination(res, src);
    this.send(res, { ...dest, transport: src.transport }, onError);
  }

  /** Sends to a target, reusing an open TCP connection to it (or the one named in the target). */
  sendRequest(req: SipRequest, target: OutboundTarget, onError: () => void): void {
    if (this.closed) {
      onError();
      return;
    }
    this.send(req, target, onError);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.unbind();
  }

  private send(msg: SipMessage, target: OutboundTarget, onError: () => void): void {
    let data: Buffer;
    try {
      data = serializeMessage(msg);
    } catch (err) {
      this.counters.sendErrors++;
      this.log.warn({ err: errorMessage(err) }, 'SIP message could not be serialized');
      onError();
      return;
    }
    if (target.transport === 'udp') {
      this.sendUdp(data, target.address, target.port, onError);
      return;
    }
    const conn = this.connectionFor(target, target.transport);
    if (!conn) {
      this.counters.sendErrors++;
      onError();
      return;
    }
    this.writeTcp(conn, data, onError);
  }

  private sendUdp(data: Buffer, address: string, port: number, onError: () => void): void {
    const udp = this.udp;
    if (!udp) return;
    this.counters.sent++;
    try {
      udp.send(data, port, address, (err) => {
        if (err) {
          this.counters.sendErrors++;
          onError();
        }
      });
    } catch {
      this.counters.sendErrors++;
      onError();
    }
  }

  private writeTcp(conn: TcpConn, data: Buffer, onError: () => void): void {
    this.counters.sent++;
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      this.counters.sendErrors++;
      onError();
    };
    if (!conn.connected) conn.pending.push(fail);
    conn.socket.write(data, (err) => {
      if (err) fail();
    });
  }

  private connectionFor(target: OutboundTarget, kind: StreamKind): TcpConn | undefined {
    if (target.connectionId !== undefined) {
      const pinned = this.conns.get(target.connectionId);
      if (pinned && pinned.kind === kind && !pinned.socket.destroyed) return pinned;
    }
    const existingId = this.byPeer.get(peerKey(kind, target.address, target.port));
    const existing = existingId === undefined ? undefined : this.conns.get(existingId);
    if (existing && !existing.socket.destroyed) return existing;
    if (this.conns.size >= this.maxConns) return undefined;
    if (kind === 'tls') return this.connectTls(target);
    const socket = net.connect({ host: target.address, port: target.port });
    const conn = this.adopt(socket, 'tcp', target.address, target.port, false);
    socket.once('connect', () => {
      conn.connected = true;
      conn.pending = [];
    });
    return conn;
  }

  /** A TLS connection of ours: the peer's certificate must verify (Node's default checks, or `tls.ca`). */
  private connectTls(target: OutboundTarget): TcpConn | undefined {
    const opts = this.tlsOpts;
    if (!opts) return undefined;
    const socket = tls.connect({
      host: target.address,
      port: target.port,
      ...(net.isIP(target.address) === 0 ? { servername: target.address } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      minVersion: 'TLSv1.2',
    });
    const conn = this.adopt(socket, 'tls', target.address, target.port, false);
    socket.once('secureConnect', () => {
      conn.connected = true;
      conn.pending = [];
    });
    return conn;
  }

  private adopt(socket: net.Socket, kind: StreamKind, address: string, port: number, connected: boolean): TcpConn {
    const conn: TcpConn = { id: this.nextConnId++, kind, socket, framer: new StreamFramer(this.limits), address, port, connected, pending: [] };
    const key = peerKey(kind, address, port);
    this.conns.set(conn.id, conn);
    this.byPeer.set(key, conn.id);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onTcpData(conn, chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message, peer: `${address}:${port}`, transport: kind }, 'SIP stream connection error'));
    socket.on('close', () => {
      this.conns.delete(conn.id);
      if (this.byPeer.get(key) === conn.id) this.byPeer.delete(key);
      const pending = conn.pending;
      conn.pending = [];
      for (const fail of pending) fail();
    });
    return conn;
  }

  private onTcpData(conn: TcpConn, chunk: Buffer): void {
    try {
      conn.framer.push(chunk);
      for (let i = 0; i < MAX_MESSAGES_PER_CHUNK; i++) {
        if (conn.framer.takePing()) conn.socket.write('\r\n');
        const frame = conn.framer.next();
        if (!frame) break;
        this.onDatagram(frame, { transport: conn.kind, address: conn.address, port: conn.port, connectionId: conn.id });
      }
      if (conn.framer.takePing()) conn.socket.write('\r\n');
    } catch (err) {
      // FramingError (or anything else): the stream is out of sync and cannot be resynchronised.
      this.counters.malformed++;
      this.rejectStream(conn, err);
    }
  }

  private rejectStream(conn: TcpConn, err: unknown): void {
    const partial = partialOf(err);
    if (partial && hasHeadersFor400(partial)) {
      const res = createResponse(partial, 400, sanitizeReason(`Bad Request (${errorMessage(err)})`));
      try {
        conn.socket.end(serializeMessage(res));
        this.counters.sent++;
        return;
      } catch {
        // fall through to destroy
      }
    }
    conn.socket.destroy();
  }

  /** One whole message (a UDP datagram or a framed TCP message). */
  private onDatagram(data: Buffer, src: InboundSource): void {
    if (isKeepAlive(data)) return;
    let result;
    try {
      result = parseMessage(data, this.limits);
    } catch {
      result = { ok: false as const, error: 'parser failure' };
    }
    if (!result.ok) {
      this.counters.malformed++;
      const partial = result.partial;
      if (partial && hasHeadersFor400(partial)) this.answerMalformed(partial, result.error, result.status ?? 400, src);
      else this.counters.dropped++;
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
      } else {
        this.handler.onResponse(msg, src);
      }
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'SIP handler threw on an inbound message');
    }
  }

  /** 400 normally; the parser may suggest 505 (SIP version) or 513 (too large). */
  private answerMalformed(partial: SipRequest, error: string, status: number, src: InboundSource): void {
    if (partial.method === 'ACK') {
      this.counters.dropped++;
      return;
    }
    try {
      stampVia(partial, src.address, src.port);
      const phrase = MALFORMED_REASONS[status] ?? 'Bad Request';
      const res = createResponse(partial, MALFORMED_REASONS[status] ? status : 400, sanitizeReason(`${phrase} (${error})`));
      this.sendResponse(res, src, () => undefined);
    } catch {
      this.counters.dropped++;
    }
  }

  private async bind(port: number): Promise<void> {
    const server = net.createServer((socket) => this.onAccept(socket, 'tcp'));
    server.maxConnections = this.maxConns;
    this.tcpServer = server;
    await new Promise<void>((resolve, reject) => {
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
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: this.host, port: tcpPort, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.log.error({ err: err.message }, 'SIP UDP socket error'));
    udp.on('message', (data, rinfo) => this.onDatagram(data, { transport: 'udp', address: rinfo.address, port: rinfo.port }));
    this.boundPort = tcpPort;
    if (this.tlsOpts) await this.bindTls(this.tlsOpts);
  }

  /** SIP over TLS on its own port (a fixed one is never retried elsewhere). */
  private async bindTls(opts: SipTlsOptions): Promise<void> {
    const server = tls.createServer(
      { cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2', handshakeTimeout: TLS_HANDSHAKE_MS },
      (socket) => this.onAccept(socket, 'tls'),
    );
    server.maxConnections = this.maxConns;
    server.on('connection', (raw: net.Socket) => {
      this.tlsSockets.add(raw);
      raw.once('close', () => this.tlsSockets.delete(raw));
    });
    this.tlsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: opts.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new Error(`SIP TLS cannot bind ${this.host}:${opts.port}: ${errorMessage(err)}`, { cause: err });
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'SIP TLS listener error'));
    // A failed handshake is the client's problem (wrong CA, plain SIP on the TLS port): counted, never loud.
    server.on('tlsClientError', (err, socket) => {
      this.tlsHandshakeFailures++;
      this.log.debug({ err: err.message, peer: `${stripV4Mapped(socket.remoteAddress ?? '')}:${socket.remotePort ?? 0}` }, 'SIP TLS handshake failed');
    });
    const addr = server.address();
    this.boundTlsPort = typeof addr === 'object' && addr ? addr.port : opts.port;
  }

  private onAccept(socket: net.Socket, kind: StreamKind): void {
    if (this.closed || this.conns.size >= this.maxConns) {
      socket.destroy();
      return;
    }
    this.adopt(socket, kind, stripV4Mapped(socket.remoteAddress ?? ''), socket.remotePort ?? 0, true);
  }

  private async unbind(): Promise<void> {
    for (const conn of [...this.conns.values()]) conn.socket.destroy();
    for (const raw of [...this.tlsSockets]) raw.destroy();
    const server = this.tcpServer;
    const tlsServer = this.tlsServer;
    const udp = this.udp;
    this.tcpServer = undefined;
    this.tlsServer = undefined;
    this.udp = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (tlsServer) await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    if (udp) await new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve(); // not bound yet
      }
    });
  }
}

function peerKey(kind: StreamKind, address: string, port: number): string {
  return `${kind}|${address.toLowerCase()}|${port}`;
}

function stripV4Mapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** RFC 5626 keep-alives (CRLF, CRLFCRLF) arrive as whole datagrams over UDP. */
function isKeepAlive(data: Buffer): boolean {
  if (data.length > 4) return false;
  for (const b of data) if (b !== 0x0d && b !== 0x0a) return false;
  return true;
}

function hasHeadersFor400(req: SipRequest): boolean {
  return ['Via', 'From', 'To', 'Call-ID', 'CSeq'].every((h) => getHeader(req, h) !== undefined);
}

function partialOf(err: unknown): SipRequest | undefined {
  if (typeof err !== 'object' || err === null || !('partial' in err)) return undefined;
  const p = (err as { partial?: unknown }).partial;
  if (typeof p === 'object' && p !== null && (p as { kind?: unknown }).kind === 'request') return p as SipRequest;
  return undefined;
}

/** A reason phrase must stay one line of printable text whatever the peer sent. */
export function sanitizeReason(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
}

/**
 * RFC 3261 18.2.1 / RFC 3581 section 4: add `received` when the top Via's host is not the source
 * address (always when rport was asked for) and fill an empty rport. Returns false without a Via.
 */
export function stampVia(req: SipRequest, address: string, port: number): boolean {
  const idx = req.headers.findIndex((h) => h.name === 'Via');
  const header = req.headers[idx];
  if (!header) return false;
  const vias = parseVia(header.value);
  const top = vias?.[0];
  if (!vias || !top) return false;
  const wantsRport = top.rport === null || (top.params['rport'] === null && top.rport === undefined);
  if (top.host.replace(/^\[|\]$/g, '').toLowerCase() === address.toLowerCase() && !wantsRport) return true;
  setViaParam(top, 'received', address);
  if (wantsRport) setViaParam(top, 'rport', String(port));
  header.value = vias.map((v) => formatVia(v)).join(', ');
  return true;
}

function setViaParam(via: Via, name: 'received' | 'rport', value: string): void {
  via.params[name] = value;
  if (name === 'received') via.received = value;
  else via.rport = Number(value);
}

/** 18.2.2 for UDP (and TCP after the connection is gone): received/rport, else sent-by, default 5060. */
export function responseDestination(res: SipResponse, src: InboundSource): { address: string; port: number } {
  const line = getHeaderLines(res, 'Via')[0];
  const top = line === undefined ? undefined : parseVia(line)?.[0];
  if (!top) return { address: src.address, port: src.port };
  const address = top.received ?? top.params['received'] ?? top.host.replace(/^\[|\]$/g, '');
  const rport = typeof top.rport === 'number' ? top.rport : undefined;
  return { address, port: rport ?? top.port ?? 5060 };
}
