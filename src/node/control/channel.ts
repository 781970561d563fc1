/**
 * The inter-node control channel (DESIGN.md section 6): typed calls and events between nodes over
 * authenticated WebSockets, generic over an op map and an event map. Every call has a timeout and
 * fails 'unavailable' at once when its peer cannot be reached; nothing a peer sends reaches a
 * handler or a listener before its MAC and its schema pass.
 */
import { randomBytes } from 'node:crypto';
import {
  ConfnodeError,
  RpcServer,
  TypedEmitter,
  errorMessage,
  eventFrame,
  systemClock,
  type Clock,
  type EventPayloads,
  type Logger,
  type NodeId,
  type OpMap,
  type OpName,
  type RpcEventFrame,
  type RpcHandlers,
  type RpcReplyFrame,
  type RpcRequestFrame,
} from '../../common';
import { HANDSHAKE_HEADERS, ReplayCache, deriveControlKey, handshakeHeaders, signAccept, verifyAccept, verifyHandshake, type AuthRefusal, type HandshakeClaims, type IncomingHeaders } from './auth';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { MAX_FRAME_BYTES } from './frames';
import { PeerSlot, type PeerState } from './peer';
import { copyControlStats, emptyControlStats, type CallOutcome, type ControlChannelEvents, type ControlEvent, type ControlProtocol, type ControlStats, type EventName } from './protocol';
import { dialControl } from './ws-dialer';
import { ControlLink, type LinkSocket } from './ws-link';
import { listenControl, type ControlListener, type UpgradeDecision } from './ws-server';

export interface ControlPeerAddress {
  address: string;
  port: number;
}

export interface ControlChannelOptions<Ops extends OpMap, Events extends EventPayloads> {
  /** This node's name (what peers dial and what they see as the sender). */
  node: NodeId;
  /** `cluster.secret`; the channel keeps only a key derived from it. */
  secret: string;
  /** The node's control address and `control_port` (0: any free port, for tests). */
  listen: ControlPeerAddress;
  /** A peer's control address; undefined for a node that is not in the cluster (refused). */
  resolvePeer(node: NodeId): ControlPeerAddress | undefined;
  protocol: ControlProtocol<Ops, Events>;
  /** The handlers serving one peer's calls (called once per link, with the caller's name). */
  handlers(peer: NodeId): RpcHandlers<Ops>;
  logger: Logger;
  /** Default timeout of a call, connecting included. Default 5000. */
  callTimeoutMs?: number;
  /** Bound on one dial (TCP and upgrade). Default 3000. */
  connectTimeoutMs?: number;
  /** A ping every interval; a link without a pong by the next one is dead. Default 5000. */
  pingIntervalMs?: number;
  backoff?: BackoffPolicy;
  /** Bound on one frame. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Requests of one link being served at once; more are answered 'busy'. Default 256. */
  maxInflight?: number;
  /** Links open at once; further upgrades get 503. Default 256. */
  maxLinks?: number;
  clock?: Clock;
  /** Wall-clock milliseconds for handshake timestamps (compared between machines). */
  wallClock?: () => number;
  randomNonce?: () => string;
  random?: () => number;
}

interface Serving<Ops extends OpMap> {
  server: RpcServer<Ops>;
  inflight: number;
}

