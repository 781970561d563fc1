import { readFileSync } from 'fs';
import { join } from 'path';
import { FramingError, StreamFramer } from './framing';
import { DEFAULT_PARSE_LIMITS, parseMessage } from './parser';

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');

function message(callId: string, body = ''): Buffer {
  return Buffer.from(
    crlf(`INFO sip:conf@192.0.2.1 SIP/2.0
Via: SIP/2.0/TCP 192.0.2.2:5060;branch=z9hG4bK${callId}
From: <sip:a@example.com>;tag=1
To: <sip:conf@192.0.2.1>;tag=2
Call-ID: ${callId}
CSeq: 1 INFO
Content-Length: ${Buffer.byteLength(body)}

`) + body,
  );
}

/** Drains every whole message available now. */
function drain(f: StreamFramer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    const m = f.next();
    if (!m) return out;
    out.push(m);
  }
  throw new Error('framer never ran dry');
}

describe('StreamFramer: Content-Length framing (RFC 3261 18.3)', () => {
  it('reassembles a message fed byte by byte', () => {
    const msg = message('one', 'Signal=5\r\nDuration=160\r\n');
    const f = new StreamFramer();
    const out: Buffer[] = [];
    for (let i = 0; i < msg.length; i++) {
      f.push(msg.subarray(i, i + 1));
      out.push(...drain(f));
      if (i < msg.length - 1) expect(out).toHaveLength(0);
    }
    expect(out).toEqual([msg]);
  });

  it('splits two messages that arrive in one chunk, then a third split across chunks', () => {
    const a = message('a', 'x');
    const b = message('b');
    const c = message('c', 'hello world');
    const f = new StreamFramer();
    f.push(Buffer.concat([a, b, c.subarray(0, 30)]));
    expect(drain(f)).toEqual([a, b]);
    f.push(c.subarray(30, c.length - 3));
    expect(f.next()).toBeNull();
    f.push(c.subarray(c.length - 3));
    expect(drain(f)).toEqual([c]);
  });

  it('returns copies that later pushes cannot overwrite', () => {
    const f = new StreamFramer();
    f.push(message('first'));
    const first = f.next();
    const snapshot = Buffer.from(first ?? Buffer.alloc(0));
    for (let i = 0; i < 50; i++) f.push(message(`more${i}`, 'y'.repeat(100)));
    drain(f);
    expect(first).toEqual(snapshot);
  });

  it('frames every valid corpus message with a Content-Length, and each parses', () => {
    const dir = join(__dirname, '../../../test/fixtures/sip/valid');
    for (const name of ['wsinv.sip', 'esc01.sip', 'longreq.sip', 'mpart01.sip', 'multi-via-response.sip', 'intmeth.sip']) {
      const bytes = readFileSync(join(dir, name));
      const f = new StreamFramer();
      for (let i = 0; i < bytes.length; i += 7) f.push(bytes.subarray(i, i + 7));
      const [framed] = drain(f);
      expect(framed && parseMessage(framed).ok).toBe(true);
    }
  });
});

describe('StreamFramer: random chunking', () => {
  it('recovers the exact message sequence whatever the chunk boundaries', () => {
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const msgs = [message('r1', 'abc'), message('r2'), message('r3', 'x'.repeat(3000)), message('r4', '\r\n\r\n')];
    const stream = Buffer.concat([Buffer.from('\r\n\r\n'), ...msgs]);
    for (let round = 0; round < 30; round++) {
      const f = new StreamFramer();
      const out: Buffer[] = [];
      for (let p = 0; p < stream.length; ) {
        const n = 1 + Math.floor(rnd() * 400);
        f.push(stream.subarray(p, p + n));
        out.push(...drain(f));
        p += n;
      }
      expect(out).toEqual(msgs);
    }
  });
});

