/**
 * Raw SIP over UDP and TCP for tests that need exact bytes (retransmissions, malformed messages):
 * builds requests as text, sends them from 127.0.0.1, and collects and loosely parses what comes
 * back. Parses only what tests assert on; never used by the node itself.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { freePort } from './ports';
import { sleep, waitFor } from './proc';

export interface RawMessage {
  startLine: string;
  /** Response status, or 0 for a request. */
  status: number;
  /** Request method, or '' for a response. */
  method: string;
  /** Lower-case long header names to values (in order). */
  headers: Map<string, string[]>;
  body: string;
  raw: string;
}

const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id', f: 'from', t: 'to', v: 'via', l: 'content-length', c: 'content-type', m: 'contact',
};

export function header(m: RawMessage, name: string): string | undefined {
  return m.headers.get(name.toLowerCase())?.[0];
}

/** To-tag of a message (tag= parameter of To), or undefined. */
export function toTag(m: RawMessage): string | undefined {
  return /;\s*tag=([^;>\s]+)/i.exec(header(m, 'to') ?? '')?.[1];
}

export function parseMessage(raw: string): RawMessage {
  const sep = raw.indexOf('\r\n\r\n');
  const head = sep >= 0 ? raw.slice(0, sep) : raw;
  const body = sep >= 0 ? raw.slice(sep + 4) : '';
  const lines = head.split('\r\n');
  const startLine = lines[0] ?? '';
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  const st = /^SIP\/2\.0\s+(\d{3})/.exec(startLine);
  return {
    startLine,
    status: st ? Number(st[1]) : 0,
    method: st ? '' : (startLine.split(' ')[0] ?? ''),
    headers,
    body,
    raw,
  };
}

export function newBranch(): string {
  return `z9hG4bK-${randomBytes(6).toString('hex')}`;
}

export function newToken(): string {
  return randomBytes(6).toString('hex');
}

export interface DialogIds {
  callId: string;
  fromTag: string;
  branch: string;
  cseq: number;
}

export function newDialogIds(): DialogIds {
  return { callId: `${newToken()}@127.0.0.1`, fromTag: newToken(), branch: newBranch(), cseq: 1 };
}

export interface RequestParams {
  method: string;
  /** user part of the Request-URI (alias). */
  user: string;
  target: { port: number };
  local: { port: number; transport: 'UDP' | 'TCP' };
  ids: DialogIds;
  toTag?: string;
  cseqMethod?: string;
  extraHeaders?: string[];
  body?: string;
  contentType?: string;
}

/** Builds a well-formed request (tests corrupt it afterwards where they need to). */
export function buildRequest(p: RequestParams): string {
  const body = p.body ?? '';
  const lines = [
    `${p.method} sip:${p.user}@127.0.0.1:${p.target.port} SIP/2.0`,
    `Via: SIP/2.0/${p.local.transport} 127.0.0.1:${p.local.port};branch=${p.ids.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:tester@127.0.0.1:${p.local.port}>;tag=${p.ids.fromTag}`,
    `To: <sip:${p.user}@127.0.0.1:${p.target.port}>${p.toTag ? `;tag=${p.toTag}` : ''}`,
    `Call-ID: ${p.ids.callId}`,
    `CSeq: ${p.ids.cseq} ${p.cseqMethod ?? p.method}`,
    `Contact: <sip:tester@127.0.0.1:${p.local.port};transport=${p.local.transport.toLowerCase()}>`,
    ...(p.extraHeaders ?? []),
  ];
  if (body.length > 0) lines.push(`Content-Type: ${p.contentType ?? 'application/sdp'}`);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** 200 OK to a request from the node (RFC 3261 8.2.6: its Via, From, To, Call-ID and CSeq). */
export function okResponse(req: RawMessage): string {
  const copy = ['via', 'from', 'to', 'call-id', 'cseq'].flatMap((name) => (req.headers.get(name) ?? []).map((v) => `${name}: ${v}`));
  return ['SIP/2.0 200 OK', ...copy, 'Content-Length: 0', '', ''].join('\r\n');
}

/** An SDP offer: audio on `rtpPort` with the given payload types and rtpmap lines. */
export function sdpOffer(rtpPort: number, pts: number[] = [0], rtpmaps: string[] = ['0 PCMU/8000']): string {
  return [
    'v=0',
    'o=tester 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${rtpPort} RTP/AVP ${pts.join(' ')}`,
    ...rtpmaps.map((r) => `a=rtpmap:${r}`),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** A UDP SIP endpoint on 127.0.0.1 that records every datagram it receives. */
export class UdpSip {
  readonly received: RawMessage[] = [];
  private constructor(private readonly sock: UdpSocket, readonly port: number) {
    sock.on('message', (buf) => this.received.push(parseMessage(buf.toString('latin1'))));
  }

  static async open(): Promise<UdpSip> {
    const port = await freePort();
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => resolve());
    });
    return new UdpSip(sock, port);
  }

  send(data: string | Buffer, port: number): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve, reject) => {
      this.sock.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Waits for a message matching `pred` that arrived after index `from`. */
  async expect(pred: (m: RawMessage) => boolean, timeoutMs: number, from = 0): Promise<RawMessage> {
    return waitFor('a matching SIP message over UDP', () => this.received.slice(from).find(pred), timeoutMs, 20);
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }
}

