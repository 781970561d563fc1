import { asConferenceId, asParticipantId, silentLogger, systemClock } from '../../common';
import { LocalMediaService } from '../local-service';
import { weriftIceBase, type IceBaseModule } from './consent';
import { TestBrowser, waitFor } from './test-browser';

jest.setTimeout(30_000);

const conference = { id: asConferenceId('c-ice'), name: 'ice' };
/** Consent expires this long after the last answer here (werift and browsers: 30 s). */
const CONSENT_TIMEOUT_S = 2;
const CONNECT_TIMEOUT_MS = 6000;

function ufrag(sdp: string): string | undefined {
  return /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
}

describe('ICE restart after consent expiry (werift clients on loopback)', () => {
  let saved: Pick<IceBaseModule, 'CONSENT_INTERVAL' | 'CONSENT_TIMEOUT'>;
  let iceBase: IceBaseModule;
  let service: LocalMediaService;
  const browsers: TestBrowser[] = [];
  const failures: Array<[string, string]> = [];
  const offers: Array<[string, string]> = [];

  beforeAll(() => {
    const mod = weriftIceBase();
    if (!mod) throw new Error('werift iceBase module not found');
    iceBase = mod;
    saved = { CONSENT_INTERVAL: mod.CONSENT_INTERVAL, CONSENT_TIMEOUT: mod.CONSENT_TIMEOUT };
    // Same protocol, seconds instead of half a minute: a check every ~0.4 s, expiry after 2 s.
    mod.CONSENT_INTERVAL = 0.4;
    mod.CONSENT_TIMEOUT = CONSENT_TIMEOUT_S;
  });
  afterAll(() => {
    Object.assign(iceBase, saved);
  });

  beforeEach(() => {
    failures.length = 0;
    offers.length = 0;
    service = new LocalMediaService({
      address: '127.0.0.1',
      rtpPorts: { min: 44600, max: 44699 },
      clock: systemClock,
      logger: silentLogger,
      mixTalkers: 3,
      jitterBufferMs: 40,
      opusComplexity: 3,
      webrtcConnectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    service.events.on('webrtcFailed', (p, reason) => failures.push([p, reason]));
    service.events.on('webrtcOffer', (p, sdp) => offers.push([p, sdp]));
  });
  afterEach(async () => {
    await Promise.allSettled(browsers.splice(0).map((b) => b.close()));
    await service.close();
  });

  async function twoInRoom(): Promise<{ a: TestBrowser; b: TestBrowser }> {
    const a = new TestBrowser(asParticipantId('a'), service, 'VP8', 440);
    const b = new TestBrowser(asParticipantId('b'), service, 'VP8', 660);
    browsers.push(a, b);
    await a.join(conference);
    await b.join(conference);
    a.startSending();
    b.startSending();
    await waitFor(() => (b.received.get('a')?.video.length ?? 0) > 5 && (a.received.get('b')?.video.length ?? 0) > 5, 8000, 'media both ways');
    return { a, b };
  }

  it('a browser whose answers stop until consent expires gets an ICE restart offer and its call and media come back', async () => {
    const { a, b } = await twoInRoom();
    const lastOffer = offers.filter(([p]) => p === 'a').at(-1)?.[1] ?? '';
    a.cutNetwork(true);
    // Consent expires on both sides; the node offers new ICE credentials to a.
    await waitFor(() => offers.some(([p, sdp]) => p === 'a' && ufrag(sdp) !== ufrag(lastOffer) && ufrag(sdp) !== undefined), 8000, 'ICE restart offer to a');
    const fromA = b.received.get('a')?.video.length ?? 0;
    const toA = a.received.get('b')?.video.length ?? 0;
    a.cutNetwork(false);
    await waitFor(() => (b.received.get('a')?.video.length ?? 0) > fromA + 10, 8000, 'a\'s video reaching b again');
    await waitFor(() => (a.received.get('b')?.video.length ?? 0) > toA + 10, 8000, 'b\'s video reaching a again');
    expect(a.pc.connectionState).toBe('connected');
    expect(failures).toEqual([]);
    await waitFor(() => service.stats().iceReconnects === 1, 2000, 'the reconnection counted');
    expect(service.stats().iceRestarts).toEqual({ node: 1, browser: 0 });
    // b was never touched: no restart offer for it.
    const bUfrags = new Set(offers.filter(([p]) => p === 'b').map(([, sdp]) => ufrag(sdp)));
    expect(bUfrags.size).toBeLessThanOrEqual(1);
  });

  it('a browser that never answers again is ended once the restart has not reconnected in time', async () => {
    const { a } = await twoInRoom();
    const t0 = Date.now();
    a.cutNetwork(true);
    await waitFor(() => failures.length > 0, CONSENT_TIMEOUT_S * 1000 + CONNECT_TIMEOUT_MS + 5000, 'a to be ended');
    expect(failures).toEqual([['a', `ICE restart did not reconnect within ${CONNECT_TIMEOUT_MS} ms`]]);
    expect(service.stats().iceRestarts.node).toBeGreaterThanOrEqual(1);
    expect(service.stats().iceReconnects).toBe(0);
    // Not before consent expired plus the reconnect window.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS);
  });
});