function own<T>(record: { [key: string]: T }, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

function outcomeOf(err: unknown): CallOutcome {
  if (!(err instanceof ConfnodeError)) return 'failed';
  return err.code === 'timeout' ? 'timeout' : err.code === 'unavailable' ? 'unavailable' : 'failed';
}

/** RpcClient reports any send failure as 'unavailable'; a frame we refused to send is the caller's. */
function unwrapSendError(err: unknown): unknown {
  if (err instanceof ConfnodeError && err.cause instanceof ConfnodeError && err.cause.code === 'bad-request') return err.cause;
  return err;
}

export class ControlChannel<Ops extends OpMap, Events extends EventPayloads> {
  readonly node: NodeId;
  readonly events: TypedEmitter<ControlChannelEvents<Events>>;
  private readonly key: Buffer;
  private readonly replay: ReplayCache;
  private readonly counters = emptyControlStats();
  private readonly slots = new Map<NodeId, PeerSlot>();
  private readonly serving = new Map<ControlLink, Serving<Ops>>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private listener: ControlListener | undefined;
  private nextLinkId = 1;
  private readonly refusalLoggedAt = new Map<AuthRefusal, number>();
  private closing: Promise<void> | undefined;

  private constructor(private readonly opts: ControlChannelOptions<Ops, Events>) {
    this.node = opts.node;
    this.key = deriveControlKey(opts.secret);
    this.replay = new ReplayCache();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger.child({ component: 'control' });
    this.events = new TypedEmitter((err, event) => this.log.error({ err: errorMessage(err), event }, 'control channel listener failed'));
  }

  /** Listens on the control port and returns the channel. */
  static async open<Ops extends OpMap, Events extends EventPayloads>(opts: ControlChannelOptions<Ops, Events>): Promise<ControlChannel<Ops, Events>> {
    const channel = new ControlChannel(opts);
    channel.listener = await listenControl({
      address: opts.listen.address,
      port: opts.listen.port,
      maxFrameBytes: channel.maxFrameBytes,
      logger: channel.log,
      decide: (headers, remote) => channel.decide(headers, remote),
      onSocket: (ws, claims) => channel.accepted(ws, claims),
    });
    channel.log.info({ address: channel.listener.address }, 'control channel listening');
    return channel;
  }

  /** Where the control port listens. */
  get address(): ControlPeerAddress {
    if (!this.listener) throw new ConfnodeError('internal', 'control channel is not listening');
    return this.listener.address;
  }

  /** Calls `op` on `peer`; rejects with a ConfnodeError ('unavailable', 'timeout', or the peer's). */
  async call<K extends OpName<Ops>>(peer: NodeId, op: K, data: Ops[K]['req'], timeoutMs = this.callTimeoutMs): Promise<Ops[K]['res']> {
    const started = this.clock.now();
    let raw: unknown;
    try {
      const link = await this.linkTo(peer, timeoutMs);
      const left = Math.max(1, timeoutMs - (this.clock.now() - started));
      raw = await link.rpc.call(op, data, left);
    } catch (err) {
      const e = unwrapSendError(err);
      this.counters.calls[outcomeOf(e)]++;
      throw e;
    }
    const parsed = this.opts.protocol.replies[op].safeParse(raw);
    if (!parsed.success) {
      this.counters.badPayloads++;
      this.counters.calls.failed++;
      throw new ConfnodeError('internal', `node ${peer} answered ${op} with an invalid reply: ${parsed.error.issues[0]?.message ?? 'schema'}`);
    }
    this.counters.calls.ok++;
    return parsed.data;
  }

  /** Sends an event to `peer` (connecting on demand); resolves once it is written to a link. */
  async notify<K extends EventName<Events>>(peer: NodeId, name: K, data: Events[K]): Promise<void> {
    const link = await this.linkTo(peer, this.callTimeoutMs);
    link.send(eventFrame<Events, K>(name, data));
  }

  /** Opens a link to `peer` now rather than on the first call. */
  async connect(peer: NodeId): Promise<void> {
    await this.linkTo(peer, this.callTimeoutMs);
  }

  /** The peer left the cluster: close its links and stop reconnecting. */
  forget(peer: NodeId): Promise<void> {
    const slot = this.slots.get(peer);
    if (!slot) return Promise.resolve();
    this.slots.delete(peer);
    return slot.close('peer forgotten');
  }

  peerState(peer: NodeId): PeerState {
    return this.slots.get(peer)?.state ?? 'idle';
  }

  connectedPeers(): NodeId[] {
    return [...this.slots].filter(([, s]) => s.state === 'connected').map(([p]) => p);
  }

  stats(): ControlStats {
    return copyControlStats(this.counters);
  }

  /** Closes every link (pending calls fail 'unavailable') and the control port. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.slots.values()].map((s) => s.close('node shutting down')));
      await Promise.allSettled([...this.serving.keys()].map((l) => l.close(1001, 'node shutting down')));
      await this.listener?.close();
      this.log.info({}, 'control channel closed');
    })();
    return this.closing;
  }

  private get callTimeoutMs(): number {
    return this.opts.callTimeoutMs ?? 5000;
  }

  private get maxFrameBytes(): number {
    return this.opts.maxFrameBytes ?? MAX_FRAME_BYTES;
  }

  private linkTo(peer: NodeId, waitMs: number): Promise<ControlLink> {
    if (this.closing) return Promise.reject(new ConfnodeError('unavailable', 'control channel closed'));
    if (peer === this.node) return Promise.reject(new ConfnodeError('bad-request', 'a node does not call itself over the control channel'));
    return this.slot(peer).ensureLink(waitMs);
  }

  private slot(peer: NodeId): PeerSlot {
    let slot = this.slots.get(peer);
    if (!slot) {
      slot = new PeerSlot({
        self: this.node,
        peer,
        clock: this.clock,
        random: this.opts.random ?? Math.random,
        backoff: this.opts.backoff ?? DEFAULT_BACKOFF,
        logger: this.log,
        dial: () => this.dial(peer),
        onUp: () => {
          this.log.info({ peer }, 'control link up');
          this.events.emit('peerUp', peer);
        },
        onDown: (why) => {
          this.log.warn({ peer, why }, 'control link down');
          this.events.emit('peerDown', peer, why);
        },
      });
      this.slots.set(peer, slot);
    }
    return slot;
  }

  private decide(headers: IncomingHeaders, remote: string): UpgradeDecision<undefined> {
    if (this.closing) return { accept: false, status: 503, reason: 'shutting down' };
    if (this.serving.size >= (this.opts.maxLinks ?? 256)) return { accept: false, status: 503, reason: 'too many links' };
    const verdict = verifyHandshake(headers, {
      key: this.key,
      self: this.node,
      now: (this.opts.wallClock ?? Date.now)(),
      isKnownNode: (n) => this.opts.resolvePeer(n as NodeId) !== undefined,
      replay: this.replay,
    });
    if (!verdict.ok) {
      this.counters.handshakesRefused[verdict.reason]++;
      this.logRefusal(verdict.reason, `${verdict.detail} (${remote})`);
      return { accept: false, status: 401, reason: `${verdict.reason}: ${verdict.detail} (${remote})` };
    }
    this.counters.handshakesAccepted++;
    const replyHeaders = { [HANDSHAKE_HEADERS.node]: this.node, [HANDSHAKE_HEADERS.sig]: signAccept(this.key, this.node, verdict.claims) };
    return { accept: true, claims: verdict.claims, replyHeaders, context: undefined };
  }

  /** One line per reason per 10 s: a wrong secret is worth seeing, a flood of them is not worth a log each. */
  private logRefusal(reason: AuthRefusal, detail: string): void {
    const now = this.clock.now();
    const last = this.refusalLoggedAt.get(reason);
    if (last !== undefined && now - last < 10_000) return;
    this.refusalLoggedAt.set(reason, now);
    this.log.warn({ reason, detail, refused: this.counters.handshakesRefused[reason] }, 'control handshake refused');
  }

  private accepted(ws: LinkSocket, claims: HandshakeClaims): void {
    if (this.closing) {
      ws.terminate();
      return;
    }
    const peer = claims.from as NodeId;
    this.slot(peer).addLink(this.newLink(ws, peer, peer, claims.nonce));
  }

  private dial(peer: NodeId): Promise<ControlLink> {
    const where = this.opts.resolvePeer(peer);
    if (!where) {
      this.counters.dialFailures++;
      return Promise.reject(new ConfnodeError('unavailable', `node ${peer} is not a known node of the cluster`));
    }
    const claims: HandshakeClaims = { from: this.node, to: peer, ts: (this.opts.wallClock ?? Date.now)(), nonce: (this.opts.randomNonce ?? defaultNonce)() };
    return dialControl({
      peer,
      address: where.address,
      port: where.port,
      headers: handshakeHeaders(this.key, claims),
      handshakeTimeoutMs: this.opts.connectTimeoutMs ?? 3000,
      maxFrameBytes: this.maxFrameBytes,
      checkReply: (h) => (verifyAccept(this.key, peer, claims, h) ? undefined : `the node there did not prove it is ${peer} (wrong address, or another secret)`),
      onOpen: (ws) => {
        if (this.closing) throw new ConfnodeError('unavailable', 'control channel closed');
        const link = this.newLink(ws, peer, this.node, claims.nonce);
        this.slot(peer).addLink(link);
        return link;
      },
    }).catch((err: unknown) => {
      this.counters.dialFailures++;
      throw err;
    });
  }

  private newLink(ws: LinkSocket, peer: NodeId, dialedBy: NodeId, nonce: string): ControlLink {
    const link = new ControlLink(ws, {
      id: this.nextLinkId++,
      self: this.node,
      peer,
      dialedBy,
      nonce,
      key: this.key,
      clock: this.clock,
      logger: this.log.child({ peer }),
      counters: this.counters,
      pingIntervalMs: this.opts.pingIntervalMs ?? 5000,
      maxFrameBytes: this.maxFrameBytes,
      callTimeoutMs: this.callTimeoutMs,
      onFrame: (l, frame) => (frame.kind === 'req' ? this.serve(l, frame) : this.onEvent(l, frame)),
      onClosed: (l, why) => {
        this.serving.delete(l);
        this.counters.links = this.serving.size;
        this.slots.get(l.peer)?.linkClosed(l, why);
      },
    });
    const serving: Serving<Ops> = { server: new RpcServer<Ops>(this.opts.handlers(peer), (reply) => this.reply(link, serving, reply)), inflight: 0 };
    this.serving.set(link, serving);
    this.counters.links = this.serving.size;
    return link;
  }

  private serve(link: ControlLink, frame: RpcRequestFrame): void {
    const serving = this.serving.get(link);
    if (!serving) return;
    const schema = own(this.opts.protocol.requests, frame.op);
    let refusal: ConfnodeError | undefined;
    if (serving.inflight >= (this.opts.maxInflight ?? 256)) refusal = new ConfnodeError('busy', `node ${this.node} is serving too many requests of yours`);
    else if (!schema) refusal = new ConfnodeError('bad-request', `unknown operation '${frame.op}'`);
    let data: unknown;
    if (!refusal && schema) {
      const parsed = schema.safeParse(frame.data);
      if (parsed.success) data = parsed.data;
      else {
        this.counters.badPayloads++;
        refusal = new ConfnodeError('bad-request', `invalid ${frame.op} request: ${parsed.error.issues[0]?.message ?? 'schema'}`);
      }
    }
    serving.inflight++;
    if (refusal) this.reply(link, serving, { kind: 'res', id: frame.id, ok: false, code: refusal.code, message: refusal.message });
    else serving.server.handle({ ...frame, data });
  }

  /** Every request gets exactly one reply; a reply that cannot be sealed becomes an error reply. */
  private reply(link: ControlLink, serving: Serving<Ops>, reply: RpcReplyFrame): void {
    serving.inflight--;
    this.counters.served[reply.ok ? 'ok' : 'failed']++;
    try {
      link.send(reply);
    } catch (err) {
      if (!(err instanceof ConfnodeError) || err.code !== 'bad-request' || !reply.ok) return; // the link is gone: the caller has failed already
      this.counters.served.ok--;
      this.counters.served.failed++;
      this.log.error({ peer: link.peer, err: err.message }, 'control reply could not be sent');
      try {
        link.send({ kind: 'res', id: reply.id, ok: false, code: 'internal', message: `reply could not be sent: ${err.message}` });
      } catch {
        // the link went down in between: nothing to answer on
      }
    }
  }

  private onEvent(link: ControlLink, frame: RpcEventFrame): void {
    const schema = own(this.opts.protocol.events, frame.name);
    const parsed = schema?.safeParse(frame.data);
    if (!parsed?.success) {
      this.counters.badPayloads++;
      this.log.debug({ peer: link.peer, event: frame.name }, 'control event dropped: unknown or invalid');
      return;
    }
    this.events.emit('event', { from: link.peer, name: frame.name, data: parsed.data } as ControlEvent<Events>);
  }
}

function defaultNonce(): string {
  return randomBytes(18).toString('base64url');
}
