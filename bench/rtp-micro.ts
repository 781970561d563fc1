/**
 * Micro-benchmark of the plain RTP path: packets handled per CPU-second by two RtpEndpoints
 * echoing 172-byte PCMU packets on loopback, against a bare dgram echo in the same process.
 * Bounded in time (about 3 s per phase); loopback only; never part of the test suite.
 *
 * Run: npx tsc -p tsconfig.json --outDir /tmp/confnode-bench && node /tmp/confnode-bench/bench/rtp-micro.js
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { silentLogger, systemClock } from '../src/common';
import { buildRtp } from '../src/media/rtp/packet';
import { PortAllocator } from '../src/media/rtp/port-allocator';
import { RtpEndpoint } from '../src/media/rtp/rtp-endpoint';

const PHASE_MS = Number(process.env.PHASE_MS ?? 3000);
const WINDOW = 16; // packets in flight each way
const PAYLOAD = Buffer.alloc(160, 0xff);

interface Result {
  name: string;
  packets: number;
  cpuMs: number;
  wallMs: number;
}

function perCpuSecond(r: Result): number {
  return (r.packets * 1000) / r.cpuMs;
}

/** Runs `start`, lets the echo loop go for PHASE_MS, and counts packets received by either side. */
async function measure(name: string, start: (count: () => void) => () => Promise<void>): Promise<Result> {
  let packets = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const stop = start(() => packets++);
  await new Promise((r) => setTimeout(r, PHASE_MS));
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  const counted = packets;
  await stop();
  return { name, packets: counted, cpuMs: (c.user + c.system) / 1000, wallMs };
}

function bindSocket(lookup: boolean): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({
      type: 'udp4',
      ...(lookup
        ? {
            lookup: ((host: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) =>
              cb(null, host, net.isIP(host))) as unknown as dgram.SocketOptions['lookup'],
          }
        : {}),
    });
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

async function bareEcho(name: string, literalLookup: boolean): Promise<Result> {
  const a = await bindSocket(literalLookup);
  const b = await bindSocket(literalLookup);
  const pkt = buildRtp(0, false, 1, 160, 0x1234, PAYLOAD);
  return measure(name, (count) => {
    let running = true;
    const echo = (s: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      count();
      if (running) s.send(msg, rinfo.port, rinfo.address);
    };
    a.on('message', echo(a));
    b.on('message', echo(b));
    for (let i = 0; i < WINDOW; i++) a.send(pkt, b.address().port, '127.0.0.1');
    return async () => {
      running = false;
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all([a, b].map((s) => new Promise<void>((r) => s.close(() => r()))));
    };
  });
}

async function endpointEcho(): Promise<Result> {
  const allocator = new PortAllocator({ min: 42000, max: 42099 });
  const opts = { address: '127.0.0.1', allocator, clock: systemClock, logger: silentLogger };
  const a = await RtpEndpoint.open(opts);
  const b = await RtpEndpoint.open(opts);
  a.setRemote({ address: '127.0.0.1', rtpPort: b.rtpPort, rtcpMux: false, payloadTypes: [0] });
  b.setRemote({ address: '127.0.0.1', rtpPort: a.rtpPort, rtcpMux: false, payloadTypes: [0] });
  return measure('RtpEndpoint echo', (count) => {
    const echo = (pkt: { payloadType: number; payload: Buffer }, ep: RtpEndpoint): void => {
      count();
      ep.sendRtp(pkt.payloadType, pkt.payload, 160);
    };
    a.onRtp = echo;
    b.onRtp = echo;
    for (let i = 0; i < WINDOW; i++) a.sendRtp(0, PAYLOAD, 160);
    return async () => {
      a.onRtp = null;
      b.onRtp = null;
      const stats = [a.stats(), b.stats()];
      await Promise.all([a.close(), b.close()]);
      const drops = stats.map((s) => Object.values(s.dropped).reduce((x, y) => x + y, 0));
      console.log(`  endpoint drops: ${drops.join(', ')}; socket errors: ${stats.map((s) => s.socketErrors).join(', ')}`);
    };
  });
}

async function main(): Promise<void> {
  const results: Result[] = [];
  results.push(await bareEcho('bare dgram echo', false));
  results.push(await bareEcho('bare dgram echo, literal lookup', true));
  results.push(await endpointEcho());
  for (const r of results) {
    const util = ((r.cpuMs / r.wallMs) * 100).toFixed(0);
    console.log(
      `${r.name.padEnd(34)} ${r.packets.toString().padStart(8)} pkts  cpu ${r.cpuMs.toFixed(0)} ms (${util}%)  ` +
        `${Math.round(perCpuSecond(r)).toString().padStart(7)} pkts/cpu-s`,
    );
  }
  const bare = results[0] as Result;
  const ep = results[2] as Result;
  console.log(`RtpEndpoint / bare dgram (packets per CPU-second): ${(perCpuSecond(ep) / perCpuSecond(bare)).toFixed(2)}`);
}

void main();
