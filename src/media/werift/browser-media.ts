/**
 * A browser in the conference's SFU, werift side only: each track it publishes becomes a Source
 * (RFC 6464 digital silence marked, so viewers skip it while the mixer still decodes it), and
 * each stream it views is a Sink on a SendTrack of its own (the SFU's packet goes to it as is: no
 * per-viewer object on our send path; header extensions dropped). Decides nothing about who sees
 * what: the SFU's policy does.
 */
import type { ParticipantId } from '../../common';
import { LOCAL_MESH, newMediaPacket, type MediaKind, type MediaPacket, type Sink, type Source, type SourceCodec, type SourceView, type Viewer } from '../sfu';
import type { SendTrack } from './send-track';
import type { PublishedTrack, WebRtcEndpoint } from './webrtc-endpoint';

/** A stream the browser publishes, as a Source. */
class PublishedSource implements Source {
  readonly kind: MediaKind;
  readonly meshTag = LOCAL_MESH;
  readonly requestKeyframe: (() => void) | undefined;
  codec: SourceCodec;
  onPacket: ((packet: MediaPacket) => void) | null = null;
  private readonly packet = newMediaPacket();

  constructor(
    readonly owner: ParticipantId,
    track: PublishedTrack,
  ) {
    this.kind = track.kind;
    this.codec = { mime: track.mime, clockRate: track.clockRate };
    this.requestKeyframe = track.kind === 'video' ? () => track.requestKeyframe() : undefined;
    track.onRtp = (pkt, level) => {
      const emit = this.onPacket;
      if (!emit) return;
      const p = this.packet;
      const h = pkt.header;
      p.sequence = h.sequenceNumber;
      p.timestamp = h.timestamp;
      p.marker = h.marker;
      p.payloadType = h.payloadType;
      p.ssrc = h.ssrc;
      p.payload = pkt.payload;
      p.silent = level === 127;
      p.level = level;
      emit(p);
    };
  }
}

/** One stream this browser views: one sendonly m-line. */
class SendTrackSink implements Sink {
  readonly kind: MediaKind;
  readonly excludeMeshTag = undefined;
  // Digital silence is not forwarded, as Jitsi's bridge does: viewers' jitter buffers treat the
  // gap as silence, and in a room where most people are muted this is most of the audio an SFU
  // would otherwise encrypt and send.
  readonly skipSilent = true;
  onKeyframeRequest: ((source: SourceView, firstOfViewer?: boolean) => void) | null = null;

  constructor(
    readonly owner: ParticipantId,
    private readonly track: SendTrack,
    source: SourceView,
  ) {
    this.kind = source.kind;
    track.onKeyframeRequest = (firstOfViewer) => this.onKeyframeRequest?.(source, firstOfViewer);
  }

  send(p: MediaPacket, source: SourceView): boolean {
    return this.track.send(p, source.codec.mime);
  }

  close(): void {
    this.track.close();
  }
}

export class BrowserMedia implements Viewer {
  readonly kind = 'any';
  readonly owner: ParticipantId;
  readonly excludeMeshTag = undefined;
  private readonly published: PublishedSource[] = [];
  private readonly offTrack: () => void;

  /** `onSource`: the browser started publishing a stream (the caller adds it to the SFU). */
  constructor(
    private readonly endpoint: WebRtcEndpoint,
    onSource: (source: Source) => void,
  ) {
    this.owner = endpoint.participant;
    this.offTrack = endpoint.on('track', (track) => {
      const source = new PublishedSource(this.owner, track);
      this.published.push(source);
      onSource(source);
    });
  }

  /** What the browser publishes. */
  get sources(): readonly Source[] {
    return this.published;
  }

  sinkFor(source: SourceView): Sink | undefined {
    if (this.endpoint.closed) return undefined;
    return new SendTrackSink(this.owner, this.endpoint.addSendTrack(source.kind, source.owner), source);
  }

  /** Stops taking new tracks; the SFU closes the sinks (removeViewer) and drops the sources. */
  close(): void {
    this.offTrack();
  }
}
