/**
 * The browser signaling protocol over WebSocket (JSON text frames): zod schemas for every message
 * in both directions, the limits, and the error codes the join page understands. Pure: no
 * sockets, no clock. Nothing from the network is used before parseClientMessage() accepted it.
 */
import { z } from 'zod';
import { ConfnodeError } from '../../common';

/** A text frame larger than this is refused with 'bad-message' (DESIGN.md section 8). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** The browser must send `join` (or `resume`) within this time after the socket opens. */
export const JOIN_TIMEOUT_MS = 10_000;
/**
 * A joined browser whose WebSocket dropped (no pong, network change, anything but a normal
 * close) keeps its participant this long, media included, waiting for it to `resume`.
 */
export const RESUME_GRACE_MS = 20_000;
/**
 * How long a browser has to answer an offer of the node (renegotiation: someone joined or left)
 * while a socket is attached; the clock stops while the session is detached and starts again when
 * a resume replays the offer. Well over the 17 s the page may need to notice a socket that died
 * silently (web/app.js: nothing heard for 12 s, checked every 5 s), so an offer that went into
 * such a socket is still answered through the page's resume, not taken for a broken browser.
 */
export const ANSWER_TIMEOUT_MS = 30_000;
export const MAX_NAME_LENGTH = 64;
export const MAX_ALIAS_LENGTH = 256;
/** A join token (JWT) is far shorter; the node verifies its signature, times and claims. */
export const MAX_JOIN_TOKEN_LENGTH = 4096;

/** Error codes sent in `{type:'error'}`; the page maps each to a sentence. */
export const WS_ERROR_CODES = [
  'bad-message', // not JSON, fails the schema, too large, or not allowed in this state
  'not-found', // no conference with that alias
  'full', // node or conference at capacity
  'pin-required', // the VMR has PINs and the join carried none
  'pin-invalid', // wrong PIN (or too many wrong PINs from this address: try later)
  'timeout', // no join in time, or no answer to the node's offer in time
  'media-failed', // the browser's ICE/DTLS connection failed
  'resume-failed', // unknown or expired resume token, or messages it missed are gone: join afresh
  'token', // the room needs a join token and the join had none, or its token is bad, expired or for another room
  'unavailable', // the cluster cannot decide or reach a media node now: try again shortly
  'internal',
] as const;
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/** WebSocket close codes we use (RFC 6455 section 7.4). */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  internal: 1011,
  /** Application range: the server ended the call on purpose (admin hangup, conference ended). */
  ended: 4000,
  /** Application range: the join was refused (unknown room, full, PIN). */
  refused: 4001,
  /** Application range: the browser resumed this session on another WebSocket. */
  replaced: 4002,
} as const;

// A name is shown to every participant: printable text only, no control characters.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const nameSchema = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, 'name must not be empty')
      .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
      .refine((s) => !CONTROL_RE.test(s), 'name must not contain control characters'),
  );
/** `user` or `user@host`, as a SIP alias is written; no spaces or control characters. */
const aliasSchema = z
  .string()
  .min(1, 'alias must not be empty')
  .max(MAX_ALIAS_LENGTH)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\s@\u0000-\u001f\u007f]+(?:@[A-Za-z0-9.:[\]-]+)?$/, "alias must look like 'room' or 'room@host'");
const sdpSchema = z
  .string()
  .min(1)
  .max(MAX_MESSAGE_BYTES)
  .refine((s) => s.startsWith('v=0'), 'sdp must start with v=0');

export const JoinMessageSchema = z
  .object({
    type: z.literal('join'),
    alias: aliasSchema,
    name: nameSchema,
    /** false when the browser has no camera: it then costs an audio participant's capacity. */
    video: z.boolean().optional(),
    /** The room's host or guest PIN, when it has PINs. */
    pin: z.string().regex(/^[0-9]{1,16}$/, 'pin must be 1-16 digits').optional(),
    /**
     * A signed join token from an invitation link: its name and role replace the join's name and
     * any PIN. Only bounded here; a bad one is refused by the node with 'token'.
     */
    token: z.string().min(1, 'token must not be empty').max(MAX_JOIN_TOKEN_LENGTH, `token must be at most ${MAX_JOIN_TOKEN_LENGTH} characters`).optional(),
  })
  .strict();
/**
 * After `joined`, both sides number their messages (`seq` from 1, each side its own count) so that
 * a resumed connection replays exactly what the other side missed and nothing twice.
 */
const seqSchema = z.number().int().min(1).max(2 ** 31);
export const OfferMessageSchema = z.object({ type: z.literal('offer'), sdp: sdpSchema, seq: seqSchema.optional() }).strict();
export const AnswerMessageSchema = z.object({ type: z.literal('answer'), sdp: sdpSchema, seq: seqSchema.optional() }).strict();
export const MediaStateMessageSchema = z
  .object({ type: z.literal('media'), audio: z.boolean(), video: z.boolean(), seq: seqSchema.optional() })
  .strict();
export const LeaveMessageSchema = z.object({ type: z.literal('leave'), seq: seqSchema.optional() }).strict();
/**
 * The page's heartbeat (browsers cannot see WebSocket pings): answered at once with `pong`;
 * neither is numbered. A page that hears nothing for a while takes its socket for dead and resumes.
 */
