/**
 * Stream announcements of a backplane link (pure): what one side sends (owner participant, kind,
 * codec, backplane SSRC), the schema a peer's list must pass before anything uses it, and which
 * streams a local backplane carries (split horizon). State, not packets: lists change at control
 * rate and travel on the control channel, never on the media socket.
 */
import { z } from 'zod';
import { ConfnodeError, asParticipantId, type MeshTag, type NodeId, type ParticipantId } from './deps';

/** One stream a link sends: the peer publishes it as a remote source of its conference. */
export interface BackplaneStream {
  /** The backplane SSRC of the stream (chosen by the sender, unique on the link). */
  ssrc: number;
  owner: ParticipantId;
  kind: 'audio' | 'video';
  /** Lower-case MIME type (`audio/pcmu`, `video/h264`). */
  mime: string;
  clockRate: number;
}

/** Streams on one link at most (a room's participants times two, with room to spare). */
export const MAX_LINK_STREAMS = 512;

const streamSchema = z
  .object({
    ssrc: z.number().int().min(1).max(0xffffffff),
    owner: z.string().min(1).max(100).transform(asParticipantId),
    kind: z.enum(['audio', 'video']),
    mime: z
      .string()
      .max(64)
      .transform((m) => m.toLowerCase())
      .pipe(z.string().regex(/^(audio|video)\/[a-z0-9][a-z0-9.+-]*$/)),
    clockRate: z.number().int().min(1000).max(192000),
  })
  .strict()
  .refine((s) => s.mime.startsWith(`${s.kind}/`), { message: 'the MIME type names another kind' });

/** A peer's whole list, as it arrives (unknown until it passes): SSRCs unique, bounded length. */
export const backplaneStreamsSchema = z
  .array(streamSchema)
  .max(MAX_LINK_STREAMS)
  .refine((list) => new Set(list.map((s) => s.ssrc)).size === list.length, { message: 'an SSRC is announced twice' });

/** Checks a peer's list; a bad list is refused whole ('bad-request'), never half applied. */
export function parseBackplaneStreams(value: unknown): BackplaneStream[] {
  const r = backplaneStreamsSchema.safeParse(value);
  if (!r.success) throw new ConfnodeError('bad-request', `bad backplane stream list: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

const PEER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The mesh tag of the link to `peer`: streams that came in over it carry it. */
/**
 * The mesh tag of every local backplane starts with this. Split horizon over the full mesh: a link
 * excludes every stream that came in over any local backplane (each media node of the location has
 * a link of its own to the stream's node), so a stream crosses exactly one local backplane.
 */
export const LOCAL_BACKPLANE_MESH_PREFIX = 'backplane:';

export function backplaneMeshTag(peer: NodeId): MeshTag {
  if (!PEER_NAME.test(peer)) throw new ConfnodeError('bad-request', `bad peer node name for a backplane: ${JSON.stringify(peer).slice(0, 120)}`);
  return `${LOCAL_BACKPLANE_MESH_PREFIX}${peer}`;
}

/** Same stream for the peer's router (same SSRC, owner and kind): only its codec may change. */
export function sameStream(a: BackplaneStream, b: BackplaneStream): boolean {
  return a.ssrc === b.ssrc && a.owner === b.owner && a.kind === b.kind;
}

export function sameCodec(a: BackplaneStream, b: BackplaneStream): boolean {
  return a.mime === b.mime && a.clockRate === b.clockRate;
}
