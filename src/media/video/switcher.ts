/**
 * Voice-switched video for SIP endpoints (pure): several sources in, one continuous stream out.
 * The output keeps one SSRC, sequence numbers without gaps at a switch and a timestamp timeline
 * that advances with wall time; a switch to a newly selected source happens only on that
 * source's keyframe (the caller asks it for one with PLI/FIR while `wantsKeyframe` says so), so
 * the endpoint never decodes from a reference it does not have. Times come in as arguments.
 */
import type { VideoCodecName } from './keyframe';
import { isKeyframeStart } from './keyframe';

export interface RewrittenVideoPacket {
  ssrc: number;
  sequence: number;
  timestamp: number;
  marker: boolean;
}

export interface VideoSwitcherOptions {
  ssrc: number;
  codec: VideoCodecName;
  /** RTP clock, 90 kHz for video. */
  clockRate?: number;
  /** Initial output sequence number and timestamp (random in production). */
  initialSequence?: number;
  initialTimestamp?: number;
}

export interface VideoSwitcherStats {
  forwarded: number;
  dropped: number;
  switches: number;
}

export class VideoSwitcher<Src extends string = string> {
  private current: Src | undefined;
  private selected: Src | undefined;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastInSeq = -1;
  private lastOutSeq: number;
  private lastOutTs: number;
  private lastOutAtMs = -1;
  private readonly perMs: number;
  readonly stats: VideoSwitcherStats = { forwarded: 0, dropped: 0, switches: 0 };

  constructor(private readonly opts: VideoSwitcherOptions) {
    this.perMs = (opts.clockRate ?? 90000) / 1000;
    this.lastOutSeq = ((opts.initialSequence ?? 0) - 1) & 0xffff;
    this.lastOutTs = (opts.initialTimestamp ?? 0) >>> 0;
  }

  /** The source being sent now. */
  get sending(): Src | undefined {
    return this.current;
  }

  /** The source that should be sent (the speaker); may still wait for its keyframe. */
  get wanted(): Src | undefined {
    return this.selected;
  }

  /** A keyframe is needed from this source before the switch can happen. */
  get wantsKeyframe(): Src | undefined {
    return this.selected !== undefined && this.selected !== this.current ? this.selected : undefined;
  }

  /** Selects the source to show (the active speaker's video), or none. */
  select(source: Src | undefined): void {
    this.selected = source;
    if (source === undefined) this.current = undefined;
  }

  /** A source went away: stop sending it at once (the next selection takes over on its keyframe). */
  remove(source: Src): void {
    if (this.current === source) this.current = undefined;
    if (this.selected === source) this.selected = undefined;
  }

  /**
   * One packet from `source`: the rewritten header to send, or null when it is not forwarded
   * (another source is on screen, or the wanted one has not sent a keyframe yet).
   */
  push(source: Src, sequence: number, timestamp: number, marker: boolean, payload: Uint8Array, nowMs: number): RewrittenVideoPacket | null {
    if (source !== this.current) {
      if (source !== this.selected || !isKeyframeStart(this.opts.codec, payload)) {
        this.stats.dropped++;
        return null;
      }
      this.switchTo(source, sequence, timestamp, nowMs);
    } else if (this.lastInSeq >= 0 && ((sequence - this.lastInSeq) & 0xffff) > 0x8000) {
      // Older than what we already sent: forwarding it would reorder the output.
      this.stats.dropped++;
      return null;
    }
    const outSeq = (sequence + this.seqOffset) & 0xffff;
    const outTs = (timestamp + this.tsOffset) >>> 0;
    this.lastInSeq = sequence;
    this.lastOutSeq = outSeq;
    this.lastOutTs = outTs;
    this.lastOutAtMs = nowMs;
    this.stats.forwarded++;
    return { ssrc: this.opts.ssrc, sequence: outSeq, timestamp: outTs, marker };
  }

  private switchTo(source: Src, sequence: number, timestamp: number, nowMs: number): void {
    // Continue the output right after the last packet sent: no sequence gap, and a timestamp
    // that moved on by the wall time since then (at least one tick so frames stay distinct).
    const elapsed = this.lastOutAtMs < 0 ? 0 : Math.max(1, Math.round((nowMs - this.lastOutAtMs) * this.perMs));
    this.seqOffset = (this.lastOutSeq + 1 - sequence) & 0xffff;
    this.tsOffset = (this.lastOutTs + elapsed - timestamp) >>> 0;
    this.current = source;
    this.lastInSeq = -1;
    this.stats.switches++;
  }
}
