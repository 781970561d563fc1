/**
 * One simulated plain-RTP participant of the load generator, on the generator's shared UDP socket
 * (SharedRtpSocket, 127.0.0.1): sends a pre-encoded tone frame per call of sendFrame() with correct sequence numbers and
 * timestamps, and measures the mixed packets it receives (count, inter-arrival deviation from
 * 20 ms, and optionally the last payloads for a tone check). Allocates nothing per packet sent;
 * never trusts received bytes past the RTP header checks.
 *
 * The socket is the node's own batched RTP socket (src/media/rtp/udp-io.ts) bound with kernel
 * receive timestamps: inter-arrival times are when the datagrams reached the generator's socket,
 * so the generator's own event-loop delays do not count against the node. With the dgram
 * fallback (CONFNODE_RTP_IO=dgram) they are taken when the generator reads the datagram.
 *
 * With SDES-SRTP, each participant protects what it sends and unprotects what it receives with
 * the project's own SRTP contexts (src/media/rtp/srtp.ts, through its public API only); a packet
 * that does not authenticate is counted as refused, never as received.
 */
import type { SrtpContext } from '../../src/media/rtp/srtp';
import { bindRtpSocket, type RtpSocket } from '../../src/media/rtp/udp-io';
import { CODECS, type BenchCodec } from './audio';
import { recordDeviation } from './stats';

const MAX_DEVIATIONS = 4096;
const KEEP_PAYLOADS = 60;

/** Payload of an RTP datagram, or undefined if it is not RTP v2 (RTCP, garbage). */
export function rtpPayload(msg: Buffer): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const b0 = msg[0] ?? 0;
  if (b0 >> 6 !== 2) return undefined;
  const pt = (msg[1] ?? 0) & 0x7f;
  if (pt >= 72 && pt <= 79) return undefined; // RTCP on a muxed port
  let off = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (off + 4 > msg.length) return undefined;
    off += 4 + msg.readUInt16BE(off + 2) * 4;
  }
  let end = msg.length;
  if (b0 & 0x20) end -= msg[msg.length - 1] ?? 0;
  if (off > end) return undefined;
  return msg.subarray(off, end);
}

export class Participant {
  readonly sock: RtpSocket;
  private readonly header = Buffer.alloc(12);
  private readonly frames: Buffer[];
  private readonly payloadType: number;
  private readonly tsStep: number;
  private readonly ssrc: number;
  private seq: number;
  private ts: number;
  private frameIndex = 0;
  private target: { address: string; port: number } | undefined;
  /** SRTP contexts of this call: ours (protect) and the far side's (unprotect); none = plain RTP. */
  private srtp: { tx: SrtpContext; rx: SrtpContext } | undefined;
  sent = 0;
  /** SRTP packets refused (authentication, replay, malformed) since the window began. */
  srtpRejected = 0;
  // Window measurement.
  private measuring = false;
  received = 0;
  receivedTotal = 0;
  private lastArrival = -1;
  readonly deviations = new Float32Array(MAX_DEVIATIONS);
  deviationCount = 0;
  /** Inter-arrivals over 30 ms (a missed mix tick) and under 10 ms (a catch-up burst). */
  gaps = 0;
  bunched = 0;
  private pooled: Uint32Array | undefined;
  /** Last payloads received in the window (copies), for the tone check; only when sampled. */
  readonly kept: Buffer[] = [];

  private constructor(
    private readonly shared: SharedRtpSocket,
    readonly room: string,
    readonly k: number,
    codec: BenchCodec,
    frames: Buffer[],
    readonly sampled: boolean,
  ) {
    this.sock = shared.sock;
    this.frames = frames;
    this.payloadType = CODECS[codec].payloadType;
    this.tsStep = CODECS[codec].samplesPer20ms;
    // Deterministic per participant, distinct enough: the node keys nothing on them but SSRC.
    this.ssrc = (0x10000000 + (hashRoom(room) * 16 + k) * 7919) >>> 0;
    this.seq = (k * 1000 + 17) & 0xffff;
    this.ts = (k * 100_000) >>> 0;
  }

