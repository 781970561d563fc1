/**
 * A small client of Janus's HTTP API (loopback, bench only): one session, handles attached to
 * janus.plugin.audiobridge, synchronous plugin requests, and asynchronous ones whose event is
 * picked from a long poll by transaction. Every request has a timeout, the long poll stops when
 * the session is closed, and no reply is trusted before bench/janus/janus-api.ts has parsed it.
 */
import { randomBytes } from 'node:crypto';
import {
  AUDIOBRIDGE_PLUGIN,
  isAck,
  joinRtpBody,
  longPollEvents,
  parseIdReply,
  parseJoinedRtp,
  type JanusCodec,
  type JanusParticipantSettings,
} from './janus-api';

const REQUEST_TIMEOUT_MS = 10_000;
/** Janus holds a long poll up to 30 s before it answers a keepalive. */
const LONG_POLL_TIMEOUT_MS = 45_000;
const MAX_EVENTS_PER_POLL = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function postJson(url: string, body: Record<string, unknown>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`janus HTTP ${res.status} for ${String(body['janus'])}`);
  return (await res.json()) as unknown;
}

interface Waiter {
  resolve: (m: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class JanusSession {
  private readonly waiters = new Map<string, Waiter>();
  private readonly prefix = randomBytes(4).toString('hex');
  private counter = 0;
  private closed = false;
  private polling: Promise<void> | undefined;

  private constructor(
    /** e.g. http://127.0.0.1:8088/janus */
    private readonly base: string,
    readonly id: number,
  ) {}

  static async create(base: string): Promise<JanusSession> {
    const r = parseIdReply(await postJson(base, { janus: 'create', transaction: `create-${randomBytes(4).toString('hex')}` }));
    if (!r.ok) throw new Error(`janus create session: ${r.reason}`);
    return new JanusSession(base, r.value);
  }

  private transaction(): string {
    return `${this.prefix}-${++this.counter}`;
  }

  /** A new handle on the AudioBridge plugin. */
  async attach(): Promise<number> {
    const r = parseIdReply(await postJson(`${this.base}/${this.id}`, { janus: 'attach', plugin: AUDIOBRIDGE_PLUGIN, transaction: this.transaction() }));
    if (!r.ok) throw new Error(`janus attach: ${r.reason}`);
    return r.value;
  }

  /** A synchronous plugin request (create, exists, ...): the reply as received. */
  request(handle: number, body: Record<string, unknown>): Promise<unknown> {
    return postJson(`${this.base}/${this.id}/${handle}`, { janus: 'message', body, transaction: this.transaction() });
  }

  /**
   * An asynchronous plugin request (join, configure, leave): the event carrying its transaction,
   * from the long poll, within `timeoutMs`. A reply that is not an ack is the answer itself.
   */
  async requestAsync(handle: number, body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.closed) throw new Error('janus session closed');
    this.startPolling();
    const transaction = this.transaction();
    const event = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(transaction);
        reject(new Error(`janus ${String(body['request'])}: no event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(transaction, { resolve, reject, timer });
    });
    // The event may come back on the poll before the POST returns: the waiter is set first.
    let reply: unknown;
    try {
      reply = await postJson(`${this.base}/${this.id}/${handle}`, { janus: 'message', body, transaction }, timeoutMs);
    } catch (e) {
      this.settle(transaction, undefined, e instanceof Error ? e : new Error(String(e)));
      event.catch(() => undefined);
      throw e;
    }
    if (!isAck(reply)) this.settle(transaction, reply);
    return event;
  }

  private settle(transaction: string, message: unknown, error?: Error): void {
    const w = this.waiters.get(transaction);
    if (!w) return;
    this.waiters.delete(transaction);
    clearTimeout(w.timer);
    if (error) w.reject(error);
    else w.resolve(message);
  }

  private startPolling(): void {
    this.polling ??= this.pollLoop();
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const res = await fetch(`${this.base}/${this.id}?maxev=${MAX_EVENTS_PER_POLL}`, { signal: AbortSignal.timeout(LONG_POLL_TIMEOUT_MS) });
        const body = (await res.json()) as unknown;
        for (const e of longPollEvents(body)) if (e.transaction !== undefined) this.settle(e.transaction, e.message);
      } catch {
        // Janus restarting or the session gone: waiters time out on their own; do not spin.
        if (!this.closed) await sleep(200);
      }
    }
  }

  /** Destroys the session (Janus drops its handles and their participants) and ends the poll. */
  async destroy(): Promise<boolean> {
    if (this.closed) return true;
    this.closed = true;
    for (const [t] of this.waiters) this.settle(t, undefined, new Error('janus session closed'));
    try {
      const r = await postJson(`${this.base}/${this.id}`, { janus: 'destroy', transaction: this.transaction() });
      return parseIdReplyOk(r);
    } catch {
      return false;
    }
  }
}

function parseIdReplyOk(reply: unknown): boolean {
  return typeof reply === 'object' && reply !== null && (reply as { janus?: unknown }).janus === 'success';
}

/** What a plain-RTP participant needs after its join: where to send, and how long the join took. */
export interface JanusJoin {
  media: { address: string; port: number };
  setupMs: number;
}

/**
 * The load generator's side of Janus: one session, one handle per participant, each joined as a
 * plain-RTP participant whose mix Janus sends to `rtp` (the generator's shared socket).
 */
export class JanusRtpJoiner {
  private joined = 0;
  private constructor(private readonly session: JanusSession) {}

  static async open(base: string): Promise<JanusRtpJoiner> {
    return new JanusRtpJoiner(await JanusSession.create(base));
  }

  async join(o: {
    room: number;
    display: string;
    codec: JanusCodec;
    payloadType: number;
    rtp: { ip: string; port: number };
    settings: JanusParticipantSettings;
    timeoutMs?: number;
  }): Promise<JanusJoin> {
    const t0 = performance.now();
    const handle = await this.session.attach();
    const event = await this.session.requestAsync(handle, joinRtpBody(o), o.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const j = parseJoinedRtp(event);
    if (!j.ok) throw new Error(`janus join room ${o.room}: ${j.reason}`);
    if (o.codec === 'opus' && j.value.payloadType !== undefined && j.value.payloadType !== o.payloadType) {
      throw new Error(`janus join room ${o.room}: payload type ${j.value.payloadType}, asked for ${o.payloadType}`);
    }
    this.joined++;
    return { media: j.value.media, setupMs: performance.now() - t0 };
  }

  /** Ends every participant of this joiner at once (the session goes): how many, and whether Janus agreed. */
  async close(): Promise<{ participants: number; ok: boolean }> {
    const ok = await this.session.destroy();
    return { participants: this.joined, ok };
  }
}
