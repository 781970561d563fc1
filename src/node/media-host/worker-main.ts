/**
 * Entry point of a media worker thread: composes this thread's planes (a LocalMediaService for the
 * conferences the main thread assigns to it, and a BackplaneHost for their links, which must run
 * beside their routers), serves the typed media and backplane operations, forwards events and
 * posts stats snapshots. Logs go to the main thread as messages (control rate only). Lives in
 * node/ because a thread's startup composes planes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BackplaneHost, backplaneOpHandlers, forwardBackplaneEvents } from '../../backplane';
import { RpcServer, eventFrame, systemClock, type ConferenceId, type Logger, type ParticipantId, type RpcFrame } from '../../common';
import { LocalMediaService, forwardMediaEvents, mediaOpHandlers } from '../../media';
import type { FromWorker, MediaWorkerData, WorkerEventPayloads, WorkerLogLevel, WorkerOps } from './protocol';

function workerLogger(post: (m: FromWorker) => void, bindings: Record<string, unknown>): Logger {
  const at =
    (level: WorkerLogLevel) =>
    (obj: object, msg?: string): void =>
      post(eventFrame<WorkerEventPayloads, 'log'>('log', { level, fields: { ...bindings, ...(obj as Record<string, unknown>) }, msg: msg ?? '' }));
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => workerLogger(post, { ...bindings, ...(more as Record<string, unknown>) }),
  };
}

function run(): void {
  const port = parentPort;
  if (!port) throw new Error('media worker started outside a worker thread');
  const data = workerData as MediaWorkerData;
  const post = (m: FromWorker): void => port.postMessage(m);
  const logger = workerLogger(post, { worker: data.index });
  const media = new LocalMediaService({
    address: data.address,
    ...(data.announceAddress !== undefined ? { announceAddress: data.announceAddress } : {}),
    rtpPorts: data.rtpPorts,
    clock: systemClock,
    logger,
    mixTalkers: data.mixTalkers,
    jitterBufferMs: data.jitterBufferMs,
    opusComplexity: data.opusComplexity,
    icePortRange: data.icePortRange,
  });
  const backplanes = new BackplaneHost({
    media,
    clock: systemClock,
    logger: logger.child({ component: 'backplane' }),
    ...(data.announceAddress !== undefined ? { announceAddress: data.announceAddress } : {}),
  });
  const speakers = new Map<ConferenceId, ParticipantId | undefined>();
  forwardMediaEvents(media, (name, payload) => post({ kind: 'evt', name, data: payload }));
  forwardBackplaneEvents(backplanes, (name, payload) => post({ kind: 'evt', name, data: payload }));
  media.events.on('activeSpeaker', (conference, participant) => speakers.set(conference, participant));
  const snapshot = setInterval(() => {
    post(
      eventFrame<WorkerEventPayloads, 'snapshot'>('snapshot', { participants: media.allParticipantStats(), speakers: [...speakers], stats: media.stats(), links: backplanes.stats() }),
    );
  }, data.snapshotMs);

  const ops = mediaOpHandlers(media);
  const server = new RpcServer<WorkerOps>(
    {
      ...ops,
      ...backplaneOpHandlers(backplanes),
      remove: (d) => {
        const done = ops.remove(d);
        for (const conf of [...speakers.keys()]) if (!media.hasConference(conf)) speakers.delete(conf);
        return done;
      },
      ping: () => undefined,
      close: async () => {
        clearInterval(snapshot);
        await backplanes.close();
        await media.close();
        return undefined;
      },
    },
    (reply) => post(reply),
  );
  port.on('message', (msg: RpcFrame) => {
    if (msg.kind === 'req') server.handle(msg);
  });
}

run();
