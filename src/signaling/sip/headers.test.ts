import { formatNameAddr, formatVia, getVias, parseCSeq, parseNameAddr, parseVia, splitHeaderList, type Via } from './headers';
import type { SipRequest } from './message';

describe('parseVia() RFC 3261 20.42', () => {
  it('reads protocol, upper-cased transport, host, port and branch', () => {
    expect(parseVia('SIP/2.0/udp pc33.atlanta.com:5066;branch=z9hG4bK776asdhds')).toEqual([
      { protocol: 'SIP/2.0', transport: 'UDP', host: 'pc33.atlanta.com', port: 5066, params: { branch: 'z9hG4bK776asdhds' }, branch: 'z9hG4bK776asdhds' },
    ]);
  });

  it('reads received and rport with and without a value (RFC 3581)', () => {
    const [flag] = parseVia('SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1') ?? [];
    expect(flag?.rport).toBeNull();
    const [filled] = parseVia('SIP/2.0/UDP 10.0.0.1;received=192.0.2.1;rport=5062;branch=z9hG4bK1') ?? [];
    expect(filled).toMatchObject({ received: '192.0.2.1', rport: 5062, branch: 'z9hG4bK1' });
  });

  it('reads IPv6 sent-by and received, bracketed or not (RFC 5118 4.5)', () => {
    expect(parseVia('SIP/2.0/TCP [2001:db8::9:1]:5070;received=[2001:db8::9:255]')?.[0]).toMatchObject({ host: '2001:db8::9:1', port: 5070, received: '2001:db8::9:255' });
    expect(parseVia('SIP/2.0/TCP [2001:db8::9:1];received=2001:db8::9:255')?.[0]?.received).toBe('2001:db8::9:255');
  });

  it('splits several Vias in one value, with LWS around slashes, colon and params (RFC 4475 wsinv)', () => {
    const vias = parseVia('SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111 : 5070  ; branch= z9hG4bK30239');
    expect(vias?.map((v) => [v.transport, v.host, v.port, v.branch])).toEqual([
      ['TCP', 'spindle.example.com', undefined, 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 5070, 'z9hG4bK30239'],
    ]);
  });

  it('keeps unknown and quoted params raw, keys lower-cased', () => {
    expect(parseVia('SIP/2.0/WSS h.invalid;Maddr=224.2.0.1;ttl=16;x="a;b"')?.[0]?.params).toEqual({ maddr: '224.2.0.1', ttl: '16', x: '"a;b"' });
  });

  it.each([
    'SIP/2.0/UDP',
    'SIP/2.0 host',
    'SIP/2.0/UDP ;branch=1',
    'SIP/2.0/UDPhost',
    'SIP/2.0/UDP host:99999',
    'SIP/2.0/UDP host;rport=x',
    'SIP/2.0/UDP host;received=not_an ip',
    'SIP/2.0/UDP host;;',
    'SIP/2.0/UDP host;branch',
    'SIP/2.0/UDP host junk',
    'SIP/2.0/UDP [2001:db8::1',
    'SIP/2.0/UDP 192.0.2.15;;,;,,',
    '',
  ])('rejects %p', (value) => {
    expect(parseVia(value)).toBeNull();
  });

  it('formatVia() writes the branch/received/rport fields over the params, brackets IPv6', () => {
    const v: Via = { protocol: 'SIP/2.0', transport: 'UDP', host: '2001:db8::1', port: 5060, params: { branch: 'old', rport: null }, branch: 'z9hG4bKnew', received: '192.0.2.9', rport: 4000 };
    const text = formatVia(v);
    expect(text).toBe('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKnew;rport=4000;received=192.0.2.9');
    expect(parseVia(text)?.[0]).toMatchObject({ host: '2001:db8::1', port: 5060, branch: 'z9hG4bKnew', received: '192.0.2.9', rport: 4000 });
  });

  it('formatVia() keeps an rport flag', () => {
    expect(formatVia({ protocol: 'SIP/2.0', transport: 'TCP', host: 'h', params: {}, rport: null })).toBe('SIP/2.0/TCP h;rport');
  });
});

describe('getVias()', () => {
  const req = (vias: string[]): SipRequest => ({ kind: 'request', version: 'SIP/2.0', method: 'OPTIONS', uri: 'sip:x', headers: vias.map((value) => ({ name: 'Via', value })), body: Buffer.alloc(0) });
  it('returns every Via across lines and commas, in order', () => {
    expect(getVias(req(['SIP/2.0/UDP a, SIP/2.0/UDP b', 'SIP/2.0/TCP c']))?.map((v) => v.host)).toEqual(['a', 'b', 'c']);
  });
  it('returns null when any Via is malformed', () => {
    expect(getVias(req(['SIP/2.0/UDP a', 'garbage']))).toBeNull();
  });
  it('returns [] when there is no Via', () => {
    expect(getVias(req([]))).toEqual([]);
  });
});

