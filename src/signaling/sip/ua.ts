/**
 * SIP user agent core (RFC 3261 sections 8, 12, 13, 15): answers calls for a SessionHandler over
 * UDP and TCP (and TLS when given a certificate), and the other methods a conferencing endpoint
 * must answer. Never forwards requests (not a proxy or registrar), never logs per packet, never
 * lets a handler error escape.
 */
import { type Clock, type Logger, errorMessage, silentLogger, systemClock } from '../../common';
import { type SipHeader, type SipRequest, type SipResponse, getHeader } from './message';
import { parseNameAddr, splitHeaderList } from './headers';
import { parseUri } from './uri';
import { createResponse, generateBranch, generateTag } from './build';
import type { ParseLimits } from './parser';
import { Dialog, dialogKey } from './dialog';
import type { SessionHandler, SipCall, SipTransportKind } from './session';
import { type SipTimerConfig, resolveTimers } from './timers';
import { SipTransport, type SipTlsOptions, type SipTransportStats } from './transport';
import { type InboundSource, type ServerTransaction, TransactionLayer, type TransactionLayerStats } from './transactions/layer';
import { InviteServerTransaction } from './transactions/invite-server';
import type { NonInviteServerTransaction } from './transactions/non-invite-server';
import { type CallContext, type ResponseExtra, UasCall } from './call';
import { negotiateSessionTimer } from './session-timer';

export interface SipServerOptions {
  host: string;
  /** The host callers reach us at when it differs from `host` (NAT): our Via sent-by and Contact. */
  advertisedHost?: string;
  /** 0 binds a free port, the same one for UDP and TCP. */
  port: number;
  /** SIP over TLS on its own port (RFC 3261 26.2); its calls advertise `;transport=tls`. */
  tls?: SipTlsOptions;
  handler: SessionHandler;
  clock?: Clock;
  logger?: Logger;
  limits?: ParseLimits;
  timers?: Partial<SipTimerConfig>;
  userAgent?: string;
  maxCalls?: number;
  /** Live transactions at once; over it completed non-INVITE ones give way, else new requests get a stateless 503 (default 16384). */
  maxTransactions?: number;
  /** How long close() waits for BYEs to be answered (default 5000 ms). */
  closeTimeoutMs?: number;
  /**
   * Told of every request received and every response sent, retransmissions and the transport's
   * own 400s to malformed requests included: metrics.
   */
  observer?: SipTrafficObserver;
}

export interface SipTrafficObserver {
  request(method: string): void;
  response(status: number): void;
}

export interface SipServerStats {
  transport: SipTransportStats;
  transactions: TransactionLayerStats;
  calls: number;
  rejectedOverCalls: number;
}

export interface SipServer {
  readonly host: string;
  /** The bound port, the same for UDP and TCP. */
  readonly port: number;
  readonly udpPort: number;
  readonly tcpPort: number;
  /** The TLS port; undefined without TLS. */
  readonly tlsPort: number | undefined;
  calls(): SipCall[];
  stats(): SipServerStats;
  /** BYE to every established call (bounded wait), then closes the sockets. Idempotent. */
  close(): Promise<void>;
}

/** Methods we implement as a UAS (UPDATE: RFC 3311, in a dialog: session refreshes and offers). */
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE'] as const;
/** Known methods we do not serve: 405 with Allow rather than 501 (RFC 3261 8.2.1). */
const KNOWN_UNSUPPORTED = new Set(['REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH']);
/** Option tags we support: session timers (RFC 4028); any other Require gets 420. */
const SUPPORTED_OPTIONS: readonly string[] = ['timer'];
const ALLOW = ALLOWED_METHODS.join(', ');

export async function createSipServer(opts: SipServerOptions): Promise<SipServer> {
  const ua = new UserAgent(opts);
  await ua.listen();
  return ua;
}

