/**
 * Transaction layer: matches requests and responses to transactions (RFC 3261 17.1.3, 17.2.3,
 * 9.2 for CANCEL), creates server transactions for new requests and bounds their number.
 * Never hands a retransmission or a non-2xx ACK to the UA core; never awaits on the packet path.
 */
import type { SipEndpointAddress, SipTransportKind } from '../session';
import { type SipRequest, type SipResponse, getHeader } from '../message';
import { getVias, parseCSeq, parseNameAddr } from '../headers';
import { createResponse } from '../build';
import type { SipTimerConfig } from '../timers';
import type { Clock } from '../../../common';
import type { TransactionEnv } from './common';
import { InviteServerTransaction } from './invite-server';
import { NonInviteServerTransaction } from './non-invite-server';
import { InviteClientTransaction } from './invite-client';
import { type ClientTransactionUser, NonInviteClientTransaction } from './non-invite-client';

/** Where a request or response came from; connectionId pins TCP/TLS responses to their connection. */
export interface InboundSource {
  transport: SipTransportKind;
  address: string;
  port: number;
  connectionId?: number;
}

/** Target of a request we send; `connectionId` prefers an open TCP or TLS flow (e.g. the one the INVITE used). */
export interface OutboundTarget extends SipEndpointAddress {
  connectionId?: number;
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export interface TransactionCore {
  /** A new request (never a retransmission); the core answers through `tx`. */
  onRequest(req: SipRequest, src: InboundSource, tx: ServerTransaction): void;
  /** A CANCEL, with the INVITE server transaction it cancels (undefined: none, answer 481). */
  onCancel(cancel: SipRequest, src: InboundSource, tx: NonInviteServerTransaction, invite: InviteServerTransaction | undefined): void;
  /** An ACK that matched no server transaction: the ACK of a 2xx (end to end, 13.2.2.4). */
  onAck(ack: SipRequest, src: InboundSource): void;
}

export interface TransactionLayerOptions {
  clock: Clock;
  timers: SipTimerConfig;
  /** Server plus client transactions alive at once; new requests over it get a stateless 503. */
  maxTransactions: number;
  sendResponse(res: SipResponse, src: InboundSource, onError: () => void): void;
  sendRequest(req: SipRequest, target: OutboundTarget, onError: () => void): void;
  core: TransactionCore;
}

const MAGIC_COOKIE = 'z9hG4bK';

export interface TransactionLayerStats {
  serverTransactions: number;
  clientTransactions: number;
  rejectedOverLimit: number;
  /** Completed non-INVITE server transactions dropped early to make room at the limit. */
  evictedCompleted: number;
  unmatchedResponses: number;
  droppedNoVia: number;
}

export class TransactionLayer {
  private readonly server = new Map<string, ServerTransaction>();
  private readonly client = new Map<string, ClientTransaction>();
  private rejectedOverLimit = 0;
  private evicted = 0;
  private unmatchedResponses = 0;
  private droppedNoVia = 0;

  constructor(private readonly opts: TransactionLayerOptions) {}

  receiveRequest(req: SipRequest, src: InboundSource): void {
    const key = serverKey(req, req.method === 'ACK' ? 'INVITE' : req.method);
    if (key === undefined) {
      this.droppedNoVia++;
      return;
    }
    const existing = this.server.get(key);
    if (req.method === 'ACK') {
      // An ACK that hits an INVITE transaction in Accepted is a 2xx ACK from a UA reusing the branch.
      if (existing instanceof InviteServerTransaction && existing.state !== 'accepted') existing.receiveRequest(req);
      else this.opts.core.onAck(req, src);
      return;
    }
    if (existing) {
      existing.receiveRequest(req);
      return;
    }
    if (this.size() >= this.opts.maxTransactions && !this.evictCompleted()) {
      this.rejectedOverLimit++;
      const res = createResponse(req, 503, 'Service Unavailable', { headers: [{ name: 'Retry-After', value: '5' }] });
      this.opts.sendResponse(res, src, () => undefined);
      return;
    }
    this.createServerTransaction(req, src, key);
  }

  receiveResponse(res: SipResponse, _src: InboundSource): void {
    const key = clientKeyOfResponse(res);
    const tx = key === undefined ? undefined : this.client.get(key);
    if (!tx) {
      this.unmatchedResponses++;
      return;
    }
    tx.receiveResponse(res);
  }

