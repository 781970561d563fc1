import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ConfnodeError, FakeClock, silentLogger, systemClock, type Clock } from '../../common';
import { ANSWER_TIMEOUT_MS, MAX_MESSAGE_BYTES, WS_CLOSE, WebRtcRefusal, type JoinMessage, type JoinedMessage, type MediaState } from './protocol';
import type { WebRtcEndReason, WebRtcSession, WebRtcSessionHandler } from './session';
import { createWebRtcSignaling, type WebRtcSignalingServer } from './ws-server';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

/** Records every port call; join outcome and delays are set per test. */
class FakeHandler implements WebRtcSessionHandler {
  calls: string[] = [];
  sessions: WebRtcSession[] = [];
  joinResult: (join: JoinMessage) => Promise<JoinedMessage> = async () => ({ type: 'joined', participantId: 'p1', conference: 'meet', videoCodec: 'H264' });
  onClosedCalled: Array<{ id: string; reason: WebRtcEndReason }> = [];

  async onJoin(session: WebRtcSession, join: JoinMessage): Promise<JoinedMessage> {
    this.calls.push(`join ${join.alias} ${join.name}`);
    this.sessions.push(session);
    // Sent during the join: must reach the browser after the joined reply.
    session.send({ type: 'participants', participants: [] });
    return this.joinResult(join);
  }
  async onOffer(_s: WebRtcSession, sdp: string): Promise<string | undefined> {
    this.calls.push('offer');
    if (sdp.includes('s=glare')) return undefined;
    if (sdp.includes('s=overtaken')) {
      // A server offer made while this offer is answered (its event overtakes the reply, as
      // across nodes): it must still reach the page after the answer.
      _s.send({ type: 'offer', sdp: 'v=0\r\ns=server\r\n' });
      await new Promise((r) => setTimeout(r, 30));
    }
    return sdp.replace('o=- 1 1', 'o=- 2 2');
  }
  async onAnswer(): Promise<void> {
    this.calls.push('answer');
  }
  onMediaState(_s: WebRtcSession, state: MediaState): void {
    this.calls.push(`media ${state.audio} ${state.video}`);
  }
  onClosed(session: WebRtcSession, reason: WebRtcEndReason): void {
    this.calls.push(`closed ${reason}`);
    this.onClosedCalled.push({ id: session.id, reason });
  }
}