class UserAgent implements SipServer {
  private transport: SipTransport | undefined;
  private readonly layer: TransactionLayer;
  private readonly dialogs = new Map<string, UasCall>();
  private readonly byInviteTx = new Map<InviteServerTransaction, UasCall>();
  private readonly clock: Clock;
  private readonly timers: SipTimerConfig;
  private readonly log: Logger;
  private readonly userAgent: string;
  private readonly maxCalls: number;
  private readonly ctx: CallContext;
  private rejectedOverCalls = 0;
  private nextCallNo = 1;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: SipServerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = resolveTimers(opts.timers);
    this.log = (opts.logger ?? silentLogger).child({ component: 'sip' });
    this.userAgent = opts.userAgent ?? 'confnode';
    this.maxCalls = opts.maxCalls ?? 1000;
    this.layer = new TransactionLayer({
      clock: this.clock,
      timers: this.timers,
      maxTransactions: opts.maxTransactions ?? 16384,
      sendResponse: (res, src, onError) => this.transport?.sendResponse(res, src, onError),
      sendRequest: (req, target, onError) => (this.transport ? this.transport.sendRequest(req, target, onError) : onError()),
      core: {
        onRequest: (req, src, tx) => this.onRequest(req, src, tx),
        onCancel: (req, _src, tx, invite) => this.onCancel(req, tx, invite),
        onAck: (ack) => this.onAck(ack),
      },
    });
    this.ctx = {
      clock: this.clock,
      timers: this.timers,
      handler: opts.handler,
      layer: this.layer,
      log: this.log,
      respond: (tx, req, status, reason, extra) => this.respond(tx, req, status, reason, extra),
      viaFor: (t) => `SIP/2.0/${t.toUpperCase()} ${hostForUri(this.advertisedHost)}:${this.portFor(t)};branch=${generateBranch()};rport`,
      contactFor: (t) => `<${this.contactUri(t)}>`,
      userAgentHeaders: () => [{ name: 'User-Agent', value: this.userAgent }],
      forget: (call) => this.forget(call),
    };
  }

  get host(): string {
    return this.opts.host;
  }

  /** What callers reach: the advertised host, else the bound one. */
  private get advertisedHost(): string {
    return this.opts.advertisedHost ?? this.opts.host;
  }

  get port(): number {
    return this.transport?.port ?? 0;
  }

  get udpPort(): number {
    return this.port;
  }

  get tcpPort(): number {
    return this.port;
  }

  get tlsPort(): number | undefined {
    return this.transport?.tlsPort;
  }

  private portFor(transport: SipTransportKind): number {
    return transport === 'tls' ? (this.tlsPort ?? this.port) : this.port;
  }

  async listen(): Promise<void> {
    this.transport = await SipTransport.listen(
      { host: this.opts.host, port: this.opts.port, limits: this.opts.limits, logger: this.log, ...(this.opts.tls ? { tls: this.opts.tls } : {}) },
      {
        onRequest: (req, src) => {
          this.opts.observer?.request(req.method);
          this.layer.receiveRequest(req, src);
        },
        onResponse: (res, src) => this.layer.receiveResponse(res, src),
        responseSent: (status) => this.opts.observer?.response(status),
      },
    );
    const tlsPort = this.tlsPort;
    this.log.info({ host: this.host, port: this.port, ...(tlsPort !== undefined ? { tlsPort } : {}) }, `SIP listening on UDP and TCP${tlsPort !== undefined ? ` and TLS (port ${tlsPort})` : ''}`);
  }

  calls(): SipCall[] {
    return [...new Set(this.dialogs.values())].filter((c) => !c.isEnded);
  }

  stats(): SipServerStats {
    const transport = this.transport?.stats() ?? { received: 0, sent: 0, dropped: 0, malformed: 0, sendErrors: 0, tcpConnections: 0, tlsConnections: 0, tlsHandshakeFailures: 0 };
    return { transport, transactions: this.layer.stats(), calls: this.dialogs.size, rejectedOverCalls: this.rejectedOverCalls };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const calls = [...this.dialogs.values()];
    const bound = this.opts.closeTimeoutMs ?? 5000;
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, bound)));
    await Promise.race([Promise.all(calls.map((c) => c.hangup().catch(() => undefined))), timeout]);
    timer?.cancel();
    for (const c of [...this.dialogs.values()]) c.abort('local-bye');
    this.layer.terminateAll();
    await this.transport?.close();
    this.log.info({ calls: calls.length }, 'SIP server closed');
  }

  private forget(call: UasCall): void {
    if (this.dialogs.get(call.dialog.key) === call) this.dialogs.delete(call.dialog.key);
    this.byInviteTx.delete(call.inviteTx);
  }

  private respond(tx: ServerTransaction, req: SipRequest, status: number, reason: string, extra: ResponseExtra = {}): void {
    const headers: SipHeader[] = [...(extra.headers ?? [])];
    // RFC 3261 12.1.1: a response that establishes the dialog carries every Record-Route value of
    // the request, in order, so a record-routing proxy stays on the path of the ACK and the BYE.
    if (extra.dialogResponse && req.method === 'INVITE' && status > 100 && status < 300) {
      for (const h of req.headers) if (h.name === 'Record-Route') headers.push({ name: 'Record-Route', value: h.value });
    }
    if (extra.dialogResponse) headers.push(...this.dialogHeaders(tx, req));
    headers.push({ name: 'Server', value: this.userAgent });
    const toTag = this.toTagFor(tx);
    const res: SipResponse = createResponse(req, status, reason, {
      toTag,
      headers,
      body: extra.sdp === undefined ? undefined : Buffer.from(extra.sdp, 'utf8'),
      contentType: extra.sdp === undefined ? undefined : 'application/sdp',
    });
    tx.respond(res);
  }

  /** Contact/Allow/Supported for responses that create or refresh the dialog (12.1.1, 13.3.1.4). */
  private dialogHeaders(tx: ServerTransaction, req: SipRequest): SipHeader[] {
    // An INVITE's call by its transaction; an in-dialog UPDATE's by its dialog (its Contact must
    // keep the dialog's transport: RFC 3311 5.2 makes it the caller's new remote target).
    const toTag = parseNameAddr(getHeader(req, 'To') ?? '')?.tag;
    const call = (tx instanceof InviteServerTransaction ? this.byInviteTx.get(tx) : undefined) ?? (toTag !== undefined ? this.findDialog(req, toTag) : undefined);
    const transport = call?.info.remote.transport ?? 'udp';
    return [
      { name: 'Contact', value: `<${this.contactUri(transport)}>` },
      { name: 'Allow', value: ALLOW },
      { name: 'Supported', value: SUPPORTED_OPTIONS.join(', ') },
    ];
  }

  private contactUri(transport: SipTransportKind): string {
    return `sip:${hostForUri(this.advertisedHost)}:${this.portFor(transport)}${transport === 'udp' ? '' : `;transport=${transport}`}`;
  }

  /** The dialog's tag for an initial INVITE (or its CANCEL); a fresh one for other out-of-dialog requests. */
  private toTagFor(tx: ServerTransaction): string {
    if (tx instanceof InviteServerTransaction) {
      const call = this.byInviteTx.get(tx);
      if (call) return call.dialog.localTag;
    }
    return generateTag();
  }

  private onRequest(req: SipRequest, src: InboundSource, tx: ServerTransaction): void {
    try {
      this.dispatch(req, src, tx);
    } catch (err) {
      this.log.error({ err: errorMessage(err), method: req.method }, 'SIP request handling failed');
      this.respond(tx, req, 500, 'Server Internal Error');
    }
  }

  private dispatch(req: SipRequest, src: InboundSource, tx: ServerTransaction): void {
    if (!(ALLOWED_METHODS as readonly string[]).includes(req.method)) {
      if (KNOWN_UNSUPPORTED.has(req.method)) this.respond(tx, req, 405, 'Method Not Allowed', { headers: [{ name: 'Allow', value: ALLOW }] });
      else this.respond(tx, req, 501, 'Not Implemented', { headers: [{ name: 'Allow', value: ALLOW }] });
      return;
    }
    const unsupported = unsupportedRequire(req);
    if (unsupported.length > 0) {
      this.respond(tx, req, 420, 'Bad Extension', { headers: [{ name: 'Unsupported', value: unsupported.join(', ') }] });
      return;
    }
    if ((req.method === 'INVITE' || req.method === 'OPTIONS') && getHeader(req, 'Max-Forwards')?.trim() === '0') {
      this.respond(tx, req, 483, 'Too Many Hops');
      return;
    }
    const toTag = parseNameAddr(getHeader(req, 'To') ?? '')?.tag;
    if (toTag !== undefined) {
      this.inDialog(req, tx, toTag);
      return;
    }
    if (req.method === 'OPTIONS') this.respond(tx, req, 200, 'OK', { headers: this.optionsHeaders() });
    else if (req.method === 'INVITE' && tx instanceof InviteServerTransaction) this.newCall(req, src, tx);
    else this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
  }

  private optionsHeaders(): SipHeader[] {
    return [
      { name: 'Allow', value: ALLOW },
      { name: 'Accept', value: 'application/sdp' },
      { name: 'Supported', value: SUPPORTED_OPTIONS.join(', ') },
    ];
  }

  private findDialog(req: SipRequest, localTag: string): UasCall | undefined {
    const callId = getHeader(req, 'Call-ID') ?? '';
    const remoteTag = parseNameAddr(getHeader(req, 'From') ?? '')?.tag ?? '';
    return this.dialogs.get(dialogKey(callId, localTag, remoteTag));
  }

  private inDialog(req: SipRequest, tx: ServerTransaction, localTag: string): void {
    const call = this.findDialog(req, localTag);
    if (!call || call.isEnded) {
      this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (!call.dialog.acceptRemoteCSeq(req)) {
      this.respond(tx, req, 500, 'Server Internal Error', { headers: [{ name: 'Retry-After', value: '1' }] });
      return;
    }
    switch (req.method) {
      case 'BYE':
        call.onBye(req, tx as NonInviteServerTransaction);
        return;
      case 'INFO':
        call.onInfo(req, tx as NonInviteServerTransaction);
        return;
      case 'UPDATE': {
        const offer = sdpBody(req);
        if (offer === false) {
          this.respond(tx, req, 415, 'Unsupported Media Type', { headers: [{ name: 'Accept', value: 'application/sdp' }] });
          return;
        }
        call.onUpdate(req, tx as NonInviteServerTransaction, offer);
        return;
      }
      case 'OPTIONS':
        this.respond(tx, req, 200, 'OK', { headers: this.optionsHeaders() });
        return;
      case 'INVITE': {
        if (!(tx instanceof InviteServerTransaction)) return;
        const offer = sdpBody(req);
        if (offer === false) {
          this.respond(tx, req, 415, 'Unsupported Media Type', { headers: [{ name: 'Accept', value: 'application/sdp' }] });
          return;
        }
        this.byInviteTx.set(tx, call);
        tx.onTerminated = chain(tx.onTerminated, () => {
          if (this.byInviteTx.get(tx) === call && tx !== call.inviteTx) this.byInviteTx.delete(tx);
        });
        call.onReinvite(req, tx, offer);
        return;
      }
      default:
        this.respond(tx, req, 501, 'Not Implemented');
    }
  }

  private newCall(req: SipRequest, src: InboundSource, tx: InviteServerTransaction): void {
    if (this.closing || this.dialogs.size >= this.maxCalls) {
      this.rejectedOverCalls++;
      this.respond(tx, req, 503, 'Service Unavailable', { headers: [{ name: 'Retry-After', value: '30' }] });
      return;
    }
    const offer = sdpBody(req);
    if (offer === false) {
      this.respond(tx, req, 415, 'Unsupported Media Type', { headers: [{ name: 'Accept', value: 'application/sdp' }] });
      return;
    }
    const timer = negotiateSessionTimer(req);
    if (timer.kind === 'bad') {
      this.respond(tx, req, 400, timer.reason);
      return;
    }
    if (timer.kind === 'too-small') {
      this.respond(tx, req, 422, 'Session Interval Too Small', { headers: [{ name: 'Min-SE', value: String(timer.minSe) }] });
      return;
    }
    const ruri = parseUri(req.uri);
    const from = parseNameAddr(getHeader(req, 'From') ?? '');
    const localTag = generateTag();
    const created = Dialog.fromInvite(req, localTag);
    if (!ruri || !from || !created.ok) {
      this.respond(tx, req, 400, created.ok ? 'Bad Request' : created.reason);
      return;
    }
    const info = {
      callId: created.dialog.callId,
      requestUser: ruri.user,
      requestHost: ruri.host,
      fromUri: from.uri,
      fromDisplayName: from.displayName,
      remote: { transport: src.transport, address: src.address, port: src.port },
      userAgent: getHeader(req, 'User-Agent'),
    };
    const call = new UasCall(`sip-${this.nextCallNo++}-${localTag}`, info, created.dialog, tx, req, src, this.ctx, timer.kind === 'timer' ? timer : undefined);
    this.dialogs.set(created.dialog.key, call);
    this.byInviteTx.set(tx, call);
    call.start(offer);
  }

  private onCancel(req: SipRequest, tx: NonInviteServerTransaction, invite: InviteServerTransaction | undefined): void {
    const call = invite ? this.byInviteTx.get(invite) : undefined;
    if (!invite || !call) {
      this.respond(tx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    // 9.2: the 200 to CANCEL carries the same To tag as the responses to the INVITE.
    const res = createResponse(req, 200, 'OK', { toTag: call.dialog.localTag, headers: [{ name: 'Server', value: this.userAgent }] });
    tx.respond(res);
    call.onCancel(invite);
  }

  private onAck(ack: SipRequest): void {
    const toTag = parseNameAddr(getHeader(ack, 'To') ?? '')?.tag;
    if (toTag === undefined) return;
    this.findDialog(ack, toTag)?.onAck(ack);
  }
}

/** The SDP offer/answer in a body: undefined when empty, false when the body is not SDP (415). */
function sdpBody(req: SipRequest): string | undefined | false {
  if (req.body.length === 0) return undefined;
  const type = (getHeader(req, 'Content-Type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/sdp') return false;
  return req.body.toString('utf8');
}

/** Option tags in Require that we do not support (RFC 3261 8.2.2.3); ACK/CANCEL are exempt. */
function unsupportedRequire(req: SipRequest): string[] {
  if (req.method === 'ACK' || req.method === 'CANCEL') return [];
  const out: string[] = [];
  for (const h of req.headers) {
    if (h.name !== 'Require') continue;
    for (const tag of splitHeaderList(h.value)) {
      const t = tag.trim();
      if (t.length > 0 && !SUPPORTED_OPTIONS.includes(t.toLowerCase())) out.push(t);
    }
  }
  return out;
}

function hostForUri(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function chain(a: (() => void) | undefined, b: () => void): () => void {
  return () => {
    a?.();
    b();
  };
}
