/**
 * The seam between a conference's streams and whatever consumes them: a Source (one stream of
 * one participant, local or relayed from another node) and a Sink (a browser's send track, the
 * mixer, the voice switch, a backplane sender). Types only; nothing here knows werift or sockets.
 */
import type { ParticipantId } from '../../common';

export type MediaKind = 'audio' | 'video';

/**
 * Where a stream entered this node: `'local'` (a participant of this node) or the id of the link
 * it came in over (e.g. `backplane:<node>`). Split horizon compares these, so a stream never goes
 * back out over the link it came in on.
 */
export type MeshTag = string;

export const LOCAL_MESH: MeshTag = 'local';

/** A stream's codec: MIME type in lower case (`audio/pcmu`, `video/h264`) and its RTP clock rate. */
export interface SourceCodec {
  readonly mime: string;
  readonly clockRate: number;
}

/**
 * One RTP packet of a source as sinks see it. The object is the source's own and is reused for
 * its next packet: a sink reads it during `send` only (the payload Buffer may be kept, never
 * mutated).
 */
export interface MediaPacket {
  sequence: number;
  timestamp: number;
  marker: boolean;
  payloadType: number;
  ssrc: number;
  payload: Buffer;
  /** Audio whose RFC 6464 level says digital silence (a muted or silent microphone). */
  silent: boolean;
  /** Audio: the RFC 6464 level (0 = 0 dBov .. 127 = digital silence), -1 when the packet has none. */
  level: number;
}

/** What sinks, listings and events see of a source (the same object: usable as a map key). */
export interface SourceView {
  readonly owner: ParticipantId;
  readonly kind: MediaKind;
  readonly codec: SourceCodec;
  readonly meshTag: MeshTag;
}

/** One stream of one participant, as whoever produces it implements it. */
export interface Source extends SourceView {
  /** Current codec; changed only through `ConferenceSfu.setCodec`, which tells the onlookers. */
  codec: SourceCodec;
  /** Asks the publisher for a keyframe (video); the SFU throttles calls. Undefined: it cannot. */
  readonly requestKeyframe: (() => void) | undefined;
  /** Set by the SFU while the source is in it: the source calls it once per packet. */
  onPacket: ((packet: MediaPacket) => void) | null;
}

/** What a consumer wants; `shouldForward` (policy.ts) decides from this and the source alone. */
export interface SinkWants {
  readonly kind: MediaKind | 'any';
  /** The participant the sink delivers to: it never gets that participant's own streams. */
  readonly owner: ParticipantId | undefined;
  /** Streams that came in over this link are not sent to this sink (split horizon). */
  readonly excludeMeshTag: MeshTag | undefined;
  /**
   * Streams whose mesh tag starts with this are not sent either: a local backplane excludes every
   * `backplane:` stream (in a full mesh each stream crosses one local link, from its own node).
   */
  readonly excludeMeshPrefix?: string;
}

/** A consumer of the streams the policy lets through. */
export interface Sink extends SinkWants {
  /** Digital-silence audio is not sent to this sink (viewers); decoders (the mixer) want it. */
  readonly skipSilent?: boolean;
  /** One call per packet; false when the packet was not taken (counted as dropped). */
  send(packet: MediaPacket, source: SourceView): boolean;
  /**
   * Set by the SFU while the sink is in it: asks `source` for a keyframe through its throttle.
   * `firstOfViewer`: the viewer has just become able to receive (its first request), which the
   * throttle lets through sooner (KeyframeThrottle.requestFirst).
   */
  onKeyframeRequest: ((source: SourceView, firstOfViewer?: boolean) => void) | null;
  /** Control rate: a source starts reaching this sink. */
  sourceAdded?(source: SourceView): void;
  /** Control rate: a source stops reaching this sink. */
  sourceRemoved?(source: SourceView): void;
  /** The SFU drops a sink it got from a Viewer (its source or its viewer went away). */
  close?(): void;
}

/**
 * A consumer that takes each stream on a sink of its own (a browser: one send track per stream).
 * The SFU asks it for a sink per source the policy lets through, and closes that sink again.
 */
export interface Viewer extends SinkWants {
  /** Control rate: the sink for `source`, or undefined when it cannot take it now. */
  sinkFor(source: SourceView): Sink | undefined;
}

/** Counters of the packet path (plain numbers). */
export interface SfuCounters {
  packets: number;
  bytes: number;
  /** Source: deliveries its sinks refused. Sink: packets it did not take. */
  dropped: number;
}

export interface SinkCounters extends SfuCounters {
  /** Digital-silence packets not sent to a sink that skips them. */
  silentSkipped: number;
}
