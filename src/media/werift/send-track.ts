/**
 * SendTrack: one sendonly m-line on one browser's peer connection, carrying one other
 * participant's audio or video. Stamps each packet with the negotiated codec that matches its
 * source (so PCMU from a SIP phone leaves as PCMU on an m-line that also negotiated Opus). Never
 * awaits a send, never keeps the SFU's packet (werift's sender, when it is the one used, gets a
 * packet of its own).
 */
import type { RTCRtpCodecParameters, RTCRtpTransceiver } from 'werift';
import type { MediaKind, MediaPacket } from '../sfu';
import { FastRtpSender, type FastSendDeclines } from './fast-send';
import { viewerPacket } from './viewer-packet';

export type { MediaKind };

/** A viewer's keyframe requests within this long of its first one are first requests too. */
const FIRST_FRAME_WINDOW_MS = 2000;

/** Counters shared by every SendTrack of one endpoint (plain numbers: the packet path). */
export interface SendCounters {
  packetsOut: number;
  /** Of packetsOut, those sent by our own path (fast-send.ts) rather than werift's sender. */
  packetsFast: number;
  /** Why the others were not (summed over the endpoint's tracks when they close or renegotiate). */
  fastDeclined: FastSendDeclines;
  /** Packets with no m-line yet, no matching negotiated codec, or after close. */
  dropped: number;
  sendErrors: number;
}

export class SendTrack {
  /** Set when the endpoint puts the m-line into an offer; undefined until then. */
  transceiver: RTCRtpTransceiver | undefined;
  /** The viewer asked for a keyframe (PLI/FIR) or has just started receiving this video. */
  onKeyframeRequest: ((firstOfViewer?: boolean) => void) | null = null;
  /** When this viewer's first keyframe was asked for (clock ms). */
  private firstKeyframeAskedAt: number | undefined;
  private cachedMime = '';
  private cachedCodec: RTCRtpCodecParameters | undefined;
  private closedFlag = false;
  /** Our send path for this m-line (undefined: not looked at since the last negotiation). */
  private fast: FastRtpSender | null | undefined;
  private readonly onSendError = (): void => {
    this.counters.sendErrors++;
  };

  constructor(
    readonly kind: MediaKind,
    /** The msid stream id: the participant whose media this is. */
    readonly streamId: string,
    private readonly counters: SendCounters,
    private readonly release: (track: SendTrack) => void,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Sends a forwarded packet, read now and never kept; header extensions are not forwarded (their
   * IDs were negotiated with the publisher, not with this viewer). `mime` is the source codec,
   * lower case (`audio/pcmu`, `video/h264`).
   */
  send(p: MediaPacket, mime: string): boolean {
    const sender = this.transceiver?.sender;
    // Before the viewer's DTLS is up werift drops what it is given: counted as dropped, not sent.
    if (!sender || this.closedFlag || sender.dtlsTransport?.state !== 'connected') {
      this.counters.dropped++;
      return false;
    }
    if (mime !== this.cachedMime || this.cachedCodec === undefined) {
      this.cachedMime = mime;
      this.cachedCodec = this.transceiver?.codecs.find((c) => c.mimeType.toLowerCase() === mime);
    }
    const codec = this.cachedCodec;
    if (!codec) {
      this.counters.dropped++;
      return false;
    }
    // werift stamps sender.codec.payloadType on every packet: point it at the source's codec.
    sender.codec = codec;
    this.counters.packetsOut++;
    if (this.fast === undefined) this.fast = FastRtpSender.for(sender);
    if (this.fast?.send(p, codec.payloadType)) {
      this.counters.packetsFast++;
      return true;
    }
    // werift rewrites and keeps (in its retransmission cache) what it is given: a packet of its own.
    sender.sendRtp(viewerPacket(p.payloadType, p.marker, p.sequence, p.timestamp, p.ssrc, p.payload)).catch(this.onSendError);
    return true;
  }

  /** The viewer's media is up: its first keyframe is asked for (`now`: clock ms). */
  askFirstKeyframe(now: number): void {
    this.firstKeyframeAskedAt = now;
    this.onKeyframeRequest?.(true);
  }

  /**
   * The viewer's PLI/FIR. Soon after its first request it still has no frame it can decode (that
   * keyframe was lost, or dropped by a publisher that had just made one): a first request again,
   * which the throttle lets through sooner.
   */
  viewerAsked(now: number): void {
    const first = this.firstKeyframeAskedAt;
    this.onKeyframeRequest?.(first !== undefined && now - first < FIRST_FRAME_WINDOW_MS);
  }

  /** A new answer may renumber codecs: look them up again. */
  renegotiated(): void {
    this.cachedMime = '';
    this.cachedCodec = undefined;
    this.retireFast();
    this.fast = undefined;
  }

  /** Idempotent: the endpoint stops the m-line in its next offer. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.onKeyframeRequest = null;
    this.retireFast();
    this.fast = null;
    this.release(this);
  }

  private retireFast(): void {
    const f = this.fast;
    if (!f) return;
    f.close();
    const d = this.counters.fastDeclined;
    d.state += f.declined.state;
    d.srtp += f.declined.srtp;
    d.consent += f.declined.consent;
    d.socket += f.declined.socket;
  }
}
