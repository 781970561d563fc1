/**
 * The forwarding bench's traffic in the bench process: one 5 ms timer paces the source's video
 * (to the node, or to the dgram forwarder) at a fixed packet rate without drift, and sends every
 * phone's 20 ms audio frame; K plain receiver sockets count what the dgram forwarder delivers.
 * Counters only; every burst is bounded so a stalled loop never floods.
 */
import type { Socket } from 'node:dgram';
import { bindUdp, freePort } from '../../test/helpers/ports';
import type { SyntheticH264, SynthPacket } from './h264-synth';
import type { BenchPhone } from './sip-phone';

const TICK_MS = 5;
const MAX_BURST = 64;
const MAX_AUDIO_CATCHUP = 5;

export type VideoSink = (pkt: SynthPacket) => void;

export class Traffic {
  /** Video packets handed to a sink since the start. */
  videoSent = 0;
  /** Ticks that could not catch up with the schedule within one burst (generator lag). */
  lateTicks = 0;
  private sink: VideoSink | null = null;
  private videoStart = 0;
  private videoDue = 0;
  private readonly audioStart = performance.now();
  private audioSent = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly synth: SyntheticH264,
    private readonly phones: () => readonly BenchPhone[],
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Starts (or moves) the video to `sink`, paced from now; null pauses it. */
  video(sink: VideoSink | null): void {
    this.sink = sink;
    this.videoStart = performance.now();
    this.videoDue = 0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sink = null;
  }

  private tick(): void {
    const now = performance.now();
    const frames = Math.floor((now - this.audioStart) / 20);
    for (let i = 0; this.audioSent < frames && i < MAX_AUDIO_CATCHUP; i++, this.audioSent++) for (const p of this.phones()) p.sendAudio();
    if (this.audioSent < frames) this.audioSent = frames; // too far behind: skip rather than burst
    const sink = this.sink;
    if (sink === null) return;
    const due = Math.floor(((now - this.videoStart) * this.synth.rate) / 1000);
    let burst = 0;
    while (this.videoDue < due && burst < MAX_BURST) {
      sink(this.synth.next());
      this.videoDue++;
      this.videoSent++;
      burst++;
    }
    if (this.videoDue < due) {
      this.lateTicks++;
      this.videoDue = due;
    }
  }
}

/** K sockets on 127.0.0.1 that only count datagrams (the dgram forwarder's destinations). */
export class CountingReceivers {
  received = 0;
  private constructor(
    private readonly sockets: Socket[],
    readonly ports: number[],
  ) {
    for (const s of sockets) s.on('message', () => this.received++);
  }

  static async open(count: number): Promise<CountingReceivers> {
    const sockets: Socket[] = [];
    const ports: number[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        sockets.push(await bindUdp(port));
        ports.push(port);
      }
    } catch (e) {
      for (const s of sockets) s.close();
      throw e;
    }
    return new CountingReceivers(sockets, ports);
  }

  close(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
