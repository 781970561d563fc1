/**
 * SIP over TLS against UDP, in the same run (issue 12's benchmark): one node with a certificate,
 * two clients of ours (sipp 3.6.1 on Debian has no TLS): a UDP socket and one long-lived TLS
 * connection, as a proxy or an SBC in front would keep. Calls alternate between them one at a time
 * (INVITE with an SDP offer -> 200 OK -> ACK -> BYE -> 200), so both see the same node and the
 * same machine; INVITE -> 200 OK is timed on the client. New TLS connections are timed apart
 * (handshake to the first response). Figures only; the node is stopped by PID.
 */
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { TestPeer, sipRequest } from '../src/signaling/sip/test-peer';
import { getHeader } from '../src/signaling/sip/message';
import { parseNameAddr } from '../src/signaling/sip/headers';
import { makeTempDir, writeNodeConfig } from '../test/helpers/config';
import { freePorts } from '../test/helpers/ports';
import { Proc, waitFor } from '../test/helpers/proc';
import { REPO_ROOT } from './target';

export interface TlsPlan {
  warmup: number;
  calls: number;
  /** New TLS connections timed (handshake + OPTIONS -> 200). */
  connections: number;
}

export const TLS_PLAN: Record<'full' | 'quick', TlsPlan> = {
  full: { warmup: 30, calls: 300, connections: 30 },
  quick: { warmup: 10, calls: 60, connections: 10 },
};

export interface Latency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface TlsResult {
  plan: TlsPlan;
  udp?: Latency;
  tls?: Latency;
  /** A new TLS connection: connect + handshake + OPTIONS -> 200. */
  newConnection?: Latency;
  failed: number;
  errors: string[];
  durationS: number;
}

const OFFER = 'v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n';

