/**
 * Messages between the node's main thread and a media worker (structured clone, plain data): the
 * typed media operations (media's `MediaOps`), the backplane operations (`BackplaneOps`) and the
 * host's own (ping, close) as RPC frames, and events back (media and backplane events, stats
 * snapshots, log lines at control rate).
 */
import type { BackplaneEventPayloads, BackplaneLinkStats, BackplaneOps } from '../../backplane';
import type { ConferenceId, ParticipantId, RpcEventFrame, RpcReplyFrame, RpcRequestFrame } from '../../common';
import type { MediaEventPayloads, MediaOps, MediaServiceStats, RouterParticipantStats } from '../../media';

export interface MediaWorkerData {
  index: number;
  address: string;
  /** nodes[].public_address: announced in SDP, ICE candidates and backplane addresses. */
  announceAddress?: string;
  /** The node's whole RTP range, shared by every worker; `startAt` staggers where each looks first. */
  rtpPorts: { min: number; max: number; startAt: number };
  mixTalkers: number;
  jitterBufferMs: number;
  opusComplexity: number;
  snapshotMs: number;
  icePortRange?: [number, number];
}

/** What a media worker answers: the media and backplane operations and the thread's own lifecycle. */
export type WorkerOps = MediaOps &
  BackplaneOps & {
    ping: { req: undefined; res: undefined };
    close: { req: undefined; res: undefined };
  };

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export type WorkerEventPayloads = MediaEventPayloads &
  BackplaneEventPayloads & {
    snapshot: {
      participants: Array<[ParticipantId, RouterParticipantStats]>;
      speakers: Array<[ConferenceId, ParticipantId | undefined]>;
      stats: MediaServiceStats;
      /** The worker's backplane links (GET /api/v1/backplanes reads these, no round trip). */
      links: BackplaneLinkStats[];
    };
    log: { level: WorkerLogLevel; fields: Record<string, unknown>; msg: string };
  };

export type ToWorker = RpcRequestFrame;
export type FromWorker = RpcReplyFrame | RpcEventFrame;
