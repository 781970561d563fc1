/**
 * WebRtcFanout: one conference's SFU. Every source (a browser's published track, a SIP
 * participant's received audio) reaches every browser but its owner on a SendTrack of its own:
 * one packet clone per viewer, header extensions dropped, no transcoding. Video viewers that join
 * or ask (PLI/FIR) get a keyframe through a per-source throttle. Packet path: plain loops and
 * counters; sources and viewers change at control rate only.
 */
import type { Clock, ParticipantId } from '../../common';
import type { AudioCodecName } from '../codecs/types';
import type { RtpView } from '../rtp/packet';
import { audioMimeType } from './codecs';
import { viewerPacket } from './viewer-packet';
import { KeyframeThrottle, DEFAULT_KEYFRAME_INTERVAL_MS } from '../video/keyframe-throttle';
import type { MediaKind, SendTrack } from './send-track';
import type { PublishedTrack, WebRtcEndpoint } from './webrtc-endpoint';

/** Browser video as SIP endpoints' voice-switched video sees it. */
export interface BrowserVideoTap {
  added(owner: ParticipantId, requestKeyframe: () => void): void;
  packet(owner: ParticipantId, sequence: number, timestamp: number, marker: boolean, payload: Buffer): void;
  removed(owner: ParticipantId): void;
}

export interface WebRtcFanoutOptions {
  clock: Clock;
  keyframeIntervalMs?: number;
  videoTap?: BrowserVideoTap;
}

/** The browser's decoded audio goes to the mixer through this (first audio track only). */
export type BrowserAudioSink = (sequence: number, payload: Buffer) => void;

/** A SIP participant's received video, forwarded untouched to every browser. */
export interface PlainVideoSource {
  forward(pkt: RtpView): void;
}

/** A SIP participant's received audio, forwarded untouched to every browser. */
export interface PlainAudioSource {
  forward(pkt: RtpView): void;
  /** A re-INVITE changed the codec: later packets are stamped with the browser's PT for it. */
  setCodec(codec: AudioCodecName): void;
}

interface Source {
  owner: ParticipantId;
  kind: MediaKind;
  mime: string;
  byViewer: Map<ParticipantId, SendTrack>;
  /** Same tracks as byViewer, as an array for the packet loop. */
  tracks: SendTrack[];
  keyframes: KeyframeThrottle | undefined;
  /** A browser's video, shown to SIP endpoints through the tap. */
  tapped: boolean;
}

export class WebRtcFanout {
  private readonly viewers = new Map<ParticipantId, WebRtcEndpoint>();
  private readonly sources = new Set<Source>();
  private readonly unsubscribe = new Map<ParticipantId, () => void>();
  private closed = false;

  constructor(private readonly opts: WebRtcFanoutOptions) {}

  /** A browser joins: it views every existing source, and what it publishes becomes sources. */
  addBrowser(id: ParticipantId, endpoint: WebRtcEndpoint, audioSink?: BrowserAudioSink): void {
    if (this.closed || this.viewers.has(id)) return;
    this.viewers.set(id, endpoint);
    for (const s of this.sources) if (s.owner !== id) this.subscribe(s, id, endpoint);
    let sinkUsed = false;
    const off = endpoint.on('track', (published) => {
      const sink = published.kind === 'audio' && !sinkUsed ? audioSink : undefined;
      if (sink) sinkUsed = true;
      this.addBrowserSource(id, published, sink);
    });
    this.unsubscribe.set(id, off);
  }

  addPlainAudio(id: ParticipantId, codec: AudioCodecName): PlainAudioSource {
    const source = this.addSource(id, 'audio', audioMimeType(codec).toLowerCase(), undefined);
    return {
      forward: (pkt) => this.forwardPlain(source, pkt),
      setCodec: (c) => {
        source.mime = audioMimeType(c).toLowerCase();
      },
    };
  }

  /** A SIP endpoint's video, shown to every browser; their keyframe requests reach it throttled. */
  addPlainVideo(id: ParticipantId, mime: string, requestKeyframe: () => void): PlainVideoSource {
    const source = this.addSource(id, 'video', mime.toLowerCase(), undefined, requestKeyframe);
    return { forward: (pkt) => this.forwardPlain(source, pkt) };
  }

  /** Removes what a participant publishes of one kind (a SIP re-INVITE dropped its video). */
  removeSourceOf(id: ParticipantId, kind: MediaKind): void {
    for (const s of [...this.sources]) if (s.owner === id && s.kind === kind) this.dropSource(s);
  }