  /** A participant on the generator's socket: mixed packets reach it by the node port they come from. */
  static on(shared: SharedRtpSocket, room: string, k: number, codec: BenchCodec, frames: Buffer[], sampled: boolean): Participant {
    return new Participant(shared, room, k, codec, frames, sampled);
  }

  get localPort(): number {
    return this.shared.localPort;
  }

  start(target: { address: string; port: number }, srtp?: { tx: SrtpContext; rx: SrtpContext }): void {
    this.target = target;
    this.srtp = srtp;
    this.shared.byNodePort.set(target.port, this);
  }

  stop(): void {
    if (this.target && this.shared.byNodePort.get(this.target.port) === this) this.shared.byNodePort.delete(this.target.port);
    this.target = undefined;
  }

  sendFrame(): void {
    const t = this.target;
    if (!t) return;
    const header = this.header;
    header[0] = 0x80;
    header[1] = this.payloadType | (this.sent === 0 ? 0x80 : 0);
    header.writeUInt16BE(this.seq, 2);
    header.writeUInt32BE(this.ts, 4);
    header.writeUInt32BE(this.ssrc, 8);
    const payload = this.frames[this.frameIndex] as Buffer;
    if (this.srtp) this.sock.send(this.srtp.tx.protectRtpParts(header, payload), t.port, t.address);
    else this.sock.sendParts(header, payload, t.port, t.address);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + this.tsStep) >>> 0;
    this.frameIndex = (this.frameIndex + 1) % this.frames.length;
    this.sent++;
  }

  beginWindow(pooled: Uint32Array): void {
    this.measuring = true;
    this.pooled = pooled;
    this.received = 0;
    this.deviationCount = 0;
    this.gaps = 0;
    this.bunched = 0;
    this.srtpRejected = 0;
    this.lastArrival = -1;
    this.kept.length = 0;
  }

  endWindow(): void {
    this.measuring = false;
    this.pooled = undefined;
  }

  /** A datagram for this participant (routed by the shared socket), received at `now` (ms). */
  onMessage(msg: Buffer, now: number): void {
    let packet = msg;
    if (this.srtp) {
      const plain = this.srtp.rx.unprotectRtp(msg);
      if (typeof plain === 'string') {
        if (this.measuring) this.srtpRejected++;
        return;
      }
      packet = plain;
    }
    const payload = rtpPayload(packet);
    if (!payload) return;
    this.receivedTotal++;
    if (!this.measuring) return;
    this.received++;
    if (this.lastArrival >= 0) {
      const gap = now - this.lastArrival;
      if (gap > 30) this.gaps++;
      else if (gap < 10) this.bunched++;
      const dev = Math.abs(gap - 20);
      if (this.deviationCount < MAX_DEVIATIONS) this.deviations[this.deviationCount++] = dev;
      if (this.pooled) recordDeviation(this.pooled, dev);
    }
    this.lastArrival = now;
    if (this.sampled) {
      this.kept.push(Buffer.from(payload));
      if (this.kept.length > KEEP_PAYLOADS) this.kept.shift();
    }
  }

  /** Stops sending and receiving; the shared socket stays open for the others. */
  close(): void {
    this.stop();
  }
}

/**
 * One UDP socket for every participant of a generator process: each participant sends from it to
 * its own node port, and each mixed packet is routed by the node port it comes from (the node
 * answers symmetric RTP from the port it receives on). The node sees the same per-participant
 * streams; the generator reads bursts of datagrams per wakeup instead of waking per socket.
 */
export class SharedRtpSocket {
  readonly byNodePort = new Map<number, Participant>();
  private constructor(readonly sock: RtpSocket) {
    sock.onMessage = (msg, _address, port, arrivalMs) => this.byNodePort.get(port)?.onMessage(msg, arrivalMs ?? performance.now());
  }

  static async open(): Promise<SharedRtpSocket> {
    const r = await bindRtpSocket('127.0.0.1', 0, { bufferBytes: 4 << 20, timestamps: true });
    if ('error' in r) throw r.error;
    return new SharedRtpSocket(r.socket);
  }

  get localPort(): number {
    return this.sock.localPort;
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}

function hashRoom(room: string): number {
  let h = 0;
  for (let i = 0; i < room.length && i < 64; i++) h = (h * 31 + room.charCodeAt(i)) & 0xfffff;
  return h;
}
