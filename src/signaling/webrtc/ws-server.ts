/**
 * WebSocket adapter for browser signaling: takes HTTP upgrades on one path, validates every frame
 * (protocol.ts), and hands the first message to a new BrowserSession (`join`) or to the detached
 * one it resumes (`resume`); later frames go to the socket's session, which calls the
 * WebRtcSessionHandler port. The only module that imports `ws`; it never knows about
 * conferences or media.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { BrowserSession, type SessionEvent, type SessionSocket } from './browser-session';
import { ANSWER_TIMEOUT_MS, JOIN_TIMEOUT_MS, MAX_MESSAGE_BYTES, RESUME_GRACE_MS, WS_CLOSE, parseClientMessage, type ClientMessage, type WsErrorCode } from './protocol';
import type { WebRtcSessionHandler } from './session';

export interface WebRtcSignalingOptions {
  handler: WebRtcSessionHandler;
  clock: Clock;
  logger: Logger;
  /** URL path of the WebSocket endpoint; default '/ws'. */
  path?: string;
  joinTimeoutMs?: number;
  /** A ping every interval; no pong by the next one means the connection is lost. Default 10 s. */
  pingIntervalMs?: number;
  /** Bound on any one handler call (join, offer, answer); default 15 s. */
  handlerTimeoutMs?: number;
  /** How long a dropped browser may take to resume its session; default RESUME_GRACE_MS. */
  resumeGraceMs?: number;
  /** How long a browser has to answer the node's offer (socket time); default ANSWER_TIMEOUT_MS. */
  answerTimeoutMs?: number;
  /** Concurrent connections; further upgrades get 503. Default 1000. */
  maxSessions?: number;
  /** Messages a browser may send per second before it is cut off as abusive. Default 50. */
  maxMessagesPerSecond?: number;
  /** Sessions that lost their socket, resumed, expired, or whose resume was refused (metrics). */
  onSessionEvent?: (event: SessionEvent) => void;
}

/** The browser's address as the HTTP server determined it (behind a trusted proxy: the one it names). */
export interface UpgradeClient {
  address: string;
  /** undefined when a proxy named the client without its port. */
  port: number | undefined;
}

export interface WebRtcSignalingServer {
  /**
   * For the HTTP server's 'upgrade' event: returns false when the URL is not ours (the caller
   * answers it); otherwise takes the socket (accepted or refused). `client` names the browser
   * (sessions key their PIN lockout and logs on it); the TCP peer when absent.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, client?: UpgradeClient): boolean;
  /** Sessions alive: joining, joined, or detached and waiting for a resume. */
  readonly sessionCount: number;
  /** Closes every session (the handler sees 'shutdown') and stops accepting. Idempotent. */
  close(): Promise<void>;
}

/** Frames above this are cut by `ws` itself (close 1009); below it we answer 'bad-message'. */
const WS_MAX_PAYLOAD = 1024 * 1024;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const CLOSE_WAIT_MS = 2000;
const PONG = JSON.stringify({ type: 'pong' });

interface Limits {
  joinTimeoutMs: number;
  pingIntervalMs: number;
  handlerTimeoutMs: number;
  resumeGraceMs: number;
  answerTimeoutMs: number;
  maxMessagesPerSecond: number;
}

/** What a Connection needs of the server: where its first message leads. */
interface Registry {
  join(conn: Connection, msg: Extract<ClientMessage, { type: 'join' }>): BrowserSession;
  resume(conn: Connection, msg: Extract<ClientMessage, { type: 'resume' }>): BrowserSession | undefined;
}

export function createWebRtcSignaling(opts: WebRtcSignalingOptions): WebRtcSignalingServer {
  const path = opts.path ?? '/ws';
  const maxSessions = opts.maxSessions ?? 1000;
  const limits: Limits = {
    joinTimeoutMs: opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS,
    pingIntervalMs: opts.pingIntervalMs ?? 10_000,
    handlerTimeoutMs: opts.handlerTimeoutMs ?? 15_000,
    resumeGraceMs: opts.resumeGraceMs ?? RESUME_GRACE_MS,
    answerTimeoutMs: opts.answerTimeoutMs ?? ANSWER_TIMEOUT_MS,
    maxMessagesPerSecond: opts.maxMessagesPerSecond ?? 50,
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false });
  const connections = new Set<Connection>();
  const sessions = new Set<BrowserSession>();
  const byToken = new Map<string, BrowserSession>();
  const onEvent = opts.onSessionEvent ?? ((): void => undefined);
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const refuse = (socket: Duplex, status: number, text: string): void => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const registry: Registry = {
    join(conn, msg) {
      const id = `ws${nextId++}`;
      const session = new BrowserSession(id, conn, opts.handler, opts.clock, opts.logger.child({ session: id, remote: conn.remote }), limits, onEvent);
      sessions.add(session);
      byToken.set(session.token, session);
      const forget = (): void => {
        sessions.delete(session);
        byToken.delete(session.token);
      };
      session.closed.then(forget, forget);
      session.start(msg);
      return session;
    },
    resume(conn, msg) {
      const session = byToken.get(msg.token);
      if (session && !closing && session.resume(conn, msg.lastSeq)) return session;
      if (!session) onEvent('resume-refused'); // a known one counted its own refusal
      return undefined;
    },
  };

  return {
    handleUpgrade(req, socket, head, client) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
      socket.on('error', () => undefined);
      if (closing) refuse(socket, 503, 'Service Unavailable');
      else if (!sameOrigin(req)) refuse(socket, 403, 'Forbidden');
      else if (connections.size >= maxSessions) refuse(socket, 503, 'Service Unavailable');
      else {
        wss.handleUpgrade(req, socket, head, (ws) => {
          const remote = remoteOf(req, client);
          const conn = new Connection(remote, ws, registry, opts.clock, opts.logger.child({ remote }), limits);
          connections.add(conn);
          conn.closed.then(() => connections.delete(conn), () => connections.delete(conn));
        });
      }
      return true;
    },
    get sessionCount() {
      return sessions.size;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...sessions].map((s) => s.shutdown()));
        await Promise.allSettled([...connections].map((c) => c.shutdown()));
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/**
 * `ws:ADDRESS:PORT` (`wss:` over TLS): how the session names its browser in logs and the API, and
 * what the PIN lockout keys on (the part before the last colon). Port 0: a proxy gave none.
 */
