/**
 * The SFU seam of media: Sources and Sinks, the pure forwarding policy, the conference's
 * forwarding core, and the mixer and voice switch as sinks. Nothing here imports werift.
 */
export type { MediaKind, MeshTag, SourceCodec, MediaPacket, SourceView, Source, SinkWants, Sink, Viewer, SfuCounters, SinkCounters } from './types';
export { LOCAL_MESH } from './types';
export { forwardDecision, shouldForward, type ForwardDecision } from './policy';
export { PacketSource, audioSourceCodec, audioCodecOf, videoSourceCodec, newMediaPacket, fillFromRtpView, type PacketSourceInit } from './packet-source';
export { ConferenceSfu, type ConferenceSfuOptions, type ConferenceSfuEvents } from './sfu';
export { MixerSink, type MixerSinkHooks } from './mixer-sink';
export { VoiceSwitchSink } from './voice-sink';
export { RemoteStreams, type RemoteSourceOptions, type RemoteSourceHandle, type RemoteSinkHandle } from './remote';