interface Client {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  next(type?: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

let server: Server;
let signaling: WebRtcSignalingServer;
let handler: FakeHandler;
let port: number;
const clients: WebSocket[] = [];

async function start(opts: { joinTimeoutMs?: number; maxMessagesPerSecond?: number; resumeGraceMs?: number; pingIntervalMs?: number; answerTimeoutMs?: number; clock?: Clock } = {}): Promise<void> {
  handler = new FakeHandler();
  signaling = createWebRtcSignaling({ handler, clock: systemClock, logger: silentLogger, ...opts });
  server = createServer((_req, res) => res.end('plain http'));
  server.on('upgrade', (req, socket, head) => {
    if (!signaling.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}

function connect(path = '/ws', headers: Record<string, string> = {}): Client {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  clients.push(ws);
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  let read = 0;
  const next = async (type?: string, timeoutMs = 2000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (read < messages.length) {
        const m = messages[read++];
        if (m && (type === undefined || m.type === type)) return m;
      }
      if (Date.now() > deadline) throw new Error(`no ${type ?? 'message'} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { ws, messages, closed, next };
}

const opened = (c: Client): Promise<void> => new Promise((resolve, reject) => {
  c.ws.once('open', () => resolve());
  c.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
});

/** A new socket that presents a session's resume token. */
async function resume(token: unknown, lastSeq: number): Promise<Client> {
  const c = connect();
  await opened(c);
  c.ws.send(JSON.stringify({ type: 'resume', token, lastSeq }));
  return c;
}

async function joinedClient(): Promise<Client> {
  const c = connect();
  await opened(c);
  c.ws.send(JSON.stringify({ type: 'join', alias: 'meet', name: 'Ann' }));
  await c.next('joined');
  return c;
}

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await signaling.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('WebSocket signaling server: the happy path', () => {
  beforeEach(() => start());

  it('join -> joined first, then what the handler sent during the join; offer -> answer; leave closes with 1000', async () => {
    const c = await joinedClient();
    expect(c.messages[0]).toEqual({ type: 'joined', participantId: 'p1', conference: 'meet', videoCodec: 'H264', resumeToken: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), seq: 1 });
    expect(c.messages[1]).toEqual({ type: 'participants', participants: [], seq: 2 });
    c.ws.send(JSON.stringify({ type: 'offer', sdp: SDP }));
    expect((await c.next('answer')).sdp).toContain('o=- 2 2');
    c.ws.send(JSON.stringify({ type: 'media', audio: false, video: true }));
    c.ws.send(JSON.stringify({ type: 'answer', sdp: SDP }));
    c.ws.send(JSON.stringify({ type: 'leave' }));
    expect((await c.closed).code).toBe(WS_CLOSE.normal);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.calls).toEqual(['join meet Ann', 'offer', 'media false true', 'answer', 'closed leave']);
  });

  it('an offer the handler ignores (glare) gets no answer and the session goes on', async () => {
    const c = await joinedClient();
    c.ws.send(JSON.stringify({ type: 'offer', sdp: SDP.replace('s=-', 's=glare') }));
    c.ws.send(JSON.stringify({ type: 'offer', sdp: SDP }));
    expect((await c.next('answer')).sdp).not.toContain('glare');
    expect(c.messages.filter((m) => m.type === 'answer')).toHaveLength(1);
  });

  it("a server offer made while the browser's offer is answered reaches the page after the answer (the page would take a late answer for its next offer)", async () => {
    const c = await joinedClient();
    c.ws.send(JSON.stringify({ type: 'offer', sdp: SDP.replace('s=-', 's=overtaken') }));
    await c.next('offer');
    const order = c.messages.filter((m) => m.type === 'answer' || m.type === 'offer').map((m) => m.type);
    expect(order).toEqual(['answer', 'offer']);
  });

  it('the handler can send and close a session (admin hangup): the page gets the reason with code 4000', async () => {
    const c = await joinedClient();
    const session = handler.sessions[0];
    session?.send({ type: 'activeSpeaker', participantId: 'p1' });
    expect(await c.next('activeSpeaker')).toEqual({ type: 'activeSpeaker', participantId: 'p1', seq: 3 });
    await session?.close({ reason: 'ended by the administrator' });
    expect(await c.closed).toEqual({ code: WS_CLOSE.ended, reason: 'ended by the administrator' });
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('ended');
  });

  it('a browser that closes its socket normally (1000) without leave ends its session at once (closed)', async () => {
    const c = await joinedClient();
    c.ws.close(1000);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('closed');
    expect(signaling.sessionCount).toBe(0);
  });

  it('onClosed waits for a join still in progress, and runs exactly once', async () => {
    let finish: () => void = () => undefined;
    handler.joinResult = () => new Promise((resolve) => (finish = () => resolve({ type: 'joined', participantId: 'p9', conference: 'meet', videoCodec: 'VP8' })));
    const c = connect();
    await opened(c);
    c.ws.send(JSON.stringify({ type: 'join', alias: 'meet', name: 'Ann' }));
    await waitUntil(() => handler.calls.length === 1);
    c.ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    expect(handler.onClosedCalled).toEqual([]);
    finish();
    await waitUntil(() => handler.onClosedCalled.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(handler.onClosedCalled).toHaveLength(1);
  });

  it('shutdown closes every session with 1001 and the handler sees shutdown', async () => {
    const c = await joinedClient();
    await signaling.close();
    expect((await c.closed).code).toBe(WS_CLOSE.goingAway);
    expect(handler.onClosedCalled[0]?.reason).toBe('shutdown');
  });

  it('upgrades on other paths are not taken; a foreign Origin is refused with 403', async () => {
    await expect(opened(connect('/other'))).rejects.toThrow(/404/);
    await expect(opened(connect('/ws', { origin: 'http://evil.example' }))).rejects.toThrow(/403/);
    await opened(connect('/ws', { origin: `http://127.0.0.1:${port}` }));
  });
});

describe('WebSocket signaling server: bad input -> error message and close (DESIGN.md section 8)', () => {
  beforeEach(() => start({ joinTimeoutMs: 300, maxMessagesPerSecond: 20 }));

  async function expectRefused(send: (c: Client) => void, error: RegExp, code: number = WS_CLOSE.policy): Promise<Client> {
    const c = connect();
    await opened(c);
    send(c);
    const err = await c.next('error');
    expect(err.code).toBe('bad-message');
    expect(String(err.message)).toMatch(error);
    expect((await c.closed).code).toBe(code);
    return c;
  }

  it('invalid JSON', () => expectRefused((c) => c.ws.send('{nope'), /not valid JSON/));
  it('unknown type', () => expectRefused((c) => c.ws.send(JSON.stringify({ type: 'subscribe' })), /type/));
  it('binary frame', () => expectRefused((c) => c.ws.send(Buffer.from('{}')), /binary/));
  it(`a message over ${MAX_MESSAGE_BYTES} bytes`, () =>
    expectRefused((c) => c.ws.send(JSON.stringify({ type: 'join', alias: 'meet', name: 'x'.repeat(70_000) })), /exceeds/));
  it('an offer before join', () => expectRefused((c) => c.ws.send(JSON.stringify({ type: 'offer', sdp: SDP })), /first message must be 'join'/));

  it('a second join', async () => {
    const c = await joinedClient();
    c.ws.send(JSON.stringify({ type: 'join', alias: 'meet', name: 'Bob' }));
    expect((await c.next('error')).message).toMatch(/already joined/);
    expect((await c.closed).code).toBe(WS_CLOSE.policy);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('bad-message');
  });

  it('a flood of messages is cut off', async () => {
    const c = await joinedClient();
    for (let i = 0; i < 30; i++) c.ws.send(JSON.stringify({ type: 'media', audio: true, video: true }));
    expect((await c.next('error')).message).toMatch(/messages per second/);
    expect((await c.closed).code).toBe(WS_CLOSE.policy);
  });

  it('no join in time -> timeout error and close; the handler never hears of it', async () => {
    const c = connect();
    await opened(c);
    const err = await c.next('error', 2000);
    expect(err).toMatchObject({ type: 'error', code: 'timeout', message: expect.stringMatching(/no join/) });
    expect((await c.closed).code).toBe(WS_CLOSE.policy);
    expect(handler.calls).toEqual([]);
  });
});

describe('WebSocket signaling server: refused joins', () => {
  beforeEach(() => start());

  it.each([
    [new ConfnodeError('not-found', "there is no room 'nope'"), 'not-found', WS_CLOSE.refused],
    [new ConfnodeError('capacity', 'node full'), 'full', WS_CLOSE.refused],
    [new WebRtcRefusal('pin-required', 'needs a PIN'), 'pin-required', WS_CLOSE.refused],
    [new Error('boom'), 'internal', WS_CLOSE.internal],
  ])('%s -> error %s, then close %d; onClosed(refused)', async (err, code, closeCode) => {
    handler.joinResult = () => Promise.reject(err);
    const c = connect();
    await opened(c);
    c.ws.send(JSON.stringify({ type: 'join', alias: 'nope', name: 'Ann' }));
    const msg = await c.next();
    expect(msg.type).toBe('error');
    expect(msg.code).toBe(code);
    expect((await c.closed).code).toBe(closeCode);
    // The participants message the handler sent during the failed join is never delivered.
    expect(c.messages).toHaveLength(1);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('refused');
  });
});

describe('WebSocket signaling server: a dropped browser resumes its session', () => {
  beforeEach(() => start({ resumeGraceMs: 1500 }));

  it('drop, then resume: the same participant, what was sent meanwhile replayed once, resent messages processed once; the handler never hears a close', async () => {
    const a = await joinedClient();
    const token = a.messages[0]?.resumeToken;
    a.ws.send(JSON.stringify({ type: 'media', audio: false, video: true, seq: 1 }));
    await waitUntil(() => handler.calls.includes('media false true'));
    a.ws.terminate(); // as a network fault: no close frame
    await new Promise((r) => setTimeout(r, 100));
    const session = handler.sessions[0];
    session?.send({ type: 'offer', sdp: SDP }); // a renegotiation while the browser is away
    session?.send({ type: 'activeSpeaker', participantId: 'p1' });
    const b = await resume(token, 2); // it had handled joined and participants
    expect(await b.next()).toEqual({ type: 'resumed', participantId: 'p1', lastSeq: 1 });
    expect(await b.next()).toEqual({ type: 'offer', sdp: SDP, seq: 3 });
    expect(await b.next()).toEqual({ type: 'activeSpeaker', participantId: 'p1', seq: 4 });
    // The page resends everything after lastSeq 1 (media #1 again would be a duplicate).
    b.ws.send(JSON.stringify({ type: 'media', audio: false, video: true, seq: 1 }));
    b.ws.send(JSON.stringify({ type: 'answer', sdp: SDP, seq: 2 }));
    b.ws.send(JSON.stringify({ type: 'offer', sdp: SDP, seq: 3 }));
    expect((await b.next('answer')).seq).toBe(5);
    expect(handler.calls).toEqual(['join meet Ann', 'media false true', 'answer', 'offer']);
    expect(handler.onClosedCalled).toEqual([]);
    expect(signaling.sessionCount).toBe(1);
    b.ws.send(JSON.stringify({ type: 'leave', seq: 4 }));
    expect((await b.closed).code).toBe(WS_CLOSE.normal);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('leave');
  });

  it('a resume while the old socket still looks open takes over: the old one is closed with 4002', async () => {
    const a = await joinedClient();
    const b = await resume(a.messages[0]?.resumeToken, 2);
    expect((await b.next()).type).toBe('resumed');
    expect((await a.closed).code).toBe(WS_CLOSE.replaced);
    handler.sessions[0]?.send({ type: 'activeSpeaker', participantId: null });
    expect(await b.next()).toEqual({ type: 'activeSpeaker', participantId: null, seq: 3 });
    await new Promise((r) => setTimeout(r, 100));
    expect(handler.onClosedCalled).toEqual([]);
  });

  it('no resume within the grace period: the session ends once (lost), and a late resume is refused', async () => {
    const a = await joinedClient();
    const token = a.messages[0]?.resumeToken;
    a.ws.terminate();
    await waitUntil(() => handler.onClosedCalled.length === 1, 4000);
    expect(handler.onClosedCalled[0]?.reason).toBe('lost');
    const late = await resume(token, 2);
    expect(await late.next()).toMatchObject({ type: 'error', code: 'resume-failed' });
    expect((await late.closed).code).toBe(WS_CLOSE.refused);
    expect(handler.onClosedCalled).toHaveLength(1);
  });

  it('an unknown token, or one in a bad shape, is refused', async () => {
    const unknown = await resume('A'.repeat(32), 0);
    expect(await unknown.next()).toMatchObject({ type: 'error', code: 'resume-failed' });
    expect((await unknown.closed).code).toBe(WS_CLOSE.refused);
    const bad = await resume('not a token!', 0);
    expect(await bad.next()).toMatchObject({ type: 'error', code: 'bad-message', message: expect.stringMatching(/token/) });
    expect((await bad.closed).code).toBe(WS_CLOSE.policy);
  });

  it('a browser that claims messages the node never sent (or that are no longer kept) cannot resume: the session ends', async () => {
    const a = await joinedClient();
    const token = a.messages[0]?.resumeToken;
    a.ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    const b = await resume(token, 99);
    expect(await b.next()).toMatchObject({ type: 'error', code: 'resume-failed' });
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('lost');
  });

  it('a ping that says the page processed up to seq N lets the node forget those: a resume from an older seq is refused', async () => {
    const a = await joinedClient();
    const token = a.messages[0]?.resumeToken;
    a.ws.send(JSON.stringify({ type: 'ping', lastSeq: 2 }));
    await a.next('pong');
    a.ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    handler.sessions[0]?.send({ type: 'activeSpeaker', participantId: 'p1' });
    const b = await resume(token, 2);
    expect(await b.next()).toMatchObject({ type: 'resumed' });
    expect(await b.next()).toEqual({ type: 'activeSpeaker', participantId: 'p1', seq: 3 });
    b.ws.send(JSON.stringify({ type: 'ping', lastSeq: 3 }));
    await b.next('pong');
    b.ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    const c = await resume(token, 1); // it already said it had 3
    expect(await c.next()).toMatchObject({ type: 'error', code: 'resume-failed' });
  });

  it('ping gets pong, neither numbered; the numbering of other messages goes on', async () => {
    const a = await joinedClient();
    a.ws.send(JSON.stringify({ type: 'ping' }));
    expect(await a.next('pong')).toEqual({ type: 'pong' });
    handler.sessions[0]?.send({ type: 'activeSpeaker', participantId: null });
    expect(await a.next('activeSpeaker')).toEqual({ type: 'activeSpeaker', participantId: null, seq: 3 });
    const early = connect();
    await opened(early);
    early.ws.send(JSON.stringify({ type: 'ping' }));
    expect((await early.next('error')).message).toMatch(/first message must be 'join' or 'resume'/);
  });

  it('resume is only a first message; a joined socket that sends it is cut off', async () => {
    const a = await joinedClient();
    a.ws.send(JSON.stringify({ type: 'resume', token: a.messages[0]?.resumeToken, lastSeq: 2 }));
    expect((await a.next('error')).message).toMatch(/already joined/);
    expect((await a.closed).code).toBe(WS_CLOSE.policy);
  });
});

describe('WebSocket signaling server: the browser answers the node\'s offer within its deadline, counted while a socket is up', () => {
  // Time moves only when the test says so; the node's pings are out of the way.
  let clock: FakeClock;
  const ANSWER_MS = 10_000;
  beforeEach(() => {
    clock = new FakeClock();
    return start({ clock, answerTimeoutMs: ANSWER_MS, pingIntervalMs: 3_600_000 });
  });
  /** Lets loopback I/O that needs no timer (frames, closes) happen. */
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
  const answers = (): number => handler.calls.filter((c) => c === 'answer').length;

  /** A joined page's socket drops; the node then offers (a renegotiation). Returns its resume token. */
  async function offerIntoDroppedSocket(): Promise<unknown> {
    const a = await joinedClient();
    a.ws.terminate();
    await settle();
    handler.sessions[0]?.send({ type: 'offer', sdp: SDP });
    return a.messages[0]?.resumeToken;
  }

  /** The page answers 1 s before its deadline; long after that, the session is still on. */
  async function answerJustInTime(c: Client, seq: number): Promise<void> {
    const before = answers();
    clock.advance(ANSWER_MS - 1000);
    c.ws.send(JSON.stringify({ type: 'answer', sdp: SDP, seq }));
    await waitUntil(() => answers() === before + 1);
    clock.advance(2 * ANSWER_MS);
    await settle();
    expect(handler.onClosedCalled).toEqual([]);
  }

  it('the default deadline outlasts the join page noticing a dead socket (its silence limit plus one heartbeat)', () => {
    const page = readFileSync(join(__dirname, '..', '..', '..', 'web', 'app.js'), 'utf8');
    const constant = (name: string): number => Number(new RegExp(`const ${name} = (\\d+);`).exec(page)?.[1] ?? NaN);
    const noticeMs = constant('DEAD_SOCKET_MS') + constant('HEARTBEAT_MS');
    expect(noticeMs).toBeGreaterThan(0);
    expect(ANSWER_TIMEOUT_MS).toBeGreaterThan(noticeMs + 5000);
  });

  it('an offer left unanswered: the page gets a timeout error, the socket closes 1008 and the session ends (timeout)', async () => {
    const a = await joinedClient();
    handler.sessions[0]?.send({ type: 'offer', sdp: SDP });
    await a.next('offer');
    clock.advance(ANSWER_MS - 1);
    await settle();
    expect(handler.onClosedCalled).toEqual([]);
    clock.advance(1);
    expect(await a.next('error')).toMatchObject({ code: 'timeout', message: expect.stringMatching(/no answer to the server's offer within 10000 ms/) });
    expect((await a.closed).code).toBe(WS_CLOSE.policy);
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('timeout');
  });

  it('an answer in time clears the deadline; the next offer has a deadline of its own', async () => {
    const a = await joinedClient();
    handler.sessions[0]?.send({ type: 'offer', sdp: SDP });
    await a.next('offer');
    await answerJustInTime(a, 1);
    handler.sessions[0]?.send({ type: 'offer', sdp: SDP });
    await a.next('offer');
    clock.advance(ANSWER_MS);
    expect(await a.next('error')).toMatchObject({ code: 'timeout' });
  });

  it('an offer sent into a dropped socket waits for the resume: the deadline starts again when the offer is replayed', async () => {
    const token = await offerIntoDroppedSocket();
    clock.advance(ANSWER_MS + 5000); // past the deadline, within the resume grace
    await settle();
    expect(handler.onClosedCalled).toEqual([]);
    const b = await resume(token, 2);
    expect((await b.next('offer')).seq).toBe(3);
    await answerJustInTime(b, 1);
  });

  it('an offer that went into a socket the page found dead (it heard nothing, the node saw no close) is answered through the resume', async () => {
    const a = await joinedClient();
    const token = a.messages[0]?.resumeToken;
    handler.sessions[0]?.send({ type: 'offer', sdp: SDP }); // the page never reads it
    await a.next('offer');
    clock.advance(ANSWER_MS - 2000);
    const b = await resume(token, 2); // the page gave up on its socket and resumes
    expect((await b.next('offer')).seq).toBe(3);
    expect((await a.closed).code).toBe(WS_CLOSE.replaced);
    await answerJustInTime(b, 1); // well past the first offer's deadline, within the replay's
  });

  it('a replayed offer still unanswered after the resume ends the session (timeout)', async () => {
    const token = await offerIntoDroppedSocket();
    const b = await resume(token, 2);
    await b.next('offer');
    clock.advance(ANSWER_MS);
    expect(await b.next('error')).toMatchObject({ code: 'timeout' });
    await waitUntil(() => handler.onClosedCalled.length === 1);
    expect(handler.onClosedCalled[0]?.reason).toBe('timeout');
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
