import { ConfnodeError, FakeClock, TypedEmitter, asConferenceId, silentLogger, type ConferenceId, type ParticipantId } from '../common';
import { emptyMediaStats, type LocalRtpAddress, type MediaConferenceRef, type MediaService, type MediaServiceEvents, type MediaServiceStats, type RouterParticipantStats } from '../media';
import { WebRtcRefusal, type ServerMessage, type WebRtcCloseRequest, type WebRtcSession } from '../signaling';
import { AdminLog } from './admin-log';
import { ConferenceRegistry } from './conference/registry';
import { defaultConfigInput, parseConfig, type ClusterConfig, type ClusterConfigInput } from './config';
import { mintJoinToken } from './conference/join-token';
import { WebRtcConferenceHandler } from './webrtc-handler';
import { Admission } from './conference/admission';
import { CapacityLedger } from './conference/capacity-ledger';
import { LocalPlacer } from './conference/placer';
import { Roster } from './conference/roster';

/** Records what the node asked of the media plane; `failCreate` makes the next browser fail. */
class FakeMedia implements MediaService {
  readonly events = new TypedEmitter<MediaServiceEvents>();
  calls: string[] = [];
  failCreate = false;
  speaker: ParticipantId | undefined;
  async createRtpParticipant(_c: MediaConferenceRef, p: ParticipantId): Promise<LocalRtpAddress> {
    this.calls.push(`rtp ${p}`);
    return { address: '127.0.0.1', rtpPort: 40000, rtcpPort: 40001 };
  }
  updateRtpParticipant(): void {}
  async createWebRtcParticipant(c: MediaConferenceRef, p: ParticipantId, codec: 'H264' | 'VP8'): Promise<void> {
    this.calls.push(`webrtc ${c.name} ${codec}`);
    if (this.failCreate) throw new Error('werift exploded');
    void p;
  }
  glare = false;
  async webrtcOffer(p: ParticipantId, sdp: string): Promise<string> {
    this.calls.push(`offer ${p} ${sdp}`);
    if (this.glare) throw new ConfnodeError('busy', 'the server offer awaits its answer');
    return 'v=0 answer';
  }
  async webrtcAnswer(p: ParticipantId, sdp: string): Promise<void> {
    this.calls.push(`answer ${p} ${sdp}`);
  }
  admit(): void {}
  injectDtmf(): void {}
  removeParticipant(p: ParticipantId): void {
    this.calls.push(`remove ${p}`);
  }
  participantStats(): RouterParticipantStats | undefined {
    return undefined;
  }
  activeSpeaker(): ParticipantId | undefined {
    return this.speaker;
  }
  stats(): MediaServiceStats {
    return emptyMediaStats();
  }
  async ready(): Promise<void> {}
  async close(): Promise<void> {}
}

class FakeSession implements WebRtcSession {
  sent: ServerMessage[] = [];
  closes: WebRtcCloseRequest[] = [];
  constructor(
    readonly id: string,
    readonly remote = 'ws:127.0.0.1:50000',
  ) {}
  send(m: ServerMessage): void {
    this.sent.push(m);
  }
  async close(r: WebRtcCloseRequest): Promise<void> {
    this.closes.push(r);
  }
  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.sent.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }
  lastList(): string[] {
    return (this.of('participants').at(-1)?.participants ?? []).map((p) => `${p.name}:${p.protocol}:${p.audio ? 'a' : '-'}${p.video ? 'v' : '-'}`);
  }
}

const WALL_NOW = 1_700_000_000_000;
const TOKEN_SECRET = 'join-token-secret-0123456789abcdef';

