import { asConferenceId, asParticipantId } from '../../common';
import { TestBrowser, waitFor } from '../../media/werift/test-browser';
import { builtWorkerService } from './built-service';
import type { WorkerMediaService } from './worker-pool';

jest.setTimeout(60_000);

describe('WorkerMediaService relays WebRTC negotiation to and from its media worker', () => {
  let service: WorkerMediaService;
  const browsers: TestBrowser[] = [];

  beforeAll(async () => {
    // Ports of this file only (jest runs test files in parallel).
    service = await builtWorkerService({ workers: 1, rtpPorts: { min: 44400, max: 44499 }, snapshotMs: 100 });
  });
  afterAll(async () => {
    await Promise.allSettled(browsers.map((b) => b.close()));
    await service.close();
  });

  it('two browsers in a worker conference exchange media after the relayed server offers (webrtcOffer event, webrtcAnswer)', async () => {
    const conference = { id: asConferenceId('c-w'), name: 'w' };
    const [a, b] = [new TestBrowser(asParticipantId('wa'), service), new TestBrowser(asParticipantId('wb'), service)];
    browsers.push(a, b);
    await a.join(conference);
    await b.join(conference);
    a.startSending();
    b.startSending();
    await waitFor(() => a.stream('wb').video.length >= 3 && b.stream('wa').audio.length >= 5, 10_000, 'media both ways through the worker');
    expect(a.offersAnswered).toBe(1);
    expect(b.offersAnswered).toBe(1);
    expect(a.errors).toEqual([]);
    await waitFor(() => (service.participantStats(asParticipantId('wa'))?.packetsIn ?? 0) > 0, 3000, 'stats snapshot');
  });

  it('rejects negotiation for a participant without WebRTC media (not-found) instead of hanging', async () => {
    await expect(service.webrtcOffer(asParticipantId('nobody'), 'v=0')).rejects.toMatchObject({ code: 'not-found' });
    await expect(service.webrtcAnswer(asParticipantId('wa'), 'v=0')).rejects.toMatchObject({ code: 'bad-request' });
  });
});
