/**
 * Entry point of a media worker thread: runs a LocalMediaService for the conferences the main
 * thread assigns to it, answers requests, forwards events and posts stats snapshots. Logs go to
 * the main thread as messages (control rate only). Never touches SIP or the node's config.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfnodeError, systemClock, type ConferenceId, type Logger, type ParticipantId } from '../../common';
import { LocalMediaService } from '../local-service';
import type { LocalRtpAddress } from '../service';
import type { FromWorker, MediaWorkerData, ToWorker, WorkerLogLevel } from './protocol';

function workerLogger(post: (m: FromWorker) => void, bindings: Record<string, unknown>): Logger {
  const at =
    (level: WorkerLogLevel) =>
    (obj: object, msg?: string): void =>
      post({ op: 'log', level, fields: { ...bindings, ...(obj as Record<string, unknown>) }, msg: msg ?? '' });
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
    rtpPorts: data.rtpPorts,
    clock: systemClock,
    logger,
    mixTalkers: data.mixTalkers,
    jitterBufferMs: data.jitterBufferMs,
    opusComplexity: data.opusComplexity,
    icePortRange: data.icePortRange,
  });
  const speakers = new Map<ConferenceId, ParticipantId | undefined>();
  media.events.on('dtmf', (participant, digit) => post({ op: 'dtmf', participant, digit }));
  media.events.on('webrtcOffer', (participant, sdp) => post({ op: 'webrtcOffer', participant, sdp }));
  media.events.on('webrtcFailed', (participant, reason) => post({ op: 'webrtcFailed', participant, reason }));
  media.events.on('activeSpeaker', (conference, participant) => {
    speakers.set(conference, participant);
    post({ op: 'activeSpeaker', conference, participant });
  });
  const snapshot = setInterval(() => {
    post({ op: 'snapshot', participants: media.allParticipantStats(), speakers: [...speakers], stats: media.stats() });
  }, data.snapshotMs);

  const fail = (req: number, err: unknown): void => {
    const code = err instanceof ConfnodeError ? err.code : 'internal';
    post({ op: 'reply', req, ok: false, code, message: err instanceof Error ? err.message : String(err) });
  };
  const answer = (req: number, work: () => Promise<LocalRtpAddress | string | void>): void => {
    let running: Promise<LocalRtpAddress | string | void>;
    try {
      running = work();
    } catch (err) {
      fail(req, err);
      return;
    }
    running.then(
      (value) => post(value === undefined ? { op: 'reply', req, ok: true } : { op: 'reply', req, ok: true, value }),
      (err: unknown) => fail(req, err),
    );
  };

  port.on('message', (msg: ToWorker) => {
    try {
      switch (msg.op) {
        case 'create':
          media.createRtpParticipant(msg.conference, msg.participant, msg.admitted, msg.video).then(
            (value) => post({ op: 'reply', req: msg.req, ok: true, value }),
            (err: unknown) => fail(msg.req, err),
          );
          break;
        case 'createWebRtc':
          answer(msg.req, () => media.createWebRtcParticipant(msg.conference, msg.participant, msg.videoCodec));
          break;
        case 'webrtcOffer':
          answer(msg.req, () => media.webrtcOffer(msg.participant, msg.sdp));
          break;
        case 'webrtcAnswer':
          answer(msg.req, () => media.webrtcAnswer(msg.participant, msg.sdp));
          break;
        case 'update':
          media.updateRtpParticipant(msg.participant, msg.update);
          break;
        case 'admit':
          media.admit(msg.participant);
          break;
        case 'dtmf':
          media.injectDtmf(msg.participant, msg.digit);
          break;
        case 'remove':
          media.removeParticipant(msg.participant);
          for (const conf of [...speakers.keys()]) if (!media.hasConference(conf)) speakers.delete(conf);
          break;
        case 'ping':
          post({ op: 'reply', req: msg.req, ok: true });
          break;
        case 'close':
          clearInterval(snapshot);
          media.close().then(
            () => post({ op: 'reply', req: msg.req, ok: true }),
            (err: unknown) => fail(msg.req, err),
          );
          break;
      }
    } catch (err) {
      logger.error({ op: msg.op, err: err instanceof Error ? err.message : String(err) }, 'media worker request failed');
    }
  });
}

run();
