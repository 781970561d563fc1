/**
 * A 1:1 NAT made of network namespaces, for nodes[].public_address tests: the node sits on a
 * private /24 (a NetnsLab bridge whose namespace is also the router), and a phone namespace hangs
 * off the router's public side with a route to the public /24 only, so it can reach the node
 * solely through the router's public address. nftables in the router does DNAT (public -> the
 * node's private address) and SNAT (the node's traffic leaves as the public address), with named
 * counters for SIP and RTP in each direction; the phone namespace counts RTP that reaches it. No
 * conntrack helper (SIP ALG) is assigned, so nothing on the path rewrites SIP or SDP. Must never
 * leave a namespace behind: every one is a NetnsLab namespace (destroy(), cleanupLeftovers()).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetnsLab } from './netns-cluster';
import type { Proc } from './proc';
import { requireTool } from './tools';

/** Roles of the NAT lab's hosts (namespace names `<prefix>-<pid>-<role>`). */
export const NAT_NODE = 'node';
export const NAT_PHONE = 'ph';

/** The router's public-side interface and the node's and phone's host octets. */
const PUBLIC_IF = 'pub0';
const NODE_OCTET = 11;
const PHONE_OCTET = 50;
const ROUTER_TABLE = 'confnode_nat';
const PHONE_TABLE = 'confnode_phone';

export interface NatLabOptions {
  /** Namespace prefix; leftovers of this prefix from a crashed run are deleted at start. */
  prefix: string;
  /** First three octets of the private /24 (the node side): the router is .1, the node .11. */
  privateSubnet: string;
  /** First three octets of the public /24: the router's public address is .1, the phone .50. */
  publicSubnet: string;
  /** The node's SIP port and RTP range: the counters separate SIP from RTP by them. */
  sipPort: number;
  rtpPorts: { min: number; max: number };
  /** The test's temp dir (forwarder socket, nft rule files). */
  dir: string;
}

/** Packets counted by nftables on the way through the NAT and at the phone. */
export interface NatCounters {
  /** Phone -> public address, DNATed to the node: SIP and RTP (counted after DNAT, before routing out). */
  sipIn: number;
  rtpIn: number;
  /** Node -> phone, leaving SNATed as the public address. */
  sipOut: number;
  rtpOut: number;
  /** RTP that arrived in the phone's namespace with the public address as its source. */
  phoneRtpIn: number;
  /** Packets the router's forward chain dropped (anything not to or from the node through the NAT). */
  dropped: number;
}

