/**
 * The werift adapter: the only folder that imports werift. Everything above it sees our own
 * types (endpoints, the browser's Sources and Sinks, send tracks), never werift's.
 */
export { WebRtcEndpoint, type WebRtcEndpointOptions, type WebRtcEndpointEvents, type WebRtcEndpointStats, type PublishedTrack } from './webrtc-endpoint';
export { BrowserMedia } from './browser-media';
export { SendTrack, type MediaKind } from './send-track';
export { dropMdnsCandidates, peerConfig, audioCodecParameters, videoCodecParameters, AUDIO_PAYLOAD_TYPES, H264_FMTP, type VideoCodecName } from './codecs';
