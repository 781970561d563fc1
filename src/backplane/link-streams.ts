/**
 * The per-stream state of a backplane link: a local stream as the link sends it (OutStream) and a
 * peer's stream as the link receives it (InStream). Plain counters and reused objects: nothing
 * here allocates, logs or awaits per packet, and nothing sends; the link does.
 */
import { RtpReceiveStats, fillFromRtpView, newMediaPacket, type RemoteSourceHandle, type RtpView, type SourceView } from './deps';
import type { BackplaneStream } from './streams';
import { RetransmitRing } from './wire';

/** A forward step of the source's sequence larger than this is a restart (RFC 3550 A.1's MAX_DROPOUT). */
const MAX_JUMP = 3000;
/** A step back of at most this is a reordered packet, not a restart (A.1's MAX_MISORDER). */
const MAX_LATE = 100;
/** Gaps longer than this are not asked for again (the packets would be too late to matter). */
export const MAX_NACK_GAP = 32;
/** A missing packet is asked for at most this many times (a lost NACK or a lost resend is asked again). */
export const MAX_NACK_TRIES = 3;
/** Missing packets remembered per stream at most. */
const MAX_ASKED = 128;

/**
 * A local stream on the link: its backplane SSRC and the mapping of the source's sequence numbers
 * onto one continuous link sequence. An SSRC change or a jump of the source restarts the mapping
 * after the last link sequence, so the link's SRTP index never jumps; a link sequence number is
 * never used twice (SRTP would reuse its keystream for different bytes).
 */
export class OutStream {
  packets = 0;
  payloadOctets = 0;
  /** Source packets not sent: duplicates, or too late to fit the link sequence. */
  skipped = 0;
  retransmitted = 0;
  lastTimestamp = 0;
  readonly ring: RetransmitRing;
  private lastIn = -1;
  private lastInSsrc = -1;
  private lastOut: number;
  private offset = 0;

  constructor(
    readonly ssrc: number,
    readonly source: SourceView,
    firstSeq: number,
    private readonly ringSize: number,
  ) {
    this.ring = new RetransmitRing(ringSize);
    this.lastOut = (firstSeq - 1) & 0xffff;
  }

  /** The announcement of this stream. */
  describe(): BackplaneStream {
    const s = this.source;
    return { ssrc: this.ssrc, owner: s.owner, kind: s.kind, mime: s.codec.mime.toLowerCase(), clockRate: s.codec.clockRate };
  }

  /** The link sequence number for a source packet, or -1 when it must not be sent. */
  mapSeq(seq: number, ssrc: number): number {
    if (this.lastIn < 0 || ssrc !== this.lastInSsrc) return this.restart(seq, ssrc);
    const d = (seq - this.lastIn) & 0xffff;
    if (d === 0) return this.skip();
    if (d < MAX_JUMP) {
      const out = (seq + this.offset) & 0xffff;
      this.lastIn = seq;
      this.lastOut = out;
      return out;
    }
    if (d > 0x10000 - MAX_LATE) {
      // A late packet: it fits only into a gap that is still in the ring's reach.
      const out = (seq + this.offset) & 0xffff;
      const behind = (this.lastOut - out) & 0xffff;
      return behind < this.ringSize && !this.ring.has(out) ? out : this.skip();
    }
    return this.restart(seq, ssrc);
  }

  sent(seq: number, wire: Buffer, payloadBytes: number, timestamp: number): void {
    this.ring.put(seq, wire);
    this.packets++;
    this.payloadOctets += payloadBytes;
    this.lastTimestamp = timestamp;
  }

  private restart(seq: number, ssrc: number): number {
    const out = (this.lastOut + 1) & 0xffff;
    this.offset = (out - seq) & 0xffff;
    this.lastIn = seq;
    this.lastInSsrc = ssrc;
    this.lastOut = out;
    return out;
  }

  private skip(): number {
    this.skipped++;
    return -1;
  }
}

/** A peer's stream on the link: the remote source it feeds, receive statistics and gap tracking. */
export class InStream {
  packets = 0;
  nacksSent = 0;
  /** Asked-for packets that arrived, and those given up after MAX_NACK_TRIES. */
  recovered = 0;
  gaveUp = 0;
  /** Sequence numbers found missing by the last receive() (reused array). */
  readonly missing: number[] = [];
  /** Sequence numbers to ask for again, filled by due() (reused array). */
  readonly again: number[] = [];
  /** Missing packets asked for and not arrived yet: when last asked, how often. */
  private readonly asked = new Map<number, { atMs: number; tries: number }>();

  /** Some packet was asked for and has not arrived: due() has work. */
  get awaiting(): boolean {
    return this.asked.size > 0;
  }
  readonly stats: RtpReceiveStats;
  private readonly packet = newMediaPacket();
  private next = -1;

  constructor(
    public announced: BackplaneStream,
    readonly handle: RemoteSourceHandle,
  ) {
    this.stats = new RtpReceiveStats({ clockRate: announced.clockRate });
  }

  /** One authenticated packet: counted and pushed into the conference; returns how many to NACK. */
  receive(view: RtpView, silent: boolean, nowMs: number): number {
    this.packets++;
    this.stats.update(view.sequence, view.timestamp, nowMs);
    if (this.asked.size > 0 && this.asked.delete(view.sequence)) this.recovered++;
    const gap = this.track(view.sequence);
    for (const seq of this.missing) {
      if (this.asked.size >= MAX_ASKED) {
        const oldest = this.asked.keys().next();
        if (!oldest.done) this.asked.delete(oldest.value);
      }
      this.asked.set(seq, { atMs: nowMs, tries: 1 });
    }
    this.handle.push(fillFromRtpView(this.packet, view, silent));
    return gap;
  }

  /**
   * Packets asked for `retryMs` ago or more that still have not come (the NACK or the resend was
   * lost too): those to ask again go into `again`; those asked MAX_NACK_TRIES times are given up,
   * and their number is returned (a video stream then needs a keyframe).
   */
  due(nowMs: number, retryMs: number): number {
    this.again.length = 0;
    if (this.asked.size === 0) return 0;
    let lost = 0;
    for (const [seq, a] of this.asked) {
      if (nowMs - a.atMs < retryMs) continue;
      if (a.tries >= MAX_NACK_TRIES) {
        this.asked.delete(seq);
        lost++;
        continue;
      }
      a.tries++;
      a.atMs = nowMs;
      this.again.push(seq);
    }
    this.gaveUp += lost;
    return lost;
  }

  private track(seq: number): number {
    this.missing.length = 0;
    if (this.next >= 0) {
      const d = (seq - this.next) & 0xffff;
      if (d >= 0x8000) return 0; // late, or a retransmission: the expected number stays
      if (d > 0 && d <= MAX_NACK_GAP) for (let i = 0; i < d; i++) this.missing.push((this.next + i) & 0xffff);
    }
    this.next = (seq + 1) & 0xffff;
    return this.missing.length;
  }
}
