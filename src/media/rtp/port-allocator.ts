/**
 * Hands out RTP/RTCP UDP socket pairs (RTP on an even port, RTCP on port+1) from a configured
 * range, binding both sockets before returning so a port is never promised and then lost.
 * Never loops unbounded: exhaustion is a ConfnodeError('capacity') the SIP layer turns into 503.
 * Several allocators may share one range (see `startAt`): the OS's bind decides who holds a pair.
 */
import { ConfnodeError } from '../../common';
import { bindRtpSocket, type RtpSocket } from './udp-io';

export interface PortAllocatorOptions {
  /** Lowest port of the range (rounded up to even). */
  min: number;
  /** Highest port of the range; the last pair must fit (RTCP = RTP + 1 <= max). */
  max: number;
  /**
   * First port tried (rounded up to even; default `min`). Allocators that share one range (one per
   * media thread) start at different points, so each mostly keeps to its own part and only spills
   * into another's when its part is full: a pair bound elsewhere fails with EADDRINUSE and is skipped.
   */
  startAt?: number;
  /** Address to bind when allocate() is given none; default 127.0.0.1. */
  address?: string;
  /** Pairs tried per allocate() before giving up; default: every pair of the range. */
  maxTries?: number;
  /** SO_RCVBUF/SO_SNDBUF for each socket, bytes; default: the OS default. */
  socketBufferBytes?: number;
}

/** Two bound sockets; release() closes both and returns the pair to the range. Idempotent. */
export interface RtpSocketPair {
  readonly address: string;
  readonly rtpPort: number;
  readonly rtcpPort: number;
  readonly rtp: RtpSocket;
  readonly rtcp: RtpSocket;
  /** Closes both sockets; resolves when the OS has released them. */
  release(): Promise<void>;
}

export class PortAllocator {
  private readonly min: number;
  private readonly max: number;
  private readonly defaultAddress: string;
  private readonly maxTries: number;
  private readonly bufferBytes: number | undefined;
  /** "address|port" of pairs held by this allocator. */
  private readonly held = new Set<string>();
  private cursor: number;

  constructor(opts: PortAllocatorOptions) {
    const min = opts.min + (opts.min % 2);
    if (!Number.isInteger(min) || !Number.isInteger(opts.max) || min < 1024 || opts.max > 65535 || min + 1 > opts.max) {
      throw new ConfnodeError('config', `bad RTP port range ${opts.min}-${opts.max}`);
    }
    this.min = min;
    this.max = opts.max;
    this.defaultAddress = opts.address ?? '127.0.0.1';
    const pairs = Math.floor((this.max - this.min + 1) / 2);
    this.maxTries = Math.max(1, Math.min(pairs, opts.maxTries ?? pairs));
    this.bufferBytes = opts.socketBufferBytes;
    const start = opts.startAt === undefined ? this.min : opts.startAt + (opts.startAt % 2);
    this.cursor = start >= this.min && start + 1 <= this.max ? start : this.min;
  }

  /** Pairs currently handed out by this allocator. */
  get inUse(): number {
    return this.held.size;
  }

  /**
   * Binds the next free pair, starting after the last one handed out (so a just-released pair is
   * not reused at once), skipping pairs some other process holds (EADDRINUSE).
   */
  async allocate(address: string = this.defaultAddress): Promise<RtpSocketPair> {
    for (let tries = 0; tries < this.maxTries; tries++) {
      const port = this.cursor;
      this.cursor = port + 3 > this.max ? this.min : port + 2;
      const key = `${address}|${port}`;
      if (this.held.has(key)) continue;
      this.held.add(key);
      let pair: RtpSocketPair | null = null;
      try {
        pair = await this.tryPair(address, port);
      } finally {
        if (!pair) this.held.delete(key);
      }
      if (pair) return pair;
    }
    throw new ConfnodeError('capacity', `no free RTP port pair in ${this.min}-${this.max} on ${address}`);
  }

  private async tryPair(address: string, port: number): Promise<RtpSocketPair | null> {
    const rtp = await bindRtpSocket(address, port, this.opts());
    if ('error' in rtp) return this.bindFailed(rtp.error, address);
    const rtcp = await bindRtpSocket(address, port + 1, this.opts());
    if ('error' in rtcp) {
      await rtp.socket.close();
      return this.bindFailed(rtcp.error, address);
    }
    let released: Promise<void> | null = null;
    const key = `${address}|${port}`;
    return {
      address,
      rtpPort: port,
      rtcpPort: port + 1,
      rtp: rtp.socket,
      rtcp: rtcp.socket,
      release: () => {
        released ??= Promise.all([rtp.socket.close(), rtcp.socket.close()]).then(() => {
          this.held.delete(key);
        });
        return released;
      },
    };
  }

  private opts(): { bufferBytes?: number } {
    return this.bufferBytes ? { bufferBytes: this.bufferBytes } : {};
  }

  private bindFailed(err: NodeJS.ErrnoException, address: string): null {
    if (err.code === 'EADDRINUSE') return null;
    // Not a busy port: every other port would fail the same way (bad address, no permission).
    throw new ConfnodeError('config', `cannot bind RTP socket on ${address}: ${err.message}`, { cause: err });
  }
}
