/**
 * The media operations as one typed map: what a caller may ask of a MediaService in another
 * thread (media workers) or, next, on another node (the control channel), and the events it
 * hears back. One place to add an operation; `mediaOpHandlers` serves it from any MediaService.
 */
import type { ConferenceId, ParticipantId, RpcHandlers } from '../common';
import type { LocalRtpAddress, MediaConferenceRef, MediaService, RtpParticipantUpdate } from './service';

export type MediaOps = {
  createRtp: { req: { conference: MediaConferenceRef; participant: ParticipantId; admitted: boolean; video: boolean }; res: LocalRtpAddress };
  createWebRtc: { req: { conference: MediaConferenceRef; participant: ParticipantId; videoCodec: 'H264' | 'VP8' }; res: undefined };
  webrtcOffer: { req: { participant: ParticipantId; sdp: string }; res: string };
  webrtcAnswer: { req: { participant: ParticipantId; sdp: string }; res: undefined };
  updateRtp: { req: { participant: ParticipantId; update: RtpParticipantUpdate }; res: undefined };
  admit: { req: { participant: ParticipantId }; res: undefined };
  dtmf: { req: { participant: ParticipantId; digit: string }; res: undefined };
  remove: { req: { participant: ParticipantId }; res: undefined };
};

/** Events of a media service as they travel (one object payload each). */
export type MediaEventPayloads = {
  webrtcOffer: { participant: ParticipantId; sdp: string };
  webrtcFailed: { participant: ParticipantId; reason: string };
  dtmf: { participant: ParticipantId; digit: string };
  activeSpeaker: { conference: ConferenceId; participant: ParticipantId | undefined };
};

/** Serves the media operations from a MediaService (the one in this thread). */
export function mediaOpHandlers(media: MediaService): RpcHandlers<MediaOps> {
  return {
    createRtp: (d) => media.createRtpParticipant(d.conference, d.participant, d.admitted, d.video),
    createWebRtc: async (d) => {
      await media.createWebRtcParticipant(d.conference, d.participant, d.videoCodec);
      return undefined;
    },
    webrtcOffer: (d) => media.webrtcOffer(d.participant, d.sdp),
    webrtcAnswer: async (d) => {
      await media.webrtcAnswer(d.participant, d.sdp);
      return undefined;
    },
    updateRtp: (d) => {
      media.updateRtpParticipant(d.participant, d.update);
      return undefined;
    },
    admit: (d) => {
      media.admit(d.participant);
      return undefined;
    },
    dtmf: (d) => {
      media.injectDtmf(d.participant, d.digit);
      return undefined;
    },
    remove: (d) => {
      media.removeParticipant(d.participant);
      return undefined;
    },
  };
}

/** Forwards a MediaService's events as payloads (to a thread's port or a peer node). */
export function forwardMediaEvents(media: MediaService, emit: <K extends keyof MediaEventPayloads>(name: K, data: MediaEventPayloads[K]) => void): () => void {
  const offs = [
    media.events.on('webrtcOffer', (participant, sdp) => emit('webrtcOffer', { participant, sdp })),
    media.events.on('webrtcFailed', (participant, reason) => emit('webrtcFailed', { participant, reason })),
    media.events.on('dtmf', (participant, digit) => emit('dtmf', { participant, digit })),
    media.events.on('activeSpeaker', (conference, participant) => emit('activeSpeaker', { conference, participant })),
  ];
  return () => {
    for (const off of offs) off();
  };
}
