/**
 * The transport address an RtpEndpoint accepts media from (symmetric RTP latching for NAT): the
 * first source after an SDP change wins, and another may take over only after a silence. Pure
 * state: times come from the caller.
 */

/** A latched source may be replaced by another only after this much silence. */
export const RELATCH_SILENCE_MS = 2000;

/** The transport address media is accepted from; one per flow (RTP, RTCP). */
export class SourceLatch {
  address: string | null = null;
  port = 0;
  lastMs = 0;
  /** After setRemote(): the next packet may latch from anywhere. */
  open = false;

  /** 0 = from the latched source, 1 = (re)latched to this source, -1 = wrong source. */
  accept(address: string, port: number, now: number): number {
    if (this.address === address && this.port === port) {
      this.lastMs = now;
      this.open = false;
      return 0;
    }
    if (this.address !== null && !this.open && now - this.lastMs < RELATCH_SILENCE_MS) return -1;
    this.address = address;
    this.port = port;
    this.lastMs = now;
    this.open = false;
    return 1;
  }

  clear(): void {
    this.address = null;
    this.port = 0;
    this.open = false;
  }
}
