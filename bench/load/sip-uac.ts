/**
 * A minimal SIP UAC over one UDP socket for the load generator: INVITE with an SDP offer (PCMU or
 * Opus, plain RTP/AVP or RTP/SAVP with an SDES a=crypto line), ACK the 200 (and its
 * retransmissions), BYE; answers any request the node sends (BYE, OPTIONS) with 200. Written for the bench only: it parses just what it needs and never trusts a
 * byte from the network beyond that. Binds only 127.0.0.1.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { CODECS, type BenchCodec } from './audio';

export interface SipMessage {
  status: number;
  method: string;
  headers: Map<string, string[]>;
  body: string;
}

const COMPACT: Readonly<Record<string, string>> = { i: 'call-id', f: 'from', t: 'to', v: 'via', l: 'content-length', m: 'contact', c: 'content-type' };
const MAX_MESSAGE = 65535;

export function parseSip(text: string): SipMessage | undefined {
  if (text.length > MAX_MESSAGE) return undefined;
  const sep = text.indexOf('\r\n\r\n');
  const head = sep >= 0 ? text.slice(0, sep) : text;
  const lines = head.split('\r\n');
  const start = lines[0] ?? '';
  const st = /^SIP\/2\.0 (\d{3})/.exec(start);
  const req = /^([A-Z]+) \S+ SIP\/2\.0$/.exec(start);
  if (!st && !req) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1, 200)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const raw = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[raw] ?? raw;
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return { status: st ? Number(st[1]) : 0, method: req?.[1] ?? '', headers, body: sep >= 0 ? text.slice(sep + 4) : '' };
}

function first(m: SipMessage, name: string): string {
  return m.headers.get(name)?.[0] ?? '';
}

/** The address and port of the first audio m-line of an SDP answer, if well formed. */
export function sdpAudioTarget(sdp: string): { address: string; port: number } | undefined {
  let address: string | undefined;
  let port: number | undefined;
  let mediaAddress: string | undefined;
  let inAudio = false;
  for (const line of sdp.split(/\r?\n/).slice(0, 200)) {
    const c = /^c=IN IP4 (\d{1,3}(?:\.\d{1,3}){3})/.exec(line);
    if (c) {
      if (inAudio) mediaAddress = c[1];
      else if (port === undefined) address = c[1];
    }
    const m = /^m=(\w+) (\d{1,5}) /.exec(line);
    if (m) {
      inAudio = m[1] === 'audio' && port === undefined;
      if (inAudio) port = Number(m[2]);
    }
  }
  const addr = mediaAddress ?? address;
  if (addr === undefined || port === undefined || port <= 0 || port > 65535) return undefined;
  return { address: addr, port };
}

/** The SDES suite the bench offers (RFC 4568 6.2.1). */
export const BENCH_SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';

/**
 * The inline key of the answer's a=crypto line for the first audio m-line, when it uses the
 * suite we offered (RFC 4568: the answer names our tag and suite with its own key).
 */
export function sdpAudioCrypto(sdp: string): { tag: number; suite: string; key: string } | undefined {
  let inAudio = false;
  let seenAudio = false;
  for (const line of sdp.split(/\r?\n/).slice(0, 200)) {
    const m = /^m=(\w+) /.exec(line);
    if (m) {
      inAudio = m[1] === 'audio' && !seenAudio;
      if (inAudio) seenAudio = true;
      continue;
    }
    if (!inAudio) continue;
    const c = /^a=crypto:(\d{1,9}) (AES_CM_128_HMAC_SHA1_(?:80|32)) inline:([A-Za-z0-9+/]{40})(?:\|\S*)?\s*$/.exec(line);
    if (c?.[1] && c[2] && c[3]) return { tag: Number(c[1]), suite: c[2], key: c[3] };
  }
  return undefined;
}

export interface Call {
  callId: string;
  user: string;
  requestUri: string;
  fromHeader: string;
  toHeader: string;
  /** Where the node wants our RTP. */
  media: { address: string; port: number };
  /** The node's SDES key (base64 key||salt) when the call was set up with SRTP. */
  srtpRemoteKey?: string;
  setupMs: number;
  ended: boolean;
}

interface Pending {
  method: string;
  resolve: (m: SipMessage) => void;
  provisional: () => void;
}

const token = (): string => randomBytes(6).toString('hex');
const branch = (): string => `z9hG4bK-${token()}`;

export class SipUac {
  private readonly pending = new Map<string, Pending>();
  private readonly acks = new Map<string, string>();
  private readonly calls = new Map<string, Call>();
  /** Requests the node sent us (BYE on its shutdown, OPTIONS), by method. */
  readonly received = new Map<string, number>();

  private constructor(
    private readonly sock: Socket,
    private readonly target: { host: string; port: number },
  ) {
    sock.on('message', (buf, rinfo) => this.onMessage(buf, rinfo));
  }

