/**
 * The SIP endpoints' voice-switched video as a Sink: every video source in the conference codec
 * is a candidate of the switch (one per participant: a second camera of the same participant is
 * not switched), and the switch's keyframe requests go up through the SFU's per-source
 * throttle. Never forwards a source the switch was not told of.
 */
import type { ParticipantId } from '../../common';
import type { VideoCodecName } from '../video/keyframe';
import type { VoiceSwitchedVideo } from '../video/voice-switch';
import { videoSourceCodec } from './packet-source';
import type { MediaPacket, Sink, SourceView } from './types';

export class VoiceSwitchSink implements Sink {
  readonly kind = 'video';
  readonly owner = undefined;
  readonly excludeMeshTag = undefined;
  onKeyframeRequest: ((source: SourceView) => void) | null = null;
  private readonly switched = new Set<SourceView>();
  private readonly owners = new Set<ParticipantId>();
  private readonly mime: string;

  constructor(
    private readonly voice: VoiceSwitchedVideo,
    codec: VideoCodecName,
  ) {
    this.mime = videoSourceCodec(codec).mime;
  }

  sourceAdded(source: SourceView): void {
    // Another codec could never be decoded by the endpoints (no video transcoding, DESIGN.md 4).
    if (source.codec.mime !== this.mime || this.owners.has(source.owner)) return;
    this.switched.add(source);
    this.owners.add(source.owner);
    this.voice.addSource(source.owner, () => this.onKeyframeRequest?.(source));
  }

  sourceRemoved(source: SourceView): void {
    if (!this.switched.delete(source)) return;
    this.owners.delete(source.owner);
    this.voice.removeSource(source.owner);
  }

  send(packet: MediaPacket, source: SourceView): boolean {
    if (!this.switched.has(source)) return false;
    this.voice.push(source.owner, packet.sequence, packet.timestamp, packet.marker, packet.payload);
    return true;
  }
}