describe('parseNameAddr() RFC 3261 20.10, 25.1', () => {
  it.each([
    ['"Bob" <sips:bob@biloxi.com> ;tag=a48s', { displayName: 'Bob', uri: 'sips:bob@biloxi.com', params: { tag: 'a48s' }, tag: 'a48s' }],
    ['Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8', { displayName: 'Anonymous', uri: 'sip:c8oqz84zk7z@privacy.org', tag: 'hyh8' }],
    ['caller<sip:caller@example.com>;tag=323', { displayName: 'caller', uri: 'sip:caller@example.com', tag: '323' }],
    ['<sip:proxy.example.com;lr>', { uri: 'sip:proxy.example.com;lr', params: {} }],
    ['"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>', { displayName: 'J Rosenberg \\"', uri: 'sip:jdrosen@example.com' }],
    ['"Bell, Alexander" <sip:a.g.bell@example.com>;tag=43', { displayName: 'Bell, Alexander', tag: '43' }],
    ['"" <sip:x@y>', { displayName: '', uri: 'sip:x@y' }],
    ['Jürgen Müller <sip:jm@example.de>', { displayName: 'Jürgen Müller', uri: 'sip:jm@example.de' }],
    ['<tel:+1-201-555-0123>', { uri: 'tel:+1-201-555-0123' }],
    ['isbn:2983792873', { uri: 'isbn:2983792873', params: {} }],
    ['<sip:a@b>;expires=60;q=0.7;+sip.instance="<urn:uuid:1>"', { params: { expires: '60', q: '0.7', '+sip.instance': '"<urn:uuid:1>"' } }],
  ])('%s', (value, expected) => {
    expect(parseNameAddr(value)).toMatchObject(expected);
  });

  it('has no displayName key when there is none', () => {
    expect(parseNameAddr('<sip:proxy.example.com;lr>')).toEqual({ uri: 'sip:proxy.example.com;lr', params: {} });
  });

  it('gives params after an addr-spec to the header, not the URI (RFC 3261 20.10)', () => {
    expect(parseNameAddr('sip:bob@biloxi.com;tag=8321234356;transport=tcp')).toEqual({ uri: 'sip:bob@biloxi.com', params: { tag: '8321234356', transport: 'tcp' }, tag: '8321234356' });
    expect(parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n')?.tag).toBe('1918181833n');
  });

  it.each([
    '',
    '"Mr. J. User <sip:j.user@example.com>',
    'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
    '"Watson, Thomas" < sip:t.watson@example.org >',
    '<sip:a@b',
    '<notauri>',
    '"name" sip:a@b',
    '<sip:a@b> junk',
    '<sip:a@b>;tag',
    '<sip:a@b>;;',
    'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
    'no-scheme-here',
  ])('rejects %p', (value) => {
    expect(parseNameAddr(value)).toBeNull();
  });

  it('formatNameAddr() quotes and escapes the display name and writes the tag', () => {
    const text = formatNameAddr({ displayName: 'Ann "the caller" \\o/', uri: 'sip:ann@example.com;transport=tcp', params: { q: '0.5' }, tag: 't1' });
    expect(text).toBe('"Ann \\"the caller\\" \\\\o/" <sip:ann@example.com;transport=tcp>;q=0.5;tag=t1');
    expect(parseNameAddr(text)).toEqual({ displayName: 'Ann "the caller" \\o/', uri: 'sip:ann@example.com;transport=tcp', params: { q: '0.5', tag: 't1' }, tag: 't1' });
  });
});

describe('splitHeaderList()', () => {
  it.each([
    ['a, b,c', ['a', 'b', 'c']],
    ['"Bob, mobile" <sip:b@x>, <sip:c@y;a=1,2>', ['"Bob, mobile" <sip:b@x>', '<sip:c@y;a=1,2>']],
    ['"quoted \\" comma, inside" <sip:a@b>, x', ['"quoted \\" comma, inside" <sip:a@b>', 'x']],
    [' , ,a,, ', ['a']],
    ['"unterminated, here', ['"unterminated, here']],
    ['', []],
  ])('%j', (value, expected) => {
    expect(splitHeaderList(value)).toEqual(expected);
  });
});

describe('parseCSeq() RFC 3261 8.1.1.5, 20.16', () => {
  it.each<[string, { seq: number; method: string } | null]>([
    ['4711 INVITE', { seq: 4711, method: 'INVITE' }],
    ['0009\t INVITE', { seq: 9, method: 'INVITE' }],
    ['0 ACK', { seq: 0, method: 'ACK' }],
    ['2147483647 BYE', { seq: 2147483647, method: 'BYE' }],
    ['000000000000002147483647 BYE', { seq: 2147483647, method: 'BYE' }],
    ['2147483648 BYE', null],
    ['36893488147419103232 REGISTER', null],
    ['-1 BYE', null],
    ['1', null],
    ['INVITE', null],
    ['1INVITE', null],
    ['1 IN VITE', null],
    ['', null],
  ])('%p -> %p', (value, expected) => {
    expect(parseCSeq(value)).toEqual(expected);
  });
});
