/**
 * The cluster under test: a real etcd (test/helpers/etcd.ts) and two confnode processes of one
 * location on 127.0.0.1, from a YAML written here. Node A is small and B big, so every new
 * conference starts on B: a call received by B has its media there (local), one received by A
 * has it on B (remote). Everything started here is stopped by PID in `stop()`, also after a failure.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdServer } from '../../test/helpers/etcd';
import { freePortRange, freePorts } from '../../test/helpers/ports';
import { Proc, waitFor } from '../../test/helpers/proc';
import { REPO_ROOT } from '../target';

export const LOCATION = 'site';
/** Node names: A receives the "remote" calls, B carries all media. */
export const NODE_A = 'A';
export const NODE_B = 'B';

export interface ClusterNodeHandle {
  name: string;
  proc: Proc;
  sipPort: number;
  httpPort: number;
  rtp: { min: number; max: number };
  baseUrl: string;
}

export interface BenchCluster {
  etcd: EtcdServer;
  a: ClusterNodeHandle;
  b: ClusterNodeHandle;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  dir: string;
  nodeMain: string;
  /** VMR names (each its own alias). */
  vmrs: string[];
  /** UDP ports per node's RTP range (even). */
  rtpPorts: number;
  /** Capacities of A and B (default 2 and 1000: every conference starts on B). */
  capacities?: readonly [number, number];
}

/** Any bench cluster: nodes in locations, and YAML sections beside the generated ones (e.g. wan_sim). */
export interface ClusterProcsOptions {
  dir: string;
  nodeMain: string;
  vmrs: string[];
  rtpPorts: number;
  nodes: Array<{ name: string; location: string; capacity: number }>;
  /** Per location, its overflow locations. */
  overflow?: Record<string, { primary: string; secondary?: string }>;
  /** YAML lines appended as they are (top-level keys). */
  extraYaml?: string[];
}

export interface ClusterProcs {
  etcd: EtcdServer;
  nodes: ClusterNodeHandle[];
  stop(): Promise<void>;
}

interface NodePorts {
  name: string;
  location: string;
  capacity: number;
  sipPort: number;
  httpPort: number;
  controlPort: number;
  rtp: { min: number; max: number };
}

function clusterYaml(etcdEndpoint: string, o: ClusterProcsOptions, nodes: NodePorts[]): string {
  const locations = [...new Set(nodes.map((n) => n.location))];
  const location = (l: string): string => {
    const of = o.overflow?.[l];
    return of ? `{ name: ${l}, overflow: { primary: ${of.primary}${of.secondary ? `, secondary: ${of.secondary}` : ''} } }` : `{ name: ${l} }`;
  };
  return [
    '# Written by bench/cluster/cluster-procs.ts for one bench run (loopback only).',
    `cluster: { name: bench, secret: "bench-cluster-secret-0123456789", store: { etcd: { endpoints: ["${etcdEndpoint}"] } } }`,
    `locations: [ ${locations.map(location).join(', ')} ]`,
    'nodes:',
    ...nodes.map(
      (n) =>
        `  - { name: ${n.name}, location: ${n.location}, address: "127.0.0.1", sip_port: ${n.sipPort}, http_port: ${n.httpPort}, ` +
        `control_port: ${n.controlPort}, rtp_ports: { min: ${n.rtp.min}, max: ${n.rtp.max} }, capacity: ${n.capacity}, log_level: warn }`,
    ),
    // The nodes share two cores with etcd and the bench: one media thread each.
    'media: { workers: 1 }',
    'vmrs:',
    ...o.vmrs.map((v) => `  - { name: ${v}, aliases: [${v}] }`),
    ...(o.extraYaml ?? []),
    '',
  ].join('\n');
}

async function startNode(o: ClusterProcsOptions, path: string, n: NodePorts): Promise<ClusterNodeHandle> {
  const proc = new Proc(`node ${n.name}`, process.execPath, [o.nodeMain, '--config', path, '--node', n.name], { cwd: REPO_ROOT });
  const baseUrl = `http://127.0.0.1:${n.httpPort}`;
  try {
    await waitFor(
      `${n.name} /healthz`,
      async () => {
        if (proc.exit) throw new Error(`node ${n.name} exited: ${JSON.stringify(proc.exit)}`);
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      30_000,
    );
  } catch (e) {
    await proc.stop(1000);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.tail(2000)}`);
  }
  return { name: n.name, proc, sipPort: n.sipPort, httpPort: n.httpPort, rtp: n.rtp, baseUrl };
}

/** Starts etcd and every node; resolves once each node lists all of them in /api/v1/nodes. */
export async function startClusterProcs(o: ClusterProcsOptions): Promise<ClusterProcs> {
  const etcd = await EtcdServer.start(o.dir);
  const started: ClusterNodeHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((n) => n.proc.stop(5000)));
    await etcd.destroy();
  };
  try {
    const ports: NodePorts[] = [];
    for (const n of o.nodes) {
      const rtp = await freePortRange(o.rtpPorts);
      const [sipPort, httpPort, controlPort] = (await freePorts(3)) as [number, number, number];
      ports.push({ ...n, sipPort, httpPort, controlPort, rtp });
    }
    const path = join(o.dir, 'cluster.yaml');
    writeFileSync(path, clusterYaml(etcd.endpoint, o, ports));
    for (const p of ports) started.push(await startNode(o, path, p));
    for (const n of started) {
      await waitFor(
        `${n.name} lists every node`,
        async () => {
          const res = await fetch(`${n.baseUrl}/api/v1/nodes`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
          const listed = res?.status === 200 ? ((await res.json()) as unknown[]) : [];
          return listed.length === o.nodes.length ? true : undefined;
        },
        15_000,
      );
    }
    return { etcd, nodes: started, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Starts etcd and both nodes of one location (A small, B big). */
export async function startBenchCluster(o: ClusterOptions): Promise<BenchCluster> {
  const [capA, capB] = o.capacities ?? [2, 1000];
  const procs = await startClusterProcs({
    dir: o.dir,
    nodeMain: o.nodeMain,
    vmrs: o.vmrs,
    rtpPorts: o.rtpPorts,
    nodes: [
      { name: NODE_A, location: LOCATION, capacity: capA },
      { name: NODE_B, location: LOCATION, capacity: capB },
    ],
  });
  const [a, b] = procs.nodes;
  if (!a || !b) throw new Error('two nodes expected');
  return { etcd: procs.etcd, a, b, stop: procs.stop };
}