describe('StreamFramer: keep-alives (RFC 5626 4.4.1, RFC 3261 7.5)', () => {
  it('consumes a CRLFCRLF ping and reports it once', () => {
    const f = new StreamFramer();
    f.push(Buffer.from('\r\n\r\n'));
    expect(f.next()).toBeNull();
    expect(f.takePing()).toBe(true);
    expect(f.takePing()).toBe(false);
  });

  it('consumes a ping split across chunks and then frames the next message', () => {
    const f = new StreamFramer();
    const msg = message('after-ping');
    f.push(Buffer.from('\r\n'));
    expect(f.next()).toBeNull();
    expect(f.takePing()).toBe(false);
    f.push(Buffer.from('\r\n'));
    f.push(msg);
    expect(drain(f)).toEqual([msg]);
    expect(f.takePing()).toBe(true);
  });

  it('ignores a lone CRLF (pong) before a message without reporting a ping', () => {
    const f = new StreamFramer();
    const msg = message('after-pong');
    f.push(Buffer.concat([Buffer.from('\r\n'), msg]));
    expect(drain(f)).toEqual([msg]);
    expect(f.takePing()).toBe(false);
  });

  it('handles pings between messages', () => {
    const a = message('a');
    const b = message('b');
    const f = new StreamFramer();
    f.push(Buffer.concat([a, Buffer.from('\r\n\r\n'), b, Buffer.from('\r\n\r\n')]));
    expect(drain(f)).toEqual([a, b]);
    expect(f.takePing()).toBe(true);
  });
});

describe('StreamFramer: unrecoverable streams throw FramingError', () => {
  const missingLength = Buffer.from(crlf('OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nCSeq: 1 OPTIONS\n\n'));

  it('throws when Content-Length is missing on a stream', () => {
    const f = new StreamFramer();
    f.push(missingLength);
    expect(() => f.next()).toThrow(FramingError);
    expect(() => f.next()).toThrow(/missing Content-Length/);
  });

  it('stays dead after an error even if good data follows', () => {
    const f = new StreamFramer();
    f.push(missingLength);
    expect(() => f.next()).toThrow(FramingError);
    f.push(message('good'));
    expect(() => f.next()).toThrow(FramingError);
  });

  it.each(['-1', 'abc', '1 2'])('throws on Content-Length %p', (v) => {
    const f = new StreamFramer();
    f.push(Buffer.from(message('x').toString().replace('Content-Length: 0', `Content-Length: ${v}`)));
    expect(() => f.next()).toThrow(/Content-Length/);
  });

  it('reads a folded and compact Content-Length', () => {
    const f = new StreamFramer();
    const msg = Buffer.from(message('x', 'abc').toString().replace('Content-Length: 3', 'l:\r\n 3'));
    f.push(msg);
    expect(drain(f)).toEqual([msg]);
  });

  it('throws when Content-Length announces more than maxMessageBytes', () => {
    const f = new StreamFramer();
    f.push(Buffer.from(message('x').toString().replace('Content-Length: 0', 'Content-Length: 70000')));
    expect(() => f.next()).toThrow(/maxMessageBytes/);
  });

  it('throws when the header section never ends within maxMessageBytes', () => {
    const f = new StreamFramer({ ...DEFAULT_PARSE_LIMITS, maxMessageBytes: 2000 });
    f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n'));
    let thrown: unknown;
    for (let i = 0; i < 200 && thrown === undefined; i++) {
      f.push(Buffer.from(`X-Filler-${i}: ${'z'.repeat(20)}\r\n`));
      try {
        f.next();
      } catch (err) {
        thrown = err;
      }
    }
    expect(thrown).toBeInstanceOf(FramingError);
  });

  it('throws on a start line that is not SIP (e.g. TLS or HTTP on the SIP port)', () => {
    const f = new StreamFramer();
    f.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(() => f.next()).toThrow(/bad start line/);
  });

  it('throws on a first line longer than maxLineLength even before its end arrives', () => {
    const f = new StreamFramer();
    f.push(Buffer.alloc(5000, 0x41));
    expect(() => f.next()).toThrow(/maxLineLength/);
  });
});
