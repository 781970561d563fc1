/**
 * Reading SDP m-lines (pure): parsing with limits, payload types to codecs (rtpmap or the RFC
 * 3551 static table), directions, and the transport of a line (address, ports, rtcp-mux).
 * sdp-transform turns every value that looks like an integer into a number whatever the field
 * (`c=IN IP4 1`, `a=rtpmap:96 0/8000`): what we read as text goes through text() first.
 */
import * as sdpTransform from 'sdp-transform';
import { ConfnodeError } from '../../common';
import type { MediaDirection, NegotiatedCodec, RemoteMediaAddress } from './types';

export type ParsedMedia = sdpTransform.SessionDescription['media'][number];

/** RFC 3551 static audio payload types we may see without an rtpmap. */
export const STATIC_AUDIO: Readonly<Record<number, { name: string; clockRate: number; channels: number }>> = {
  0: { name: 'PCMU', clockRate: 8000, channels: 1 },
  3: { name: 'GSM', clockRate: 8000, channels: 1 },
  4: { name: 'G723', clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', clockRate: 8000, channels: 1 },
  9: { name: 'G722', clockRate: 8000, channels: 1 },
  18: { name: 'G729', clockRate: 8000, channels: 1 },
};

export const MAX_SDP_BYTES = 16384;

/** A parsed value we use as text (a number when the SDP had digits there), or undefined. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

const validPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;

export function parseSdp(sdp: string): sdpTransform.SessionDescription {
  if (sdp.length > MAX_SDP_BYTES) throw new ConfnodeError('bad-request', 'SDP too large');
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (err) {
    throw new ConfnodeError('bad-request', 'SDP does not parse', { cause: err });
  }
  if (parsed.version !== 0 || !Array.isArray(parsed.media)) {
    throw new ConfnodeError('bad-request', 'SDP without v=0 or media');
  }
  return parsed;
}

export function payloadList(m: ParsedMedia): number[] {
  return String(m.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter((p) => /^\d{1,3}$/.test(p))
    .map(Number)
    .filter((p) => p <= 127);
}

/** Codec description of one payload type of an m-line (rtpmap first, then the static table). */
export function describePayload(m: ParsedMedia, pt: number): NegotiatedCodec | undefined {
  const map = (m.rtp ?? []).find((r) => r.payload === pt);
  const fmtp = text((m.fmtp ?? []).find((f) => f.payload === pt)?.config);
  if (map) {
    const name = text(map.codec);
    if (!name) return undefined;
    const channels = map.encoding ? Number(map.encoding) || 1 : 1;
    const rate = Number(map.rate);
    return { name, payloadType: pt, clockRate: Number.isInteger(rate) && rate > 0 ? rate : 8000, channels, ...(fmtp ? { fmtp } : {}) };
  }
  const st = STATIC_AUDIO[pt];
  return st ? { ...st, payloadType: pt } : undefined;
}

export function directionOf(m: ParsedMedia, session: sdpTransform.SessionDescription): MediaDirection {
  const d = m.direction ?? (session as { direction?: MediaDirection }).direction;
  return d ?? 'sendrecv';
}

export function answerDirection(remote: MediaDirection): MediaDirection {
  switch (remote) {
    case 'sendonly':
      return 'recvonly';
    case 'recvonly':
      return 'sendonly';
    default:
      return remote;
  }
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function validAddress(ip: string): boolean {
  const v4 = IPV4.exec(ip);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':');
}

export type LineTransport =
  | { ok: true; remote: RemoteMediaAddress; remoteDirection: MediaDirection; onHold: boolean }
  | { ok: false; reason: string };

/** RTP profiles we take: plain, and SRTP keyed by SDES (RFC 4568); DTLS-SRTP's UDP/TLS/... is not ours. */
const PROFILES = new Set(['RTP/AVP', 'RTP/AVPF', 'RTP/SAVP', 'RTP/SAVPF']);

/** Address, ports, rtcp-mux and direction of an offered m-line, or why it cannot be used. */
export function lineTransport(m: ParsedMedia, session: sdpTransform.SessionDescription): LineTransport {
  if (m.port === 0) return { ok: false, reason: 'disabled by offerer' };
  if (!PROFILES.has(m.protocol)) return { ok: false, reason: `unsupported profile ${m.protocol}` };
  const address = text(m.connection?.ip ?? session.connection?.ip);
  if (!address || !validAddress(address)) return { ok: false, reason: 'no valid connection address' };
  if (!validPort(m.port)) return { ok: false, reason: 'bad port' };
  const rtcpMux = m.rtcpMux === 'rtcp-mux';
  const rtcpPort = rtcpMux ? undefined : (m.rtcp?.port ?? m.port + 1);
  if (rtcpPort !== undefined && !validPort(rtcpPort)) return { ok: false, reason: 'bad RTCP port' };
  const remoteDirection = directionOf(m, session);
  return {
    ok: true,
    remote: { address, rtpPort: m.port, ...(rtcpPort !== undefined ? { rtcpPort } : {}), rtcpMux },
    remoteDirection,
    onHold: remoteDirection === 'sendonly' || remoteDirection === 'inactive' || address === '0.0.0.0',
  };
}

export function offeredCodecs(m: ParsedMedia): NegotiatedCodec[] {
  return payloadList(m)
    .map((pt) => describePayload(m, pt))
    .filter((c): c is NegotiatedCodec => c !== undefined);
}
