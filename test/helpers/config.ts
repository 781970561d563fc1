/**
 * Writes a one-node cluster config (YAML) with free ports into a test's temp dir. Only keys the
 * node's schema knows are written (it refuses unknown keys). Uses 127.0.0.1, or ::1 for a node
 * that runs inside a private network namespace (netns.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange, freePorts } from './ports';

export interface VmrSpec {
  name: string;
  aliases: string[];
  /** The conference video codec (the node's default is H264). */
  videoCodec?: 'H264' | 'VP8';
  maxParticipants?: number;
  hostPin?: string;
  guestPin?: string;
  /** vmrs[].require_token */
  requireToken?: boolean;
}

export interface NodeConfigOptions {
  dir: string;
  nodeName?: string;
  /** Capacity units; an audio-only call costs 0.25. */
  capacity?: number;
  mixTalkers?: number;
  /** media.rtp_timeout_s (the node's default is 60). */
  rtpTimeoutS?: number;
  vmrs?: VmrSpec[];
  /** cluster.admin_token */
  adminToken?: string;
  /** nodes[].drain_timeout_s */
  drainTimeoutS?: number;
  /** The node's address (SIP, HTTP, RTP); 127.0.0.1 unless the node runs in its own namespace. */
  address?: string;
  /** More keys of the node's entry, YAML flow style without braces, e.g. `ice_ports: { min: 50000, max: 50099 }`. */
  nodeExtra?: string;
  /** More keys of `media`, flow style without braces, e.g. `sip_srtp: required`. */
  mediaExtra?: string;
  /** More top-level sections, as YAML lines (e.g. `turn: [...]`, `join_tokens: {...}`). */
  extraYaml?: string[];
}

export interface NodeConfig {
  path: string;
  nodeName: string;
  sipPort: number;
  httpPort: number;
  controlPort: number;
  rtp: { min: number; max: number };
}

export const DEFAULT_VMRS: VmrSpec[] = [
  { name: 'meet', aliases: ['meet', 'meet@localhost'] },
  ...[1, 2, 3, 4, 5].map((i) => ({ name: `room${i}`, aliases: [`room${i}`] })),
];

/** One `vmrs:` entry of a config file. */
export function vmrLine(v: VmrSpec): string {
  const extra = [
    v.videoCodec !== undefined ? `video_codec: ${v.videoCodec}` : '',
    v.maxParticipants !== undefined ? `max_participants: ${v.maxParticipants}` : '',
    v.hostPin !== undefined ? `host_pin: ${JSON.stringify(v.hostPin)}` : '',
    v.guestPin !== undefined ? `guest_pin: ${JSON.stringify(v.guestPin)}` : '',
    v.requireToken ? 'require_token: true' : '',
  ].filter(Boolean);
  return `  - { name: ${v.name}, aliases: [${v.aliases.map((a) => JSON.stringify(a)).join(', ')}]${extra.map((e) => `, ${e}`).join('')} }`;
}

/** A fresh temp dir for one test file. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `confnode-${prefix}-`));
}

export async function writeNodeConfig(opts: NodeConfigOptions): Promise<NodeConfig> {
  const nodeName = opts.nodeName ?? 'n1';
  const [sipPort, httpPort, controlPort] = (await freePorts(3)) as [number, number, number];
  const rtp = await freePortRange(200);
  const vmrs = opts.vmrs ?? DEFAULT_VMRS;
  const vmrLines = vmrs.map(vmrLine);
  const yaml = [
    `cluster: { name: test, secret: "test-secret-0123456789", store: memory${opts.adminToken !== undefined ? `, admin_token: ${JSON.stringify(opts.adminToken)}` : ''} }`,
    'locations: [ { name: local } ]',
    'nodes:',
    `  - { name: ${nodeName}, location: local, address: "${opts.address ?? '127.0.0.1'}", sip_port: ${sipPort}, ` +
      `http_port: ${httpPort}, control_port: ${controlPort}, ` +
      `rtp_ports: { min: ${rtp.min}, max: ${rtp.max} }, capacity: ${opts.capacity ?? 100}` +
      `${opts.drainTimeoutS !== undefined ? `, drain_timeout_s: ${opts.drainTimeoutS}` : ''}${opts.nodeExtra ? `, ${opts.nodeExtra}` : ''} }`,
    `media: { mix_talkers: ${opts.mixTalkers ?? 3}${opts.rtpTimeoutS !== undefined ? `, rtp_timeout_s: ${opts.rtpTimeoutS}` : ''}${opts.mediaExtra ? `, ${opts.mediaExtra}` : ''} }`,
    ...(opts.extraYaml ?? []),
    'vmrs:',
    ...vmrLines,
    '',
  ].join('\n');
  const path = join(opts.dir, `${nodeName}.yaml`);
  writeFileSync(path, yaml);
  return { path, nodeName, sipPort, httpPort, controlPort, rtp };
}
