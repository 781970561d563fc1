/**
 * Free-port picker for integration tests: every test gets its own SIP/HTTP/control/RTP ports.
 * Ports come from below the kernel's ephemeral range so sockets the kernel hands out cannot take
 * them later; each candidate is bound (TCP and UDP) and released before use. Never binds beyond
 * 127.0.0.1.
 */
import { createServer } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';

const LOW = 10000;
const HIGH = 32000;
const MAX_TRIES = 200;
const taken = new Set<number>();

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** True when a UDP socket can bind 127.0.0.1:port right now. */
export function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

function candidate(span: number): number {
  // Randomness is fine here: this is test plumbing, and parallel jest workers must not collide.
  const slots = Math.floor((HIGH - LOW - span) / 2);
  return LOW + 2 * Math.floor(Math.random() * slots);
}

/** One port free on both TCP and UDP (SIP listens on both). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const p = candidate(1) + 1;
    if (taken.has(p)) continue;
    if ((await tcpFree(p)) && (await udpFree(p))) {
      taken.add(p);
      return p;
    }
  }
  throw new Error('no free port found');
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await freePort());
  return out;
}

/** An even-based range [min, min+size-1] of UDP ports all free right now. */
export async function freePortRange(size: number): Promise<{ min: number; max: number }> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const min = candidate(size);
    let ok = true;
    for (let p = min; p < min + size && ok; p++) {
      if (taken.has(p) || !(await udpFree(p))) ok = false;
    }
    if (ok) {
      for (let p = min; p < min + size; p++) taken.add(p);
      return { min, max: min + size - 1 };
    }
  }
  throw new Error(`no free range of ${size} ports found`);
}

/** A UDP socket bound to 127.0.0.1:`port` (rejects if the port is taken). */
export async function bindUdp(port: number): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve());
  });
  return s;
}
