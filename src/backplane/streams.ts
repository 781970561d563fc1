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

/** A link inside a location (between media nodes) or between locations (between proxies, R9). */
export type BackplaneKind = 'local' | 'geo';

/** Every backplane's mesh tag starts with this: `backplane:<kind>:<peer>`. */
export const BACKPLANE_MESH_PREFIX = 'backplane:';

/**
 * The mesh tag prefix of one kind of link. Split horizon (DESIGN.md section 6) is decided per
 * kind: a link never takes a stream that came in over a link of its own kind. Inside a location
 * every media node links to every other (full mesh), so a stream crosses one local backplane;
 * between locations every proxy links to every other proxy, so a stream crosses one geo
 * backplane. A proxy relays across kinds: what its location's media nodes send goes out on each
 * geo link once, what another location's proxy sends goes out on each local link once (R9, R12).
 */
export function meshPrefixOf(kind: BackplaneKind): string {
  return `${BACKPLANE_MESH_PREFIX}${kind}:`;
}

/** The mesh tag of the link to `peer`: streams that came in over it carry it. */
export function backplaneMeshTag(peer: NodeId, kind: BackplaneKind = 'local'): MeshTag {
  if (!PEER_NAME.test(peer)) throw new ConfnodeError('bad-request', `bad peer node name for a backplane: ${JSON.stringify(peer).slice(0, 120)}`);
  return `${meshPrefixOf(kind)}${peer}`;
}

/** Same stream for the peer's router (same SSRC, owner and kind): only its codec may change. */
export function sameStream(a: BackplaneStream, b: BackplaneStream): boolean {
  return a.ssrc === b.ssrc && a.owner === b.owner && a.kind === b.kind;
}

export function sameCodec(a: BackplaneStream, b: BackplaneStream): boolean {
  return a.mime === b.mime && a.clockRate === b.clockRate;
}
