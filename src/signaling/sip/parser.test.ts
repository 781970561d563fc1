import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { seededRandom } from '../../common';
import { getHeader, type SipMessage } from './message';
import { DEFAULT_PARSE_LIMITS, findBodyStart, parseMessage } from './parser';
import { serializeMessage } from './serializer';
import { getVias, parseNameAddr } from './headers';
import { parseUri } from './uri';

const FIXTURES = join(__dirname, '../../../test/fixtures/sip');
const fixture = (kind: string, name: string): Buffer => readFileSync(join(FIXTURES, kind, name));
const files = (kind: string): string[] => readdirSync(join(FIXTURES, kind)).filter((f) => f.endsWith('.sip')).sort();

function parseOk(data: Buffer | string): SipMessage {
  const r = parseMessage(typeof data === 'string' ? Buffer.from(data) : data);
  if (!r.ok) throw new Error(`expected ok, got: ${r.error}`);
  return r.message;
}

function parseErr(data: Buffer | string): Extract<ReturnType<typeof parseMessage>, { ok: false }> {
  const r = parseMessage(typeof data === 'string' ? Buffer.from(data) : data);
  if (r.ok) throw new Error('expected a parse error');
  return r;
}

/** The model minus Content-Length, which the serializer rewrites from the body. */
function model(m: SipMessage): unknown {
  return { ...m, headers: m.headers.filter((h) => h.name !== 'Content-Length') };
}

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');

const BASE = crlf(`OPTIONS sip:conf@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:conf@192.0.2.1>
Call-ID: base@192.0.2.2
CSeq: 1 OPTIONS
Max-Forwards: 70
`);

describe('corpus: valid messages (RFC 4475 3.1.1, RFC 5118, ours)', () => {
  it('has fixtures', () => expect(files('valid').length).toBeGreaterThan(15));
  it.each(files('valid'))('%s parses, and re-serializes to the same model', (name) => {
    const first = parseOk(fixture('valid', name));
    const second = parseOk(serializeMessage(first));
    expect(model(second)).toEqual(model(first));
    expect(serializeMessage(second)).toEqual(serializeMessage(first));
  });
});

describe('corpus: malformed messages (RFC 4475 3.1.2, RFC 5118, ours)', () => {
  it('has fixtures', () => expect(files('invalid').length).toBeGreaterThan(30));
  it.each(files('invalid'))('%s gives ok:false without throwing', (name) => {
    const r = parseMessage(fixture('invalid', name));
    expect(r.ok).toBe(false);
  });
});