export const PingMessageSchema = z
  .object({
    type: z.literal('ping'),
    /** The last server `seq` the page processed: the node need not keep those for a resume. */
    lastSeq: z.number().int().min(0).max(2 ** 31).optional(),
  })
  .strict();
/**
 * The first message of a new WebSocket that takes over a joined session whose socket dropped:
 * the token from `joined` and the last server `seq` the page processed (0: none).
 */
export const ResumeMessageSchema = z
  .object({
    type: z.literal('resume'),
    token: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'token must be the resumeToken from joined'),
    lastSeq: z.number().int().min(0).max(2 ** 31),
  })
  .strict();

export const ClientMessageSchema = z.discriminatedUnion('type', [
  JoinMessageSchema,
  ResumeMessageSchema,
  OfferMessageSchema,
  AnswerMessageSchema,
  MediaStateMessageSchema,
  LeaveMessageSchema,
  PingMessageSchema,
]);

export type JoinMessage = z.infer<typeof JoinMessageSchema>;
export type ResumeMessage = z.infer<typeof ResumeMessageSchema>;
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type MediaState = { audio: boolean; video: boolean };

export const ParticipantEntrySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    protocol: z.enum(['sip', 'webrtc']),
    audio: z.boolean(),
    video: z.boolean(),
  })
  .strict();
export type ParticipantEntry = z.infer<typeof ParticipantEntrySchema>;

/**
 * A TURN server for the page's RTCPeerConnection, with time-limited credentials (TURN REST
 * convention): never the node's TURN secret.
 */
export const IceServerEntrySchema = z
  .object({
    urls: z.array(z.string().regex(/^turns?:[^\s]+$/)).min(1),
    username: z.string().min(1),
    credential: z.string().min(1),
  })
  .strict();
export type IceServerEntry = z.infer<typeof IceServerEntrySchema>;

/** What the session handler sends; the WebSocket layer adds `seq` (and `resumeToken` to joined). */
export const ServerMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('joined'),
      participantId: z.string(),
      conference: z.string(),
      videoCodec: z.enum(['H264', 'VP8']),
      /** TURN servers for the page's RTCPeerConnection (config `turn`); absent: host candidates only. */
      iceServers: z.array(IceServerEntrySchema).optional(),
      /** The display name the node uses when it differs from the join's (a join token's name). */
      name: z.string().optional(),
      /** The role the participant joined with (a PIN's or a join token's). */
      role: z.enum(['host', 'guest']).optional(),
      resumeToken: z.string().optional(),
      seq: seqSchema.optional(),
    })
    .strict(),
  z.object({ type: z.literal('answer'), sdp: z.string(), seq: seqSchema.optional() }).strict(),
  z.object({ type: z.literal('offer'), sdp: z.string(), seq: seqSchema.optional() }).strict(),
  z.object({ type: z.literal('participants'), participants: z.array(ParticipantEntrySchema), seq: seqSchema.optional() }).strict(),
  z.object({ type: z.literal('activeSpeaker'), participantId: z.string().nullable(), seq: seqSchema.optional() }).strict(),
  z.object({ type: z.literal('error'), code: z.enum(WS_ERROR_CODES), message: z.string(), seq: seqSchema.optional() }).strict(),
  z.object({ type: z.literal('pong') }).strict(),
  /** The reply to `resume`: the last client `seq` the node processed (the page resends the rest). */
  z.object({ type: z.literal('resumed'), participantId: z.string(), lastSeq: z.number().int().min(0) }).strict(),
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type JoinedMessage = Extract<ServerMessage, { type: 'joined' }>;
export type VideoCodecName = JoinedMessage['videoCodec'];

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: string };

/** Validates one received frame. Never throws; the error text is safe to send back. */
export function parseClientMessage(data: string | Buffer, isBinary: boolean): ParseResult {
  if (isBinary) return { ok: false, error: 'binary frames are not accepted; send JSON text' };
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > MAX_MESSAGE_BYTES) return { ok: false, error: `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { ok: false, error: 'message is not valid JSON' };
  }
  const r = ClientMessageSchema.safeParse(json);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, error: `invalid message: ${where}${issue?.message ?? 'schema mismatch'}`.slice(0, 300) };
}

/**
 * A join refused for a reason the page shows (PIN required, ...). The node's handler throws it;
 * ConfnodeErrors are mapped by wsErrorFor().
 */
export class WebRtcRefusal extends Error {
  constructor(
    readonly code: WsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WebRtcRefusal';
  }
}

/** The WebSocket error for anything a handler threw (the same fault as SIP's status for it). */
export function wsErrorFor(err: unknown): { code: WsErrorCode; message: string } {
  if (err instanceof WebRtcRefusal) return { code: err.code, message: err.message };
  if (err instanceof ConfnodeError) {
    switch (err.code) {
      case 'not-found':
        return { code: 'not-found', message: err.message };
      case 'capacity':
      case 'busy':
        return { code: 'full', message: err.message };
      case 'bad-request':
      case 'no-common-codec':
        return { code: 'bad-message', message: err.message };
      case 'timeout':
        return { code: 'timeout', message: err.message };
      case 'unavailable':
        return { code: 'unavailable', message: err.message };
      default:
        return { code: 'internal', message: 'internal error' };
    }
  }
  return { code: 'internal', message: 'internal error' };
}
