/**
 * One joined (or joining) browser as the handler sees it: the WebRtcSession it sends to, the
 * order in which its messages reach the handler, and its life across WebSockets. A socket that
 * drops abnormally (no pong, network change, anything but a normal close) detaches the session
 * for a grace period instead of ending it: the participant and its media stay, what the handler
 * sends meanwhile is kept (numbered, replay-log.ts), and a new socket that presents the resume
 * token takes over and gets what it missed. An offer of the node must be answered within
 * ANSWER_TIMEOUT_MS of socket time: the deadline stops while detached and starts again when the
 * resume replays the offer. The socket itself (frames, pings, limits) is
 * ws-server.ts's Connection; this module never imports `ws`.
 */
import { randomBytes } from 'node:crypto';
import { ConfnodeError, errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { WS_CLOSE, wsErrorFor, type ClientMessage, type JoinMessage, type ServerMessage, type WsErrorCode } from './protocol';
import { ReplayLog } from './replay-log';
import type { WebRtcCloseRequest, WebRtcEndReason, WebRtcSession, WebRtcSessionHandler } from './session';

/** What a session needs of the WebSocket it is attached to. */
export interface SessionSocket {
  readonly remote: string;
  /** Sends one text frame (dropped when the socket is closing or stuck). */
  writeText(text: string): void;
  /** Starts the closing handshake (bounded); the socket reports back through detach(). */
  end(code: number, reason: string): void;
}

export interface SessionLimits {
  handlerTimeoutMs: number;
  resumeGraceMs: number;
  answerTimeoutMs: number;
}

/** What happens to sessions across sockets, for the node's metrics. */
export type SessionEvent = 'detached' | 'resumed' | 'expired' | 'resume-refused';

/** Messages the handler has not finished yet; a browser that piles up more is cut off. */
const MAX_QUEUED = 32;
/** Handler messages buffered while its join is still being answered. */
const MAX_EARLY = 256;
const CLOSE_WAIT_MS = 2000;

type State = 'joining' | 'joined' | 'detached' | 'closing' | 'closed';

export class BrowserSession implements WebRtcSession {
  readonly closed: Promise<void>;
  /** Presented by `resume`; 24 random bytes, base64url. */
  readonly token = randomBytes(24).toString('base64url');
  private state: State = 'joining';
  private socket: SessionSocket | undefined;
  /** The browser's address as of its latest socket (kept while detached). */
  remote: string;
  private endReason: WebRtcEndReason | undefined;
  private joinSettled: Promise<void> = Promise.resolve();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private early: ServerMessage[] = [];
  /**
   * The browser's offer being answered, and server offers made meanwhile: those reach the page
   * after the answer. A server offer can be made as soon as the browser's offer is applied, and
   * when the media is on another node its event can overtake the answer's reply on the way here;
   * the page would then roll its offer back for ours and take the late answer for its next offer.
   */
  private answering = false;
  private heldOffers: ServerMessage[] = [];
  private readonly replay = new ReplayLog();
  /** The last client `seq` accepted (a resumed page resends what came after it). */
  private clientSeq = 0;
  private participantId = '';
  private graceTimer: TimerHandle | undefined;
  /** The node sent an offer the page has not answered yet. */
  private offerPending = false;
  private answerTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private resolveClosed: () => void = () => undefined;

  constructor(
    readonly id: string,
    socket: SessionSocket,
    private readonly handler: WebRtcSessionHandler,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly limits: SessionLimits,
    private readonly onEvent: (event: SessionEvent) => void = () => undefined,
  ) {
    this.socket = socket;
    this.remote = socket.remote;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Joined and not ending: a `resume` may take it over. */
  get resumable(): boolean {
    return this.state === 'joined' || this.state === 'detached';
  }

  send(message: ServerMessage): void {
    if (this.state === 'joining') {
      // The joined reply must come first: hold what the handler sends while it is answering.
      if (this.early.length < MAX_EARLY) this.early.push(message);
      return;
    }
    if (this.answering && message.type === 'offer') {
      if (this.heldOffers.length < MAX_EARLY) this.heldOffers.push(message);
      return;
    }
    this.deliver(message);
  }

  close(request: WebRtcCloseRequest): Promise<void> {
    if (request.error) this.deliver({ type: 'error', ...request.error });
    this.endWith('ended', WS_CLOSE.ended, request.reason);
    return this.closedWithin();
  }

  shutdown(): Promise<void> {
    this.endWith('shutdown', WS_CLOSE.goingAway, 'server shutting down');
    return this.closedWithin();
  }

  /** The first message of the session's first socket. */
  start(join: JoinMessage): void {
    const settled = (async () => {
      try {
        const joined = await this.bounded(this.handler.onJoin(this, join), 'join');
        if (this.state !== 'joining') return;
        this.state = 'joined';
        this.participantId = joined.participantId;
        this.deliver({ ...joined, resumeToken: this.token });
        const early = this.early;
        this.early = [];
        for (const m of early) this.deliver(m);
      } catch (err) {
        this.early = [];
        const e = wsErrorFor(err);
        if (e.code === 'internal') this.log.warn({ err: errorMessage(err) }, 'join failed');
        // A refused join never started the numbered conversation: its error carries no seq.
        this.socket?.writeText(JSON.stringify({ type: 'error', ...e }));
        this.endWith('refused', e.code === 'internal' ? WS_CLOSE.internal : WS_CLOSE.refused, e.message);
      }
    })();
    this.joinSettled = settled;
    this.chain = settled;
  }

  /** A validated message from the attached socket (not join or resume). */
  receive(from: SessionSocket, msg: Exclude<ClientMessage, { type: 'join' | 'resume' | 'ping' }>): void {
    if (from !== this.socket || this.state === 'closing' || this.state === 'closed') return;
    if (msg.seq !== undefined) {
      // Resent after a resume but already seen before the drop: processed once only.
      if (msg.seq <= this.clientSeq) return;
      this.clientSeq = msg.seq;
    }
    if (msg.type === 'answer') this.stopAnswerDeadline();
    if (this.queued >= MAX_QUEUED) {
      this.fail('bad-message', 'too many messages in flight');
      return;
    }
    this.queued++;
    this.chain = this.chain.then(() => this.process(msg)).finally(() => this.queued--);
  }

  /** The page's heartbeat says it processed everything up to `seq`. */
  acknowledge(from: SessionSocket, seq: number): void {
    if (from === this.socket) this.replay.acknowledge(Math.min(seq, this.replay.newest));
  }

  /**
   * A new socket presents this session's token. Returns false (the caller refuses the resume)
   * when the messages the page missed are no longer kept; the session then ends, since that page
   * will join afresh.
   */
  resume(socket: SessionSocket, lastSeq: number): boolean {
    if (!this.resumable) return false;
    const missed = this.replay.after(lastSeq);
    if (!missed) {
      this.log.info({ lastSeq, newest: this.replay.newest }, 'resume refused: the messages it missed are gone');
      this.onEvent('resume-refused');
      this.endWith('lost', WS_CLOSE.ended, 'resume failed');
      return false;
    }
    const old = this.socket;
    this.socket = socket;
    this.remote = socket.remote;
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
    this.state = 'joined';
    // The old socket may still look alive to us (the page noticed first): it is over.
    old?.end(WS_CLOSE.replaced, 'resumed on another connection');
    socket.writeText(JSON.stringify({ type: 'resumed', participantId: this.participantId, lastSeq: this.clientSeq }));
    for (const text of missed) socket.writeText(text);
    if (this.offerPending) this.startAnswerDeadline(); // the offer was just replayed, or never reached it
    this.log.info({ remote: socket.remote, replayed: missed.length, wasDetached: old === undefined }, 'browser session resumed');
    this.onEvent('resumed');
    return true;
  }

  /**
   * The attached socket is gone. `normal`: the browser closed it on purpose (1000/1001): the
   * session ends; otherwise a joined session waits for a resume.
   */
  detach(socket: SessionSocket, normal: boolean): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.state === 'joined' && !normal) {
      this.state = 'detached';
      // A page without a socket cannot answer: its deadline starts again when it resumes.
      this.answerTimer?.cancel();
      this.log.info({ graceMs: this.limits.resumeGraceMs }, 'websocket dropped: the participant stays while the browser may resume');
      this.onEvent('detached');
      this.graceTimer = this.clock.setTimeout(() => {
        this.log.info({}, 'no resume in time');
        this.onEvent('expired');
        this.finish('lost');
      }, this.limits.resumeGraceMs);
      return;
    }
    this.finish(this.endReason ?? (normal ? 'closed' : 'lost'));
  }

  /** Ends the session for a fault of its socket (rate, size, schema). */
  fail(code: WsErrorCode, message: string, reason: WebRtcEndReason = 'bad-message'): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.log.info({ code, reason: message }, 'closing websocket after an error');
    if (this.state === 'joining') this.state = 'joined';
    this.deliver({ type: 'error', code, message });
    const closeCode = code === 'bad-message' || code === 'timeout' ? WS_CLOSE.policy : code === 'internal' ? WS_CLOSE.internal : WS_CLOSE.ended;
    this.endWith(reason, closeCode, message);
  }

  private deliver(message: ServerMessage): void {
    if (this.state === 'joining' || this.state === 'closing' || this.state === 'closed') return;
    const text = this.replay.append((seq) => JSON.stringify({ ...message, seq }));
    this.socket?.writeText(text);
    if (message.type === 'offer') {
      this.offerPending = true;
      if (this.state === 'joined') this.startAnswerDeadline();
    }
  }

  private startAnswerDeadline(): void {
    this.answerTimer?.cancel();
    const ms = this.limits.answerTimeoutMs;
    this.answerTimer = this.clock.setTimeout(() => this.fail('timeout', `no answer to the server's offer within ${ms} ms`, 'timeout'), ms);
  }

  private stopAnswerDeadline(): void {
    this.offerPending = false;
    this.answerTimer?.cancel();
    this.answerTimer = undefined;
  }

  private async process(msg: Exclude<ClientMessage, { type: 'join' | 'resume' | 'ping' }>): Promise<void> {
    if (this.state !== 'joined' && this.state !== 'detached') return;
    try {
      switch (msg.type) {
        case 'offer': {
          this.answering = true;
          try {
            const answer = await this.bounded(this.handler.onOffer(this, msg.sdp), 'offer');
            if (answer !== undefined) this.deliver({ type: 'answer', sdp: answer });
          } finally {
            this.answering = false;
            for (const held of this.heldOffers.splice(0)) this.deliver(held);
          }
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

  private endWith(reason: WebRtcEndReason, code: number, text: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.endReason ??= reason;
    if (!this.socket) {
      this.finish(this.endReason);
      return;
    }
    this.state = 'closing';
    this.socket.end(code, text);
    // The socket reports its close through detach(); a stuck one is cut there, this is the backstop.
    this.closeTimer = this.clock.setTimeout(() => this.finish(this.endReason ?? reason), CLOSE_WAIT_MS + 500);
  }

  /** The end: the handler hears of it exactly once, after its join settled. */
  private finish(reason: WebRtcEndReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.socket = undefined;
    this.graceTimer?.cancel();
    this.closeTimer?.cancel();
    this.answerTimer?.cancel();
    this.early = [];
    void this.joinSettled.then(() => {
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
      const timer = this.clock.setTimeout(resolve, CLOSE_WAIT_MS + 1000);
      void this.closed.then(() => {
        timer.cancel();
        resolve();
      });
    });
  }
}
