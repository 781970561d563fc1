/**
 * Test-only SIP peer over real loopback UDP/TCP/TLS sockets: sends hand-written messages and
 * waits for parsed ones. Used by the UA tests; never imported by production code.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type SipMessage, type SipRequest, type SipResponse, getHeader } from './message';
import { parseMessage } from './parser';
import { StreamFramer } from './framing';
import { serializeMessage } from './serializer';
import type { CallEndReason, SdpResult, SessionHandler, SipCall } from './session';

type Waiter = { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void };

export class TestPeer {
  readonly inbox: SipMessage[] = [];
  private waiters: Waiter[] = [];
  private udp: dgram.Socket | undefined;
  private tcp: net.Socket | undefined;
  private server: net.Server | undefined;
  port = 0;

  private constructor(readonly transport: 'udp' | 'tcp' | 'tls') {}

  /** UDP peer bound to an ephemeral port. */
  static async udp(): Promise<TestPeer> {
    const p = new TestPeer('udp');
    const s = dgram.createSocket('udp4');
    p.udp = s;
    s.on('message', (d) => p.deliver(d));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    p.port = s.address().port;
    return p;
  }

  /** TCP peer connected to the server (its local port is its "port"). */
  static async tcp(serverPort: number): Promise<TestPeer> {
    const p = new TestPeer('tcp');
    const sock = net.connect({ host: '127.0.0.1', port: serverPort });
    p.attach(sock);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    p.port = sock.localPort ?? 0;
    return p;
  }

  /** TLS peer connected to the server's TLS port, trusting `ca` (the server's self-signed certificate). */
  static async tls(serverTlsPort: number, ca: Buffer | string): Promise<TestPeer> {
    const p = new TestPeer('tls');
    const sock = tls.connect({ host: '127.0.0.1', port: serverTlsPort, ca });
    p.attach(sock);
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', () => resolve());
      sock.once('error', reject);
    });
    p.port = sock.localPort ?? 0;
    return p;
  }

  private attach(sock: net.Socket): void {
    const framer = new StreamFramer();
    this.tcp = sock;
    sock.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let m = framer.next(); m; m = framer.next()) this.deliver(m);
    });
    sock.on('error', () => undefined);
  }

  send(msg: string | SipMessage | Buffer, port: number): void {
    const data = typeof msg === 'string' ? Buffer.from(msg) : Buffer.isBuffer(msg) ? msg : serializeMessage(msg);
    if (this.udp) this.udp.send(data, port, '127.0.0.1');
    else this.tcp?.write(data);
  }

  raw(data: Buffer): void {
    this.tcp?.write(data);
  }

  /** Next message (already received or future) matching pred; rejects after timeoutMs. */
  next(pred: (m: SipMessage) => boolean = () => true, timeoutMs = 3000): Promise<SipMessage> {
    const idx = this.inbox.findIndex(pred);
    if (idx >= 0) return Promise.resolve(this.inbox.splice(idx, 1)[0] as SipMessage);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(w);
      const timer = setTimeout(() => {
        if (!this.waiters.includes(w)) return;
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('timed out waiting for a SIP message'));
      }, timeoutMs);
    });
  }

  response(status: number, method?: string): Promise<SipResponse> {
    return this.next((m) => m.kind === 'response' && m.status === status && (method === undefined || cseqMethod(m) === method)) as Promise<SipResponse>;
  }

  request(method: string): Promise<SipRequest> {
    return this.next((m) => m.kind === 'request' && m.method === method) as Promise<SipRequest>;
  }

  closed(): Promise<void> {
    return new Promise((r) => (this.tcp ? this.tcp.once('close', () => r()) : r()));
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.tcp?.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private deliver(data: Buffer): void {
    const r = parseMessage(data);
    if (!r.ok) return;
    const w = this.waiters.find((x) => x.pred(r.message));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(r.message);
    } else {
      this.inbox.push(r.message);
    }
  }
}

export function cseqMethod(m: SipMessage): string {
  return (getHeader(m, 'CSeq') ?? '').trim().split(/\s+/)[1] ?? '';
}

