import { MAX_HOPS, TrustedProxies, clientAddress, normalizeIp, parseForwarded, parseXForwardedFor, type HeaderValue } from './forwarded';

const PROXY = '10.0.0.2';
const EDGE = '10.0.0.3';
const trusted = new TrustedProxies([PROXY, EDGE, '2001:db8::10']);

function client(peer: string, headers: Record<string, HeaderValue>, t = trusted) {
  return clientAddress({ address: peer, port: 40000 }, headers, t);
}

describe('clientAddress(): forwarding headers only from trusted proxies', () => {
  it('an untrusted peer that sends X-Forwarded-For or Forwarded keeps its own address (spoofing ignored)', () => {
    expect(client('198.51.100.9', { 'x-forwarded-for': '203.0.113.7' })).toEqual({ address: '198.51.100.9', port: 40000, forwarded: false });
    expect(client('198.51.100.9', { forwarded: 'for=203.0.113.7' })).toEqual({ address: '198.51.100.9', port: 40000, forwarded: false });
  });

  it('nothing is trusted by default: an empty list ignores the headers even from loopback', () => {
    const none = new TrustedProxies([]);
    expect(client('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, none)).toMatchObject({ address: '127.0.0.1', forwarded: false });
  });

  it('a trusted proxy names the client in X-Forwarded-For (no port known)', () => {
    expect(client(PROXY, { 'x-forwarded-for': '203.0.113.7' })).toEqual({ address: '203.0.113.7', port: undefined, forwarded: true });
  });

  it('a trusted proxy without a forwarding header is the client itself', () => {
    expect(client(PROXY, {})).toEqual({ address: PROXY, port: 40000, forwarded: false });
    expect(client(PROXY, { 'x-forwarded-for': '  ' })).toMatchObject({ address: PROXY, forwarded: false });
  });

  it('the rightmost untrusted hop wins: what the client wrote further left is never believed', () => {
    // The client sent "X-Forwarded-For: 1.1.1.1"; nginx appended the address it saw.
    expect(client(PROXY, { 'x-forwarded-for': '1.1.1.1, 203.0.113.7' })).toMatchObject({ address: '203.0.113.7', forwarded: true });
  });

  it('several trusted hops are walked through to the first untrusted one', () => {
    // client -> EDGE -> PROXY -> node: PROXY's header lists client and EDGE.
    expect(client(PROXY, { 'x-forwarded-for': '9.9.9.9, 203.0.113.7, 10.0.0.3' })).toMatchObject({ address: '203.0.113.7', forwarded: true });
    // An untrusted hop between trusted ones stops the walk there.
    expect(client(PROXY, { 'x-forwarded-for': '203.0.113.7, 198.51.100.1, 10.0.0.3' })).toMatchObject({ address: '198.51.100.1' });
  });

  it('a chain of only trusted hops ends at the leftmost one', () => {
    expect(client(PROXY, { 'x-forwarded-for': '10.0.0.3' })).toMatchObject({ address: EDGE, forwarded: true });
  });

  it('repeated header lines count as one list', () => {
    expect(client(PROXY, { 'x-forwarded-for': ['1.1.1.1', '203.0.113.7'] })).toMatchObject({ address: '203.0.113.7' });
  });

  it('IPv6: proxy and client addresses in any spelling, IPv4-mapped peers as IPv4', () => {
    expect(client('2001:DB8:0:0::10', { 'x-forwarded-for': '2001:0db8::0042' })).toMatchObject({ address: '2001:db8::42', forwarded: true });
    expect(client('::ffff:10.0.0.2', { 'x-forwarded-for': '203.0.113.7' })).toMatchObject({ address: '203.0.113.7', forwarded: true });
    expect(client(PROXY, { 'x-forwarded-for': '[2001:db8::42]:4711' })).toEqual({ address: '2001:db8::42', port: 4711, forwarded: true });
    expect(client(PROXY, { 'x-forwarded-for': '203.0.113.7:5555' })).toEqual({ address: '203.0.113.7', port: 5555, forwarded: true });
  });

  it('Forwarded (RFC 7239): for= quoted or not, with ports, other parameters ignored', () => {
    expect(client(PROXY, { forwarded: 'for=203.0.113.7;proto=https;by=10.0.0.2' })).toEqual({ address: '203.0.113.7', port: undefined, forwarded: true });
    expect(client(PROXY, { forwarded: 'for="[2001:db8:cafe::17]:4711"' })).toEqual({ address: '2001:db8:cafe::17', port: 4711, forwarded: true });
    expect(client(PROXY, { forwarded: 'For="198.51.100.1", for=203.0.113.7;proto=https, for=10.0.0.3' })).toMatchObject({ address: '203.0.113.7' });
    expect(client(PROXY, { forwarded: 'proto=https;for="203.0.113.7:80";host="a,b"' })).toEqual({ address: '203.0.113.7', port: 80, forwarded: true });
  });

  it('X-Forwarded-For wins when both are present (Forwarded is read only without it)', () => {
    expect(client(PROXY, { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=1.1.1.1' })).toMatchObject({ address: '203.0.113.7' });
  });

  it('malformed hops never become the client: the walk stops at the last trusted address', () => {
    const cases: Array<[Record<string, HeaderValue>, string]> = [
      [{ 'x-forwarded-for': 'not-an-ip' }, PROXY],
      [{ 'x-forwarded-for': '203.0.113.7, ' }, PROXY],
      [{ 'x-forwarded-for': 'unknown, 10.0.0.3' }, EDGE],
      [{ 'x-forwarded-for': '203.0.113.7:99999' }, PROXY],
      [{ 'x-forwarded-for': '[2001:db8::1' }, PROXY],
      [{ 'x-forwarded-for': '[203.0.113.7]' }, PROXY],
      [{ 'x-forwarded-for': '203.0.113.7 evil' }, PROXY],
      [{ forwarded: 'for=unknown' }, PROXY],
      [{ forwarded: 'for=_hidden' }, PROXY],
      [{ forwarded: 'for="203.0.113.7' }, PROXY],
      [{ forwarded: 'proto=https' }, PROXY],
      [{ forwarded: 'for=1.1.1.1;for=2.2.2.2' }, PROXY],
      [{ forwarded: 'garbage' }, PROXY],
      [{ forwarded: 'for=2001:db8::1' }, '2001:db8::1'], // unquoted IPv6 is tolerated as the literal it is
    ];
    for (const [headers, expected] of cases) expect([headers, client(PROXY, headers).address]).toEqual([headers, expected]);
  });

  it('a very long chain of trusted hops is walked at most MAX_HOPS deep', () => {
    const hops = ['203.0.113.7', ...Array.from({ length: MAX_HOPS + 5 }, () => EDGE)].join(', ');
    expect(client(PROXY, { 'x-forwarded-for': hops })).toMatchObject({ address: EDGE, forwarded: true });
  });

  it('an unknown peer address (socket already gone) is kept as given', () => {
    expect(clientAddress({ address: undefined, port: undefined }, { 'x-forwarded-for': '203.0.113.7' }, trusted)).toEqual({ address: '', port: undefined, forwarded: false });
  });
});

describe('header parsers', () => {
  it('parseXForwardedFor lists hops left to right', () => {
    expect(parseXForwardedFor('203.0.113.7, 2001:db8::1 ,10.0.0.2')).toEqual([
      { address: '203.0.113.7', port: undefined },
      { address: '2001:db8::1', port: undefined },
      { address: '10.0.0.2', port: undefined },
    ]);
  });

  it('parseForwarded handles quoted commas and escapes', () => {
    expect(parseForwarded('for="203.0.113.7";host="x,y", for="[::1]:80"')).toEqual([
      { address: '203.0.113.7', port: undefined },
      { address: '::1', port: 80 },
    ]);
    expect(parseForwarded('for="\\203.0.113.7"')).toEqual([{ address: '203.0.113.7', port: undefined }]);
  });

  it('normalizeIp: one spelling per address', () => {
    expect(normalizeIp('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeIp('192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeIp('example.com')).toBeUndefined();
    expect(new TrustedProxies(['::1']).has('0:0::1')).toBe(true);
  });
});