describe('RFC 4475 details', () => {
  it('3.1.1.1 wsinv: folding, odd whitespace, compact forms, escaped quotes', () => {
    const m = parseOk(fixture('valid', 'wsinv.sip'));
    expect(m.kind === 'request' && m.method).toBe('INVITE');
    expect(getHeader(m, 'CSeq')).toBe('0009 INVITE');
    expect(getHeader(m, 'Max-Forwards')).toBe('0068');
    expect(getHeader(m, 'Subject')).toBe('');
    expect(getHeader(m, 'NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(parseNameAddr(getHeader(m, 'From') ?? '')).toEqual({ displayName: 'J Rosenberg \\"', uri: 'sip:jdrosen@example.com', params: { tag: '98asjd8' }, tag: '98asjd8' });
    expect(parseNameAddr(getHeader(m, 'To') ?? '')?.tag).toBe('1918181833n');
    const vias = getVias(m);
    expect(vias?.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(parseNameAddr(getHeader(m, 'Contact') ?? '')?.params).toEqual({ newparam: 'newvalue', secondparam: null, q: '0.33' });
    expect(m.body.length).toBe(150);
  });

  it('3.1.1.2 intmeth: extension method kept as received, raw control bytes in a quoted display name', () => {
    const m = parseOk(fixture('valid', 'intmeth.sip'));
    expect(m.kind === 'request' && m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(parseNameAddr(getHeader(m, 'To') ?? '')?.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    const uri = parseUri(m.kind === 'request' ? m.uri : '');
    expect(uri?.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri?.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  });

  it('3.1.1.4 escnull: %00 in the user part survives decoding', () => {
    const m = parseOk(fixture('valid', 'escnull.sip'));
    expect(parseUri(parseNameAddr(getHeader(m, 'To') ?? '')?.uri ?? '')?.user).toBe('null-\x00-null');
  });

  it('3.1.1.7 dblreq: bytes past Content-Length in a datagram are ignored', () => {
    const m = parseOk(fixture('valid', 'dblreq.sip'));
    expect(m.kind === 'request' && m.method).toBe('REGISTER');
    expect(m.body.length).toBe(0);
  });

  it('3.1.1.12/13 unusual and empty reason phrases', () => {
    const u = parseOk(fixture('valid', 'unreason.sip'));
    expect(u.kind === 'response' && u.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
    const n = parseOk(fixture('valid', 'noreason.sip'));
    expect(n.kind === 'response' && [n.status, n.reason]).toEqual([100, '']);
  });

  it('RFC 5118 4.5: received with or without brackets is an IPv6 address', () => {
    const vias = getVias(parseOk(fixture('valid', 'ipv6-via-received.sip')));
    expect(vias?.map((v) => [v.host, v.received, v.rport])).toEqual([
      ['2001:db8::9:1', '2001:db8::9:255', undefined],
      ['2001:db8::9:2', '2001:db8::9:256', 5061],
    ]);
  });

  it('3.1.2.16 badvers: unsupported version suggests 505 and keeps the headers', () => {
    const r = parseErr(fixture('invalid', 'badvers.sip'));
    expect(r.status).toBe(505);
    expect(r.partial?.headers.map((h) => h.name)).toContain('Via');
  });

  it.each([
    ['clerr.sip', /Content-Length/],
    ['ncl.sip', /Content-Length/],
    ['scalar02.sip', /CSeq/],
    ['mismatch01.sip', /CSeq method/],
    ['mismatch02.sip', /CSeq method/],
    ['escruri.sip', /Request-URI/],
    ['ltgtruri.sip', /request line|Request-URI/],
    ['quotbal.sip', /To/],
    ['baddn.sip', /From/],
    ['badaspec.sip', /To/],
    ['regbadct.sip', /Contact/],
    ['too-many-headers.sip', /maxHeaders/],
    ['line-too-long.sip', /maxLineLength/],
    ['folded-too-long.sip', /maxLineLength/],
  ])('%s is rejected for the right reason (%s)', (name, reason) => {
    expect(parseErr(fixture('invalid', name)).error).toMatch(reason);
  });
});

describe('parseMessage(): partial requests for a 400', () => {
  it('keeps method, uri and headers when a mandatory header is malformed', () => {
    const r = parseErr(BASE.replace('CSeq: 1 OPTIONS', 'CSeq: one OPTIONS') + '\r\n');
    expect(r.status).toBe(400);
    expect(r.partial?.method).toBe('OPTIONS');
    expect(r.partial?.uri).toBe('sip:conf@192.0.2.1');
    expect(r.partial?.headers.find((h) => h.name === 'Via')?.value).toBe('SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1');
  });

  it.each(['lwsstart.sip', 'trws.sip'])('%s: odd request-line spacing is rejected but still readable for a 400', (name) => {
    const r = parseErr(fixture('invalid', name));
    expect(r.error).toMatch(/request line/);
    expect(r.partial?.headers.some((h) => h.name === 'Via')).toBe(true);
  });

  it('keeps the headers before an over-long line', () => {
    const r = parseErr(BASE + 'X-Long: ' + 'a'.repeat(5000) + '\r\n\r\n');
    expect(r.error).toMatch(/maxLineLength/);
    expect(r.partial?.headers.map((h) => h.name)).toEqual(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']);
  });

  it('keeps the well-formed headers after a line without a colon, so a 400 can still be built', () => {
    const broken = BASE.replace('From:', 'This line has no colon\r\nFrom:') + '\r\n';
    const r = parseErr(broken);
    expect(r.error).toMatch(/without colon/);
    expect(r.partial?.headers.map((h) => h.name)).toEqual(expect.arrayContaining(['Via', 'From', 'To', 'Call-ID', 'CSeq']));
  });

  it('gives no partial when the start line itself is garbage', () => {
    expect(parseErr('HELLO\r\n\r\n').partial).toBeUndefined();
  });

  it('gives no partial for responses', () => {
    expect(parseErr(crlf('SIP/2.0 200 OK\nCSeq: x\n\n')).partial).toBeUndefined();
  });
});

describe('parseMessage(): framing of a datagram (RFC 3261 18.3)', () => {
  it('takes the rest of the datagram as body when Content-Length is missing', () => {
    expect(parseOk(BASE + '\r\nhello').body.toString()).toBe('hello');
  });
  it('bounds the body by Content-Length (compact l:)', () => {
    expect(parseOk(BASE + 'l: 3\r\n\r\nhello').body.toString()).toBe('hel');
  });
  it('rejects a Content-Length larger than the datagram', () => {
    expect(parseErr(BASE + 'Content-Length: 6\r\n\r\nhello').error).toMatch(/larger/);
  });
  it.each(['-1', '5x', '', '12345678901'])('rejects Content-Length %p', (v) => {
    expect(parseErr(BASE + `Content-Length: ${v}\r\n\r\n`).ok).toBe(false);
  });
  it('accepts LF-only line ends from sloppy senders', () => {
    expect(parseOk(BASE.replace(/\r\n/g, '\n') + '\nbody').body.toString()).toBe('body');
  });
  it('rejects a message bigger than maxMessageBytes with 513', () => {
    const r = parseErr(BASE + 'Content-Length: 70000\r\n\r\n' + 'x'.repeat(70000));
    expect(r.status).toBe(513);
    expect(r.error).toMatch(/maxMessageBytes/);
  });
  it('applies custom limits', () => {
    const r = parseMessage(Buffer.from(BASE + '\r\n'), { ...DEFAULT_PARSE_LIMITS, maxHeaders: 3 });
    expect(!r.ok && r.error).toMatch(/maxHeaders/);
  });
});

describe('parseMessage(): start line and headers', () => {
  it('keeps an extension method as received, case-sensitive', () => {
    const m = parseOk(BASE.replace(/OPTIONS/g, 'Options') + '\r\n');
    expect(m.kind === 'request' && m.method).toBe('Options');
  });
  it('tolerates a missing Max-Forwards (many UAs omit it)', () => {
    expect(parseMessage(Buffer.from(BASE.replace('Max-Forwards: 70\r\n', '') + '\r\n')).ok).toBe(true);
  });
  it.each(['256', '-1', '1e2'])('rejects Max-Forwards %p', (v) => {
    expect(parseErr(BASE.replace('Max-Forwards: 70', `Max-Forwards: ${v}`) + '\r\n').error).toMatch(/Max-Forwards/);
  });
  it('expands compact names and accepts whitespace before the colon', () => {
    const m = parseOk(BASE.replace('Call-ID:', 'i  :') + '\r\n');
    expect(getHeader(m, 'Call-ID')).toBe('base@192.0.2.2');
  });
  it('rejects a bare CR inside a header line', () => {
    expect(parseErr(BASE + 'X-A: a\rb\r\n\r\n').error).toMatch(/bare CR/);
  });
  it('rejects an unknown URI inside sip: requests but accepts unknown schemes (3.3.1 unksm)', () => {
    expect(parseErr(BASE.replace('sip:conf@192.0.2.1 SIP', 'sip:conf@@x SIP') + '\r\n').error).toMatch(/Request-URI/);
    expect(parseOk(BASE.replace('sip:conf@192.0.2.1 SIP', 'nobodyKnowsThisScheme:totallyopaque SIP') + '\r\n').kind).toBe('request');
  });
  it('validates responses too (Via, CSeq)', () => {
    const resp = crlf(`SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:conf@192.0.2.1>;tag=2
Call-ID: base@192.0.2.2
CSeq: 1 OPTIONS

`);
    expect(parseOk(resp).kind).toBe('response');
    expect(parseErr(resp.replace('CSeq: 1 OPTIONS', 'CSeq: 1')).ok).toBe(false);
    expect(parseErr(resp.replace('SIP/2.0 200', 'SIP/3.0 200')).ok).toBe(false);
  });
});

describe('parseMessage(): never throws, stays linear', () => {
  // Deterministic PRNG so a failure is reproducible.
  it('returns ok:false for 64 KB of garbage', () => {
    const rnd = seededRandom(1);
    const buf = Buffer.alloc(65535);
    for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rnd() * 256);
    expect(parseMessage(buf).ok).toBe(false);
  });
  it('handles pathological shapes: many LFs, many colons, one long line, deep quotes', () => {
    const shapes = [
      '\n'.repeat(65000),
      'OPTIONS sip:a@b SIP/2.0\n' + 'a:\n'.repeat(20000),
      'x'.repeat(65000),
      BASE + 'To: ' + '"\\'.repeat(1500) + '\r\n\r\n',
      BASE + 'Contact: ' + '<'.repeat(4000) + '\r\n\r\n',
      BASE.replace(/\r\n/g, '\n') + 'X: ' + '\r'.repeat(3000) + '\n\n',
    ];
    for (const s of shapes) expect(parseMessage(Buffer.from(s)).ok).toBe(false);
  });
  it('never throws on random mutations of valid corpus messages', () => {
    const rnd = seededRandom(42);
    for (const name of files('valid')) {
      const original = fixture('valid', name);
      for (let round = 0; round < 40; round++) {
        const buf = Buffer.from(original);
        const edits = 1 + Math.floor(rnd() * 8);
        for (let e = 0; e < edits; e++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
        const r = parseMessage(buf.subarray(0, Math.floor(rnd() * (buf.length + 1))));
        expect(typeof r.ok).toBe('boolean');
      }
    }
  });
});

describe('findBodyStart()', () => {
  it.each([
    ['A\r\nB\r\n\r\nbody', 8],
    ['A\nB\n\nbody', 5],
    ['A\r\nB\r\n', -1],
    ['A\r\nB\r\n\r', -1],
  ])('%j -> %d', (text, expected) => {
    const buf = Buffer.from(text);
    expect(findBodyStart(buf, 0, buf.length)).toBe(expected);
  });
});
