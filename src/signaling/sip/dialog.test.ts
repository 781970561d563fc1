import { getHeader, getHeaderLines, type SipRequest } from './message';
import { parseMessage } from './parser';
import { Dialog } from './dialog';
import { responseDestination, stampVia } from './transport';
import { createResponse } from './build';
import { getVias } from './headers';

function parse(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text.replace(/\n/g, '\r\n') + '\r\n'));
  if (!r.ok || r.message.kind !== 'request') throw new Error('fixture does not parse');
  return r.message;
}

const INVITE = `INVITE sip:meet@10.0.0.9 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKp1
Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1;rport
Record-Route: <sip:p2.example.com;lr>
Record-Route: <sip:p1.example.com;lr>
From: "Alice" <sip:alice@example.com>;tag=a1
To: <sip:meet@10.0.0.9>
Call-ID: c-1
CSeq: 10 INVITE
Contact: <sip:alice@10.0.0.1:5062;transport=tcp>
Content-Length: 0
`;

describe('Dialog (RFC 3261 section 12)', () => {
  it('12.1.1 UAS dialog from INVITE: ids, remote target from Contact, route set from Record-Route in order', () => {
    const r = Dialog.fromInvite(parse(INVITE), 'l1');
    if (!r.ok) throw new Error(r.reason);
    const d = r.dialog;
    expect([d.callId, d.localTag, d.remoteTag, d.remoteSeq]).toEqual(['c-1', 'l1', 'a1', 10]);
    expect(d.remoteTarget).toBe('sip:alice@10.0.0.1:5062;transport=tcp');
    expect(d.routeSet).toEqual(['sip:p2.example.com;lr', 'sip:p1.example.com;lr']);
    expect(d.nextHop('udp')).toEqual({ transport: 'udp', address: 'p2.example.com', port: 5060 });
  });

  it('12.2.1.1 loose routing: Request-URI = remote target, Route = route set, From/To swapped with tags, CSeq increments', () => {
    const r = Dialog.fromInvite(parse(INVITE), 'l1');
    if (!r.ok) throw new Error(r.reason);
    const bye = r.dialog.createRequest('BYE', 'SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKx');
    expect(bye.uri).toBe('sip:alice@10.0.0.1:5062;transport=tcp');
    expect(getHeaderLines(bye, 'Route')).toEqual(['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    expect(getHeader(bye, 'From')).toBe('<sip:meet@10.0.0.9>;tag=l1');
    expect(getHeader(bye, 'To')).toBe('"Alice" <sip:alice@example.com>;tag=a1');
    expect(getHeader(bye, 'CSeq')).toBe('2 BYE');
    expect(getHeader(r.dialog.createRequest('INFO', 'v'), 'CSeq')).toBe('3 INFO');
  });

  it('12.2.1.1 strict routing: first route (no ;lr) becomes the Request-URI, remote target goes last', () => {
    const r = Dialog.fromInvite(parse(INVITE.replace('<sip:p2.example.com;lr>', '<sip:p2.example.com>')), 'l1');
    if (!r.ok) throw new Error(r.reason);
    const bye = r.dialog.createRequest('BYE', 'v');
    expect(bye.uri).toBe('sip:p2.example.com');
    expect(getHeaderLines(bye, 'Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:alice@10.0.0.1:5062;transport=tcp>']);
  });

  it('without a route set the next hop is the remote target (transport from its URI)', () => {
    const r = Dialog.fromInvite(parse(INVITE.replace(/Record-Route: .*\n/g, '')), 'l1');
    if (!r.ok) throw new Error(r.reason);
    expect(r.dialog.nextHop('udp')).toEqual({ transport: 'tcp', address: '10.0.0.1', port: 5062 });
  });

  it.each([
    [9, false],
    [10, true],
    [11, true],
  ])('12.2.2 remote CSeq %i after 10 accepted=%s (lower -> the UA answers 500)', (seq, ok) => {
    const r = Dialog.fromInvite(parse(INVITE), 'l1');
    if (!r.ok) throw new Error(r.reason);
    expect(r.dialog.acceptRemoteCSeq(parse(INVITE.replace('10 INVITE', `${seq} BYE`).replace('INVITE sip', 'BYE sip')))).toBe(ok);
  });

  it('an INVITE without Contact cannot create a dialog (400)', () => {
    const r = Dialog.fromInvite(parse(INVITE.replace(/Contact: .*\n/, '')), 'l1');
    expect(r.ok).toBe(false);
  });
});

describe('transport Via handling (RFC 3261 18.2, RFC 3581)', () => {
  it.each([
    ['host differs, no rport', 'SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa', { received: '192.0.2.7', rport: undefined }],
    ['host equals source, no rport: untouched', 'SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKa', { received: undefined, rport: undefined }],
    ['empty rport: received and rport always set', 'SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKa;rport', { received: '192.0.2.7', rport: 40000 }],
  ])('stampVia: %s', (_name, via, expected) => {
    const req = parse(INVITE.replace(/Via: .*\n/g, '').replace('Max', 'Max').replace('From:', `Via: ${via}\nFrom:`));
    expect(stampVia(req, '192.0.2.7', 40000)).toBe(true);
    const top = getVias(req)?.[0];
    expect({ received: top?.received, rport: top?.rport ?? undefined }).toEqual(expected);
  });

  it('18.2.2: UDP responses go to received:rport, else sent-by, default port 5060', () => {
    const src = { transport: 'udp' as const, address: '192.0.2.7', port: 40000 };
    const req = parse(INVITE.replace(/Via: .*\n/g, '').replace('From:', 'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKa\nFrom:'));
    expect(responseDestination(createResponse(req, 200, 'OK'), src)).toEqual({ address: 'host.example.com', port: 5060 });
    stampVia(req, '192.0.2.7', 40000);
    expect(responseDestination(createResponse(req, 200, 'OK'), src)).toEqual({ address: '192.0.2.7', port: 5060 });
    const nat = parse(INVITE);
    stampVia(nat, '192.0.2.7', 40000);
    expect(responseDestination(createResponse(nat, 200, 'OK'), src)).toEqual({ address: '192.0.2.7', port: 5060 }); // only the top Via counts
  });
});