function latency(xs: number[]): Latency {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN) * 100) / 100;
  return { samples: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

let seq = 0;

/** One whole call; resolves with INVITE -> 200 OK in ms. */
async function oneCall(p: TestPeer, port: number): Promise<number> {
  seq++;
  const callId = `tlsbench-${seq}-${Date.now()}`;
  const branch = `z9hG4bKtb${seq}${Date.now()}`;
  const t0 = performance.now();
  p.send(sipRequest({ method: 'INVITE', peer: p, callId, cseq: 1, branch, body: OFFER }), port);
  const ok = await p.response(200, 'INVITE');
  const ms = performance.now() - t0;
  const tag = parseNameAddr(getHeader(ok, 'To') ?? '')?.tag;
  p.send(sipRequest({ method: 'ACK', peer: p, callId, cseq: 1, branch: `${branch}a`, ...(tag ? { toTag: tag } : {}) }), port);
  p.send(sipRequest({ method: 'BYE', peer: p, callId, cseq: 2, branch: `${branch}b`, ...(tag ? { toTag: tag } : {}) }), port);
  await p.response(200, 'BYE');
  return ms;
}

/** GET /healthz over HTTPS (the node's HTTP port serves TLS once it has a certificate): the status, or 0. */
function healthz(port: number, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The node under test as its own process (the bench's dist/node/main.js); resolves once /healthz answers. */
async function startNode(nodeMain: string, configPath: string, nodeName: string, httpPort: number, ca: Buffer): Promise<Proc> {
  const proc = new Proc('node (tls bench)', process.execPath, [nodeMain, '--config', configPath, '--node', nodeName], { cwd: REPO_ROOT });
  try {
    await waitFor(
      'node /healthz',
      async () => {
        if (proc.exit) throw new Error(`node exited: ${JSON.stringify(proc.exit)}\n${proc.tail(2000)}`);
        return (await healthz(httpPort, ca)) === 200 ? true : undefined;
      },
      30_000,
    );
  } catch (e) {
    await proc.stop(1000);
    throw e;
  }
  return proc;
}

export async function runTlsBench(o: { plan: TlsPlan; nodeMain: string; log: (line: string) => void }): Promise<TlsResult> {
  const t0 = Date.now();
  const out: TlsResult = { plan: o.plan, failed: 0, errors: [], durationS: 0 };
  const dir = makeTempDir('bench-tls');
  const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'tls');
  const [tlsPort] = (await freePorts(1)) as [number];
  const config = await writeNodeConfig({
    dir,
    nodeExtra: `sip_tls_port: ${tlsPort}, tls: { cert_file: "${join(fixtures, 'localhost-cert.pem')}", key_file: "${join(fixtures, 'localhost-key.pem')}" }`,
    mediaExtra: 'workers: 1',
  });
  const ca = readFileSync(join(fixtures, 'localhost-cert.pem'));
  let node: Proc | undefined;
  const peers: TestPeer[] = [];
  try {
    node = await startNode(o.nodeMain, config.path, config.nodeName, config.httpPort, ca);
    const udp = await TestPeer.udp();
    const tls = await TestPeer.tls(tlsPort, ca);
    peers.push(udp, tls);
    o.log(`SIP TLS bench: node on UDP ${config.sipPort} and TLS ${tlsPort}; ${o.plan.warmup} warm-up and ${o.plan.calls} timed calls each, alternating`);
    const times = { udp: [] as number[], tls: [] as number[] };
    for (let i = 0; i < o.plan.warmup + o.plan.calls; i++) {
      for (const [kind, peer, port] of [['udp', udp, config.sipPort], ['tls', tls, tlsPort]] as const) {
        try {
          const ms = await oneCall(peer, port);
          if (i >= o.plan.warmup) times[kind].push(ms);
        } catch (e) {
          out.failed++;
          if (out.errors.length < 5) out.errors.push(`${kind}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    out.udp = latency(times.udp);
    out.tls = latency(times.tls);
    const handshakes: number[] = [];
    for (let i = 0; i < o.plan.connections; i++) {
      const start = performance.now();
      const p = await TestPeer.tls(tlsPort, ca);
      peers.push(p);
      p.send(sipRequest({ method: 'OPTIONS', peer: p, callId: `tlsopt-${i}-${Date.now()}`, cseq: 1, branch: `z9hG4bKto${i}${Date.now()}` }), tlsPort);
      await p.response(200, 'OPTIONS');
      handshakes.push(performance.now() - start);
      await p.close();
    }
    out.newConnection = latency(handshakes);
  } catch (e) {
    out.errors.push(e instanceof Error ? e.message : String(e));
  } finally {
    for (const p of peers) await p.close().catch(() => undefined);
    await node?.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  }
  out.durationS = (Date.now() - t0) / 1000;
  return out;
}

const f = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(2));

export function tlsMarkdown(r: TlsResult, startedAt: string): string[] {
  const row = (name: string, l: Latency | undefined): string => `| ${name} | ${l?.samples ?? 0} | ${f(l?.p50Ms)} | ${f(l?.p99Ms)} | ${f(l?.maxMs)} |`;
  return [
    '## SIP over TLS against UDP (same run)',
    '',
    `Run ${startedAt}. One node with a certificate; our own clients (sipp 3.6.1 here has no TLS): a UDP socket and one long-lived TLS connection, calls alternating one at a time (INVITE with SDP -> 200 -> ACK -> BYE), INVITE -> 200 OK timed on the client; new connections timed apart.`,
    '',
    '| | calls | p50 (ms) | p99 (ms) | max (ms) |',
    '|---|---|---|---|---|',
    row('INVITE -> 200 OK over UDP', r.udp),
    row('INVITE -> 200 OK over TLS (open connection)', r.tls),
    row('new TLS connection: handshake + OPTIONS -> 200', r.newConnection),
    '',
    `Failed calls: ${r.failed}${r.errors.length > 0 ? ` (${r.errors.join('; ')})` : ''}. Took ${r.durationS.toFixed(0)} s.`,
    '',
  ];
}
