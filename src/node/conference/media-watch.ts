/**
 * Notices a SIP phone that went away without a BYE (power cut, network gone, a crashed
 * softphone): nothing from it, RTP or RTCP, audio or video, for the configured time while it
 * should be sending. A phone on hold, or one whose SDP says it does not send (recvonly,
 * inactive), owes us nothing, so its silence does not count; the clock starts again when it
 * sends once more. RTCP counts because a phone with silence suppression and no comfort noise
 * still reports every few seconds (RFC 3550 6.2). Pure: the caller gives the counters and the
 * time. Asterisk's rtptimeout and FreeSWITCH's media_timeout do the same job.
 */
export class MediaWatch {
  private last = -1;
  private since: number;

  constructor(
    private readonly timeoutMs: number,
    now: number,
  ) {
    this.since = now;
  }

  /**
   * `received`: everything counted from the phone so far (any counter that only grows);
   * `expected`: whether the phone should be sending now. True once it has been silent for the
   * timeout while expected to send.
   */
  update(received: number, expected: boolean, now: number): boolean {
    if (!expected || received !== this.last) {
      this.last = received;
      this.since = now;
      return false;
    }
    return now - this.since >= this.timeoutMs;
  }

  /** How long the phone has been silent (while expected to send), as of the last update. */
  silentMs(now: number): number {
    return now - this.since;
  }
}
