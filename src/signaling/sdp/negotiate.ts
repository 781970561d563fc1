/**
 * SDP offer/answer (RFC 3264) for plain RTP/AVP and SDES-SRTP (RFC 4568) endpoints: audio picks
 * the first codec of the offer that we support (the offerer's preference wins) plus
 * telephone-event (RFC 4733); video is accepted only in the conference's codec (no video
 * transcoding), else rejected with a reason the API shows; each m-line is SRTP, plain or refused
 * under the SRTP policy. Pure: parses with sdp-transform, never touches sockets.
 */
import type * as sdpTransform from 'sdp-transform';
import { ConfnodeError } from '../../common';
import { lineTransport, offeredCodecs, parseSdp, type ParsedMedia } from './sdp-lines';
import { decideSrtp } from './crypto';
import type {
  CodecCapability,
  ConferenceVideoCodec,
  NegotiatedAudio,
  NegotiatedCodec,
  NegotiatedVideo,
  OfferNegotiation,
  OfferedMediaOutcome,
  SrtpPolicy,
} from './types';

export { answerDirection, describePayload, parseSdp } from './sdp-lines';

function matchesCapability(c: NegotiatedCodec, cap: CodecCapability): boolean {
  if (c.name.toLowerCase() !== cap.name.toLowerCase() || c.clockRate !== cap.clockRate) return false;
  // Opus is always signalled as opus/48000/2 (RFC 7587); mono codecs may omit the channel count.
  return cap.name.toLowerCase() === 'opus' ? true : c.channels === cap.channels;
}

function rejected(m: ParsedMedia, reason: string): OfferedMediaOutcome {
  return { kind: 'rejected', type: m.type, protocol: m.protocol, formats: String(m.payloads ?? ''), reason };
}

function negotiateAudioLine(
  m: ParsedMedia,
  mid: number,
  session: sdpTransform.SessionDescription,
  caps: readonly CodecCapability[],
  policy: SrtpPolicy,
): OfferedMediaOutcome {
  const t = lineTransport(m, session);
  if (!t.ok) return rejected(m, t.reason);
  const srtp = decideSrtp(m, policy);
  if (!srtp.ok) return rejected(m, srtp.reason);
  const offered = offeredCodecs(m);
  const codec = offered.find((c) => caps.some((cap) => matchesCapability(c, cap)));
  if (!codec) return rejected(m, 'no common codec');
  const events = offered.filter((c) => c.name.toLowerCase() === 'telephone-event');
  const telephoneEvent = events.find((e) => e.clockRate === codec.clockRate) ?? events[0];
  const audio: NegotiatedAudio = {
    mid,
    codec,
    ...(telephoneEvent ? { telephoneEvent } : {}),
    remote: t.remote,
    remoteDirection: t.remoteDirection,
    onHold: t.onHold,
    ...(m.ptime ? { ptime: m.ptime } : {}),
    profile: m.protocol,
    ...(srtp.crypto ? { crypto: srtp.crypto } : {}),
  };
  return { kind: 'audio', audio };
}

