/**
 * MediaService: the one interface the node uses for media, whether conferences run in this
 * thread (LocalMediaService) or in media worker threads (WorkerMediaService). Calls that change
 * state are ordered per participant; stats are snapshots (never a round trip per API request).
 */
import type { ConferenceId, ParticipantId, TypedEmitter } from '../common';
import type { RtpDirection, RtpRemote } from './rtp/rtp-endpoint';
import type { AudioFormat, RouterParticipantStats } from './router';

export interface MediaConferenceRef {
  id: ConferenceId;
  name: string;
  /** The conference video codec (VMR); SIP video in it is voice-switched. */
  videoCodec?: 'H264' | 'VP8';
}

export interface LocalRtpAddress {
  address: string;
  rtpPort: number;
  rtcpPort: number;
  /** The video endpoint's ports, when video was asked for. */
  video?: { rtpPort: number; rtcpPort: number };
}

/** The negotiated video of a SIP participant (RTP/AVP, the conference codec). */
export interface RtpVideoUpdate {
  remote: RtpRemote;
  direction: RtpDirection;
  payloadType: number;
}

/** What a (re-)negotiation decided for a plain-RTP participant. */
export interface RtpParticipantUpdate {
  remote: RtpRemote;
  direction: RtpDirection;
  format: AudioFormat;
  /**
   * The phone put the call on hold (it offered sendonly or inactive audio, or c=0.0.0.0): what it
   * still sends (music on hold) stays out of the mix and away from browsers; its digits still count.
   */
  onHold?: boolean;
  /** Video as negotiated; undefined = no video (refused, or dropped by a re-INVITE). */
  video?: RtpVideoUpdate;
}

export interface MediaServiceStats {
  conferences: number;
  participants: number;
  /** Worst mix round seen since start, ms (all threads). */
  maxMixRoundMs: number;
  /** Mix rounds dropped after stalls (all threads). */
  skippedMixRounds: number;
  /** Mix slot runs, and those that started 5 ms or more after their deadline (all threads). */
  mixTicks: number;
  lateMixTicks: number;
  /** Browser ICE restarts since start, by who asked (the node after ICE failed, or the browser). */
  iceRestarts: { node: number; browser: number };
  /** Browser ICE restarts that connected again. */
  iceReconnects: number;
}

/** Stats of a media service that has done nothing yet (a fresh worker, a test double). */
export function emptyMediaStats(): MediaServiceStats {
  return { conferences: 0, participants: 0, maxMixRoundMs: 0, skippedMixRounds: 0, mixTicks: 0, lateMixTicks: 0, iceRestarts: { node: 0, browser: 0 }, iceReconnects: 0 };
}

export type MediaServiceEvents = {
  /**
   * The server needs to (re)negotiate with a browser (a participant's streams came or went):
   * send this offer to the browser; its answer goes to webrtcAnswer(). Never two in flight for
   * one participant: the next one is emitted after the answer arrives.
   */
  webrtcOffer: [participant: ParticipantId, sdp: string];
  /** A browser's ICE/DTLS connection failed or closed: its call should end. */
  webrtcFailed: [participant: ParticipantId, reason: string];
  dtmf: [participant: ParticipantId, digit: string];
  activeSpeaker: [conference: ConferenceId, participant: ParticipantId | undefined];
  /** Media of these participants is gone (a worker died): their calls should end. */
  lost: [participants: ParticipantId[]];
};

export interface MediaService {
  readonly events: TypedEmitter<MediaServiceEvents>;
  /**
   * Opens an RTP endpoint for a participant of a conference (starting the conference's media
   * where needed). admitted=false keeps it outside the mix (PIN entry) until admit().
   */
  createRtpParticipant(conference: MediaConferenceRef, participant: ParticipantId, admitted: boolean, video?: boolean): Promise<LocalRtpAddress>;
  updateRtpParticipant(participant: ParticipantId, update: RtpParticipantUpdate): void;
  /**
   * Adds a browser to a conference's media: a werift peer connection in the conference's media
   * thread. Its audio enters the SIP mix, its audio and video are forwarded to every other browser
   * (SFU), and every other participant's audio (SIP audio untouched) and video reach it.
   * `videoCodec` is the conference's video codec (from the VMR).
   */
  createWebRtcParticipant(conference: MediaConferenceRef, participant: ParticipantId, videoCodec: 'H264' | 'VP8'): Promise<void>;
  /** The browser's offer (its first one, or a later one it starts); resolves with our answer. */
  webrtcOffer(participant: ParticipantId, sdp: string): Promise<string>;
  /** The browser's answer to our last webrtcOffer event. */
  webrtcAnswer(participant: ParticipantId, sdp: string): Promise<void>;
  admit(participant: ParticipantId): void;
  /** A digit signalled out of band (SIP INFO) joins the RFC 4733 digit events. */
  injectDtmf(participant: ParticipantId, digit: string): void;
  /** Closes the participant's endpoint; the conference's media ends with its last participant. */
  removeParticipant(participant: ParticipantId): void;
  participantStats(participant: ParticipantId): RouterParticipantStats | undefined;
  activeSpeaker(conference: ConferenceId): ParticipantId | undefined;
  stats(): MediaServiceStats;
  /**
   * Resolves once the media plane can take participants (its worker threads loaded and
   * answering); the node starts SIP only then, so its first calls do not wait on module loading.
   */
  ready(): Promise<void>;
  close(): Promise<void>;
}
