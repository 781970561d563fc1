/**
 * SDP negotiation types shared by the SIP side and the node glue. Plain data, no I/O.
 */

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** A codec we can terminate, in our order of preference. */
export interface CodecCapability {
  /** Encoding name as in rtpmap, compared case-insensitively ('opus', 'PCMU', 'PCMA'). */
  name: string;
  clockRate: number;
  channels: number;
  /** Static payload type (RFC 3551) when the codec has one. */
  staticPayloadType?: number;
  /** Preferred dynamic payload type when we build an offer. */
  dynamicPayloadType?: number;
  /** fmtp we put in offers and answers for this codec. */
  fmtp?: string;
}

export interface NegotiatedCodec {
  name: string;
  payloadType: number;
  clockRate: number;
  channels: number;
  fmtp?: string;
}

/** SDES crypto suites we accept (RFC 4568 6.2); the same strings as media's SrtpSuite. */
export type SdesSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

/** media.sip_srtp: take SRTP when offered, insist on it, or answer with plain RTP only. */
export type SrtpPolicy = 'optional' | 'required' | 'off';

/** The peer's a=crypto line we picked (RFC 4568): answered with the same tag and suite and our own key. */
export interface SdesCrypto {
  tag: number;
  suite: SdesSuite;
  /** base64 key||salt (30 bytes) the peer protects its media with. Never log it. */
  key: string;
}

/** Our SRTP key of one m-line (base64 key||salt, 30 bytes), for our a=crypto. */
export interface LocalSdesKey {
  suite: SdesSuite;
  key: string;
}

export interface RemoteMediaAddress {
  address: string;
  rtpPort: number;
  /** Separate RTCP port (a=rtcp or rtpPort+1); undefined when rtcp-mux is used. */
  rtcpPort?: number;
  rtcpMux: boolean;
}

export interface NegotiatedAudio {
  /** Index of the m-line in the offer. */
  mid: number;
  codec: NegotiatedCodec;
  telephoneEvent?: NegotiatedCodec;
  remote: RemoteMediaAddress;
  /** The direction the remote side declared. */
  remoteDirection: MediaDirection;
  /** True when the remote put us on hold (sendonly/inactive or a 0.0.0.0 connection). */
  onHold: boolean;
  ptime?: number;
  /** The m-line's transport protocol as offered ('RTP/AVP', 'RTP/SAVP', ...). */
  profile: string;
  /** SDES-SRTP: the crypto line picked; undefined = plain RTP. */
  crypto?: SdesCrypto;
}

export type ConferenceVideoCodec = 'H264' | 'VP8';

export interface NegotiatedVideo {
  mid: number;
  codec: NegotiatedCodec;
  remote: RemoteMediaAddress;
  remoteDirection: MediaDirection;
  onHold: boolean;
  /** RTCP feedback the offerer supports for the codec (RFC 4585/5104). */
  feedback: { nack: boolean; pli: boolean; fir: boolean };
  profile: string;
  crypto?: SdesCrypto;
}

/** Per offered m-line: accepted audio or video, or the reason it was rejected (port 0 in the answer). */
export type OfferedMediaOutcome =
  | { kind: 'audio'; audio: NegotiatedAudio }
  | { kind: 'video'; video: NegotiatedVideo }
  | { kind: 'rejected'; type: string; protocol: string; formats: string; reason: string };

export interface OfferNegotiation {
  /** The first acceptable audio stream. */
  audio: NegotiatedAudio;
  /** The first acceptable video stream in the conference's codec, if any. */
  video?: NegotiatedVideo;
  /** Why the offered video was refused (e.g. 'no common video codec (conference uses VP8)'). */
  videoRejectedReason?: string;
  media: OfferedMediaOutcome[];
}

export interface LocalVideo {
  address: string;
  port: number;
  rtcpPort: number;
}

export interface LocalAudio {
  address: string;
  port: number;
  rtcpPort: number;
  rtcpMux: boolean;
}