function setup(opts: { capacity?: number; extra?: Partial<ClusterConfigInput> } = {}) {
  const input = defaultConfigInput();
  const config: ClusterConfig = parseConfig({
    ...input,
    nodes: input.nodes.map((n) => ({ ...n, capacity: opts.capacity ?? 100 })),
    vmrs: [
      { name: 'meet', aliases: ['meet', 'meet@localhost'] },
      { name: 'vp8room', aliases: ['vp8'], video_codec: 'VP8' },
      { name: 'secret', aliases: ['secret'], host_pin: '1234', guest_pin: '5678' },
      ...(opts.extra?.join_tokens ? [{ name: 'board', aliases: ['board'], require_token: true }] : []),
    ],
    ...opts.extra,
  });
  const media = new FakeMedia();
  const clock = new FakeClock();
  const registry = new ConferenceRegistry({ logger: silentLogger, media });
  const ledger = new CapacityLedger(config.nodes[0]?.capacity ?? 100);
  const placer = new LocalPlacer({ nodeName: 'node1', location: 'local', ledger, backplaneCost: 1, runningConference: (n) => registry.conference(n)?.id });
  const adminLog = new AdminLog(silentLogger);
  const admission = new Admission({ config, registry, placer, adminLog });
  const roster = new Roster(registry, 'node1');
  media.events.on('activeSpeaker', (c, p) => roster.setActiveSpeaker(c, p));
  const refusals: string[] = [];
  const handler = new WebRtcConferenceHandler({
    config,
    registry,
    admission,
    roster,
    media,
    clock,
    logger: silentLogger,
    adminLog,
    wallClock: () => WALL_NOW,
    countTokenRefused: (r) => refusals.push(r),
  });
  return { config, media, clock, registry, ledger, admission, adminLog, handler, refusals };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WebRtcConferenceHandler: joining', () => {
  it('a browser joins a VMR by alias: protocol webrtc in the registry, media created with the VMR video codec', async () => {
    const { handler, registry, media } = setup();
    const s = new FakeSession('s1');
    const joined = await handler.onJoin(s, { type: 'join', alias: 'vp8', name: 'Ann' });
    expect(joined).toMatchObject({ type: 'joined', conference: 'vp8room', videoCodec: 'VP8' });
    const [p] = registry.participants();
    expect(p).toMatchObject({ id: joined.participantId, protocol: 'webrtc', displayName: 'Ann', remote: 'ws:127.0.0.1:50000', cost: 1 });
    expect(media.calls).toEqual(['webrtc vp8room VP8']);
    expect(s.lastList()).toEqual(['Ann:webrtc:av']);
    expect(s.of('activeSpeaker')).toEqual([{ type: 'activeSpeaker', participantId: null }]);
  });

  it('alias with host part (meet@localhost) finds the VMR; the default video codec is H264', async () => {
    const { handler } = setup();
    const joined = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet@localhost', name: 'Ann' });
    expect(joined).toMatchObject({ conference: 'meet', videoCodec: 'H264' });
  });

  it('unknown alias -> not-found, nothing reserved, admin log entry', async () => {
    const { ledger, handler, adminLog } = setup();
    await expect(handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'nope', name: 'Ann' })).rejects.toMatchObject({ code: 'not-found' });
    expect(ledger.load).toBe(0);
    expect(adminLog.list().at(-1)?.message).toMatch(/no conference alias 'nope'/);
  });

  it('a VMR with PINs: no PIN -> pin-required, wrong -> pin-invalid (nothing reserved); host PIN -> role host, guest PIN -> role guest', async () => {
    const { ledger, handler, registry } = setup();
    const err = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'secret', name: 'Ann' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebRtcRefusal);
    expect(err).toMatchObject({ code: 'pin-required' });
    await expect(handler.onJoin(new FakeSession('s2'), { type: 'join', alias: 'secret', name: 'Ann', pin: '4321' })).rejects.toMatchObject({ code: 'pin-invalid' });
    expect(ledger.load).toBe(0);
    const host = await handler.onJoin(new FakeSession('s3'), { type: 'join', alias: 'secret', name: 'Hal', pin: '1234' });
    const guest = await handler.onJoin(new FakeSession('s4'), { type: 'join', alias: 'secret', name: 'Gus', pin: '5678' });
    expect(registry.participant(host.participantId)?.role).toBe('host');
    expect(registry.participant(guest.participantId)?.role).toBe('guest');
    const open = await handler.onJoin(new FakeSession('s5'), { type: 'join', alias: 'meet', name: 'Ann', pin: '1234' });
    expect(registry.participant(open.participantId)?.role).toBe('participant');
  });

  it('R-PIN: five wrong PINs from one address lock that address out of the room for 10 min, even with the right PIN; others may still join', async () => {
    const { handler, clock, adminLog } = setup();
    const from = (n: number, addr = '203.0.113.7'): FakeSession => new FakeSession(`s${n}`, `ws:${addr}:${40000 + n}`);
    for (let i = 0; i < 5; i++) {
      await expect(handler.onJoin(from(i), { type: 'join', alias: 'secret', name: 'Eve', pin: '0000' })).rejects.toMatchObject({ code: 'pin-invalid' });
    }
    await expect(handler.onJoin(from(5), { type: 'join', alias: 'secret', name: 'Eve', pin: '1234' })).rejects.toMatchObject({
      code: 'pin-invalid',
      message: expect.stringMatching(/too many wrong PINs/),
    });
    expect(adminLog.list().at(-1)?.message).toMatch(/too many wrong PINs/);
    await expect(handler.onJoin(from(6, '198.51.100.1'), { type: 'join', alias: 'secret', name: 'Ann', pin: '1234' })).resolves.toMatchObject({ type: 'joined' });
    clock.advance(10 * 60_000);
    await expect(handler.onJoin(from(7), { type: 'join', alias: 'secret', name: 'Eve', pin: '1234' })).resolves.toMatchObject({ type: 'joined' });
  });

  it('capacity: a browser with camera costs capacity_costs.video, without camera the audio cost; full -> capacity', async () => {
    const { ledger, handler } = setup({ capacity: 1.25 });
    await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'A' });
    expect(ledger.load).toBe(1);
    await expect(handler.onJoin(new FakeSession('s2'), { type: 'join', alias: 'meet', name: 'B' })).rejects.toMatchObject({ code: 'capacity' });
    await handler.onJoin(new FakeSession('s3'), { type: 'join', alias: 'meet', name: 'C', video: false });
    expect(ledger.load).toBe(1.25);
  });

  it('media setup failure leaves the registry as it was', async () => {
    const { ledger, handler, registry, media } = setup();
    media.failCreate = true;
    await expect(handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'A' })).rejects.toThrow(/werift/);
    expect(registry.participants()).toEqual([]);
    expect(ledger.load).toBe(0);
  });
});