  static open(target: { host: string; port: number }): Promise<SipUac> {
    return new Promise((resolve, reject) => {
      const sock = createSocket('udp4');
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        sock.setRecvBufferSize(4 * 1024 * 1024);
        resolve(new SipUac(sock, target));
      });
    });
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  private send(text: string): void {
    this.sock.send(text, this.target.port, this.target.host);
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo): void {
    const m = parseSip(buf.toString('utf8'));
    if (!m) return;
    const callId = first(m, 'call-id');
    if (m.status === 0) return this.answerRequest(m, rinfo);
    const method = (first(m, 'cseq').split(/\s+/)[1] ?? '').toUpperCase();
    if (method === 'INVITE' && m.status >= 200 && m.status < 300) {
      const ack = this.acks.get(callId);
      if (ack) this.send(ack); // a retransmitted 200: our ACK was lost or late
    }
    const p = this.pending.get(`${callId} ${method}`);
    if (!p) return;
    if (m.status < 200) return p.provisional();
    this.pending.delete(`${callId} ${method}`);
    p.resolve(m);
  }

  private answerRequest(m: SipMessage, rinfo: RemoteInfo): void {
    this.received.set(m.method, (this.received.get(m.method) ?? 0) + 1);
    if (m.method === 'ACK') return;
    const call = this.calls.get(first(m, 'call-id'));
    if (m.method === 'BYE' && call) call.ended = true;
    const vias = (m.headers.get('via') ?? []).map((v) => `Via: ${v}`);
    const lines = [
      'SIP/2.0 200 OK',
      ...vias,
      `From: ${first(m, 'from')}`,
      `To: ${first(m, 'to')}${/;\s*tag=/i.test(first(m, 'to')) ? '' : `;tag=${token()}`}`,
      `Call-ID: ${first(m, 'call-id')}`,
      `CSeq: ${first(m, 'cseq')}`,
      'Content-Length: 0',
      '',
      '',
    ];
    this.sock.send(lines.join('\r\n'), rinfo.port, rinfo.address);
  }

  /**
   * Sends `text` and retransmits it (500 ms doubling, RFC 3261 timer A/E) until a response comes
   * or `timeoutMs` passes; then waits for the final response up to the same deadline.
   */
  private transact(callId: string, method: string, text: string, timeoutMs: number): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const key = `${callId} ${method}`;
      let interval = 500;
      let retransmit: NodeJS.Timeout | undefined;
      const stopRetransmit = (): void => {
        if (retransmit) clearTimeout(retransmit);
        retransmit = undefined;
      };
      const again = (): void => {
        this.send(text);
        retransmit = setTimeout(again, interval);
        interval = Math.min(interval * 2, 4000);
      };
      const deadline = setTimeout(() => {
        stopRetransmit();
        this.pending.delete(key);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, {
        method,
        provisional: stopRetransmit,
        resolve: (m) => {
          stopRetransmit();
          clearTimeout(deadline);
          resolve(m);
        },
      });
      again();
    });
  }

  /**
   * INVITE `user`@target offering `codec` on `rtpPort`; resolves after the ACK is sent. With
   * `srtpKey` (base64 key||salt), the offer is RTP/SAVP with that key and the answer must carry
   * the node's key.
   */
  async invite(user: string, rtpPort: number, codec: BenchCodec, timeoutMs = 10_000, srtpKey?: string): Promise<Call> {
    const profile = CODECS[codec];
    const callId = `${token()}@127.0.0.1`;
    const requestUri = `sip:${user}@${this.target.host}:${this.target.port}`;
    const fromHeader = `<sip:bench@127.0.0.1:${this.localPort}>;tag=${token()}`;
    const sdp = [
      'v=0',
      `o=bench ${rtpPort} 1 IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${rtpPort} ${srtpKey !== undefined ? 'RTP/SAVP' : 'RTP/AVP'} ${profile.sdpFormats}`,
      ...profile.sdpAttributes,
      ...(srtpKey !== undefined ? [`a=crypto:1 ${BENCH_SRTP_SUITE} inline:${srtpKey}`] : []),
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
    const invite = [
      `INVITE ${requestUri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
      'Max-Forwards: 70',
      `From: ${fromHeader}`,
      `To: <sip:${user}@${this.target.host}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:bench@127.0.0.1:${this.localPort}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
    const t0 = performance.now();
    const res = await this.transact(callId, 'INVITE', invite, timeoutMs);
    const setupMs = performance.now() - t0;
    if (res.status >= 300) throw new Error(`INVITE ${user}: ${res.status}`);
    const toHeader = first(res, 'to');
    const contact = /<([^>]+)>/.exec(first(res, 'contact'))?.[1] ?? requestUri;
    const ack = [
      `ACK ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
      'Max-Forwards: 70',
      `From: ${fromHeader}`,
      `To: ${toHeader}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.acks.set(callId, ack);
    this.send(ack);
    const media = sdpAudioTarget(res.body);
    const crypto = srtpKey !== undefined ? sdpAudioCrypto(res.body) : undefined;
    const call: Call = { callId, user, requestUri: contact, fromHeader, toHeader, media: media ?? { address: '', port: 0 }, setupMs, ended: false };
    if (crypto) call.srtpRemoteKey = crypto.key;
    if (!media || (srtpKey !== undefined && crypto?.suite !== BENCH_SRTP_SUITE)) {
      // Set up but unusable: hang it up so the node does not keep a call nobody sends on.
      this.calls.set(callId, call);
      await this.bye(call);
      throw new Error(`INVITE ${user}: 200 OK without ${media ? `an a=crypto ${BENCH_SRTP_SUITE} answer` : 'a usable audio m-line'}`);
    }
    this.calls.set(callId, call);
    return call;
  }

  /** BYE; resolves with the final status (0 if the node never answered). */
  async bye(call: Call, timeoutMs = 5000): Promise<number> {
    this.acks.delete(call.callId);
    this.calls.delete(call.callId);
    if (call.ended) return 200;
    const bye = [
      `BYE ${call.requestUri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch()};rport`,
      'Max-Forwards: 70',
      `From: ${call.fromHeader}`,
      `To: ${call.toHeader}`,
      `Call-ID: ${call.callId}`,
      'CSeq: 2 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    call.ended = true;
    try {
      return (await this.transact(call.callId, 'BYE', bye, timeoutMs)).status;
    } catch {
      return 0;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
