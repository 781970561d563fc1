import { createResponse, generateBranch, generateCallId, generateTag } from './build';
import { parseNameAddr } from './headers';
import { getHeader, getHeaderLines, type SipRequest } from './message';
import { parseMessage } from './parser';
import { serializeMessage } from './serializer';

const INVITE: SipRequest = {
  kind: 'request',
  version: 'SIP/2.0',
  method: 'INVITE',
  uri: 'sip:conf@192.0.2.1',
  headers: [
    { name: 'Via', value: 'SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKc1' },
    { name: 'Via', value: 'SIP/2.0/TCP 192.0.2.3;branch=z9hG4bKc0' },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: '"Ann" <sip:ann@example.com>;tag=a1' },
    { name: 'To', value: 'sip:conf@192.0.2.1' },
    { name: 'Call-ID', value: 'build@192.0.2.2' },
    { name: 'CSeq', value: '7 INVITE' },
    { name: 'Timestamp', value: '54' },
    { name: 'Contact', value: '<sip:ann@192.0.2.2>' },
    { name: 'Content-Type', value: 'application/sdp' },
  ],
  body: Buffer.from('v=0\r\n'),
};

describe('createResponse() RFC 3261 8.2.6', () => {
  it('copies all Vias in order, From, To, Call-ID and CSeq, nothing else from the request', () => {
    const res = createResponse(INVITE, 486, 'Busy Here', { toTag: 't9' });
    expect(res.headers.map((h) => h.name)).toEqual(['Via', 'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length']);
    expect(getHeaderLines(res, 'Via')).toEqual(getHeaderLines(INVITE, 'Via'));
    expect(getHeader(res, 'From')).toBe('"Ann" <sip:ann@example.com>;tag=a1');
    expect(getHeader(res, 'CSeq')).toBe('7 INVITE');
    expect([res.status, res.reason]).toEqual([486, 'Busy Here']);
  });

  it('adds the To tag to an addr-spec To as a header param', () => {
    const to = getHeader(createResponse(INVITE, 200, 'OK', { toTag: 't9' }), 'To') ?? '';
    expect(parseNameAddr(to)).toEqual({ uri: 'sip:conf@192.0.2.1', params: { tag: 't9' }, tag: 't9' });
  });

  it('keeps an existing To tag (in-dialog request)', () => {
    const req = { ...INVITE, headers: INVITE.headers.map((h) => (h.name === 'To' ? { name: 'To', value: '<sip:conf@x>;tag=old' } : h)) };
    expect(getHeader(createResponse(req, 200, 'OK', { toTag: 'new' }), 'To')).toBe('<sip:conf@x>;tag=old');
  });

  it('never tags a 100 Trying, and echoes Timestamp in it (8.2.6.1)', () => {
    const res = createResponse(INVITE, 100, 'Trying', { toTag: 't9' });
    expect(getHeader(res, 'To')).toBe('sip:conf@192.0.2.1');
    expect(getHeader(res, 'Timestamp')).toBe('54');
  });

  it('leaves To untouched without a toTag', () => {
    expect(getHeader(createResponse(INVITE, 180, 'Ringing'), 'To')).toBe('sip:conf@192.0.2.1');
  });

  it('adds extra headers, body and Content-Type, and serializes to a valid response', () => {
    const res = createResponse(INVITE, 200, 'OK', {
      toTag: 't9',
      headers: [{ name: 'Contact', value: '<sip:conf@192.0.2.1>' }],
      body: Buffer.from('v=0\r\n'),
      contentType: 'application/sdp',
    });
    const r = parseMessage(serializeMessage(res));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(getHeader(r.message, 'Content-Type')).toBe('application/sdp');
    expect(getHeader(r.message, 'Content-Length')).toBe('5');
    expect(r.message.body.toString()).toBe('v=0\r\n');
  });

  it('builds a 400 from a parser partial that lacks some headers', () => {
    const r = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: x\r\n\r\n'));
    expect(r.ok).toBe(false);
    if (r.ok || !r.partial) throw new Error('expected a partial');
    const res = createResponse(r.partial, 400, 'Bad Request');
    expect(res.headers.map((h) => h.name)).toEqual(['Via', 'CSeq', 'Content-Length']);
  });
});

describe('generateTag(), generateBranch(), generateCallId()', () => {
  const fixed = (n: number): Buffer => Buffer.alloc(n, 0xab);

  it('draws from the injected random source', () => {
    expect(generateTag(fixed)).toBe('abababababababab');
    expect(generateBranch(fixed)).toBe('z9hG4bK' + 'ab'.repeat(12));
    expect(generateCallId('192.0.2.1', fixed)).toBe('ab'.repeat(16) + '@192.0.2.1');
    expect(generateCallId('', fixed)).toBe('ab'.repeat(16));
  });

  it('defaults to crypto randomness: at least 32 bits, distinct values', () => {
    const tags = new Set(Array.from({ length: 100 }, () => generateTag()));
    expect(tags.size).toBe(100);
    expect(generateTag().length * 4).toBeGreaterThanOrEqual(32);
  });

  it('branches start with the magic cookie z9hG4bK (RFC 3261 8.1.1.7) and are tokens', () => {
    const b = generateBranch();
    expect(b.startsWith('z9hG4bK')).toBe(true);
    expect(b).toMatch(/^[A-Za-z0-9]+$/);
    expect(b).not.toBe(generateBranch());
  });
});
