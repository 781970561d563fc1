/**
 * Messages between the node's main thread and a media worker (structured clone, plain data).
 * Requests that need an answer carry `req`; everything else is fire-and-forget, ordered.
 */
import type { ConferenceId, ParticipantId } from '../../common';
import type { RouterParticipantStats } from '../router';
import type { LocalRtpAddress, MediaConferenceRef, MediaServiceStats, RtpParticipantUpdate } from '../service';

export interface MediaWorkerData {
  index: number;
  address: string;
  /** The node's whole RTP range, shared by every worker; `startAt` staggers where each looks first. */
  rtpPorts: { min: number; max: number; startAt: number };
  mixTalkers: number;
  jitterBufferMs: number;
  opusComplexity: number;
  snapshotMs: number;
  icePortRange?: [number, number];
}

/** What a reply carries: an RTP address (create), our SDP answer (webrtcOffer), or nothing. */
export type ReplyValue = LocalRtpAddress | string | undefined;

export type ToWorker =
  | { op: 'create'; req: number; conference: MediaConferenceRef; participant: ParticipantId; admitted: boolean; video: boolean }
  | { op: 'createWebRtc'; req: number; conference: MediaConferenceRef; participant: ParticipantId; videoCodec: 'H264' | 'VP8' }
  | { op: 'webrtcOffer'; req: number; participant: ParticipantId; sdp: string }
  | { op: 'webrtcAnswer'; req: number; participant: ParticipantId; sdp: string }
  | { op: 'update'; participant: ParticipantId; update: RtpParticipantUpdate }
  | { op: 'admit'; participant: ParticipantId }
  | { op: 'dtmf'; participant: ParticipantId; digit: string }
  | { op: 'remove'; participant: ParticipantId }
  | { op: 'ping'; req: number }
  | { op: 'close'; req: number };

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromWorker =
  | { op: 'reply'; req: number; ok: true; value?: LocalRtpAddress | string }
  | { op: 'reply'; req: number; ok: false; code: string; message: string }
  | { op: 'dtmf'; participant: ParticipantId; digit: string }
  | { op: 'webrtcOffer'; participant: ParticipantId; sdp: string }
  | { op: 'webrtcFailed'; participant: ParticipantId; reason: string }
  | { op: 'activeSpeaker'; conference: ConferenceId; participant: ParticipantId | undefined }
  | {
      op: 'snapshot';
      participants: Array<[ParticipantId, RouterParticipantStats]>;
      speakers: Array<[ConferenceId, ParticipantId | undefined]>;
      stats: MediaServiceStats;
    }
  | { op: 'log'; level: WorkerLogLevel; fields: Record<string, unknown>; msg: string };
