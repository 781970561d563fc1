/**
 * Typed request/reply and events over any ordered message transport (a worker thread's port today,
 * the inter-node control channel next): one map of operations, typed at both ends, one pending
 * table per peer with a timeout on every call (mediasoup's Channel). Never knows what it carries.
 */
import { ConfnodeError, isErrorCode, type ErrorCode } from './errors';

/** Operation name -> its request and reply types. */
export type OpMap = { [op: string]: { req: unknown; res: unknown } };
/** Event name -> its payload type. */
export type EventPayloads = { [event: string]: unknown };

export interface RpcRequestFrame {
  kind: 'req';
  id: number;
  op: string;
  data: unknown;
}
export type RpcReplyFrame = { kind: 'res'; id: number; ok: true; data: unknown } | { kind: 'res'; id: number; ok: false; code: ErrorCode; message: string };
export interface RpcEventFrame {
  kind: 'evt';
  name: string;
  data: unknown;
}
export type RpcFrame = RpcRequestFrame | RpcReplyFrame | RpcEventFrame;

export type OpName<M extends OpMap> = keyof M & string;
export type RpcHandlers<M extends OpMap> = { [K in OpName<M>]: (data: M[K]['req']) => M[K]['res'] | Promise<M[K]['res']> };

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface RpcClientOptions {
  /** Who answers (logs and error messages): "media worker 1", "node USConf02". */
  peer: string;
  timeoutMs: number;
}

/**
 * The calling side. `send` must deliver frames in order; replies come back through `handleReply`.
 * When the transport dies, `failAll` rejects this peer's pending calls only.
 */
export class RpcClient<M extends OpMap> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedWith: ConfnodeError | undefined;

  constructor(
    private readonly send: (frame: RpcRequestFrame) => void,
    private readonly opts: RpcClientOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  call<K extends OpName<M>>(op: K, data: M[K]['req'], timeoutMs = this.opts.timeoutMs): Promise<M[K]['res']> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<M[K]['res']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConfnodeError('timeout', `${this.opts.peer} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.send({ kind: 'req', id, op, data });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new ConfnodeError('unavailable', `cannot reach ${this.opts.peer}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
    });
  }

  handleReply(frame: RpcReplyFrame): void {
    const p = this.pending.get(frame.id);
    if (!p) return; // timed out already, or not ours
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.ok) p.resolve(frame.data);
    else p.reject(new ConfnodeError(errorCodeOf(frame.code), String(frame.message)));
  }

  /** The transport is gone: every pending call of this peer fails; with `permanent`, later ones too. */
  failAll(err: ConfnodeError, permanent = false): void {
    if (permanent) this.closedWith = err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

/**
 * The answering side: dispatches a request to its typed handler and replies once, with the
 * handler's value or its error (code kept when it is a ConfnodeError). Unknown ops get 'bad-request'.
 */
export class RpcServer<M extends OpMap> {
  constructor(
    private readonly handlers: RpcHandlers<M>,
    private readonly reply: (frame: RpcReplyFrame) => void,
  ) {}

  handle(frame: RpcRequestFrame): void {
    const handler = Object.prototype.hasOwnProperty.call(this.handlers, frame.op) ? this.handlers[frame.op as OpName<M>] : undefined;
    if (!handler) {
      this.fail(frame.id, new ConfnodeError('bad-request', `unknown operation '${frame.op}'`));
      return;
    }
    let result: unknown;
    try {
      result = handler(frame.data as M[OpName<M>]['req']);
    } catch (err) {
      this.fail(frame.id, err);
      return;
    }
    Promise.resolve(result).then(
      (data) => this.reply({ kind: 'res', id: frame.id, ok: true, data }),
      (err: unknown) => this.fail(frame.id, err),
    );
  }

  private fail(id: number, err: unknown): void {
    const code: ErrorCode = err instanceof ConfnodeError ? err.code : 'internal';
    this.reply({ kind: 'res', id, ok: false, code, message: err instanceof Error ? err.message : String(err) });
  }
}

/** Builds a typed event frame (the sending side of an event map). */
export function eventFrame<E extends EventPayloads, K extends keyof E & string>(name: K, data: E[K]): RpcEventFrame {
  return { kind: 'evt', name, data };
}

/** Reads an error code that came over a transport: anything unknown becomes 'internal'. */
export function errorCodeOf(code: unknown): ErrorCode {
  return isErrorCode(code) ? code : 'internal';
}
