/**
 * A Source its owner pushes packets into: a SIP participant's received audio or video, or a
 * stream relayed from another node. Fills one reusable packet per source, so the packet path
 * allocates nothing here; never keeps a packet past the push.
 */
import type { ParticipantId } from '../../common';
import { AUDIO_CODEC_NAMES, type AudioCodecName } from '../codecs/types';
import type { RtpView } from '../rtp/packet';
import type { VideoCodecName } from '../video/keyframe';
import type { MediaKind, MediaPacket, MeshTag, Source, SourceCodec } from './types';

const AUDIO_CODECS: Readonly<Record<AudioCodecName, SourceCodec>> = {
  opus: { mime: 'audio/opus', clockRate: 48000 },
  PCMU: { mime: 'audio/pcmu', clockRate: 8000 },
  PCMA: { mime: 'audio/pcma', clockRate: 8000 },
  // RFC 3551 4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
  G722: { mime: 'audio/g722', clockRate: 8000 },
};

export function audioSourceCodec(codec: AudioCodecName): SourceCodec {
  return AUDIO_CODECS[codec];
}

/** The mixer's codec for a source's codec; undefined when the mixer cannot decode it. */
export function audioCodecOf(codec: SourceCodec): AudioCodecName | undefined {
  const mime = codec.mime.toLowerCase();
  return AUDIO_CODEC_NAMES.find((name) => AUDIO_CODECS[name].mime === mime && AUDIO_CODECS[name].clockRate === codec.clockRate);
}

export function videoSourceCodec(codec: VideoCodecName): SourceCodec {
  return { mime: `video/${codec.toLowerCase()}`, clockRate: 90000 };
}

const EMPTY = Buffer.alloc(0);

export function newMediaPacket(): MediaPacket {
  return { sequence: 0, timestamp: 0, marker: false, payloadType: 0, ssrc: 0, payload: EMPTY, silent: false, level: -1 };
}

/** Fills a reused packet from a parsed RTP view (the packet path: no object per packet). */
export function fillFromRtpView(p: MediaPacket, view: RtpView, silent: boolean): MediaPacket {
  p.sequence = view.sequence;
  p.timestamp = view.timestamp;
  p.marker = view.marker;
  p.payloadType = view.payloadType;
  p.ssrc = view.ssrc;
  p.payload = view.payload;
  p.silent = silent;
  p.level = silent ? 127 : -1;
  return p;
}

export interface PacketSourceInit {
  owner: ParticipantId;
  kind: MediaKind;
  codec: SourceCodec;
  meshTag: MeshTag;
  requestKeyframe?: () => void;
}

export class PacketSource implements Source {
  readonly owner: ParticipantId;
  readonly kind: MediaKind;
  readonly meshTag: MeshTag;
  readonly requestKeyframe: (() => void) | undefined;
  codec: SourceCodec;
  onPacket: ((packet: MediaPacket) => void) | null = null;
  private readonly packet = newMediaPacket();

  constructor(init: PacketSourceInit) {
    this.owner = init.owner;
    this.kind = init.kind;
    this.codec = init.codec;
    this.meshTag = init.meshTag;
    this.requestKeyframe = init.requestKeyframe;
  }

  /** A plain-RTP packet (no RFC 6464 level on that path: never silent). */
  pushRtp(view: RtpView): void {
    const emit = this.onPacket;
    if (!emit) return;
    emit(fillFromRtpView(this.packet, view, false));
  }

  /** A packet the caller built (and may reuse once this returns). */
  push(packet: MediaPacket): void {
    this.onPacket?.(packet);
  }
}
