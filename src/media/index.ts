export * from './codecs/codec';
export { dominantFrequency, goertzelPower, rms } from './codecs/tone';
export { AudioMixer, type AudioMixerOptions, type MixerInput, type AudioSink } from './mixer/audio-mixer';
export { MixClock } from './mixer/mix-clock';
export { ActiveSpeakerDetector } from './active-speaker';
export { DtmfRecognizer } from './dtmf';
export { PortAllocator, type RtpSocketPair } from './rtp/port-allocator';
export { rtpIoInfo, type RtpIoKind } from './rtp/udp-io';
export { RtpEndpoint, type RtpEndpointStats } from './rtp/rtp-endpoint';
export { parseRtp, buildRtp, isRtcp, type RtpView } from './rtp/packet';
export { MediaRouter, type AudioFormat, type MediaRouterOptions, type RouterParticipantStats } from './router';
export type { MediaService, MediaServiceEvents, MediaServiceStats, MediaConferenceRef, LocalRtpAddress, RtpParticipantUpdate, RtpVideoUpdate } from './service';
export { emptyMediaStats } from './service';
export { LocalMediaService, type LocalMediaOptions } from './local-service';
export { mediaOpHandlers, forwardMediaEvents, type MediaOps, type MediaEventPayloads } from './ops';
export type { RtpDirection, RtpRemote } from './rtp/rtp-endpoint';
export {
  WebRtcEndpoint,
  WebRtcFanout,
  dropMdnsCandidates,
  type WebRtcEndpointOptions,
  type WebRtcEndpointStats,
  type PlainAudioSource,
} from './werift';
export { KeyframeThrottle, type KeyframeThrottleStats } from './video/keyframe-throttle';
