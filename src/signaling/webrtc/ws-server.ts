/**
 * WebSocket adapter for browser signaling: takes HTTP upgrades on one path, validates every frame
 * (protocol.ts), runs each connection's small state machine (join first, then SDP and media
 * state) and calls the WebRtcSessionHandler port. The only module that imports `ws`; it never
 * knows about conferences or media.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ConfnodeError, errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import {
  JOIN_TIMEOUT_MS,
  MAX_MESSAGE_BYTES,
  WS_CLOSE,
  parseClientMessage,
  wsErrorFor,
  type ClientMessage,
  type ServerMessage,
  type WsErrorCode,
} from './protocol';
import type { WebRtcCloseRequest, WebRtcEndReason, WebRtcSession, WebRtcSessionHandler } from './session';

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
  /** Concurrent connections; further upgrades get 503. Default 1000. */
  maxSessions?: number;
  /** Messages a browser may send per second before it is cut off as abusive. Default 50. */
  maxMessagesPerSecond?: number;
}

export interface WebRtcSignalingServer {
  /**
   * For the HTTP server's 'upgrade' event: returns false when the URL is not ours (the caller
   * answers it); otherwise takes the socket (accepted or refused).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  readonly sessionCount: number;
  /** Closes every session (the handler sees 'shutdown') and stops accepting. Idempotent. */
  close(): Promise<void>;
}

/** Frames above this are cut by `ws` itself (close 1009); below it we answer 'bad-message'. */
const WS_MAX_PAYLOAD = 1024 * 1024;
/** Messages the handler has not finished yet; a browser that piles up more is cut off. */
const MAX_QUEUED = 32;
/** Handler messages buffered while its join is still being answered. */
const MAX_EARLY = 256;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const CLOSE_WAIT_MS = 2000;

type State = 'awaiting-join' | 'joining' | 'joined' | 'closing' | 'closed';

interface Limits {
  joinTimeoutMs: number;
  pingIntervalMs: number;
  handlerTimeoutMs: number;
  maxMessagesPerSecond: number;
}

