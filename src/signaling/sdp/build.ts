/**
 * Builds our SDP answers and offers for RTP/AVP (and SDES-SRTP RTP/SAVP) audio and video. Pure
 * string building; every rejected m-line of an offer is mirrored with port 0 (RFC 3264 section
 * 6); the SRTP keys written come from the caller (never made here).
 */
import { ConfnodeError } from '../../common';
import { answerProfile, cryptoLine } from './crypto';
import type {
  CodecCapability,
  LocalAudio,
  LocalSdesKey,
  LocalVideo,
  NegotiatedVideo,
  MediaDirection,
  NegotiatedAudio,
  NegotiatedCodec,
  OfferNegotiation,
} from './types';
import { answerDirection } from './sdp-lines';

export interface SdpOrigin {
  /** Numeric string, stable for the session. */
  sessionId: string;
  /** Incremented on every new offer/answer of the session. */
  version: number;
}

function ipVer(address: string): string {
  return address.includes(':') ? 'IP6' : 'IP4';
}

function header(origin: SdpOrigin, address: string): string[] {
  return [
    'v=0',
    `o=confnode ${origin.sessionId} ${origin.version} IN ${ipVer(address)} ${address}`,
    's=confnode',
    `c=IN ${ipVer(address)} ${address}`,
    't=0 0',
  ];
}

function codecLines(c: NegotiatedCodec): string[] {
  const ch = c.channels > 1 ? `/${c.channels}` : '';
  const lines = [`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${ch}`];
  if (c.fmtp) lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
  return lines;
}

function transportLines(local: LocalAudio): string[] {
  return local.rtcpMux ? ['a=rtcp-mux'] : [`a=rtcp:${local.rtcpPort}`];
}

export interface AnswerOptions {
  origin: SdpOrigin;
  local: LocalAudio;
  negotiation: OfferNegotiation;
  /** Our video endpoint; without it an accepted video stream is answered with port 0. */
  localVideo?: LocalVideo;
  /** Our direction; defaults to the RFC 3264 complement of the remote's. */
  direction?: MediaDirection;
  /** Our SRTP keys for the m-lines negotiated with a=crypto (one per line, never shared). */
  localKeys?: { audio?: LocalSdesKey; video?: LocalSdesKey };
}

/** Our a=crypto for a line the peer keyed, or none for plain RTP. */
function answerCrypto(crypto: NegotiatedAudio['crypto'], key: LocalSdesKey | undefined, kind: string): string[] {
  if (!crypto) return [];
  if (!key || key.suite !== crypto.suite) throw new ConfnodeError('internal', `no local SRTP key of suite ${crypto.suite} for the ${kind} answer`);
  return [cryptoLine(crypto.tag, key)];
}

/** Our video m-line: the conference codec with NACK, PLI and FIR feedback (RFC 4585, 5104). */
function videoLines(v: NegotiatedVideo, local: LocalVideo, direction: MediaDirection, key: LocalSdesKey | undefined): string[] {
  const pt = v.codec.payloadType;
  return [
    `m=video ${local.port} ${answerProfile(v.profile, v.crypto)} ${pt}`,
    ...answerCrypto(v.crypto, key, 'video'),
    ...codecLines(v.codec),
    `a=rtcp-fb:${pt} nack`,
    `a=rtcp-fb:${pt} nack pli`,
    `a=rtcp-fb:${pt} ccm fir`,
    `a=rtcp:${local.rtcpPort}`,
    `a=${direction}`,
  ];
}

export function buildAnswer(opts: AnswerOptions): string {
  const { local, negotiation } = opts;
  const lines = header(opts.origin, local.address);
  for (const outcome of negotiation.media) {
    if (outcome.kind === 'rejected') {
      lines.push(`m=${outcome.type} 0 ${outcome.protocol} ${outcome.formats || '0'}`);
      continue;
    }
    if (outcome.kind === 'video') {
      const v = outcome.video;
      if (opts.localVideo) lines.push(...videoLines(v, opts.localVideo, opts.direction ?? answerDirection(v.remoteDirection), opts.localKeys?.video));
      else lines.push(`m=video 0 ${v.profile} ${v.codec.payloadType}`);
      continue;
    }
    const a: NegotiatedAudio = outcome.audio;
    const pts = [a.codec.payloadType, ...(a.telephoneEvent ? [a.telephoneEvent.payloadType] : [])];
    lines.push(`m=audio ${local.port} ${answerProfile(a.profile, a.crypto)} ${pts.join(' ')}`);
    lines.push(...answerCrypto(a.crypto, opts.localKeys?.audio, 'audio'));
    lines.push(...codecLines(a.codec));
    if (a.telephoneEvent) lines.push(...codecLines({ ...a.telephoneEvent, fmtp: a.telephoneEvent.fmtp ?? '0-16' }));
    lines.push('a=ptime:20');
    lines.push(...transportLines({ ...local, rtcpMux: local.rtcpMux && a.remote.rtcpMux }));
    lines.push(`a=${opts.direction ?? answerDirection(a.remoteDirection)}`);
  }
  return lines.join('\r\n') + '\r\n';
}

export interface OfferOptions {
  origin: SdpOrigin;
  local: LocalAudio;
  caps: readonly CodecCapability[];
  direction?: MediaDirection;
  /** SDES-SRTP: offer RTP/SAVP with this key (a=crypto tag 1) instead of plain RTP/AVP. */
  srtpKey?: LocalSdesKey;
}

/** Our offer (for an INVITE that came without one): every capability plus telephone-event. */
export function buildOffer(opts: OfferOptions): string {
  const lines = header(opts.origin, opts.local.address);
  let nextDynamic = 96;
  const codecs: NegotiatedCodec[] = opts.caps.map((cap) => ({
    name: cap.name,
    payloadType: cap.staticPayloadType ?? cap.dynamicPayloadType ?? nextDynamic++,
    clockRate: cap.clockRate,
    channels: cap.channels,
    ...(cap.fmtp ? { fmtp: cap.fmtp } : {}),
  }));
  const te: NegotiatedCodec = { name: 'telephone-event', payloadType: 101, clockRate: 8000, channels: 1, fmtp: '0-16' };
  const profile = opts.srtpKey ? 'RTP/SAVP' : 'RTP/AVP';
  lines.push(`m=audio ${opts.local.port} ${profile} ${[...codecs, te].map((c) => c.payloadType).join(' ')}`);
  if (opts.srtpKey) lines.push(cryptoLine(1, opts.srtpKey));
  for (const c of [...codecs, te]) lines.push(...codecLines(c));
  lines.push('a=ptime:20');
  lines.push(...transportLines(opts.local));
  lines.push(`a=${opts.direction ?? 'sendrecv'}`);
  return lines.join('\r\n') + '\r\n';
}