describe('WebRtcConferenceHandler: in the conference', () => {
  it('relays the browser offer and answer, and server offers (renegotiation) to the right browser', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    const b = new FakeSession('b');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    await handler.onJoin(b, { type: 'join', alias: 'meet', name: 'B' });
    expect(await handler.onOffer(a, 'v=0 offer')).toBe('v=0 answer');
    media.events.emit('webrtcOffer', ja.participantId as ParticipantId, 'v=0 server offer');
    expect(a.of('offer')).toEqual([{ type: 'offer', sdp: 'v=0 server offer' }]);
    expect(b.of('offer')).toEqual([]);
    await handler.onAnswer(a, 'v=0 browser answer');
    expect(media.calls).toContain(`answer ${ja.participantId} v=0 browser answer`);
  });

  it('every browser gets the whole list on each change (join, mute, leave), and only when it changed', async () => {
    const { handler } = setup();
    const a = new FakeSession('a');
    const b = new FakeSession('b');
    await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    await handler.onJoin(b, { type: 'join', alias: 'meet', name: 'B', video: false });
    expect(a.lastList()).toEqual(['A:webrtc:av', 'B:webrtc:a-']);
    expect(b.lastList()).toEqual(['A:webrtc:av', 'B:webrtc:a-']);
    handler.onMediaState(a, { audio: false, video: true });
    await flush();
    expect(b.lastList()).toEqual(['A:webrtc:-v', 'B:webrtc:a-']);
    const before = b.of('participants').length;
    handler.onMediaState(a, { audio: false, video: true });
    await flush();
    expect(b.of('participants').length).toBe(before);
    handler.onClosed(a, 'leave');
    await flush();
    expect(b.lastList()).toEqual(['B:webrtc:a-']);
  });

  it('browsers of other conferences hear nothing of this one', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    const other = new FakeSession('o');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    await handler.onJoin(other, { type: 'join', alias: 'vp8', name: 'O' });
    const n = other.sent.length;
    await handler.onJoin(new FakeSession('b'), { type: 'join', alias: 'meet', name: 'B' });
    media.events.emit('activeSpeaker', asConferenceId('x'), ja.participantId as ParticipantId);
    expect(other.sent.length).toBe(n);
  });

  it('active speaker events reach every browser of the conference', async () => {
    const { handler, media, registry } = setup();
    const a = new FakeSession('a');
    const b = new FakeSession('b');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    await handler.onJoin(b, { type: 'join', alias: 'meet', name: 'B' });
    const conf = registry.conference('meet')?.id as ConferenceId;
    media.events.emit('activeSpeaker', conf, ja.participantId as ParticipantId);
    media.events.emit('activeSpeaker', conf, undefined);
    for (const s of [a, b]) expect(s.of('activeSpeaker').slice(-2).map((m) => m.participantId)).toEqual([ja.participantId, null]);
  });

  it('SIP participants appear in the list (audio-only tile) as they join, and go when they leave (events, no polling)', async () => {
    const { handler, registry, admission } = setup();
    const a = new FakeSession('a');
    await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    const vmr = registry.conference('meet')?.vmr;
    if (!vmr) throw new Error('no conference');
    const sip = await admission.admit(vmr, { protocol: 'sip', displayName: 'Room 1', remote: 'udp:127.0.0.1:5062', cost: 0.25, hangup: async () => undefined }, 'Call', 'sip:room1@x');
    await flush();
    expect(a.lastList()).toEqual(['A:webrtc:av', 'Room 1:sip:a-']);
    registry.leave(sip.id);
    await flush();
    expect(a.lastList()).toEqual(['A:webrtc:av']);
  });

  it('leave or close -> registry.leave (media removed); admin hangup closes the socket with a reason', async () => {
    const { handler, registry, media } = setup();
    const a = new FakeSession('a');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    await registry.participant(ja.participantId)?.hangup();
    expect(a.closes).toEqual([{ reason: expect.stringMatching(/administrator/) }]);
    expect(registry.participants()).toHaveLength(1); // the socket's close ends it, not hangup() itself
    handler.onClosed(a, 'ended');
    expect(registry.participants()).toEqual([]);
    expect(media.calls).toContain(`remove ${ja.participantId}`);
  });

  it('a failed media connection closes that browser with media-failed', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    media.events.emit('webrtcFailed', ja.participantId as ParticipantId, 'ICE failed');
    expect(a.closes[0]?.error).toEqual({ code: 'media-failed', message: expect.stringMatching(/ICE failed/) });
  });

  it('media lost (its media thread or media node died) closes that browser with media-failed', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    media.events.emit('lost', [ja.participantId as ParticipantId]);
    expect(a.closes[0]?.error).toEqual({ code: 'media-failed', message: expect.stringMatching(/media server stopped/) });
  });

  it('glare: a browser offer while the server offer is in flight is ignored (no answer), other failures propagate', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    media.glare = true;
    await expect(handler.onOffer(a, 'v=0 offer')).resolves.toBeUndefined();
  });

  it('offers from a session that never joined are refused', async () => {
    const { handler } = setup();
    await expect(handler.onOffer(new FakeSession('z'), 'v=0')).rejects.toMatchObject({ code: 'closed' });
  });

  it('close() stops listening: later media events reach nobody', async () => {
    const { handler, media } = setup();
    const a = new FakeSession('a');
    const ja = await handler.onJoin(a, { type: 'join', alias: 'meet', name: 'A' });
    handler.close();
    media.events.emit('webrtcOffer', ja.participantId as ParticipantId, 'v=0');
    expect(a.of('offer')).toEqual([]);
  });
});

