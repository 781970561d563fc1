export * from './codecs/codec';
export { dominantFrequency, goertzelPower, rms } from './codecs/tone';
export { AudioMixer, type AudioMixerOptions, type MixerInput, type AudioSink } from './mixer/audio-mixer';
export { MixClock } from './mixer/mix-clock';
export { ActiveSpeakerDetector } from './active-speaker';
export { DtmfRecognizer } from './dtmf';
export { PortAllocator, type RtpSocketPair } from './rtp/port-allocator';
export { rtpIoInfo, type RtpIoKind } from './rtp/udp-io';
export { srtpEngineInfo, type SrtpEngineKind } from './rtp/srtp-engine';
export { RtpEndpoint, type RtpEndpointStats } from './rtp/rtp-endpoint';
export { parseRtp, buildRtp, isRtcp, type RtpView } from './rtp/packet';
export { MediaRouter, type AudioFormat, type MediaRouterOptions, type MediaRouterEvents, type RouterParticipantStats, type RtpVideoFormat } from './router';
export {
  ConferenceSfu,
  LOCAL_MESH,
  PacketSource,
  forwardDecision,
  shouldForward,
  newMediaPacket,
  fillFromRtpView,
  audioSourceCodec,
  videoSourceCodec,
  type ForwardDecision,
  type MediaKind,
  type MeshTag,
  type SourceCodec,
  type MediaPacket,
  type SourceView,
  type Source,
  type SinkWants,
  type Sink,
  type Viewer,
  type SfuCounters,
  type SinkCounters,
  type RemoteSourceOptions,
  type RemoteSourceHandle,
  type RemoteSinkHandle,
} from './sfu';
export type { MediaService, MediaServiceEvents, MediaServiceStats, MediaConferenceRef, LocalRtpAddress, RtpParticipantUpdate, RtpVideoUpdate } from './service';
export { emptyMediaStats } from './service';
export { LocalMediaService, type LocalMediaOptions } from './local-service';
export { mediaOpHandlers, forwardMediaEvents, type MediaOps, type MediaEventPayloads } from './ops';
export type { RtpDirection, RtpRemote } from './rtp/rtp-endpoint';
export { isSdesKey, SRTP_SUITES, SDES_KEY_BASE64_LENGTH, type SrtpKeys, type SrtpSuite } from './rtp/sdes';
export { WebRtcEndpoint, dropMdnsCandidates, type WebRtcEndpointOptions, type WebRtcEndpointStats } from './werift';
export { KeyframeThrottle, type KeyframeThrottleStats } from './video/keyframe-throttle';
// For the backplane (backplane/ imports media only through this file): RTP/RTCP building blocks.
export { parseRtpInto, emptyRtpView, writeRtpHeader, RTP_HEADER_SIZE } from './rtp/packet';
export type { RtpSocket } from './rtp/udp-io';
export { buildRtcp, parseRtcp, ntpFromUnixMs, ntpMiddle32, RTCP_SR, RTCP_RR, type RtcpPacket, type ReportBlock, type UnknownRtcp } from './rtp/rtcp';
export { RtpReceiveStats, rttFromReportBlock } from './rtp/stats';
export { buildPli, keyframeRequestTarget, RTCP_PSFB } from './rtp/feedback';
// SRTP (RFC 3711): backplane links and SDES-keyed SIP media.
export { SrtpContext, SRTP_MASTER_KEY_BYTES, SRTP_MASTER_SALT_BYTES, checkMasterKey, type SrtpFailure, type SrtpMasterKey, type SrtpContextOptions } from './rtp/srtp';
