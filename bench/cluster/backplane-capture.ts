/**
 * The backplane bench's instruments: plain RTP senders paced every 20 ms, a tcpdump capture on
 * `lo` (kernel timestamps, nanoseconds) and the bare UDP hop of the baseline (the SFU bench's
 * dgram forwarder as its own process). Everything started here is stopped by PID in `close()`.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toneFrames } from '../load/audio';
import { freePort } from '../../test/helpers/ports';
import { Proc, waitFor } from '../../test/helpers/proc';
import { parsePcap, rtpHead, type UdpRecord } from './pcap';
import { REPO_ROOT } from '../target';

export function bindLoopback(): Promise<Socket> {
  const sock = createSocket('udp4');
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      sock.on('error', () => undefined);
      // The node's mixes come back to the senders: read and dropped.
      sock.on('message', () => undefined);
      resolve(sock);
    });
  });
}

export function closeSocket(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** One plain RTP stream: PCMU tone frames from a socket to a destination, random SSRC and timestamp base. */
export interface RtpStream {
  sock: Socket;
  dest: { address: string; port: number };
  ssrc: number;
  seq: number;
  ts: number;
  frames: Buffer[];
  sent: number;
}

export function rtpStream(sock: Socket, dest: { address: string; port: number }, k: number): RtpStream {
  // Random timestamp bases: the capture matches the same frame on both legs by its RTP timestamp.
  return { sock, dest, ssrc: randomInt(1, 0xffffffff), seq: randomInt(0, 0x8000), ts: randomInt(0, 0x7fffffff), frames: toneFrames('PCMU', k), sent: 0 };
}

function sendFrame(s: RtpStream): void {
  const head = Buffer.alloc(12);
  head[0] = 0x80;
  head[1] = 0; // PCMU
  head.writeUInt16BE(s.seq & 0xffff, 2);
  head.writeUInt32BE(s.ts >>> 0, 4);
  head.writeUInt32BE(s.ssrc >>> 0, 8);
  const payload = s.frames[s.sent % s.frames.length] ?? Buffer.alloc(160, 0xff);
  s.sock.send(Buffer.concat([head, payload]), s.dest.port, s.dest.address);
  s.seq = (s.seq + 1) & 0xffff;
  s.ts = (s.ts + 160) >>> 0;
  s.sent++;
}

/** Sends one frame of every stream every 20 ms until stopped (the timer's jitter does not matter: both legs are timed by the kernel). */
export function pace(streams: RtpStream[]): () => void {
  const timer = setInterval(() => {
    for (const s of streams) sendFrame(s);
  }, 20);
  return () => clearInterval(timer);
}

let tcpdumpThere = false;

/** The bench installs what it needs beyond the test suite's packages (as it does for Janus); once per process. */
function ensureTcpdump(): void {
  if (tcpdumpThere) return;
  const ensured = spawnSync('bash', [join(REPO_ROOT, 'bench', 'ensure-tool.sh'), 'tcpdump', 'tcpdump'], { encoding: 'utf8', timeout: 300_000 });
  if (ensured.status !== 0) throw new Error(`tcpdump: ${(ensured.stdout || ensured.stderr || 'ensure-tool.sh failed').trim()}`);
  tcpdumpThere = true;
}

/** tcpdump on lo writing a pcap with nanosecond kernel timestamps; `stop()` ends it and reads the datagrams. */
export class LoopbackCapture {
  private constructor(
    private readonly proc: Proc,
    private readonly file: string,
  ) {}

  static async start(dir: string, filter: string): Promise<LoopbackCapture> {
    ensureTcpdump();
    const file = join(dir, `capture-${Date.now()}.pcap`);
    const proc = new Proc('tcpdump', 'tcpdump', ['-i', 'lo', '-nn', '-U', '-B', '16384', '--time-stamp-precision=nano', '-w', file, filter]);
    try {
      await waitFor('tcpdump listening', () => (proc.exit ? Promise.reject(new Error(`tcpdump: ${proc.tail(500)}`)) : proc.stderr.includes('listening on') ? true : undefined), 10_000);
    } catch (e) {
      await proc.stop(1000);
      throw e;
    }
    return new LoopbackCapture(proc, file);
  }

  async stop(): Promise<UdpRecord[]> {
    await this.proc.stop(3000);
    return parsePcap(readFileSync(this.file));
  }
}

/** The baseline hop: the dgram forwarder (bench/sfu) relaying one RTP stream to a sink socket. */
export class BareHop {
  private constructor(
    readonly proc: Proc,
    readonly port: number,
    readonly sink: Socket,
    readonly feed: Socket,
  ) {}

  static async start(): Promise<BareHop> {
    const sink = await bindLoopback();
    const feed = await bindLoopback();
    const port = await freePort();
    const proc = new Proc('dgram-forwarder', process.execPath, [join(__dirname, '..', 'sfu', 'dgram-forwarder.js'), String(port), String(sink.address().port)]);
    try {
      await waitFor('dgram forwarder ready', () => (proc.exit ? Promise.reject(new Error(proc.tail(500))) : proc.stdout.includes('ready') ? true : undefined), 10_000);
    } catch (e) {
      await Promise.all([proc.stop(1000), closeSocket(sink), closeSocket(feed)]);
      throw e;
    }
    return new BareHop(proc, port, sink, feed);
  }

  get sinkPort(): number {
    return this.sink.address().port;
  }

  async close(): Promise<void> {
    await Promise.all([this.proc.stop(2000), closeSocket(this.sink), closeSocket(this.feed)]);
  }
}

/** A leg of a hop: which datagrams of a capture (ports, payload type), keyed by RTP timestamp. */
export interface LegFilter {
  src?: (port: number) => boolean;
  dst?: (port: number) => boolean;
  payloadType: number;
}

export function leg(records: readonly UdpRecord[], f: LegFilter): Array<{ tNs: number; key: number }> {
  const out: Array<{ tNs: number; key: number }> = [];
  for (const r of records) {
    if (f.src && !f.src(r.srcPort)) continue;
    if (f.dst && !f.dst(r.dstPort)) continue;
    const h = rtpHead(r.payload);
    if (h?.payloadType === f.payloadType) out.push({ tNs: r.tNs, key: h.timestamp });
  }
  return out;
}
