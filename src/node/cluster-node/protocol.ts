/**
 * What the nodes of a cluster say to each other over the control channel: the media operations
 * (a remote media service), a capacity reservation on a media node, the admin views a node shows
 * for the whole cluster, and events (media events for the signaling node, stats, rosters). Every
 * schema here checks what a peer sent before anyone uses it. Types and schemas only.
 */
import { z } from 'zod';
import { asConferenceId, asParticipantId } from '../../common';
import type { MediaEventPayloads, MediaOps, RouterParticipantStats } from '../../media';
import { backplaneStreamsSchema, type BackplaneAddress, type BackplaneStream } from '../../backplane';
import type { ControlProtocol } from '../control';
import type { AdminLogEntryView, ConferenceView, ParticipantView } from '../http';
import type { RosterEntry } from '../conference/roster';
import { SEALED_KEY_RE } from './srtp-seal';

const participantId = z.string().min(1).max(100).transform(asParticipantId);
const conferenceId = z.string().min(1).max(100).transform(asConferenceId);
const port = z.number().int().min(0).max(65535);
const direction = z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const videoCodec = z.enum(['H264', 'VP8']);
const none = z.undefined().or(z.null()).transform(() => undefined);

/** SDES-SRTP keys, each sealed (srtp-seal.ts: the channel does not encrypt): never in clear, never echoed in an error. */
const sdesKey = z.string().regex(SEALED_KEY_RE, 'a sealed SRTP key is 80 base64 characters');
const srtpKeys = z.object({ suite: z.enum(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']), localKey: sdesKey, remoteKey: sdesKey });
const conferenceRef = z.object({ id: conferenceId, name: z.string().min(1).max(100), videoCodec: videoCodec.optional() });
const rtpRemote = z.object({
  address: z.string().min(1).max(100),
  rtpPort: port,
  rtcpPort: port.optional(),
  rtcpMux: z.boolean(),
  payloadTypes: z.array(z.number().int().min(0).max(127)).max(16),
  clockRate: z.number().int().positive().optional(),
  srtp: srtpKeys.optional(),
});
const audioFormat = z.object({
  name: z.string().min(1).max(32),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(2),
  telephoneEventPayloadType: z.number().int().min(0).max(127).optional(),
});
const localRtpAddress = z.object({
  address: z.string(),
  rtpPort: port,
  rtcpPort: port,
  video: z.object({ rtpPort: port, rtcpPort: port }).optional(),
});
const sdp = z.string().max(200_000);
const linkAddress = z.object({ address: z.string().min(1).max(100), port: z.number().int().min(1).max(65535) });
const nonce = z.string().regex(/^[A-Za-z0-9+/]{22}==$/, 'a 16-byte base64 nonce');

/** A reservation of capacity on the media node, for a participant whose signaling is the caller. */
export type ReserveRequest = { participant: ReturnType<typeof asParticipantId>; conference: string; conferenceId: ReturnType<typeof asConferenceId>; cost: number };

export type ClusterOps = MediaOps & {
  reserve: { req: ReserveRequest; res: undefined };
  /** The lower-named media node opens a backplane link: its address and nonce for ours. */
  backplaneOpen: {
    req: { conference: ReturnType<typeof asConferenceId>; address: BackplaneAddress; nonce: string };
    res: { address: BackplaneAddress; nonce: string };
  };
  /** This node's participants and conferences, for the admin API of any node. */
  views: { req: undefined; res: { participants: ParticipantView[]; conferences: ConferenceView[] } };
  /** This node's admin log, newest first (GET /api/v1/log of any node shows the cluster's). */
  adminLog: { req: { conference?: string | undefined; limit?: number | undefined }; res: AdminLogEntryView[] };
};

export type ClusterEvents = MediaEventPayloads & {
  /** A media node's counters of the participants it carries for the receiving signaling node. */
  mediaStats: { participants: Array<[ReturnType<typeof asParticipantId>, RouterParticipantStats]> };
  /** The whole list of streams the sender's link sends for one conference ([] retracts all). */
  backplaneStreams: { conference: ReturnType<typeof asConferenceId>; streams: BackplaneStream[] };
  /** The sender's whole participant list of one conference ([] when none are left). */
  roster: { conference: ReturnType<typeof asConferenceId>; entries: RosterEntry[] };
};

const routerStats = z.object({
  packetsIn: z.number(),
  packetsOut: z.number(),
  packetsDropped: z.number(),
  rtcpIn: z.number().optional(),
  audioCodec: z.string().optional(),
  talker: z.boolean(),
  levelDbov: z.number(),
  videoShowing: participantId.optional(),
  videoPacketsIn: z.number().optional(),
  videoPacketsOut: z.number().optional(),
}).transform((s): RouterParticipantStats => ({ ...s, audioCodec: s.audioCodec }));

const rosterEntry = z.object({
  id: participantId,
  name: z.string().max(200),
  protocol: z.enum(['sip', 'webrtc']),
  audio: z.boolean(),
  video: z.boolean(),
  node: z.string().min(1).max(100),
});

/** Admin views from an authenticated peer: shapes are the peer's own code's; bounded by the frame size. */
const viewList = <T>() => z.custom<T[]>((v) => Array.isArray(v), 'expected a list');

export const CLUSTER_PROTOCOL: ControlProtocol<ClusterOps, ClusterEvents> = {
  requests: {
    createRtp: z.object({ conference: conferenceRef, participant: participantId, admitted: z.boolean(), video: z.boolean() }),
    createWebRtc: z.object({ conference: conferenceRef, participant: participantId, videoCodec }),
    webrtcOffer: z.object({ participant: participantId, sdp }),
    webrtcAnswer: z.object({ participant: participantId, sdp }),
    updateRtp: z.object({
      participant: participantId,
      update: z.object({
        remote: rtpRemote,
        direction,
        format: audioFormat,
        onHold: z.boolean().optional(),
        video: z.object({ remote: rtpRemote, direction, payloadType: z.number().int().min(0).max(127) }).optional(),
      }),
    }),
    admit: z.object({ participant: participantId }),
    dtmf: z.object({ participant: participantId, digit: z.string().regex(/^[0-9*#A-D]$/) }),
    remove: z.object({ participant: participantId }),
    reserve: z.object({ participant: participantId, conference: z.string().min(1).max(100), conferenceId, cost: z.number().finite().min(0).max(1000) }),
    backplaneOpen: z.object({ conference: conferenceId, address: linkAddress, nonce }),
    views: none,
    adminLog: z.object({ conference: z.string().min(1).max(100).optional(), limit: z.number().int().min(1).max(1000).optional() }).strict(),
  },
  replies: {
    createRtp: localRtpAddress,
    createWebRtc: none,
    webrtcOffer: sdp,
    webrtcAnswer: none,
    updateRtp: none,
    admit: none,
    dtmf: none,
    remove: none,
    reserve: none,
    backplaneOpen: z.object({ address: linkAddress, nonce }),
    views: z.object({ participants: viewList<ParticipantView>(), conferences: viewList<ConferenceView>() }),
    adminLog: viewList<AdminLogEntryView>(),
  },
  events: {
    webrtcOffer: z.object({ participant: participantId, sdp }),
    webrtcFailed: z.object({ participant: participantId, reason: z.string().max(1000) }),
    dtmf: z.object({ participant: participantId, digit: z.string().max(1) }),
    activeSpeaker: z
      .object({ conference: conferenceId, participant: participantId.optional().nullable() })
      .transform((e) => ({ conference: e.conference, participant: e.participant ?? undefined })),
    mediaStats: z.object({ participants: z.array(z.tuple([participantId, routerStats])).max(10_000) }),
    roster: z.object({ conference: conferenceId, entries: z.array(rosterEntry).max(10_000) }),
    backplaneStreams: z.object({ conference: conferenceId, streams: backplaneStreamsSchema }),
  },
};
