/**
 * For tests of the worker-thread media service: the worker thread runs compiled JavaScript, so
 * tests construct the service from the build (jest's global setup refreshes dist/), with quiet
 * defaults and their own RTP ports.
 */
import * as path from 'node:path';
import { silentLogger } from '../../common';
import type { WorkerMediaOptions, WorkerMediaService } from './worker-pool';

const BUILT = path.join(__dirname, '..', '..', '..', 'dist', 'node', 'media-host', 'worker-pool.js');

export async function builtWorkerService(opts: Pick<WorkerMediaOptions, 'workers' | 'rtpPorts'> & Partial<WorkerMediaOptions>): Promise<WorkerMediaService> {
  const mod = (await import(BUILT)) as { WorkerMediaService: typeof WorkerMediaService };
  return new mod.WorkerMediaService({
    address: '127.0.0.1',
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 40,
    opusComplexity: 3,
    ...opts,
  });
}
