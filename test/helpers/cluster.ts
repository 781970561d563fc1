/**
 * A cluster config for tests: N nodes on 127.0.0.1 with free ports, an etcd store (a real etcd the
 * test starts), one YAML file, and each node started as its own process (`NodeUnderTest`). Also
 * what cluster tests poke the cluster with: raw SIP callers, the store read directly, /metrics
 * series and control-port upgrades. Never used by the node itself.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { vmrLine, type NodeConfig, type VmrSpec } from './config';
import type { PlanStep } from './netns';
import { NODE_MAIN, NodeUnderTest, REPO_ROOT } from './node-process';
import { freePortRange, freePorts } from './ports';
import { sleep } from './proc';
import { buildRequest, header, newBranch, newDialogIds, okResponse, parseMessage, sdpOffer, toTag, type DialogIds, type RawMessage } from './sip-raw';

export interface ClusterNodeSpec {
  name: string;
  location: string;
  capacity: number;
}

export interface ClusterSpec {
  dir: string;
  etcdEndpoint: string;
  nodes: ClusterNodeSpec[];
  vmrs: VmrSpec[];
  /** media.workers per node (default 1: several nodes share 2 cores). */
  workers?: number;
  /** R6: overflow locations per location (locations[].overflow). */
  overflow?: Record<string, { primary: string; secondary?: string }>;
  /** Simulated WAN between locations (config `wan_sim`). */
  wanSim?: Array<{ between: [string, string]; delayMs: number; jitterMs?: number; loss?: number }>;
}

function locationLine(name: string, overflow: { primary: string; secondary?: string } | undefined): string {
  if (!overflow) return `{ name: ${name} }`;
  return `{ name: ${name}, overflow: { primary: ${overflow.primary}${overflow.secondary ? `, secondary: ${overflow.secondary}` : ''} } }`;
}

/** Writes the cluster YAML; one NodeConfig per node (all pointing at the same file). */
export async function writeClusterConfig(spec: ClusterSpec): Promise<NodeConfig[]> {
  const path = join(spec.dir, 'cluster.yaml');
  const locations = [...new Set(spec.nodes.map((n) => n.location))];
  const out: NodeConfig[] = [];
  const nodeLines: string[] = [];
  for (const n of spec.nodes) {
    const [sipPort, httpPort, controlPort] = (await freePorts(3)) as [number, number, number];
    const rtp = await freePortRange(100);
    nodeLines.push(
      `  - { name: ${n.name}, location: ${n.location}, address: "127.0.0.1", sip_port: ${sipPort}, http_port: ${httpPort}, ` +
        `control_port: ${controlPort}, rtp_ports: { min: ${rtp.min}, max: ${rtp.max} }, capacity: ${n.capacity} }`,
    );
    out.push({ path, nodeName: n.name, sipPort, httpPort, controlPort, rtp });
  }
  const yaml = [
    `cluster: { name: test, secret: "test-cluster-secret-0123456789", store: { etcd: { endpoints: ["${spec.etcdEndpoint}"] } } }`,
    `locations: [ ${locations.map((l) => locationLine(l, spec.overflow?.[l])).join(', ')} ]`,
    ...(spec.wanSim && spec.wanSim.length > 0
      ? ['wan_sim:', ...spec.wanSim.map((w) => `  - { between: [${w.between.join(', ')}], delay_ms: ${w.delayMs}, jitter_ms: ${w.jitterMs ?? 0}, loss: ${w.loss ?? 0} }`)]
      : []),
    'nodes:',
    ...nodeLines,
    `media: { workers: ${spec.workers ?? 1} }`,
    'vmrs:',
    ...spec.vmrs.map(vmrLine),
    '',
  ].join('\n');
  writeFileSync(path, yaml);
  return out;
}

/**
 * The command line of a single-member etcd on 127.0.0.1 (as EtcdServer runs it), for a netns plan
 * that starts etcd inside the namespace beside the nodes. Short raft timers keep start-up quick.
 */
export function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name', 'confnode-test', '--data-dir', dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `confnode-test=${peer}`, '--initial-cluster-state', 'new',
    '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap', '--log-level', 'warn',
  ];
}

