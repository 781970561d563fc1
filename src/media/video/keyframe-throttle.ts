/**
 * Keyframe request throttle for one video source: every new viewer and every viewer's PLI/FIR
 * asks for a keyframe, but the publisher gets at most one request per interval; a request inside
 * the interval is not lost, it is sent once when the interval ends (the viewer that asked may not
 * have been ready for the keyframe the earlier request produced). Never calls `send` re-entrantly.
 */
import type { Clock, TimerHandle } from '../../common';

export const DEFAULT_KEYFRAME_INTERVAL_MS = 500;
/**
 * A viewer's first request (its transport has just connected) waits at most this long after the
 * last one sent: the keyframe an earlier request produced may have gone out before this viewer
 * could receive it, and the whole interval was most of a join's time to its first frame. Not
 * less: WebRTC's video sender (Chromium's) acts on at most one keyframe request per 300 ms and
 * drops the others, so a sooner request would be lost and the viewer would wait for its own PLI.
 */
export const FIRST_REQUEST_MIN_GAP_MS = 300;

export interface KeyframeThrottleStats {
  /** Requests passed on to the publisher. */
  sent: number;
  /** Requests folded into an earlier or a deferred one. */
  coalesced: number;
}

export class KeyframeThrottle {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private deferred: TimerHandle | undefined;
  private sent = 0;
  private coalesced = 0;
  private closed = false;

  constructor(
    private readonly send: () => void,
    private readonly clock: Clock,
    private readonly intervalMs = DEFAULT_KEYFRAME_INTERVAL_MS,
  ) {}

  request(): void {
    if (this.closed) return;
    if (this.deferred) {
      this.coalesced++;
      return;
    }
    this.sendAfter(this.intervalMs);
  }

  /** A new viewer's first request: through at most FIRST_REQUEST_MIN_GAP_MS after the last one. */
  requestFirst(): void {
    if (this.closed) return;
    // A deferred request is replaced by this sooner one, which serves its viewer too.
    this.deferred?.cancel();
    this.deferred = undefined;
    this.sendAfter(Math.min(this.intervalMs, FIRST_REQUEST_MIN_GAP_MS));
  }

  /** Sends now if `gapMs` has passed since the last send, else once it has (no deferral pending). */
  private sendAfter(gapMs: number): void {
    const wait = this.lastSentAt + gapMs - this.clock.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.coalesced++;
    this.deferred = this.clock.setTimeout(() => {
      this.deferred = undefined;
      this.fire();
    }, wait);
  }

  stats(): KeyframeThrottleStats {
    return { sent: this.sent, coalesced: this.coalesced };
  }

  close(): void {
    this.closed = true;
    this.deferred?.cancel();
    this.deferred = undefined;
  }

  private fire(): void {
    if (this.closed) return;
    this.lastSentAt = this.clock.now();
    this.sent++;
    this.send();
  }
}