function remoteOf(req: IncomingMessage, client: UpgradeClient | undefined): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? 'wss' : 'ws';
  const address = client?.address ?? req.socket.remoteAddress ?? '?';
  const port = client ? (client.port ?? 0) : (req.socket.remotePort ?? 0);
  return `${scheme}:${address}:${port}`;
}

/**
 * A page of this node may connect; another site's page may not ride on the user's browser
 * (cross-site WebSocket hijacking). Clients without an Origin (tools, tests) are not browsers.
 */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

/**
 * One WebSocket: frame limits and validation, liveness pings, the deadline for its first message,
 * and the session it carries (set by its `join` or `resume`).
 */
class Connection implements SessionSocket {
  readonly closed: Promise<void>;
  private session: BrowserSession | undefined;
  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  /** Set when the socket failed (error, no pong): its close is not the browser's choice. */
  private broken = false;
  private joinTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private alive = true;
  private windowStart: number;
  private windowCount = 0;
  private resolveClosed: () => void = () => undefined;

  constructor(
    readonly remote: string,
    private readonly ws: WebSocket,
    private readonly registry: Registry,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly limits: Limits,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.windowStart = clock.now();
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (err) => {
      this.log.debug({ err: errorMessage(err) }, 'websocket error');
      this.broken = true;
    });
    ws.on('close', (code) => this.onSocketClosed(code));
    this.joinTimer = clock.setTimeout(() => this.refuse('timeout', `no join message within ${limits.joinTimeoutMs} ms`), limits.joinTimeoutMs);
    this.schedulePing();
    this.log.debug({}, 'websocket connected');
  }

  writeText(text: string): void {
    if (this.state === 'closing' || this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      // A browser that stopped reading must not make us hold its messages forever.
      this.broken = true;
      this.ws.terminate();
      return;
    }
    this.ws.send(text);
  }

  end(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.joinTimer?.cancel();
    this.ws.close(code, truncateUtf8(reason, 120));
    // A peer that never completes the closing handshake is cut.
    this.closeTimer = this.clock.setTimeout(() => {
      if (this.state !== 'closed') this.ws.terminate();
    }, CLOSE_WAIT_MS);
  }

  /** Server shutdown: a socket that never joined (its session, if any, closes it). */
  shutdown(): Promise<void> {
    if (!this.session) this.end(WS_CLOSE.goingAway, 'server shutting down');
    return this.closed;
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (!this.withinRate()) {
      this.fault('bad-message', `more than ${this.limits.maxMessagesPerSecond} messages per second`);
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (buf.length > MAX_MESSAGE_BYTES) {
      this.fault('bad-message', `message of ${buf.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      return;
    }
    const parsed = parseClientMessage(buf, isBinary);
    if (!parsed.ok) {
      this.fault('bad-message', parsed.error);
      return;
    }
    const msg = parsed.message;
    if (this.state === 'new') {
      this.joinTimer?.cancel();
      if (msg.type === 'join') {
        this.state = 'open';
        this.session = this.registry.join(this, msg);
      } else if (msg.type === 'resume') {
        this.state = 'open';
        this.session = this.registry.resume(this, msg);
        if (!this.session) this.refuse('resume-failed', 'unknown or expired session: join again');
      } else this.refuse('bad-message', `the first message must be 'join' or 'resume', not '${msg.type}'`);
      return;
    }
    if (msg.type === 'join' || msg.type === 'resume') {
      this.fault('bad-message', 'already joined');
      return;
    }
    if (msg.type === 'ping') {
      if (msg.lastSeq !== undefined) this.session?.acknowledge(this, msg.lastSeq);
      this.writeText(PONG);
      return;
    }
    this.session?.receive(this, msg);
  }

  /** A fault of this socket: its session ends with it (or, before one exists, the socket). */
  private fault(code: WsErrorCode, message: string): void {
    if (this.session) this.session.fail(code, message);
    else this.refuse(code, message);
  }

  /** Refuses a socket that carries no session: an error message, then the close. */
  private refuse(code: WsErrorCode, message: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.log.info({ code, reason: message }, 'closing websocket after an error');
    this.writeText(JSON.stringify({ type: 'error', code, message }));
    this.end(code === 'bad-message' || code === 'timeout' ? WS_CLOSE.policy : WS_CLOSE.refused, message);
  }

  private onSocketClosed(code: number): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.joinTimer?.cancel();
    this.pingTimer?.cancel();
    this.closeTimer?.cancel();
    const normal = !this.broken && (code === WS_CLOSE.normal || code === WS_CLOSE.goingAway);
    this.log.debug({ code, normal }, 'websocket closed');
    this.session?.detach(this, normal);
    this.resolveClosed();
  }

  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(() => {
      if (this.state === 'closed') return;
      if (!this.alive) {
        this.broken = true;
        this.ws.terminate();
        return;
      }
      this.alive = false;
      this.ws.ping();
      this.schedulePing();
    }, this.limits.pingIntervalMs);
  }

  private withinRate(): boolean {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount++;
    return this.windowCount <= this.limits.maxMessagesPerSecond;
  }
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = s.slice(0, maxBytes);
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}
