/**
 * The UDP sockets of plain RTP endpoints. Two implementations behind one small interface:
 * - `native` (default when it loads): native/rtpio, batched I/O for the thread. Every socket of
 *   the thread sits in one epoll set, drained with one JS call per batch of datagrams; sends are
 *   queued and leave in one native call after the current JS task (a mix slot's sends for all
 *   its rooms go together). See the addon's header for why this is native.
 * - `dgram`: Node's dgram, one event per datagram; used when the addon is not built or
 *   CONFNODE_RTP_IO=dgram asks for it (CONFNODE_RTP_IO=native makes a missing addon an error).
 * Both give the receiver its own copy of each datagram and never throw from send(): errors go to
 * onError (a full send buffer drops the packet: a late RTP packet is worth nothing).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';

export type RtpIoKind = 'native' | 'dgram';

export interface RtpSocket {
  readonly kind: RtpIoKind;
  /** The port it is bound to (the one asked for, or the one the OS chose for 0). */
  readonly localPort: number;
  /**
   * Each datagram received; `msg` belongs to the receiver. `arrivalMs`: when the kernel received
   * it (ms, wall clock), on native sockets bound with `timestamps` only.
   */
  onMessage: ((msg: Buffer, address: string, port: number, arrivalMs?: number) => void) | null;
  /** Send or receive errors (never thrown). */
  onError: ((err: NodeJS.ErrnoException) => void) | null;
  /** Queues one datagram to an IP literal; never throws. */
  send(buf: Buffer, port: number, address: string): void;
  /** Queues one datagram made of head then body (both may be reused once this returns). */
  sendParts(head: Buffer, body: Buffer, port: number, address: string): void;
  /** Sends what is queued, then closes the socket. Idempotent. */
  close(): Promise<void>;
}

export type BindResult = { socket: RtpSocket } | { error: NodeJS.ErrnoException };

interface RtpIoAddon {
  STRIDE: number;
  init(recvBuf: Buffer, meta: Int32Array, onBatch: (count: number) => void): void;
  bind(address: string, port: number, bufferBytes: number, timestamps: boolean): number;
  localPort(fd: number): number;
  watch(fd: number, tag: number): number;
  close(fd: number, watched: boolean): number;
  send(data: Buffer, desc: Int32Array, count: number): number;
  parseAddress(text: string, out: Int32Array): number;
  formatAddress(words: Int32Array, index: number): string;
}

/** The addon beside the source tree: src/ or dist/ is three levels up from here, dist-bench/src/ four. */
const ADDON_PATHS = [3, 4].map((up) =>
  path.join(__dirname, ...Array<string>(up).fill('..'), 'native', 'rtpio', 'build', 'Release', 'rtpio.node'),
);

