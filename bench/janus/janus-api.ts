/**
 * The Janus HTTP API as the mixer bench uses it (Janus 1.1.2, janus.plugin.audiobridge): the
 * request bodies it sends (room create, plain-RTP join) and the validation of what comes back.
 * Pure: no sockets, no clock; replies are `unknown` until parsed here, and a reply that does not
 * parse is an error with its reason, never a guess.
 */
import { z } from 'zod';

export const AUDIOBRIDGE_PLUGIN = 'janus.plugin.audiobridge';

/** What every room of the bench mixes at (confnode's mixer runs at 16 kHz too). */
export interface JanusRoomSettings {
  /** Mixing rate of the room, Hz. */
  samplingRate: number;
}

/** Per-participant encoder settings, stated side by side with confnode's. */
export interface JanusParticipantSettings {
  /** Opus encoder complexity 0-10 ("quality" in AudioBridge; its default is 4). */
  opusComplexity: number;
  /** Opus bitrate, bits/s (AudioBridge's default 0 lets libopus decide). */
  opusBitrate: number;
}

export type JanusCodec = 'pcmu' | 'opus';

/** The body of an AudioBridge "create" for room `room`, open to plain-RTP participants. */
export function createRoomBody(room: number, s: JanusRoomSettings): Record<string, unknown> {
  return {
    request: 'create',
    room,
    description: `bench room ${room}`,
    is_private: true,
    sampling_rate: s.samplingRate,
    allow_rtp_participants: true,
    // Plain-RTP participants of the bench send no RFC 6464 levels: nothing to negotiate.
    audiolevel_ext: false,
    audiolevel_event: false,
    record: false,
  };
}

/**
 * The body of an AudioBridge "join" as a plain-RTP participant: Janus sends the mix to
 * `rtp.ip:rtp.port` (from the port it answers with, the one it receives on).
 */
export function joinRtpBody(o: {
  room: number;
  display: string;
  codec: JanusCodec;
  payloadType: number;
  rtp: { ip: string; port: number };
  settings: JanusParticipantSettings;
}): Record<string, unknown> {
  return {
    request: 'join',
    room: o.room,
    display: o.display,
    muted: false,
    codec: o.codec,
    ...(o.codec === 'opus' ? { quality: o.settings.opusComplexity, bitrate: o.settings.opusBitrate } : {}),
    rtp: { ip: o.rtp.ip, port: o.rtp.port, ...(o.codec === 'opus' ? { payload_type: o.payloadType } : {}) },
  };
}

const CoreError = z.object({ janus: z.literal('error'), error: z.object({ code: z.number(), reason: z.string() }) });
const Success = z.object({ janus: z.literal('success'), data: z.object({ id: z.number().int() }) });
const PluginData = z.object({ plugin: z.string(), data: z.record(z.unknown()) });
const PluginReply = z.object({
  janus: z.enum(['success', 'event']),
  transaction: z.string().optional(),
  sender: z.number().optional(),
  plugindata: PluginData,
});
const PluginError = z.object({ error_code: z.number(), error: z.string() });
const JoinedRtp = z.object({
  audiobridge: z.literal('joined'),
  room: z.number(),
  id: z.number(),
  rtp: z.object({ ip: z.string().ip({ version: 'v4' }), port: z.number().int().min(1).max(65535), payload_type: z.number().int().min(0).max(127).optional() }),
});
const Transactional = z.object({ janus: z.string(), transaction: z.string().optional() }).passthrough();

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason: reason.slice(0, 300) });

function brief(reply: unknown): string {
  try {
    return JSON.stringify(reply).slice(0, 200);
  } catch {
    return String(reply).slice(0, 200);
  }
}

/** The id of a "create" (session) or "attach" (handle) reply. */
export function parseIdReply(reply: unknown): Parsed<number> {
  const err = CoreError.safeParse(reply);
  if (err.success) return fail(`janus error ${err.data.error.code}: ${err.data.error.reason}`);
  const ok = Success.safeParse(reply);
  return ok.success ? { ok: true, value: ok.data.data.id } : fail(`unexpected reply ${brief(reply)}`);
}

/**
 * The AudioBridge data of a plugin reply (synchronous "success" or asynchronous "event"): a core
 * error, a plugin error (error_code) or a reply of another plugin is refused with its reason.
 */
export function parsePluginData(reply: unknown): Parsed<Record<string, unknown>> {
  const err = CoreError.safeParse(reply);
  if (err.success) return fail(`janus error ${err.data.error.code}: ${err.data.error.reason}`);
  const r = PluginReply.safeParse(reply);
  if (!r.success) return fail(`unexpected reply ${brief(reply)}`);
  if (r.data.plugindata.plugin !== AUDIOBRIDGE_PLUGIN) return fail(`reply from ${r.data.plugindata.plugin}`);
  const perr = PluginError.safeParse(r.data.plugindata.data);
  if (perr.success) return fail(`audiobridge error ${perr.data.error_code}: ${perr.data.error}`);
  return { ok: true, value: r.data.plugindata.data };
}

/** A "created" reply to createRoomBody (a room that already exists counts: error 486). */
export function parseCreated(reply: unknown): Parsed<number> {
  const d = parsePluginData(reply);
  if (!d.ok) return /audiobridge error 486\b/.test(d.reason) ? { ok: true, value: -1 } : d;
  const room = d.value['room'];
  return d.value['audiobridge'] === 'created' && typeof room === 'number' ? { ok: true, value: room } : fail(`not created: ${brief(d.value)}`);
}

export interface JoinedRtp {
  room: number;
  participantId: number;
  /** Where Janus wants this participant's RTP (and the port its mix comes from). */
  media: { address: string; port: number };
  payloadType?: number;
}

/** The "joined" event of a plain-RTP join, with the address Janus answers with. */
export function parseJoinedRtp(event: unknown): Parsed<JoinedRtp> {
  const d = parsePluginData(event);
  if (!d.ok) return d;
  const j = JoinedRtp.safeParse(d.value);
  if (!j.success) return fail(`not a plain-RTP joined event: ${brief(d.value)}`);
  return {
    ok: true,
    value: {
      room: j.data.room,
      participantId: j.data.id,
      media: { address: j.data.rtp.ip, port: j.data.rtp.port },
      ...(j.data.rtp.payload_type !== undefined ? { payloadType: j.data.rtp.payload_type } : {}),
    },
  };
}

/**
 * The messages of a long-poll reply (`GET /janus/<session>?maxev=N`): Janus answers an array when
 * N > 1 and one object otherwise; keepalives are dropped. Each keeps its transaction, if any.
 */
export function longPollEvents(reply: unknown): Array<{ transaction?: string; message: unknown }> {
  const list = Array.isArray(reply) ? (reply as unknown[]) : [reply];
  const out: Array<{ transaction?: string; message: unknown }> = [];
  for (const m of list.slice(0, 1000)) {
    const t = Transactional.safeParse(m);
    if (!t.success || t.data.janus === 'keepalive') continue;
    out.push({ ...(t.data.transaction !== undefined ? { transaction: t.data.transaction } : {}), message: m });
  }
  return out;
}

/** Whether a reply to an asynchronous plugin message is Janus's "ack" (the event comes later). */
export function isAck(reply: unknown): boolean {
  const t = Transactional.safeParse(reply);
  return t.success && t.data.janus === 'ack';
}