function run(cmd: string, args: readonly string[], input?: string): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, ...(input === undefined ? {} : { input }) });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${String(res.status)}): ${(res.stderr || res.stdout || String(res.error)).trim()}`);
  return res.stdout;
}

export class NatLab {
  readonly lab: NetnsLab;
  private constructor(
    private readonly opts: NatLabOptions,
    lab: NetnsLab,
  ) {
    this.lab = lab;
  }

  /**
   * The namespaces, links, routes and nftables rules; on any failure half way everything created
   * so far is deleted and the error says which command failed (e.g. nft without NAT support).
   */
  static create(opts: NatLabOptions): NatLab {
    requireTool('ip');
    requireTool('nft');
    const lab = NetnsLab.create({ prefix: opts.prefix, subnet: opts.privateSubnet, hosts: [{ role: NAT_NODE, octet: NODE_OCTET }], dir: opts.dir });
    const nat = new NatLab(opts, lab);
    try {
      nat.plumb();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return nat;
  }

  /** The node's bound (private) address. */
  get nodeAddress(): string {
    return this.lab.address(NAT_NODE);
  }

  /** The router's public address: DNATed to the node, and the node's traffic leaves as it. */
  get publicAddress(): string {
    return `${this.opts.publicSubnet}.1`;
  }

  get phoneAddress(): string {
    return `${this.opts.publicSubnet}.${PHONE_OCTET}`;
  }

  /** The router's namespace role (the lab's bridge namespace). */
  get routerRole(): string {
    return this.lab.bridgeRole;
  }

  /** Runs `cmd` in `role`'s namespace as a registered Proc (ended by killAll()). */
  spawn(role: string, name: string, cmd: string, args: readonly string[], cwd?: string): Proc {
    return this.lab.spawn(role, name, cmd, args, cwd);
  }

  /** What `ip route get ADDRESS` says inside `role`'s namespace: the route, or the kernel's refusal. */
  routeFrom(role: string, address: string): { ok: boolean; text: string } {
    const res = spawnSync('ip', ['-n', this.lab.ns(role), 'route', 'get', address], { encoding: 'utf8', timeout: 10_000 });
    return { ok: res.status === 0, text: (res.status === 0 ? res.stdout : res.stderr).trim() };
  }

  /** The router's and the phone's nftables counters now. */
  counters(): NatCounters {
    const router = this.namedCounters(this.routerRole, ROUTER_TABLE);
    const phone = this.namedCounters(NAT_PHONE, PHONE_TABLE);
    const get = (m: Map<string, number>, name: string): number => m.get(name) ?? 0;
    return {
      sipIn: get(router, 'sip_in'),
      rtpIn: get(router, 'rtp_in'),
      sipOut: get(router, 'sip_out'),
      rtpOut: get(router, 'rtp_out'),
      phoneRtpIn: get(phone, 'rtp_from_public'),
      dropped: get(router, 'dropped'),
    };
  }

  /** The router's ruleset as nft prints it (for a failure's message). */
  routerRuleset(): string {
    return run('ip', ['netns', 'exec', this.lab.ns(this.routerRole), 'nft', 'list', 'ruleset']);
  }

  /** Kills what runs in the namespaces and deletes them all (idempotent). */
  destroy(): void {
    this.lab.destroy();
  }

  private plumb(): void {
    const o = this.opts;
    const router = this.lab.ns(this.routerRole);
    const node = this.lab.ns(NAT_NODE);
    const phone = this.lab.addIsolatedNamespace(NAT_PHONE);
    // The public link: router pub0 <-> phone eth0. The phone gets the public /24 and nothing else.
    run('ip', ['-n', router, 'link', 'add', PUBLIC_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', phone]);
    run('ip', ['-n', router, 'addr', 'add', `${this.publicAddress}/24`, 'dev', PUBLIC_IF]);
    run('ip', ['-n', router, 'link', 'set', PUBLIC_IF, 'up']);
    run('ip', ['-n', phone, 'addr', 'add', `${this.phoneAddress}/24`, 'dev', 'eth0']);
    run('ip', ['-n', phone, 'link', 'set', 'eth0', 'up']);
    // The node reaches anything beyond its /24 through the router.
    run('ip', ['-n', node, 'route', 'add', 'default', 'via', `${o.privateSubnet}.1`]);
    // Forwarding is per namespace; the host's own setting is untouched.
    run('ip', ['netns', 'exec', router, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    this.nft(router, 'router.nft', this.routerRules());
    this.nft(phone, 'phone.nft', this.phoneRules());
  }

  private nft(ns: string, file: string, rules: string): void {
    const path = join(this.opts.dir, file);
    writeFileSync(path, rules);
    run('ip', ['netns', 'exec', ns, 'nft', '-f', path]);
  }

  private routerRules(): string {
    const o = this.opts;
    const priv = this.nodeAddress;
    const pub = this.publicAddress;
    const rtp = `${o.rtpPorts.min}-${o.rtpPorts.max}`;
    return `table ip ${ROUTER_TABLE} {
  counter sip_in {}
  counter rtp_in {}
  counter sip_out {}
  counter rtp_out {}
  counter dropped {}
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "${PUBLIC_IF}" ip daddr ${pub} dnat to ${priv}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${PUBLIC_IF}" ip saddr ${priv} snat to ${pub}
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "${PUBLIC_IF}" ip daddr ${priv} udp dport ${o.sipPort} counter name sip_in accept
    iifname "${PUBLIC_IF}" ip daddr ${priv} udp dport ${rtp} counter name rtp_in accept
    iifname "${PUBLIC_IF}" ip daddr ${priv} accept
    oifname "${PUBLIC_IF}" ip saddr ${priv} udp sport ${o.sipPort} counter name sip_out accept
    oifname "${PUBLIC_IF}" ip saddr ${priv} udp sport ${rtp} counter name rtp_out accept
    oifname "${PUBLIC_IF}" ip saddr ${priv} accept
    counter name dropped drop
  }
}
`;
  }

  private phoneRules(): string {
    const o = this.opts;
    return `table ip ${PHONE_TABLE} {
  counter rtp_from_public {}
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr ${this.publicAddress} udp sport ${o.rtpPorts.min}-${o.rtpPorts.max} counter name rtp_from_public
  }
}
`;
  }

  private namedCounters(role: string, table: string): Map<string, number> {
    const out = run('ip', ['netns', 'exec', this.lab.ns(role), 'nft', '-j', 'list', 'counters', 'table', 'ip', table]);
    const parsed = JSON.parse(out) as { nftables?: Array<{ counter?: { name?: unknown; packets?: unknown } }> };
    const m = new Map<string, number>();
    for (const item of parsed.nftables ?? []) {
      const c = item.counter;
      if (c && typeof c.name === 'string' && typeof c.packets === 'number') m.set(c.name, c.packets);
    }
    return m;
  }
}
