import { formatUri, parseUri, type SipUri } from './uri';

describe('parseUri() RFC 3261 19.1', () => {
  it.each<[string, Partial<SipUri>]>([
    ['sip:alice@atlanta.com', { scheme: 'sip', user: 'alice', host: 'atlanta.com', params: {}, headers: {} }],
    ['SIP:alice@atlanta.com', { scheme: 'sip', user: 'alice', host: 'atlanta.com' }],
    ['sips:alice:secretword@atlanta.com:5061;transport=tcp', { scheme: 'sips', user: 'alice', password: 'secretword', port: 5061, params: { transport: 'tcp' } }],
    ['sip:+1-212-555-1212:1234@gateway.com;user=phone', { user: '+1-212-555-1212', password: '1234', params: { user: 'phone' } }],
    ['sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com', { host: 'atlanta.com', params: { method: 'REGISTER' }, headers: { to: 'alice@atlanta.com' } }],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', { headers: { subject: 'project x', priority: 'urgent' } }],
    ['<sip:proxy.example.com;lr>', { host: 'proxy.example.com', params: { lr: null } }],
    ['sip:proxy.example.com;LR;Transport=TCP', { params: { lr: null, transport: 'TCP' } }],
    ['sip:192.0.2.4:0', { host: '192.0.2.4', port: 0 }],
  ])('%s', (text, expected) => {
    expect(parseUri(text)).toMatchObject(expected);
  });

  it('decodes %-escapes in the user part (RFC 4475 3.1.1.3 esc01)', () => {
    expect(parseUri('sip:sips%3Auser%40example.com@example.net')).toMatchObject({ user: 'sips:user@example.com', host: 'example.net' });
    expect(parseUri('sip:%75se%72@example.com')?.user).toBe('user');
    expect(parseUri('sip:I%20have%20spaces@example.net')?.user).toBe('I have spaces');
  });

  it('decodes escaped param names and values (esc01 Contact)', () => {
    expect(parseUri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31')?.params).toEqual({ lr: null, name: 'value%41' });
  });

  it('decodes UTF-8 escapes as one character', () => {
    expect(parseUri('sip:%E5%A4%A7@example.com')?.user).toBe('大');
  });

  it('splits userinfo at the first @, so the user may hold ; and ? (RFC 4475 3.1.1.10 semiuri)', () => {
    expect(parseUri('sip:user;par=u%40example.net@example.com')).toMatchObject({ user: 'user;par=u@example.net', host: 'example.com', params: {} });
  });

  it('parses IPv6 references and strips the brackets (RFC 5118)', () => {
    expect(parseUri('sip:[2001:db8::10]')).toEqual({ scheme: 'sip', host: '2001:db8::10', params: {}, headers: {} });
    expect(parseUri('sip:[2001:db8::10:5070]')).toEqual({ scheme: 'sip', host: '2001:db8::10:5070', params: {}, headers: {} });
    expect(parseUri('sip:user@[2001:db8::10]:5070;transport=udp')).toMatchObject({ host: '2001:db8::10', port: 5070, params: { transport: 'udp' } });
  });

  it('parses tel: URIs with the number as user', () => {
    expect(parseUri('tel:+1-201-555-0123;phone-context=example.com')).toEqual({ scheme: 'tel', user: '+1-201-555-0123', host: '', params: { 'phone-context': 'example.com' }, headers: {} });
  });

  it.each([
    '',
    'alice@atlanta.com',
    'http://example.com',
    'sip:',
    'sip:@example.com',
    'sip:user@',
    'sip:user@example.com:',
    'sip:user@example.com:65536',
    'sip:user@example.com:5x',
    'sip:user@2001:db8::10',
    'sip:user@[2001:db8::10',
    'sip:user@[not-v6]',
    'sip:user@exa mple.com',
    'sip:us<er@example.com',
    'sip:user@example.com;;lr',
    'sip:user@example.com;a=%ZZ',
    'sip:us%4@example.com',
    'sip:user@example.com?novalue',
    'sip:user@exa$mple.com',
    '<sip:user@example.com',
    'tel:',
  ])('rejects %p', (text) => {
    expect(parseUri(text)).toBeNull();
  });
});

describe('formatUri()', () => {
  it('re-escapes the user part and brackets IPv6', () => {
    const uri: SipUri = { scheme: 'sip', user: 'a b@c', host: '2001:db8::1', port: 5060, params: { transport: 'tcp', lr: null }, headers: {} };
    expect(formatUri(uri)).toBe('sip:a%20b%40c@[2001:db8::1]:5060;transport=tcp;lr');
  });
  it('escapes NUL and non-ASCII characters', () => {
    expect(formatUri({ scheme: 'sip', user: '\x00大', host: 'h', params: {}, headers: {} })).toBe('sip:%00%E5%A4%A7@h');
  });
  it('writes headers and tel: URIs', () => {
    expect(formatUri({ scheme: 'sips', host: 'h', params: {}, headers: { Subject: 'a b' } })).toBe('sips:h?Subject=a%20b');
    expect(formatUri({ scheme: 'tel', user: '+1-201', host: '', params: { 'phone-context': 'x' }, headers: {} })).toBe('tel:+1-201;phone-context=x');
  });
  it.each([
    'sip:sips%3Auser%40example.com@example.net',
    'sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn\'t-it)@example.com',
    'sip:user;par=u%40example.net@example.com',
    'sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31',
    'sips:alice:pw@[2001:db8::10]:5061;transport=tcp?subject=project%20x&priority=urgent',
    'sip:null-%00-null@example.com',
    'tel:+1-201-555-0123;phone-context=example.com',
  ])('round-trips %s to the same model', (text) => {
    const parsed = parseUri(text);
    expect(parsed).not.toBeNull();
    if (parsed) expect(parseUri(formatUri(parsed))).toEqual(parsed);
  });
});
