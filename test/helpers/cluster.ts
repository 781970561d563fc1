/**
 * A cluster config for tests: N nodes on 127.0.0.1 with free ports, an etcd store (a real etcd the
 * test starts), one YAML file, and each node started as its own process (`NodeUnderTest`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig, VmrSpec } from './config';
import { NodeUnderTest } from './node-process';
import { freePortRange, freePorts } from './ports';

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
    `locations: [ ${locations.map((l) => `{ name: ${l} }`).join(', ')} ]`,
    'nodes:',
    ...nodeLines,
    `media: { workers: ${spec.workers ?? 1} }`,
    'vmrs:',
    ...spec.vmrs.map((v) => `  - { name: ${v.name}, aliases: [${v.aliases.map((a) => JSON.stringify(a)).join(', ')}] }`),
    '',
  ].join('\n');
  writeFileSync(path, yaml);
  return out;
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