export interface RequestSpec {
  method: string;
  peer: TestPeer;
  callId: string;
  cseq: number;
  branch: string;
  fromTag?: string;
  toTag?: string;
  body?: string;
  contentType?: string;
  extra?: string[];
  /** Override the Via sent-by host (e.g. to test `received`). */
  viaHost?: string;
  /** Override the Contact port (a peer that listens elsewhere than it sends from). */
  contactPort?: number;
  uri?: string;
}

/** A request as a UA on `peer` would write it; CSeq method = method (ACK/CANCEL pass their own). */
export function sipRequest(s: RequestSpec): string {
  const t = s.peer.transport.toUpperCase();
  const body = s.body ?? '';
  const lines = [
    `${s.method} ${s.uri ?? 'sip:meet@127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/${t} ${s.viaHost ?? '127.0.0.1'}:${s.peer.port};branch=${s.branch};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${s.fromTag ?? 'alice1'}`,
    `To: <sip:meet@127.0.0.1>${s.toTag ? `;tag=${s.toTag}` : ''}`,
    `Call-ID: ${s.callId}`,
    `CSeq: ${s.cseq} ${s.method}`,
    `Contact: <sip:alice@127.0.0.1:${s.contactPort ?? s.peer.port}${s.peer.transport === 'udp' ? '' : `;transport=${s.peer.transport}`}>`,
    'User-Agent: test-peer',
    ...(s.extra ?? []),
  ];
  if (body.length > 0) lines.push(`Content-Type: ${s.contentType ?? 'application/sdp'}`);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

/** A response to `req` as the peer's UAS would write it (copies Via, From, To, Call-ID, CSeq). */
export function sipResponseTo(req: SipRequest, status: number, reason: string): string {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const h of req.headers) {
    if (['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(h.name)) lines.push(`${h.name}: ${h.value}`);
  }
  lines.push('Content-Length: 0');
  return lines.join('\r\n') + '\r\n\r\n';
}

export const TEST_OFFER = 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
export const TEST_ANSWER = 'v=0\r\no=confnode 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';

/** A SessionHandler for UA tests: records every event; answers with ANSWER unless told otherwise. */
export class TestHandler implements SessionHandler {
  events: string[] = [];
  calls: SipCall[] = [];
  ended: Array<{ call: SipCall; reason: CallEndReason }> = [];
  acks: Array<string | undefined> = [];
  infos: string[] = [];
  inviteImpl: (call: SipCall, offer: string | undefined) => Promise<SdpResult> = async () => ({ sdp: TEST_ANSWER });
  reinviteImpl: (call: SipCall, offer: string | undefined) => Promise<SdpResult> = async () => ({ sdp: TEST_ANSWER + 'a=sendonly\r\n' });
  private endWaiters: Array<() => void> = [];

  async onInvite(call: SipCall, offer: string | undefined): Promise<SdpResult> {
    this.events.push(`invite:${offer === undefined ? 'none' : 'offer'}`);
    this.calls.push(call);
    return this.inviteImpl(call, offer);
  }
  onAck(_call: SipCall, answer: string | undefined): void {
    this.events.push('ack');
    this.acks.push(answer);
  }
  async onReinvite(call: SipCall, offer: string | undefined): Promise<SdpResult> {
    this.events.push(`reinvite:${offer === undefined ? 'none' : 'offer'}`);
    return this.reinviteImpl(call, offer);
  }
  onInfo(_call: SipCall, contentType: string | undefined, body: Buffer): void {
    this.infos.push(`${contentType}:${body.toString()}`);
  }
  onEnded(call: SipCall, reason: CallEndReason): void {
    this.events.push(`ended:${reason}`);
    this.ended.push({ call, reason });
    for (const w of this.endWaiters.splice(0)) w();
  }
  waitEnded(n = 1): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waitEnded(${n}) timed out: ${this.events.join(',')}`)), 4000);
      const check = (): void => {
        if (this.ended.length < n) return void this.endWaiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });
  }
}

