import * as path from 'node:path';
import { asConferenceId, asParticipantId, silentLogger } from '../../common';
import type { WorkerMediaService } from './worker-service';

// The worker thread runs compiled JavaScript: use the build (jest's global setup refreshes dist/).
const built = path.join(__dirname, '..', '..', '..', 'dist', 'media', 'worker', 'worker-service.js');

describe('WorkerMediaService RTP ports', () => {
  let service: WorkerMediaService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  it('one conference can use the whole RTP range, not only its worker\'s share of it, then says capacity (SIP 503)', async () => {
    const mod = (await import(built)) as { WorkerMediaService: typeof WorkerMediaService };
    // Four pairs for two workers (ports of this file only): a conference lives on one worker.
    service = new mod.WorkerMediaService({
      workers: 2,
      address: '127.0.0.1',
      rtpPorts: { min: 44500, max: 44507 },
      logger: silentLogger,
      mixTalkers: 3,
      jitterBufferMs: 40,
      opusComplexity: 3,
    });
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