  /** Starts a client transaction; the request must already carry our Via with a fresh branch. */
  sendRequest(req: SipRequest, target: OutboundTarget, user: ClientTransactionUser): ClientTransaction | undefined {
    const key = clientKeyOfRequest(req);
    if (key === undefined) return undefined;
    const env: TransactionEnv = { clock: this.opts.clock, timers: this.opts.timers, reliable: target.transport !== 'udp' };
    const send = (r: SipRequest): void => this.opts.sendRequest(r, target, () => tx.transportError());
    const tx: ClientTransaction =
      req.method === 'INVITE' ? new InviteClientTransaction(env, req, send, user) : new NonInviteClientTransaction(env, req, send, user);
    tx.onTerminated = () => {
      if (this.client.get(key) === tx) this.client.delete(key);
    };
    this.client.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * At the limit, a non-INVITE server transaction that already answered (Completed, only waiting
   * out Timer J to absorb retransmissions) gives way to new work: the worst case is a late
   * retransmitted BYE answered 481. Without this, 32 s of Timer J at a high call rate would fill
   * the table with finished work and refuse new calls.
   */
  private evictCompleted(): boolean {
    for (const tx of this.server.values()) {
      if (tx instanceof NonInviteServerTransaction && tx.state === 'completed') {
        tx.terminate();
        this.evicted++;
        return true;
      }
    }
    return false;
  }

  size(): number {
    return this.server.size + this.client.size;
  }

  stats(): TransactionLayerStats {
    return {
      serverTransactions: this.server.size,
      clientTransactions: this.client.size,
      rejectedOverLimit: this.rejectedOverLimit,
      evictedCompleted: this.evicted,
      unmatchedResponses: this.unmatchedResponses,
      droppedNoVia: this.droppedNoVia,
    };
  }

  /** Stops every timer (shutdown); users are not told. */
  terminateAll(): void {
    for (const tx of [...this.server.values()]) tx.terminate();
    for (const tx of [...this.client.values()]) tx.terminate();
  }

  private createServerTransaction(req: SipRequest, src: InboundSource, key: string): void {
    const env: TransactionEnv = { clock: this.opts.clock, timers: this.opts.timers, reliable: src.transport !== 'udp' };
    const send = (r: SipResponse): void => this.opts.sendResponse(r, src, () => tx.transportError());
    const tx: ServerTransaction =
      req.method === 'INVITE' ? new InviteServerTransaction(env, req, send) : new NonInviteServerTransaction(env, req, send);
    tx.onTerminated = () => {
      if (this.server.get(key) === tx) this.server.delete(key);
    };
    this.server.set(key, tx);
    if (tx instanceof InviteServerTransaction) {
      // 17.2.1: we answer INVITEs through a handler that may take a while, so 100 Trying at once.
      tx.respond(createResponse(req, 100, 'Trying'));
      this.opts.core.onRequest(req, src, tx);
      return;
    }
    if (req.method === 'CANCEL') {
      const inviteKey = serverKey(req, 'INVITE');
      const invite = inviteKey === undefined ? undefined : this.server.get(inviteKey);
      this.opts.core.onCancel(req, src, tx, invite instanceof InviteServerTransaction ? invite : undefined);
      return;
    }
    this.opts.core.onRequest(req, src, tx);
  }
}

/**
 * 17.2.3: branch + sent-by + method for RFC 3261 branches; older peers (no magic cookie) are
 * matched on Call-ID, From tag, CSeq number and sent-by, which is enough for retransmissions.
 */
export function serverKey(req: SipRequest, method: string): string | undefined {
  const top = getVias(req)?.[0];
  if (!top) return undefined;
  const sentBy = `${top.host.toLowerCase()}:${top.port ?? ''}`;
  const branch = top.branch ?? top.params['branch'] ?? undefined;
  if (branch && branch.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  const cseq = parseCSeq(getHeader(req, 'CSeq') ?? '');
  const fromTag = parseNameAddr(getHeader(req, 'From') ?? '')?.tag ?? '';
  return `legacy|${getHeader(req, 'Call-ID') ?? ''}|${fromTag}|${cseq?.seq ?? ''}|${sentBy}|${method}`;
}

function clientKeyOfRequest(req: SipRequest): string | undefined {
  const branch = topBranch(req);
  return branch === undefined ? undefined : `${branch}|${req.method}`;
}

/** 17.1.3: top Via branch + CSeq method. */
function clientKeyOfResponse(res: SipResponse): string | undefined {
  const branch = topBranch(res);
  const cseq = parseCSeq(getHeader(res, 'CSeq') ?? '');
  if (branch === undefined || !cseq) return undefined;
  return `${branch}|${cseq.method}`;
}

function topBranch(msg: SipRequest | SipResponse): string | undefined {
  const top = getVias(msg)?.[0];
  const branch = top?.branch ?? top?.params['branch'];
  return branch ?? undefined;
}