export function createWebRtcSignaling(opts: WebRtcSignalingOptions): WebRtcSignalingServer {
  const path = opts.path ?? '/ws';
  const maxSessions = opts.maxSessions ?? 1000;
  const limits: Limits = {
    joinTimeoutMs: opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS,
    pingIntervalMs: opts.pingIntervalMs ?? 10_000,
    handlerTimeoutMs: opts.handlerTimeoutMs ?? 15_000,
    maxMessagesPerSecond: opts.maxMessagesPerSecond ?? 50,
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false });
  const sessions = new Set<Connection>();
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const refuse = (socket: Duplex, status: number, text: string): void => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  return {
    handleUpgrade(req, socket, head) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
      socket.on('error', () => undefined);
      if (closing) refuse(socket, 503, 'Service Unavailable');
      else if (!sameOrigin(req)) refuse(socket, 403, 'Forbidden');
      else if (sessions.size >= maxSessions) refuse(socket, 503, 'Service Unavailable');
      else {
        wss.handleUpgrade(req, socket, head, (ws) => {
          const id = `ws${nextId++}`;
          const remote = `ws:${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
          const conn = new Connection(id, remote, ws, opts.handler, opts.clock, opts.logger.child({ session: id, remote }), limits);
          sessions.add(conn);
          conn.closed.then(() => sessions.delete(conn), () => sessions.delete(conn));
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
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
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

class Connection implements WebRtcSession {
  readonly closed: Promise<void>;
  private state: State = 'awaiting-join';
  private endReason: WebRtcEndReason | undefined;
  private joinSettled: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private early: ServerMessage[] = [];
  private joinTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private alive = true;
  private windowStart: number;
  private windowCount = 0;
  private resolveClosed: () => void = () => undefined;

  constructor(
    readonly id: string,
    readonly remote: string,
    private readonly ws: WebSocket,
    private readonly handler: WebRtcSessionHandler,
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
      this.endReason ??= 'lost';
    });
    ws.on('close', (code) => this.onSocketClosed(code));
    this.joinTimer = clock.setTimeout(() => this.fail('timeout', `no join message within ${limits.joinTimeoutMs} ms`, 'timeout'), limits.joinTimeoutMs);
    this.schedulePing();
    this.log.debug({}, 'websocket connected');
  }

  send(message: ServerMessage): void {
    if (this.state === 'joining') {
      // The joined reply must come first: hold what the handler sends while it is answering.
      if (this.early.length < MAX_EARLY) this.early.push(message);
      return;
    }
    this.write(message);
  }

  close(request: WebRtcCloseRequest): Promise<void> {
    if (request.error) this.write({ type: 'error', ...request.error });
    this.endWith('ended', WS_CLOSE.ended, request.reason);
    return this.closedWithin();
  }

  shutdown(): Promise<void> {
    this.endWith('shutdown', WS_CLOSE.goingAway, 'server shutting down');
    return this.closedWithin();
  }

  private write(message: ServerMessage): void {
    if (this.state === 'closing' || this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      // A browser that stopped reading must not make us hold its messages forever.
      this.endReason ??= 'lost';
      this.ws.terminate();
      return;
    }
    this.ws.send(JSON.stringify(message));
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (!this.withinRate()) {
      this.fail('bad-message', `more than ${this.limits.maxMessagesPerSecond} messages per second`);
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (buf.length > MAX_MESSAGE_BYTES) {
      this.fail('bad-message', `message of ${buf.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      return;
    }
    const parsed = parseClientMessage(buf, isBinary);
    if (!parsed.ok) {
      this.fail('bad-message', parsed.error);
      return;
    }
    const msg = parsed.message;
    if (this.state === 'awaiting-join') {
      if (msg.type !== 'join') {
        this.fail('bad-message', `the first message must be 'join', not '${msg.type}'`);
        return;
      }
      this.startJoin(msg);
      return;
    }
    if (msg.type === 'join') {
      this.fail('bad-message', 'already joined');
      return;
    }
    if (this.queued >= MAX_QUEUED) {
      this.fail('bad-message', 'too many messages in flight');
      return;
    }
    this.queued++;
    this.chain = this.chain.then(() => this.process(msg)).finally(() => this.queued--);
  }

  private startJoin(join: Extract<ClientMessage, { type: 'join' }>): void {
    this.joinTimer?.cancel();
    this.state = 'joining';
    const settled = (async () => {
      try {
        const joined = await this.bounded(this.handler.onJoin(this, join), 'join');
        if (this.state !== 'joining') return;
        this.state = 'joined';
        this.write(joined);
        const early = this.early;
        this.early = [];
        for (const m of early) this.write(m);
      } catch (err) {
        this.early = [];
        const e = wsErrorFor(err);
        if (e.code === 'internal') this.log.warn({ err: errorMessage(err) }, 'join failed');
        if (this.state === 'joining') this.state = 'joined'; // so write() works for the error
        this.write({ type: 'error', ...e });
        this.endWith('refused', e.code === 'internal' ? WS_CLOSE.internal : WS_CLOSE.refused, e.message);
      }
    })();
    this.joinSettled = settled;
    this.chain = settled;
  }

  private async process(msg: Exclude<ClientMessage, { type: 'join' }>): Promise<void> {
    if (this.state !== 'joined') return;
    try {
      switch (msg.type) {
        case 'offer': {
          const answer = await this.bounded(this.handler.onOffer(this, msg.sdp), 'offer');
          if (answer !== undefined) this.write({ type: 'answer', sdp: answer });
          break;
        }
        case 'answer':
          await this.bounded(this.handler.onAnswer(this, msg.sdp), 'answer');
          break;
        case 'media':
          this.handler.onMediaState(this, { audio: msg.audio, video: msg.video });
          break;
        case 'leave':
          this.endWith('leave', WS_CLOSE.normal, 'left');
          break;
      }
    } catch (err) {
      // There is no way back from a failed negotiation in this protocol: end the session.
      const e = wsErrorFor(err);
      this.log.warn({ err: errorMessage(err), message: msg.type }, 'browser message failed');
      this.fail(e.code, e.message, e.code === 'bad-message' ? 'bad-message' : 'ended');
    }
  }

  private bounded<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new ConfnodeError('timeout', `${what} took longer than ${this.limits.handlerTimeoutMs} ms`)),
        this.limits.handlerTimeoutMs,
      );
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  private fail(code: WsErrorCode, message: string, reason: WebRtcEndReason = 'bad-message'): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.log.info({ code, reason: message }, 'closing websocket after an error');
    if (this.state === 'joining') this.state = 'joined';
    this.write({ type: 'error', code, message });
    const closeCode = code === 'bad-message' || code === 'timeout' ? WS_CLOSE.policy : code === 'internal' ? WS_CLOSE.internal : WS_CLOSE.ended;
    this.endWith(reason, closeCode, message);
  }

  private endWith(reason: WebRtcEndReason, code: number, text: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.endReason ??= reason;
    this.state = 'closing';
    this.joinTimer?.cancel();
    this.ws.close(code, truncateUtf8(text, 120));
    // A peer that never completes the closing handshake is cut.
    this.closeTimer = this.clock.setTimeout(() => {
      if (this.state !== 'closed') this.ws.terminate();
    }, CLOSE_WAIT_MS);
  }

  private onSocketClosed(code: number): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.joinTimer?.cancel();
    this.pingTimer?.cancel();
    this.closeTimer?.cancel();
    this.endReason ??= code === WS_CLOSE.normal || code === WS_CLOSE.goingAway ? 'closed' : 'lost';
    const reason = this.endReason;
    this.log.debug({ code, reason }, 'websocket closed');
    const settled = this.joinSettled;
    if (!settled) {
      this.resolveClosed();
      return;
    }
    void settled.then(() => {
      try {
        this.handler.onClosed(this, reason);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'session close handler failed');
      }
      this.resolveClosed();
    });
  }

  private closedWithin(): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(resolve, CLOSE_WAIT_MS + 500);
      void this.closed.then(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(() => {
      if (this.state === 'closed') return;
      if (!this.alive) {
        this.endReason ??= 'lost';
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
