import type { SipRequest, SipResponse } from './message';
import { parseMessage } from './parser';
import { serializeMessage } from './serializer';

const request = (headers: SipRequest['headers'], body = ''): SipRequest => ({
  kind: 'request',
  version: 'SIP/2.0',
  method: 'INFO',
  uri: 'sip:conf@192.0.2.1',
  headers,
  body: Buffer.from(body),
});

const BASE_HEADERS = [
  { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1' },
  { name: 'From', value: '<sip:a@example.com>;tag=1' },
  { name: 'To', value: '<sip:conf@192.0.2.1>' },
  { name: 'Call-ID', value: 'ser@192.0.2.2' },
  { name: 'CSeq', value: '1 INFO' },
];

describe('serializeMessage()', () => {
  it('writes start line, headers, a computed Content-Length, blank line and body', () => {
    const text = serializeMessage(request(BASE_HEADERS, 'héllo')).toString();
    expect(text).toBe(
      'INFO sip:conf@192.0.2.1 SIP/2.0\r\n' +
        BASE_HEADERS.map((h) => `${h.name}: ${h.value}\r\n`).join('') +
        'Content-Length: 6\r\n\r\nhéllo',
    );
  });

  it('replaces a stale Content-Length in place and drops duplicates', () => {
    const headers = [...BASE_HEADERS.slice(0, 2), { name: 'Content-Length', value: '999' }, ...BASE_HEADERS.slice(2), { name: 'Content-Length', value: '1' }];
    const text = serializeMessage(request(headers, 'abc')).toString();
    expect(text.match(/Content-Length/g)).toHaveLength(1);
    expect(text.split('\r\n')[3]).toBe('Content-Length: 3');
  });

  it('writes status lines, including an empty reason phrase', () => {
    const resp: SipResponse = { kind: 'response', version: 'SIP/2.0', status: 100, reason: '', headers: [], body: Buffer.alloc(0) };
    expect(serializeMessage(resp).toString()).toBe('SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n');
  });

  it('cannot be made to inject a header line through a value containing CRLF', () => {
    const headers = [...BASE_HEADERS, { name: 'Subject', value: 'hi\r\nVia: SIP/2.0/UDP evil;branch=z9hG4bKx' }];
    const r = parseMessage(serializeMessage(request(headers)));
    expect(r.ok && r.message.headers.filter((h) => h.name === 'Via')).toHaveLength(1);
  });

  it('keeps binary bodies byte for byte', () => {
    const body = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]);
    const msg = { ...request(BASE_HEADERS), body };
    const r = parseMessage(serializeMessage(msg));
    expect(r.ok && r.message.body).toEqual(body);
  });
});
