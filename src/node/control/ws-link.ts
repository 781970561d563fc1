/**
 * One authenticated WebSocket between two nodes (a link): sealed frames both ways, liveness pings,
 * and the pending table of the calls sent on it, which fails at once when the link goes. Knows
 * nothing of ops or handlers: requests and events go to its owner, replies to its RpcClient.
 */
import type { RawData, WebSocket } from 'ws';
import { ConfnodeError, RpcClient, errorMessage, type Clock, type Logger, type NodeId, type OpMap, type RpcEventFrame, type RpcFrame, type RpcRequestFrame, type TimerHandle } from '../../common';
import { openFrame, sealFrame } from './frames';
import type { ControlStats } from './protocol';

/** A peer that stopped reading must not make us hold its frames forever. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A peer that never completes the closing handshake is cut. */
const CLOSE_WAIT_MS = 2000;
/** The socket a link runs on, named here so that only ws-* modules import `ws`. */
export type LinkSocket = WebSocket;

/** WebSocket close codes we send. */
export const LINK_CLOSE = { normal: 1000, goingAway: 1001, policy: 1008 } as const;

export interface LinkOptions {
  /** Orders links of one peer: the newest has the highest id. */
  id: number;
  self: NodeId;
  peer: NodeId;
  /** Who dialed: both ends prefer the same link when two exist (see peer.ts). */
  dialedBy: NodeId;
  /** The handshake's nonce, which every frame MAC of this link covers. */
  nonce: string;
  key: Buffer;
  clock: Clock;
  logger: Logger;
  /** The channel's counters, updated in place. */
  counters: ControlStats;
  pingIntervalMs: number;
  maxFrameBytes: number;
  callTimeoutMs: number;
  onFrame(link: ControlLink, frame: RpcRequestFrame | RpcEventFrame): void;
  onClosed(link: ControlLink, why: string): void;
}

export class ControlLink {
  readonly id: number;
  readonly peer: NodeId;
  readonly dialedBy: NodeId;
  /** Calls sent on this link; replies come back on it. Data is checked by the channel. */
  readonly rpc: RpcClient<OpMap>;
  readonly closed: Promise<void>;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private why = '';
  private sendSeq = 0;
  private recvSeq = 0;
  private alive = true;
  private pingTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private resolveClosed: () => void = () => undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: LinkOptions,
  ) {
    this.id = opts.id;
    this.peer = opts.peer;
    this.dialedBy = opts.dialedBy;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.rpc = new RpcClient<OpMap>((frame) => this.send(frame), { peer: `node ${opts.peer}`, timeoutMs: opts.callTimeoutMs });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (err: Error & { code?: string }) => this.onError(err));
    ws.on('close', (code, reason) => this.onSocketClosed(code, reason.toString('utf8')));
    this.schedulePing();
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.ws.readyState === this.ws.OPEN;
  }

  /** Seals and writes one frame; throws ConfnodeError ('unavailable' or 'bad-request'). */
  send(frame: RpcFrame): void {
    if (!this.isOpen) throw new ConfnodeError('unavailable', `link to ${this.peer} is closed`);
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.terminate(`peer stopped reading (${this.ws.bufferedAmount} bytes queued)`);
      throw new ConfnodeError('unavailable', `link to ${this.peer} is congested`);
    }
    const ctx = { sender: this.opts.self, receiver: this.peer, nonce: this.opts.nonce, seq: this.sendSeq };
    const bytes = sealFrame(this.opts.key, ctx, frame, this.opts.maxFrameBytes);
    this.sendSeq++;
    this.ws.send(bytes, { binary: true });
    this.opts.counters.framesOut++;
  }

  /** Closes the link; its pending calls fail now, not when the peer acknowledges. Idempotent. */
  close(code: number = LINK_CLOSE.normal, reason = 'closing'): Promise<void> {
    if (this.state !== 'open') return this.closed;
    this.state = 'closing';
    this.why ||= reason;
    this.rpc.failAll(new ConfnodeError('unavailable', `link to ${this.peer} closed: ${reason}`), true);
    this.ws.close(code, reason.slice(0, 120));
    this.closeTimer = this.opts.clock.setTimeout(() => this.ws.terminate(), CLOSE_WAIT_MS);
    return this.closed;
  }

  /** Cuts the socket without a closing handshake (a dead or hostile peer). */
  terminate(reason: string): void {
    if (this.state === 'closed') return;
    this.why ||= reason;
    this.rpc.failAll(new ConfnodeError('unavailable', `link to ${this.peer} lost: ${reason}`), true);
    this.ws.terminate();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state !== 'open') return;
    this.alive = true;
    if (!isBinary) {
      this.badFrame('text message on a binary channel');
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const ctx = { sender: this.peer, receiver: this.opts.self, nonce: this.opts.nonce, seq: this.recvSeq++ };
    const opened = openFrame(this.opts.key, ctx, buf);
    if (!opened.ok) {
      this.badFrame(opened.error);
      return;
    }
    this.opts.counters.framesIn++;
    const frame = opened.frame;
    if (frame.kind === 'res') this.rpc.handleReply(frame);
    else this.opts.onFrame(this, frame);
  }

  private badFrame(error: string): void {
    this.opts.counters.badFrames++;
    this.opts.logger.warn({ peer: this.peer, error }, 'malformed control frame: closing the link');
    void this.close(LINK_CLOSE.policy, `malformed frame: ${error}`);
  }

  private onError(err: Error & { code?: string }): void {
    // ws reports protocol violations (oversized or broken frames) as WS_ERR_* and closes itself.
    if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) {
      this.opts.counters.badFrames++;
      this.why ||= `malformed frame: ${err.message}`;
    } else this.why ||= `socket error: ${errorMessage(err)}`;
    this.opts.logger.debug({ peer: this.peer, err: errorMessage(err), code: err.code }, 'control link error');
  }

  private onSocketClosed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pingTimer?.cancel();
    this.closeTimer?.cancel();
    this.why ||= `closed by peer (${code}${reason ? ` ${reason}` : ''})`;
    this.rpc.failAll(new ConfnodeError('unavailable', `link to ${this.peer} lost: ${this.why}`), true);
    this.opts.onClosed(this, this.why);
    this.resolveClosed();
  }

  private schedulePing(): void {
    this.pingTimer = this.opts.clock.setTimeout(() => {
      if (this.state !== 'open') return;
      if (!this.alive) {
        this.terminate(`no answer to pings for ${this.opts.pingIntervalMs} ms`);
        return;
      }
      this.alive = false;
      this.ws.ping();
      this.schedulePing();
    }, this.opts.pingIntervalMs);
  }
}
