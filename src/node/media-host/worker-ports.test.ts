import { asConferenceId, asParticipantId } from '../../common';
import { builtWorkerService } from './built-service';
import type { WorkerMediaService } from './worker-pool';

describe('WorkerMediaService RTP ports', () => {
  let service: WorkerMediaService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  it('ready() resolves once every worker thread has loaded and answers (the node opens SIP only then)', async () => {
    service = await builtWorkerService({ workers: 2, rtpPorts: { min: 44500, max: 44507 } });
    await expect(service.ready(10_000)).resolves.toBeUndefined();
  });

  it('one conference can use the whole RTP range, not only its worker\'s share of it, then says capacity (SIP 503)', async () => {
    // Four pairs for two workers (ports of this file only): a conference lives on one worker.
    service = await builtWorkerService({ workers: 2, rtpPorts: { min: 44500, max: 44507 } });
    const conference = { id: asConferenceId('c-ports'), name: 'ports' };
    const ports: number[] = [];
    for (let i = 0; i < 4; i++) {
      const local = await service.createRtpParticipant(conference, asParticipantId(`p${i}`), true);
      ports.push(local.rtpPort);
    }
    expect([...ports].sort()).toEqual([44500, 44502, 44504, 44506]);
    await expect(service.createRtpParticipant(conference, asParticipantId('p4'), true)).rejects.toMatchObject({ code: 'capacity' });
  });
});
