/**
 * Dialog state (RFC 3261 section 12): identifiers, remote target, route set and CSeq spaces,
 * built from an INVITE on the UAS side; builds in-dialog requests (BYE) with loose or strict routing.
 * Pure: tags and initial CSeq come from the caller; no I/O, no clock.
 */
import { type SipHeader, type SipRequest, getHeader, getHeaderLines } from './message';
import { type NameAddr, formatNameAddr, parseCSeq, parseNameAddr, splitHeaderList } from './headers';
import { parseUri } from './uri';
import type { SipTransportKind } from './session';

export interface DialogTarget {
  transport: SipTransportKind;
  address: string;
  port: number;
}

export type DialogCreateResult = { ok: true; dialog: Dialog } | { ok: false; status: number; reason: string };

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

export class Dialog {
  /** Our CSeq space for requests we send; RFC 3261 12.1.1 leaves the start to us. */
  private localSeqValue: number;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    /** Our side as a header value (the INVITE's To plus our tag): From of requests we send. */
    readonly localParty: string,
    /** Their side as received (the INVITE's From): To of requests we send. */
    readonly remoteParty: string,
    private remoteTargetValue: string,
    /** Record-Route URIs (with their params) in the order received (12.1.1, UAS side). */
    readonly routeSet: readonly string[],
    private remoteSeqValue: number,
    localSeqStart: number,
  ) {
    this.localSeqValue = localSeqStart;
  }

  /** 12.1.1: the UAS dialog of an INVITE we are about to answer with `localTag`. */
  static fromInvite(invite: SipRequest, localTag: string, localSeqStart = 1): DialogCreateResult {
    const callId = getHeader(invite, 'Call-ID');
    const from = parseNameAddr(getHeader(invite, 'From') ?? '');
    const to = parseNameAddr(getHeader(invite, 'To') ?? '');
    const cseq = parseCSeq(getHeader(invite, 'CSeq') ?? '');
    if (!callId || !from || !to || !cseq) return { ok: false, status: 400, reason: 'Bad Request (From/To/Call-ID/CSeq)' };
    const contact = contactUri(invite);
    if (contact === undefined) return { ok: false, status: 400, reason: 'Bad Request (Contact)' };
    const routes = recordRoutes(invite);
    if (routes === undefined) return { ok: false, status: 400, reason: 'Bad Request (Record-Route)' };
    const local: NameAddr = { ...to, params: { ...to.params }, tag: localTag };
    const remoteParty = getHeader(invite, 'From') ?? '';
    const dialog = new Dialog(callId, localTag, from.tag ?? '', formatNameAddr(local), remoteParty, contact, routes, cseq.seq, localSeqStart);
    return { ok: true, dialog };
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  get remoteTarget(): string {
    return this.remoteTargetValue;
  }

  get remoteSeq(): number {
    return this.remoteSeqValue;
  }

  get localSeq(): number {
    return this.localSeqValue;
  }

  /**
   * 12.2.2: a request whose CSeq is lower than the last one is out of order (answer 500); ACK and
   * CANCEL reuse the INVITE's number and are not checked. Returns false when out of order.
   */
  acceptRemoteCSeq(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    const cseq = parseCSeq(getHeader(req, 'CSeq') ?? '');
    if (!cseq) return false;
    if (cseq.seq < this.remoteSeqValue) return false;
    this.remoteSeqValue = cseq.seq;
    return true;
  }

  /** 12.2.2 target refresh: a re-INVITE's Contact replaces the remote target. */
  refreshTarget(req: SipRequest): void {
    const contact = contactUri(req);
    if (contact) this.remoteTargetValue = contact;
  }

  /**
   * 12.2.1.1: a new in-dialog request (not ACK/CANCEL). Loose routing when the first route has
   * ;lr, otherwise strict routing (the first route becomes the Request-URI). `via` is the
   * complete Via value with a fresh branch; Content-Length is left to the serializer.
   */
  createRequest(method: string, via: string, extra: SipHeader[] = [], body: Buffer = Buffer.alloc(0)): SipRequest {
    this.localSeqValue++;
    const { uri, routes } = this.routing();
    const headers: SipHeader[] = [{ name: 'Via', value: via }, { name: 'Max-Forwards', value: '70' }];
    for (const r of routes) headers.push({ name: 'Route', value: `<${r}>` });
    headers.push(
      { name: 'From', value: this.localParty },
      { name: 'To', value: this.remoteParty },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${this.localSeqValue} ${method}` },
      ...extra,
    );
    return { kind: 'request', version: 'SIP/2.0', method, uri, headers, body };
  }

  /** Where in-dialog requests go first: the first route, else the remote target (RFC 3263 minus DNS SRV). */
  nextHop(defaultTransport: SipTransportKind): DialogTarget | undefined {
    const first = this.routeSet[0] ?? this.remoteTargetValue;
    return uriTarget(first, defaultTransport);
  }

  private routing(): { uri: string; routes: string[] } {
    const first = this.routeSet[0];
    if (first === undefined) return { uri: this.remoteTargetValue, routes: [] };
    const parsed = parseUri(first);
    if (!parsed || 'lr' in parsed.params) return { uri: this.remoteTargetValue, routes: [...this.routeSet] };
    return { uri: first, routes: [...this.routeSet.slice(1), this.remoteTargetValue] };
  }
}

/**
 * Host/port/transport of a SIP URI (RFC 3263 minus DNS): ;transport=tcp|tls|udp, sips: is TLS,
 * else the default; port 5061 for TLS, 5060 otherwise.
 */
export function uriTarget(uriText: string, defaultTransport: SipTransportKind): DialogTarget | undefined {
  const uri = parseUri(uriText);
  if (!uri || uri.scheme === 'tel') return undefined;
  const tp = uri.params['transport'];
  const named = typeof tp === 'string' ? tp.toLowerCase() : undefined;
  const transport: SipTransportKind =
    uri.scheme === 'sips' ? 'tls' : named === 'tcp' || named === 'tls' ? named : named !== undefined ? 'udp' : defaultTransport;
  const maddr = uri.params['maddr'];
  return { transport, address: typeof maddr === 'string' ? maddr : uri.host, port: uri.port ?? (transport === 'tls' ? 5061 : 5060) };
}

/** The single Contact URI of a dialog-creating request, undefined when absent or malformed. */
function contactUri(req: SipRequest): string | undefined {
  const lines = getHeaderLines(req, 'Contact');
  const first = lines[0];
  if (first === undefined) return undefined;
  const parts = splitHeaderList(first);
  const na = parts[0] === undefined ? null : parseNameAddr(parts[0]);
  if (!na || !parseUri(na.uri)) return undefined;
  return na.uri;
}

/** Record-Route entries across lines and commas, in order; undefined when one is malformed. */
function recordRoutes(req: SipRequest): string[] | undefined {
  const out: string[] = [];
  for (const line of getHeaderLines(req, 'Record-Route')) {
    for (const part of splitHeaderList(line)) {
      const na = parseNameAddr(part);
      if (!na) return undefined;
      out.push(na.uri);
    }
  }
  return out;
}
