/**
 * The last messages the node sent to one browser, numbered, so that a browser whose WebSocket
 * dropped can resume and get what it missed (the ones after the last `seq` it processed). Bounded
 * by count and bytes (the oldest go first) and trimmed by the browser's acknowledgements (its
 * heartbeat says the last seq it processed). Pure: no sockets, no clock.
 */

export interface ReplayLimits {
  maxMessages: number;
  maxBytes: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = { maxMessages: 64, maxBytes: 256 * 1024 };

interface Entry {
  seq: number;
  text: string;
}

export class ReplayLog {
  private entries: Entry[] = [];
  private bytes = 0;
  private lastSeq = 0;

  constructor(private readonly limits: ReplayLimits = DEFAULT_REPLAY_LIMITS) {}

  /** The seq of the newest message (0 before the first). */
  get newest(): number {
    return this.lastSeq;
  }

  /** Numbers the next message; `encode` gets its seq and returns the text to keep and send. */
  append(encode: (seq: number) => string): string {
    const seq = ++this.lastSeq;
    const text = encode(seq);
    this.entries.push({ seq, text });
    this.bytes += text.length;
    while (this.entries.length > 1 && (this.entries.length > this.limits.maxMessages || this.bytes > this.limits.maxBytes)) {
      const dropped = this.entries.shift();
      if (dropped) this.bytes -= dropped.text.length;
    }
    return text;
  }

  /** The browser has processed everything up to `seq`: those need not be kept for a resume. */
  acknowledge(seq: number): void {
    while (this.entries.length > 0 && (this.entries[0]?.seq ?? Infinity) <= seq) {
      const dropped = this.entries.shift();
      if (dropped) this.bytes -= dropped.text.length;
    }
  }

  /** Messages kept (not yet acknowledged, within the limits). */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Every message after `seq` in order, or undefined when some of them are no longer kept (or
   * `seq` is from the future): the browser then cannot catch up and must join afresh.
   */
  after(seq: number): string[] | undefined {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.lastSeq) return undefined;
    if (seq === this.lastSeq) return [];
    const first = this.entries[0];
    if (!first || first.seq > seq + 1) return undefined;
    return this.entries.filter((e) => e.seq > seq).map((e) => e.text);
  }
}
