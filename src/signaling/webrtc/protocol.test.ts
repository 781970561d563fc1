import { ConfnodeError } from '../../common';
import { MAX_MESSAGE_BYTES, ServerMessageSchema, WebRtcRefusal, parseClientMessage, wsErrorFor } from './protocol';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

describe('parseClientMessage() accepts the protocol messages', () => {
  it.each([
    ['join', { type: 'join', alias: 'meet', name: 'Ann' }],
    ['join with host alias', { type: 'join', alias: 'meet@localhost', name: 'Ann', video: false }],
    ['join with a join token', { type: 'join', alias: 'meet', name: 'Ann', token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln' }],
    ['offer', { type: 'offer', sdp: SDP }],
    ['answer', { type: 'answer', sdp: SDP }],
    ['media', { type: 'media', audio: false, video: true }],
    ['leave', { type: 'leave' }],
  ])('%s', (_what, msg) => {
    const r = parseClientMessage(JSON.stringify(msg), false);
    expect(r).toEqual({ ok: true, message: msg });
  });

  it('trims the display name', () => {
    const r = parseClientMessage(JSON.stringify({ type: 'join', alias: 'meet', name: '  Ann  ' }), false);
    expect(r.ok && r.message.type === 'join' && r.message.name).toBe('Ann');
  });
});

describe('parseClientMessage() refuses bad input (DESIGN.md section 8)', () => {
  it.each([
    ['not JSON', '{"type":', /not valid JSON/],
    ['JSON but not an object', '42', /invalid message/],
    ['unknown type', JSON.stringify({ type: 'hello' }), /invalid message: type/],
    ['missing type', JSON.stringify({ alias: 'meet' }), /invalid message/],
    ['extra key', JSON.stringify({ type: 'leave', x: 1 }), /invalid message/],
    ['join without name', JSON.stringify({ type: 'join', alias: 'meet' }), /name/],
    ['join with empty name', JSON.stringify({ type: 'join', alias: 'meet', name: '   ' }), /name must not be empty/],
    ['join with a control character in the name', JSON.stringify({ type: 'join', alias: 'meet', name: 'A\u0007nn' }), /control/],
    ['join with an over-long name', JSON.stringify({ type: 'join', alias: 'meet', name: 'x'.repeat(65) }), /name/],
    ['join with a space in the alias', JSON.stringify({ type: 'join', alias: 'me et', name: 'Ann' }), /alias/],
    ['offer that is not SDP', JSON.stringify({ type: 'offer', sdp: 'hello' }), /v=0/],
    ['join with an empty token', JSON.stringify({ type: 'join', alias: 'meet', name: 'Ann', token: '' }), /token must not be empty/],
    ['join with an over-long token', JSON.stringify({ type: 'join', alias: 'meet', name: 'Ann', token: 'x'.repeat(4097) }), /token must be at most 4096/],
    ['join with a token that is not a string', JSON.stringify({ type: 'join', alias: 'meet', name: 'Ann', token: 7 }), /token/],
    ['media with a string flag', JSON.stringify({ type: 'media', audio: 'no', video: true }), /audio/],
  ])('%s', (_what, text, error) => {
    const r = parseClientMessage(text, false);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(error);
  });

  it('a binary frame is refused even when it holds valid JSON', () => {
    const r = parseClientMessage(Buffer.from(JSON.stringify({ type: 'leave' })), true);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/binary/) });
  });

  it(`a message over ${MAX_MESSAGE_BYTES} bytes is refused before parsing`, () => {
    const big = JSON.stringify({ type: 'offer', sdp: `v=0\r\n${'a'.repeat(MAX_MESSAGE_BYTES)}` });
    const r = parseClientMessage(big, false);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/exceeds 65536/) });
  });
});

describe('wsErrorFor() maps handler errors to the codes the page shows', () => {
  it.each([
    [new ConfnodeError('not-found', 'no room'), 'not-found'],
    [new ConfnodeError('capacity', 'node full'), 'full'],
    [new ConfnodeError('bad-request', 'bad sdp'), 'bad-message'],
    [new WebRtcRefusal('pin-required', 'needs a PIN'), 'pin-required'],
    [new Error('boom'), 'internal'],
    [new ConfnodeError('internal', 'secret detail'), 'internal'],
  ])('%s -> %s', (err, code) => {
    expect(wsErrorFor(err).code).toBe(code);
  });

  it('never leaks the message of an internal error', () => {
    expect(wsErrorFor(new Error('stack details')).message).toBe('internal error');
  });
});

describe('ServerMessageSchema describes what the server sends', () => {
  it('accepts a participants list and refuses an unknown error code', () => {
    const list = { type: 'participants', participants: [{ id: 'p1', name: 'Ann', protocol: 'webrtc', audio: true, video: false }] };
    expect(ServerMessageSchema.safeParse(list).success).toBe(true);
    expect(ServerMessageSchema.safeParse({ type: 'error', code: 'nope', message: '' }).success).toBe(false);
  });

  it("joined may carry TURN servers with derived credentials, the name and role; 'token' is an error code", () => {
    const joined = {
      type: 'joined',
      participantId: 'p1',
      conference: 'meet',
      videoCodec: 'H264',
      iceServers: [{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700003600:p1', credential: 'Rr7pFitY+JAEZTkbiv7eFOzcpMA=' }],
      name: 'Alice',
      role: 'host',
    };
    expect(ServerMessageSchema.safeParse(joined).success).toBe(true);
    // A server entry with anything else (a secret) does not fit the schema.
    const leaky = { ...joined, iceServers: [{ ...joined.iceServers[0], secret: 's' }] };
    expect(ServerMessageSchema.safeParse(leaky).success).toBe(false);
    expect(ServerMessageSchema.safeParse({ type: 'joined', participantId: 'p1', conference: 'meet', videoCodec: 'H264', iceServers: [{ urls: ['stun:x'], username: 'u', credential: 'c' }] }).success).toBe(false);
    expect(ServerMessageSchema.safeParse({ type: 'error', code: 'token', message: 'expired' }).success).toBe(true);
  });
});