function errnoError(negErrno: number, syscall: string, address: string): NodeJS.ErrnoException {
  const code = util.getSystemErrorName(negErrno);
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${address}`);
  err.code = code;
  err.errno = negErrno;
  err.syscall = syscall;
  return err;
}

// ---------------------------------------------------------------- native

const RECV_BYTES = 512 * 1024;
const RECV_PACKETS = 1024;
const SEND_BYTES = 256 * 1024;
const SEND_PACKETS = 1024;

/** One per thread: the addon, the receive buffers, the sockets by tag and the send batch. */
class NativeIo {
  readonly stride: number;
  private readonly recvBuf = Buffer.allocUnsafeSlow(RECV_BYTES);
  private readonly meta: Int32Array;
  private readonly sockets = new Map<number, NativeRtpSocket>();
  private nextTag = 1;
  readonly sendBuf = Buffer.allocUnsafeSlow(SEND_BYTES);
  private readonly desc: Int32Array;
  private readonly owners: (NativeSender | undefined)[] = new Array<NativeSender | undefined>(SEND_PACKETS);
  private queued = 0;
  private queuedBytes = 0;
  private flushScheduled = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(readonly addon: RtpIoAddon) {
    this.stride = addon.STRIDE;
    this.meta = new Int32Array(RECV_PACKETS * this.stride);
    this.desc = new Int32Array(SEND_PACKETS * this.stride);
    addon.init(this.recvBuf, this.meta, (count) => this.onBatch(count));
  }

  bind(address: string, port: number, bufferBytes: number, timestamps: boolean): BindResult {
    const fd = this.addon.bind(address, port, bufferBytes, timestamps);
    if (fd < 0) return { error: errnoError(fd, 'bind', `${address}:${port}`) };
    const tag = this.nextTag;
    this.nextTag = this.nextTag >= 0x7fffffff ? 1 : this.nextTag + 1;
    const watched = this.addon.watch(fd, tag);
    if (watched < 0) {
      this.addon.close(fd, false);
      return { error: errnoError(watched, 'epoll_ctl', `${address}:${port}`) };
    }
    const socket = new NativeRtpSocket(this, fd, tag, port === 0 ? this.addon.localPort(fd) : port);
    this.sockets.set(tag, socket);
    return { socket };
  }

  /** Queues one datagram; the batch leaves after the current task (or when full). */
  enqueue(owner: NativeSender, head: Buffer, body: Buffer | null, port: number, words: Int32Array): void {
    const length = head.length + (body ? body.length : 0);
    const at = this.reserve(owner, length, port, words);
    if (at < 0) return;
    head.copy(this.sendBuf, at);
    if (body) body.copy(this.sendBuf, at + head.length);
  }

  /**
   * Queues one datagram of `length` bytes that the caller writes itself, at once, into
   * sendBuf[offset, offset + length) (returned; -1 when too large, which fails the owner).
   */
  reserve(owner: NativeSender, length: number, port: number, words: Int32Array): number {
    if (length > 65507) {
      owner.fail(errnoError(-(os.constants.errno.EMSGSIZE ?? 90), 'send', 'datagram too large'));
      return -1;
    }
    if (this.queued === SEND_PACKETS || this.queuedBytes + length > SEND_BYTES) this.flush();
    const at = this.queuedBytes;
    const b = this.queued * this.stride;
    const d = this.desc;
    d[b] = owner.fd;
    d[b + 1] = this.queuedBytes;
    d[b + 2] = length;
    d[b + 3] = port;
    for (let i = 4; i < 9; i++) d[b + i] = words[i] ?? 0;
    this.owners[this.queued] = owner;
    this.queued++;
    this.queuedBytes += (length + 7) & ~7;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushTask);
    }
    return at;
  }

  flush(): void {
    const count = this.queued;
    if (count === 0) return;
    this.queued = 0;
    this.queuedBytes = 0;
    const failed = this.addon.send(this.sendBuf, this.desc, count);
    for (let i = 0; i < count && failed > 0; i++) {
      const err = this.desc[i * this.stride + 2] ?? 0;
      if (err < 0) this.owners[i]?.fail(errnoError(err, 'send', ''));
    }
    this.owners.fill(undefined, 0, count);
  }

  release(socket: NativeRtpSocket): void {
    this.flush();
    this.sockets.delete(socket.tag);
    this.addon.close(socket.fd, true);
  }

  private onBatch(count: number): void {
    const meta = this.meta;
    const stride = this.stride;
    for (let i = 0; i < count; i++) {
      const b = i * stride;
      const socket = this.sockets.get(meta[b] ?? 0);
      const cb = socket?.onMessage;
      if (!socket || !cb) continue;
      const off = meta[b + 1] ?? 0;
      const len = meta[b + 2] ?? 0;
      const msg = Buffer.allocUnsafe(len);
      this.recvBuf.copy(msg, 0, off, off + len);
      const sec = meta[b + 9] ?? 0;
      const arrivalMs = sec === 0 ? undefined : (sec >>> 0) * 1000 + (meta[b + 10] ?? 0) / 1e6;
      try {
        cb(msg, socket.sourceAddress(meta, b), meta[b + 3] ?? 0, arrivalMs);
      } catch (err) {
        socket.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

/** What sends through the thread's batch: a socket's fd, its last destination, where errors go. */
abstract class NativeSender {
  protected closed = false;
  /** The last destination, parsed (destinations rarely change); one descriptor's words. */
  private destText = '';
  private readonly dest: Int32Array;

  constructor(
    protected readonly io: NativeIo,
    readonly fd: number,
  ) {
    this.dest = new Int32Array(io.stride);
  }

  send(buf: Buffer, port: number, address: string): void {
    if (!this.closed && this.destination(address)) this.io.enqueue(this, buf, null, port, this.dest);
  }

  sendParts(head: Buffer, body: Buffer, port: number, address: string): void {
    if (!this.closed && this.destination(address)) this.io.enqueue(this, head, body, port, this.dest);
  }

  /**
   * Queues a datagram of `length` bytes that the caller writes in place, at once (before anything
   * else sends on this thread), at the returned offset of `batchBuffer` (no copy of its own); -1
   * when nothing was queued (closed, a bad address, too large).
   */
  reserveDatagram(length: number, port: number, address: string): number {
    if (this.closed || !this.destination(address)) return -1;
    return this.io.reserve(this, length, port, this.dest);
  }

  /** The thread's send batch, where reserveDatagram's offsets point (the same Buffer for the thread's life). */
  get batchBuffer(): Buffer {
    return this.io.sendBuf;
  }

  abstract fail(err: NodeJS.ErrnoException): void;

  private destination(address: string): boolean {
    if (address === this.destText) return true;
    if (this.io.addon.parseAddress(address, this.dest) === 0) {
      this.fail(errnoError(-(os.constants.errno.EINVAL ?? 22), 'send', `not an IP address: ${address}`));
      return false;
    }
    this.destText = address;
    return true;
  }
}

class NativeRtpSocket extends NativeSender implements RtpSocket {
  readonly kind = 'native';
  onMessage: RtpSocket['onMessage'] = null;
  onError: RtpSocket['onError'] = null;
  /** The last source, formatted (sources rarely change). */
  private srcText = '';
  private readonly src: Int32Array;

  constructor(
    io: NativeIo,
    fd: number,
    readonly tag: number,
    readonly localPort: number,
  ) {
    super(io, fd);
    this.src = new Int32Array(io.stride);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.io.release(this);
    }
    return Promise.resolve();
  }

  sourceAddress(meta: Int32Array, b: number): string {
    const s = this.src;
    if (
      this.srcText === '' ||
      s[4] !== meta[b + 4] ||
      s[5] !== meta[b + 5] ||
      s[6] !== meta[b + 6] ||
      s[7] !== meta[b + 7] ||
      s[8] !== meta[b + 8]
    ) {
      for (let i = 4; i < 9; i++) s[i] = meta[b + i] ?? 0;
      this.srcText = this.io.addon.formatAddress(s, 0);
    }
    return this.srcText;
  }

  fail(err: NodeJS.ErrnoException): void {
    this.onError?.(err);
  }
}

/**
 * Sends on a UDP socket this thread does not own (werift's ICE socket, see
 * media/werift/fast-send.ts) through the thread's batched sends: it never receives on it and never
 * closes it; errors are counted. Sends after the owner closed the socket fail with EBADF (counted).
 */
export class ForeignUdpSender extends NativeSender {
  /** Sends refused for a reason other than a full socket buffer (which only drops that datagram). */
  errors = 0;
  /** Datagrams dropped because the socket's buffer was full. */
  dropped = 0;

  fail(err: NodeJS.ErrnoException): void {
    if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK' || err.code === 'ENOBUFS') this.dropped++;
    else this.errors++;
  }

  /** No more sends (the owner is closing the socket): what is queued leaves first. */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.flush();
  }
}

/** A sender on a foreign socket's fd, or null when this thread does not use native/rtpio. */
export function foreignUdpSender(fd: number): ForeignUdpSender | null {
  if (wanted() === 'dgram' || !Number.isInteger(fd) || fd < 0) return null;
  const loaded = loadAddon();
  if (!loaded) return null;
  native ??= new NativeIo(loaded);
  return new ForeignUdpSender(native, fd);
}

// ---------------------------------------------------------------- dgram

/** The lookup dgram uses for send(): our targets are IP literals, so skip dns.lookup's nextTick. */
function literalLookup(
  host: string,
  _opts: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = net.isIP(host);
  if (family === 0) {
    const err: NodeJS.ErrnoException = new Error(`not an IP address: ${host}`);
    err.code = 'EINVAL';
    cb(err, '', 0);
    return;
  }
  cb(null, host, family);
}

class DgramRtpSocket implements RtpSocket {
  readonly kind = 'dgram';
  onMessage: RtpSocket['onMessage'] = null;
  onError: RtpSocket['onError'] = null;
  private closing: Promise<void> | null = null;

  readonly localPort: number;

  constructor(private readonly socket: dgram.Socket) {
    this.localPort = socket.address().port;
    socket.on('message', (msg, rinfo) => this.onMessage?.(msg, rinfo.address, rinfo.port));
    socket.on('error', (err) => this.onError?.(err));
  }

  send(buf: Buffer, port: number, address: string): void {
    if (this.closing) return;
    this.socket.send(buf, port, address);
  }

  sendParts(head: Buffer, body: Buffer, port: number, address: string): void {
    // One new Buffer: dgram may keep what it is given until the datagram leaves.
    this.send(Buffer.concat([head, body]), port, address);
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.closing;
  }
}

function bindDgram(address: string, port: number, bufferBytes: number | undefined): Promise<BindResult> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({
      type: net.isIPv6(address) ? 'udp6' : 'udp4',
      lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
      ...(bufferBytes ? { recvBufferSize: bufferBytes, sendBufferSize: bufferBytes } : {}),
    });
    const onError = (error: NodeJS.ErrnoException): void => {
      socket.close();
      resolve({ error });
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve({ socket: new DgramRtpSocket(socket) });
    });
  });
}

// ---------------------------------------------------------------- selection

let addon: RtpIoAddon | null = null;
let addonError: string | null = null;
let tried = false;
/** The thread's poller and buffers, made on its first native bind (not by rtpIoInfo). */
let native: NativeIo | null = null;

function loadAddon(): RtpIoAddon | null {
  if (tried) return addon;
  tried = true;
  const file = ADDON_PATHS.find((f) => fs.existsSync(f));
  if (!file) {
    addonError = `${ADDON_PATHS[0] ?? 'rtpio.node'} is not built (npm run build:native)`;
    return null;
  }
  try {
    const mod = { exports: {} as unknown };
    process.dlopen(mod, file);
    addon = mod.exports as RtpIoAddon;
  } catch (err) {
    addonError = err instanceof Error ? err.message : String(err);
  }
  return addon;
}

function wanted(): RtpIoKind | 'auto' {
  const v = process.env.CONFNODE_RTP_IO;
  return v === 'native' || v === 'dgram' ? v : 'auto';
}

/**
 * Which implementation this thread's RTP sockets use, and why not native when they don't;
 * 'unavailable': CONFNODE_RTP_IO=native asked for the addon and it did not load (binds fail).
 */
export function rtpIoInfo(): { kind: RtpIoKind | 'unavailable'; reason?: string } {
  const want = wanted();
  if (want === 'dgram') return { kind: 'dgram', reason: 'CONFNODE_RTP_IO=dgram' };
  if (loadAddon()) return { kind: 'native' };
  const reason = `native/rtpio not loaded: ${addonError ?? 'unknown'}`;
  return want === 'native' ? { kind: 'unavailable', reason: `CONFNODE_RTP_IO=native but ${reason}` } : { kind: 'dgram', reason };
}

export interface RtpSocketOptions {
  /** SO_RCVBUF/SO_SNDBUF, bytes; default: the OS default. */
  bufferBytes?: number;
  /** Native only: hand each datagram's kernel arrival time to onMessage (measuring tools). */
  timestamps?: boolean;
}

/** Binds one UDP socket on an IP literal; a busy port is `{ error }` with code EADDRINUSE. */
export async function bindRtpSocket(address: string, port: number, opts: RtpSocketOptions = {}): Promise<BindResult> {
  const want = wanted();
  const bufferBytes = opts.bufferBytes;
  if (want !== 'dgram') {
    const loaded = loadAddon();
    if (loaded) {
      native ??= new NativeIo(loaded);
      return native.bind(address, port, bufferBytes ?? 0, opts.timestamps === true);
    }
    if (want === 'native') {
      const err: NodeJS.ErrnoException = new Error(`CONFNODE_RTP_IO=native but native/rtpio did not load: ${addonError ?? ''}`);
      err.code = 'ENOTSUP';
      return { error: err };
    }
  }
  return bindDgram(address, port, bufferBytes);
}
