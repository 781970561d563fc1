import dgram from 'node:dgram';
import type { Worker } from 'node:worker_threads';
import { asConferenceId, asParticipantId, type ParticipantId } from '../../common';
import { encodeUlaw } from '../../media/codecs/g711';
import { sineTone } from '../../media/codecs/tone';
import { buildRtp } from '../../media/rtp/packet';
import { builtWorkerService } from './built-service';
import type { WorkerMediaService } from './worker-pool';

jest.setTimeout(20_000);

const conference = { id: asConferenceId('c-crash'), name: 'crash' };
const format = { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 };

/** A plain-RTP phone: a socket that streams a PCMU tone to the node and counts what comes back. */
async function phone(service: WorkerMediaService, id: ParticipantId, cleanup: Array<() => void>): Promise<{ port: number; received: () => number; hangUp: () => void }> {
  const local = await service.createRtpParticipant(conference, id, true);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let received = 0;
  sock.on('message', () => received++);
  service.updateRtpParticipant(id, {
    remote: { address: '127.0.0.1', rtpPort: sock.address().port, rtcpMux: false, payloadTypes: [0] },
    direction: 'sendrecv',
    format,
  });
  let seq = 0;
  const ssrc = 0x1000 + id.length;
  const timer = setInterval(() => {
    const pcm = sineTone(440, 8000, 160, 6000, seq * 160);
    const payload = Buffer.alloc(160);
    for (let i = 0; i < 160; i++) payload[i] = encodeUlaw(pcm[i] ?? 0);
    sock.send(buildRtp(0, false, seq & 0xffff, (seq * 160) >>> 0, ssrc, payload), local.rtpPort, '127.0.0.1');
    seq++;
  }, 20);
  let open = true;
  const hangUp = (): void => {
    if (!open) return;
    open = false;
    clearInterval(timer);
    sock.close();
  };
  cleanup.push(hangUp);
  return { port: local.rtpPort, received: () => received, hangUp };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a media worker that dies', () => {
  let service: WorkerMediaService | undefined;
  const cleanup: Array<() => void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) f();
    await service?.close();
    service = undefined;
  });

  it('loses its participants (the node ends their calls), is replaced, and the same conference runs again on the new worker', async () => {
    service = await builtWorkerService({ workers: 1, rtpPorts: { min: 44800, max: 44815 } });
    const lost: ParticipantId[][] = [];
    service.events.on('lost', (ids) => lost.push(ids));
    const a = await phone(service, asParticipantId('a'), cleanup);
    const b = await phone(service, asParticipantId('b'), cleanup);
    await until(() => a.received() > 10 && b.received() > 10, 5000, 'mixes before the crash');

    // What a fatal error in the thread does: the worker exits. (Tests only: reached by shape.)
    const slots = (service as unknown as { slots: Array<{ worker: Worker }> }).slots;
    await slots[0]?.worker.terminate();
    await until(() => lost.length > 0, 5000, 'the lost event');
    expect(lost[0]?.slice().sort()).toEqual(['a', 'b']);
    expect(service.participantStats(asParticipantId('a'))).toBeUndefined();
    // The dead thread's RTP sockets closed with it: their ports can be bound again.
    for (const port of [a.port, a.port + 1, b.port]) {
      const probe = dgram.createSocket('udp4');
      await new Promise<void>((res, rej) => {
        probe.once('error', rej);
        probe.bind(port, '127.0.0.1', () => res());
      });
      await new Promise<void>((res) => probe.close(() => res()));
    }

    // Calls that come next (the same room) get a working worker, on other ports than the lost
    // calls, whose phones still stream here until the node's BYE reaches them.
    const c = await phone(service, asParticipantId('c'), cleanup);
    const d = await phone(service, asParticipantId('d'), cleanup);
    expect([c.port, d.port]).toEqual([44804, 44806]);
    await until(() => c.received() > 10 && d.received() > 10, 5000, 'mixes on the new worker');
    expect(lost).toHaveLength(1);
    a.hangUp();
    b.hangUp();
  });

  it("fails only the dead worker's pending requests: the other worker's requests still get their answers", async () => {
    service = await builtWorkerService({ workers: 2, rtpPorts: { min: 44820, max: 44859 } });
    const slots = (service as unknown as { slots: Array<{ worker: Worker }> }).slots;
    const [first, second] = [slots[0], slots[1]];
    if (!first || !second) throw new Error('two workers expected');
    // Hold the second worker's thread busy so its answer is still pending when the first dies.
    const room = (name: string): { id: ReturnType<typeof asConferenceId>; name: string } => ({ id: asConferenceId(`c-${name}`), name });
    await service.createRtpParticipant(room('one'), asParticipantId('p1'), true); // worker 0
    const onSecond = service.createRtpParticipant(room('two'), asParticipantId('p2'), true); // worker 1, pending
    const onFirst = service.createRtpParticipant(room('one'), asParticipantId('p3'), true); // worker 0, pending
    onFirst.catch(() => undefined); // it may fail with its worker, or have been answered just before
    await first.worker.terminate();
    // The second worker's request is untouched by the first one's death.
    await expect(onSecond).resolves.toMatchObject({ rtpPort: expect.any(Number) });
    expect(service.participantStats(asParticipantId('p2'))).toBeDefined();
  });
});