/** Starts every node (one process each) and waits until each lists all of them in /api/v1/nodes. */
export async function startCluster(configs: NodeConfig[]): Promise<NodeUnderTest[]> {
  const nodes = await Promise.all(configs.map((c) => NodeUnderTest.start(c, 30_000)));
  const deadline = Date.now() + 15_000;
  for (const n of nodes) {
    for (;;) {
      const listed = await n.getJson<Array<{ node: string }>>('/api/v1/nodes').catch(() => []);
      if (listed.length === configs.length) break;
      if (Date.now() > deadline) throw new Error(`${n.config.nodeName} lists ${listed.length} of ${configs.length} nodes\n${n.proc.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return nodes;
}

// --- raw SIP callers, the store and the control port, for the race and lifecycle tests ----------

/** A final response to an INVITE, as a race trial sees it. */
export interface InviteOutcome {
  status: number;
  /** The Retry-After header of a 503 (undefined when absent). */
  retryAfter: string | undefined;
}

/**
 * One SIP caller over UDP (raw messages, sip-raw.ts): INVITE with a PCMU offer, ACK, BYE. Datagrams
 * that are not SIP (the node's RTP, were it sent here) are ignored; a BYE from the node gets a 200.
 * Its RTP port is a bound socket that discards what arrives, so the node never meets ICMP errors.
 */
export class RawSipCaller {
  readonly received: RawMessage[] = [];
  private readonly ids: DialogIds = newDialogIds();
  private target = 0;
  private user = '';
  private remoteTag: string | undefined;
  /** The node sent BYE (and got our 200). */
  byeFromNode = false;

  private constructor(
    private readonly sip: UdpSocket,
    private readonly rtp: UdpSocket,
  ) {
    sip.on('message', (buf) => this.onDatagram(buf));
    rtp.on('message', () => undefined);
  }

  static async open(): Promise<RawSipCaller> {
    const bind = async (): Promise<UdpSocket> => {
      const s = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, '127.0.0.1', () => resolve());
      });
      s.on('error', () => undefined);
      return s;
    };
    return new RawSipCaller(await bind(), await bind());
  }

  get port(): number {
    return this.sip.address().port;
  }

  /**
   * Sends the INVITE (retransmitted as RFC 3261 timer A until a response comes), ACKs the final
   * response (a 2xx with a new branch, others in the INVITE transaction) and returns it; undefined
   * when no final response came within `timeoutMs` (a hang).
   */
  async invite(sipPort: number, user: string, timeoutMs: number): Promise<InviteOutcome | undefined> {
    this.target = sipPort;
    this.user = user;
    const body = sdpOffer(this.rtp.address().port);
    const invite = buildRequest({ method: 'INVITE', user, target: { port: sipPort }, local: { port: this.port, transport: 'UDP' }, ids: this.ids, body });
    const deadline = Date.now() + timeoutMs;
    let interval = 500;
    let next = Date.now();
    for (;;) {
      const final = this.response('INVITE', 200);
      if (final) {
        this.remoteTag = toTag(final);
        await this.ack(final);
        return { status: final.status, retryAfter: header(final, 'retry-after') };
      }
      if (Date.now() > deadline) return undefined;
      if (Date.now() >= next && !this.response('INVITE', 100)) {
        await this.send(invite);
        next = Date.now() + interval;
        interval = Math.min(interval * 2, 4000);
      }
      await sleep(10);
    }
  }

  /** BYE in the dialog the 200 made; resolves with the status of its response (undefined: none). */
  async bye(timeoutMs: number): Promise<number | undefined> {
    const ids: DialogIds = { ...this.ids, branch: newBranch(), cseq: this.ids.cseq + 1 };
    const msg = buildRequest({ method: 'BYE', user: this.user, target: { port: this.target }, local: { port: this.port, transport: 'UDP' }, ids, ...(this.remoteTag ? { toTag: this.remoteTag } : {}) });
    const deadline = Date.now() + timeoutMs;
    let interval = 500;
    while (Date.now() < deadline) {
      await this.send(msg);
      const until = Math.min(deadline, Date.now() + interval);
      while (Date.now() < until) {
        const r = this.response('BYE', 200);
        if (r) return r.status;
        await sleep(10);
      }
      interval = Math.min(interval * 2, 4000);
    }
    return undefined;
  }

  close(): void {
    for (const s of [this.sip, this.rtp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  /** The first response to `method` of at least `minStatus` in this dialog. */
  private response(method: string, minStatus: number): RawMessage | undefined {
    return this.received.find((m) => m.status >= minStatus && header(m, 'call-id') === this.ids.callId && (header(m, 'cseq') ?? '').endsWith(method));
  }

  private async ack(final: RawMessage): Promise<void> {
    const ok = final.status >= 200 && final.status < 300;
    // RFC 3261 17.1.1.3: a non-2xx is ACKed in the INVITE's transaction (same branch); a 2xx end to end.
    const ids: DialogIds = { ...this.ids, branch: ok ? newBranch() : this.ids.branch };
    const tag = toTag(final);
    await this.send(buildRequest({ method: 'ACK', user: this.user, target: { port: this.target }, local: { port: this.port, transport: 'UDP' }, ids, cseqMethod: 'ACK', ...(tag ? { toTag: tag } : {}) }));
  }

  private onDatagram(buf: Buffer): void {
    const text = buf.toString('latin1');
    if (!/^(SIP\/2\.0 |[A-Z]+ sip:)/.test(text)) return;
    const m = parseMessage(text);
    this.received.push(m);
    if (m.method === 'BYE' && header(m, 'call-id') === this.ids.callId) {
      this.byeFromNode = true;
      void this.send(okResponse(m));
    }
  }

  private send(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.sip.send(Buffer.from(text, 'latin1'), this.target, '127.0.0.1', () => resolve());
    });
  }
}

/** Every key and value under `prefix` in etcd, read with its v3 JSON gateway (not through a node). */
export async function etcdRange(endpoint: string, prefix: string): Promise<Array<{ key: string; value: string }>> {
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  const end = Buffer.from(prefix, 'utf8');
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  const res = await fetch(`${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
    signal: AbortSignal.timeout(3000),
  });
  if (res.status !== 200) throw new Error(`etcd range ${prefix} -> ${res.status}`);
  const body = (await res.json()) as { kvs?: Array<{ key: string; value?: string }> };
  return (body.kvs ?? []).map((kv) => ({ key: Buffer.from(kv.key, 'base64').toString('utf8'), value: Buffer.from(kv.value ?? '', 'base64').toString('utf8') }));
}

/** The conference's records in the store (default prefix): its location records' media nodes, and whether any key is left. */
export async function storedConference(endpoint: string, vmr: string): Promise<{ keys: string[]; mediaNodes: Record<string, string[]> }> {
  const kvs = await etcdRange(endpoint, `/confnode/v1/conferences/${vmr}/`);
  const mediaNodes: Record<string, string[]> = {};
  for (const kv of kvs) {
    const m = /\/locations\/([^/]+)$/.exec(kv.key);
    if (m?.[1]) mediaNodes[m[1]] = ((JSON.parse(kv.value) as { mediaNodes?: string[] }).mediaNodes ?? []).slice();
  }
  return { keys: kvs.map((kv) => kv.key), mediaNodes };
}

/** One series of a node's /metrics (e.g. `confnode_calls_ended_total{reason="local-bye",node="A"}`); 0 when absent. */
export async function metricValue(node: NodeUnderTest, series: string): Promise<number> {
  const text = await (await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** A WebSocket upgrade to a node's control port with the given headers; resolves with the HTTP status. */
export function controlUpgrade(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/confnode/control/v1',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...headers },
      timeout: 3000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('timeout', () => req.destroy(new Error('control upgrade: no answer within 3 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET of a node's admin API with a longer bound than NodeUnderTest.getJson's 3 s: cluster views
 * ask every peer (each answer bounded by 2 s), and a loaded 2-core machine adds its share.
 */
export async function getJsonFrom<T>(node: NodeUnderTest, path: string, timeoutMs = 8000): Promise<T> {
  const res = await fetch(`${node.baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`GET ${node.config.nodeName}${path} -> ${res.status}`);
  return (await res.json()) as T;
}

/**
 * The plan steps that start etcd and every node of `nodes` inside a private namespace (runInNetns):
 * each node answers /healthz and lists every other before the plan goes on (placement decides
 * from the watched cache, so every node must know every other before a call).
 */
export function netnsClusterSteps(dir: string, etcd: { client: number; peer: number }, nodes: NodeConfig[]): PlanStep[] {
  const http = (n: NodeConfig, path: string): string => `http://127.0.0.1:${n.httpPort}${path}`;
  const steps: PlanStep[] = [
    { op: 'start', id: 'etcd', cmd: 'etcd', args: etcdArgs(join(dir, 'etcd-data'), etcd.client, etcd.peer), cwd: dir, logFile: join(dir, 'etcd.log') },
    { op: 'waitHttp', url: `http://127.0.0.1:${etcd.client}/health`, timeoutMs: 20_000 },
  ];
  for (const n of nodes) {
    steps.push({ op: 'start', id: n.nodeName, cmd: process.execPath, args: [NODE_MAIN, '--config', n.path, '--node', n.nodeName], cwd: REPO_ROOT, logFile: join(dir, `${n.nodeName}.log`) });
  }
  for (const n of nodes) {
    steps.push({ op: 'waitHttp', url: http(n, '/healthz'), timeoutMs: 30_000 });
    steps.push({ op: 'waitJson', url: http(n, '/api/v1/nodes'), timeoutMs: 15_000, minItems: nodes.length });
  }
  return steps;
}