function fmtpParams(fmtp: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (fmtp ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * H.264 is acceptable with packetization-mode=1 (what browsers send: FU-A fragments) and the
 * Constrained Baseline or Baseline profile (profile_idc 0x42); VP8 as such.
 */
export function videoCodecMatches(c: NegotiatedCodec, codec: ConferenceVideoCodec): boolean {
  if (c.name.toUpperCase() !== codec || c.clockRate !== 90000) return false;
  if (codec === 'VP8') return true;
  const p = fmtpParams(c.fmtp);
  if (p.get('packetization-mode') !== '1') return false;
  const profile = p.get('profile-level-id');
  return profile === undefined || /^42[0-9a-f]{4}$/i.test(profile);
}

function rtcpFeedback(m: ParsedMedia, pt: number): NegotiatedVideo['feedback'] {
  const fb = (m.rtcpFb ?? []).filter((f) => String(f.payload) === String(pt) || f.payload === '*');
  const has = (type: string, sub?: string): boolean => fb.some((f) => f.type === type && (f.subtype ?? undefined) === sub);
  return { nack: has('nack'), pli: has('nack', 'pli'), fir: has('ccm', 'fir') };
}

function negotiateVideoLine(
  m: ParsedMedia,
  mid: number,
  session: sdpTransform.SessionDescription,
  conferenceCodec: ConferenceVideoCodec,
  policy: SrtpPolicy,
): OfferedMediaOutcome {
  const t = lineTransport(m, session);
  if (!t.ok) return rejected(m, t.reason);
  const srtp = decideSrtp(m, policy);
  if (!srtp.ok) return rejected(m, srtp.reason);
  const codec = offeredCodecs(m).find((c) => videoCodecMatches(c, conferenceCodec));
  if (!codec) {
    const detail = conferenceCodec === 'H264' ? 'H264 packetization-mode=1' : 'VP8';
    return rejected(m, `no common video codec (conference uses ${detail})`);
  }
  const video: NegotiatedVideo = {
    mid,
    codec,
    remote: t.remote,
    remoteDirection: t.remoteDirection,
    onHold: t.onHold,
    feedback: rtcpFeedback(m, codec.payloadType),
    profile: m.protocol,
    ...(srtp.crypto ? { crypto: srtp.crypto } : {}),
  };
  return { kind: 'video', video };
}

export interface NegotiateOptions {
  /** The conference's video codec; without it every video m-line is rejected. */
  videoCodec?: ConferenceVideoCodec;
  /** media.sip_srtp; default 'off' (RTP/SAVP lines rejected, a=crypto on RTP/AVP ignored). */
  srtp?: SrtpPolicy;
}

/**
 * Negotiates an offer: the first usable audio m-line and (with options.videoCodec) the first
 * usable video m-line; every other m-line is rejected. Throws ConfnodeError('no-common-codec')
 * when no audio stream can be accepted (SIP 488): video alone does not make a call.
 */
export function negotiateOffer(sdp: string, caps: readonly CodecCapability[], options: NegotiateOptions = {}): OfferNegotiation {
  const session = parseSdp(sdp);
  const policy = options.srtp ?? 'off';
  let audio: NegotiatedAudio | undefined;
  let video: NegotiatedVideo | undefined;
  let videoRejectedReason: string | undefined;
  const media = session.media.map((m, mid): OfferedMediaOutcome => {
    if (m.type === 'audio') {
      if (audio) return rejected(m, 'second audio stream');
      const outcome = negotiateAudioLine(m, mid, session, caps, policy);
      if (outcome.kind === 'audio') audio = outcome.audio;
      return outcome;
    }
    if (m.type === 'video') {
      if (video) return rejected(m, 'second video stream');
      if (!options.videoCodec) return rejected(m, 'video not supported here');
      const outcome = negotiateVideoLine(m, mid, session, options.videoCodec, policy);
      if (outcome.kind === 'video') video = outcome.video;
      else if (outcome.kind === 'rejected' && outcome.reason !== 'disabled by offerer') videoRejectedReason ??= outcome.reason;
      return outcome;
    }
    return rejected(m, 'media type not supported');
  });
  if (!audio) {
    const reasons = media.map((o) => (o.kind === 'rejected' ? `${o.type}: ${o.reason}` : '')).filter(Boolean).join('; ');
    throw new ConfnodeError('no-common-codec', `no acceptable audio stream (${reasons || 'no media'})`);
  }
  return { audio, ...(video ? { video } : {}), ...(videoRejectedReason && !video ? { videoRejectedReason } : {}), media };
}

/**
 * Reads the answer to an offer we made (offerless INVITE: our offer in the 200, the answer in
 * the ACK). The answerer must pick from what we offered.
 */
export function negotiateAnswer(sdp: string, caps: readonly CodecCapability[], options: NegotiateOptions = {}): OfferNegotiation {
  return negotiateOffer(sdp, caps, options);
}