/** Splits a TCP byte stream into SIP messages using Content-Length framing (RFC 3261 18.3). */
function frame(buffer: string): { messages: string[]; rest: string } {
  const messages: string[] = [];
  let rest = buffer.replace(/^(\r\n)+/, '');
  for (let guard = 0; guard < 1000; guard++) {
    const sep = rest.indexOf('\r\n\r\n');
    if (sep < 0) break;
    const m = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(rest.slice(0, sep + 2));
    const len = m ? Number(m[1]) : 0;
    const end = sep + 4 + len;
    if (rest.length < end) break;
    messages.push(rest.slice(0, end));
    rest = rest.slice(end).replace(/^(\r\n)+/, '');
  }
  return { messages, rest };
}

/** One TCP connection to the node's SIP port. */
export class TcpSip {
  readonly received: RawMessage[] = [];
  closed = false;
  private buffer = '';
  private constructor(private readonly sock: TcpSocket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      const { messages, rest } = frame(this.buffer + d);
      this.buffer = rest;
      for (const m of messages) this.received.push(parseMessage(m));
    });
    sock.on('close', () => {
      this.closed = true;
    });
    sock.on('error', () => {
      this.closed = true;
    });
  }

  static async open(port: number): Promise<TcpSip> {
    const sock = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    sock.setNoDelay(true);
    return new TcpSip(sock);
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  write(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.sock.write(buf, () => resolve());
    });
  }

  /** Writes `data` in pieces of `chunk` bytes with `gapMs` between them (bounded by the data). */
  async writeSlowly(data: string, chunk: number, gapMs: number): Promise<void> {
    for (let i = 0; i < data.length; i += chunk) {
      await this.write(data.slice(i, i + chunk));
      await sleep(gapMs);
    }
  }

  async expect(pred: (m: RawMessage) => boolean, timeoutMs: number): Promise<RawMessage> {
    return waitFor('a matching SIP message over TCP', () => this.received.find(pred), timeoutMs, 20);
  }

  close(): void {
    this.sock.destroy();
  }
}

/** OPTIONS over UDP from a fresh socket; resolves with the response status (throws on timeout). */
export async function optionsUdp(sipPort: number, timeoutMs = 3000): Promise<number> {
  const c = await UdpSip.open();
  try {
    const ids = newDialogIds();
    const msg = buildRequest({ method: 'OPTIONS', user: 'meet', target: { port: sipPort }, local: { port: c.port, transport: 'UDP' }, ids });
    for (let attempt = 0; attempt < 3; attempt++) {
      await c.send(msg, sipPort);
      try {
        return (await c.expect((m) => m.status >= 200, Math.floor(timeoutMs / 3))).status;
      } catch {
        // UDP: retransmit like a client transaction would
      }
    }
    throw new Error(`no final response to OPTIONS over UDP within ${timeoutMs} ms`);
  } finally {
    c.close();
  }
}

/** OPTIONS over a new TCP connection; resolves with the response status. */
export async function optionsTcp(sipPort: number, timeoutMs = 3000): Promise<number> {
  const c = await TcpSip.open(sipPort);
  try {
    const ids = newDialogIds();
    await c.write(buildRequest({ method: 'OPTIONS', user: 'meet', target: { port: sipPort }, local: { port: c.localPort, transport: 'TCP' }, ids }));
    return (await c.expect((m) => m.status >= 200, timeoutMs)).status;
  } finally {
    c.close();
  }
}