describe('WebRtcConferenceHandler: join tokens (issue 12 item 6)', () => {
  const withTokens = { join_tokens: { secret: TOKEN_SECRET } };
  const mint = (room: string, name: string, role: 'host' | 'guest', ttlS = 600, nowMs = WALL_NOW): Promise<string> =>
    mintJoinToken({ secret: TOKEN_SECRET, room, name, role, ttlS, nowMs });

  it('a room with require_token refuses a join without a token: code token, counted, admin log, nothing reserved', async () => {
    const { handler, ledger, adminLog, refusals } = setup({ extra: withTokens });
    const err = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'board', name: 'Ann' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebRtcRefusal);
    expect(err).toMatchObject({ code: 'token', message: expect.stringMatching(/needs an invitation link/) });
    expect(refusals).toEqual(['missing']);
    expect(ledger.load).toBe(0);
    expect(adminLog.list().at(-1)).toMatchObject({ level: 'warn', conference: 'board', reason: 'missing', message: expect.stringMatching(/^Browser refused: no join token/) });
  });

  it("with a valid token the browser joins with the token's name and role; joined tells the page both", async () => {
    const { handler, registry } = setup({ extra: withTokens });
    const joined = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'board', name: 'Typed Name', token: await mint('board', 'Grace Host', 'host') });
    expect(joined).toMatchObject({ type: 'joined', conference: 'board', name: 'Grace Host', role: 'host' });
    expect(registry.participant(joined.participantId)).toMatchObject({ displayName: 'Grace Host', role: 'host' });
  });

  it('a token replaces the PIN: a host token enters a PIN room as host, a guest token as guest', async () => {
    const { handler, registry } = setup({ extra: withTokens });
    const host = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'secret', name: 'x', token: await mint('secret', 'Hal', 'host') });
    const guest = await handler.onJoin(new FakeSession('s2'), { type: 'join', alias: 'secret', name: 'x', token: await mint('secret', 'Gus', 'guest') });
    expect(registry.participant(host.participantId)?.role).toBe('host');
    expect(registry.participant(guest.participantId)?.role).toBe('guest');
  });

  it('expired, wrong-room and forged tokens are refused with code token, each reason counted; the token never reaches the admin log', async () => {
    const { handler, adminLog, refusals } = setup({ extra: withTokens });
    const expired = await mint('board', 'Old', 'guest', 60, WALL_NOW - 3600_000);
    const otherRoom = await mint('meet', 'Mallory', 'host');
    const forged = await mintJoinToken({ secret: 'not-the-secret-0123456789abcdefgh', room: 'board', name: 'Eve', role: 'host', ttlS: 600, nowMs: WALL_NOW });
    for (const [i, token] of [expired, otherRoom, forged].entries()) {
      await expect(handler.onJoin(new FakeSession(`s${i}`), { type: 'join', alias: 'board', name: 'x', token })).rejects.toMatchObject({ code: 'token' });
    }
    expect(refusals).toEqual(['expired', 'wrong-room', 'signature']);
    expect(JSON.stringify(adminLog.list())).not.toContain(expired.slice(0, 20));
  });

  it('join_tokens.required: every room needs a token; without join_tokens a token is refused (disabled)', async () => {
    const required = setup({ extra: { join_tokens: { secret: TOKEN_SECRET, required: true } } });
    await expect(required.handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'Ann' })).rejects.toMatchObject({ code: 'token' });
    const none = setup();
    await expect(none.handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'Ann', token: 'a.b.c' })).rejects.toMatchObject({ code: 'token' });
    expect(none.refusals).toEqual(['disabled']);
  });
});

describe('WebRtcConferenceHandler: TURN for the page (issue 12 item 5)', () => {
  it('no turn servers configured: joined carries no iceServers', async () => {
    const { handler } = setup();
    const joined = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'Ann' });
    expect(joined.iceServers).toBeUndefined();
  });

  it('joined carries each TURN server with a username <expiry>:<participant id> and a derived credential, never the secret', async () => {
    const secret = 'coturn-static-secret-0123';
    const { handler } = setup({ extra: { turn: [{ urls: ['turn:127.0.0.1:3478?transport=udp'], secret, ttl_s: 600 }] } });
    const joined = await handler.onJoin(new FakeSession('s1'), { type: 'join', alias: 'meet', name: 'Ann' });
    expect(joined.iceServers).toEqual([
      { urls: ['turn:127.0.0.1:3478?transport=udp'], username: `${WALL_NOW / 1000 + 600}:${joined.participantId}`, credential: expect.stringMatching(/^[A-Za-z0-9+/]{27}=$/) },
    ]);
    expect(JSON.stringify(joined)).not.toContain(secret);
  });
});