  private forwardPlain(source: Source, pkt: RtpView): void {
    const tracks = source.tracks;
    for (let i = 0; i < tracks.length; i++) {
      (tracks[i] as SendTrack).send(viewerPacket(pkt.payloadType, pkt.marker, pkt.sequence, pkt.timestamp, pkt.ssrc, pkt.payload), source.mime);
    }
  }

  private dropSource(s: Source): void {
    this.sources.delete(s);
    s.keyframes?.close();
    for (const t of s.tracks) t.close();
    s.byViewer.clear();
    s.tracks = [];
    if (s.tapped) this.opts.videoTap?.removed(s.owner);
  }

  /** Removes everything the participant publishes and, for a browser, everything it views. */
  removeParticipant(id: ParticipantId): void {
    for (const s of [...this.sources]) {
      if (s.owner === id) {
        this.dropSource(s);
        continue;
      }
      const t = s.byViewer.get(id);
      if (t) {
        t.close();
        s.byViewer.delete(id);
        s.tracks = [...s.byViewer.values()];
      }
    }
    this.unsubscribe.get(id)?.();
    this.unsubscribe.delete(id);
    this.viewers.delete(id);
  }

  /** Number of live SendTracks towards a viewer (tests and stats). */
  viewedBy(id: ParticipantId): number {
    let n = 0;
    for (const s of this.sources) if (s.byViewer.has(id)) n++;
    return n;
  }

  close(): void {
    if (this.closed) return;
    const everyone = new Set<ParticipantId>(this.viewers.keys());
    for (const s of this.sources) everyone.add(s.owner);
    for (const id of everyone) this.removeParticipant(id);
    this.closed = true;
  }

  private addBrowserSource(owner: ParticipantId, published: PublishedTrack, sink: BrowserAudioSink | undefined): void {
    if (this.closed || !this.viewers.has(owner)) return;
    const source = this.addSource(owner, published.kind, published.mime, published);
    const tap = published.kind === 'video' ? this.opts.videoTap : undefined;
    if (tap) {
      source.tapped = true;
      tap.added(owner, () => source.keyframes?.request());
    }
    published.onRtp = (pkt, silent) => {
      sink?.(pkt.header.sequenceNumber, pkt.payload);
      if (tap) tap.packet(owner, pkt.header.sequenceNumber, pkt.header.timestamp, pkt.header.marker, pkt.payload);
      // Digital silence (a muted or silent microphone, RFC 6464 level 127) is not forwarded, as
      // Jitsi's bridge does: viewers' jitter buffers treat the gap as silence, and in a room where
      // most people are muted this is most of the audio an SFU would otherwise encrypt and send.
      if (silent) return;
      const tracks = source.tracks;
      const h = pkt.header;
      for (let i = 0; i < tracks.length; i++) {
        // One clone per viewer (werift rewrites and keeps what it sends); no header extensions:
        // their IDs were negotiated with the publisher, not with this viewer.
        (tracks[i] as SendTrack).send(viewerPacket(h.payloadType, h.marker, h.sequenceNumber, h.timestamp, h.ssrc, pkt.payload), source.mime);
      }
    };
  }

  private addSource(owner: ParticipantId, kind: MediaKind, mime: string, published: PublishedTrack | undefined, requestKeyframe?: () => void): Source {
    const ask = requestKeyframe ?? (published ? () => published.requestKeyframe() : undefined);
    const keyframes =
      kind === 'video' && ask ? new KeyframeThrottle(ask, this.opts.clock, this.opts.keyframeIntervalMs ?? DEFAULT_KEYFRAME_INTERVAL_MS) : undefined;
    const source: Source = { owner, kind, mime, byViewer: new Map(), tracks: [], keyframes, tapped: false };
    this.sources.add(source);
    for (const [id, endpoint] of this.viewers) if (id !== owner) this.subscribe(source, id, endpoint);
    return source;
  }

  private subscribe(source: Source, viewer: ParticipantId, endpoint: WebRtcEndpoint): void {
    if (endpoint.closed) return;
    const track = endpoint.addSendTrack(source.kind, source.owner);
    const keyframes = source.keyframes;
    if (keyframes) track.onKeyframeRequest = () => keyframes.request();
    source.byViewer.set(viewer, track);
    source.tracks = [...source.byViewer.values()];
  }
}
