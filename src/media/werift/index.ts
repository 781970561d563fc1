/**
 * The werift adapter: the only folder that imports werift. Everything above it sees our own
 * types (endpoints, fan-out, send tracks), never werift's.
 */
export { WebRtcEndpoint, type WebRtcEndpointOptions, type WebRtcEndpointEvents, type WebRtcEndpointStats, type PublishedTrack } from './webrtc-endpoint';
export { WebRtcFanout, type WebRtcFanoutOptions, type PlainAudioSource, type PlainVideoSource, type BrowserVideoTap, type BrowserAudioSink } from './fanout';
export { SendTrack, type MediaKind } from './send-track';
export { dropMdnsCandidates, peerConfig, audioCodecParameters, videoCodecParameters, AUDIO_PAYLOAD_TYPES, H264_FMTP, type VideoCodecName } from './codecs';
