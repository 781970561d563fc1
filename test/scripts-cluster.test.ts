/**
 * `scripts/cluster CONFIG` as an operator runs it (DESIGN.md section 7, issue 10 Deliver 6): real
 * etcd and node processes on loopback, stopped by SIGTERM; bad input exits 2. Every PID the script
 * reports is checked and, if a test fails half way, killed in afterAll (by PID, never by name).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../src/node/config';
import { SEED_GLOBAL_CAPACITIES, SEED_GLOBAL_OVERFLOW, SEED_USA_CAPACITIES, SEED_USA_LOCATION } from '../src/node/placement';
import { makeTempDir } from './helpers/config';
import { REPO_ROOT } from './helpers/node-process';
import { freePortRange, freePorts } from './helpers/ports';
import { Proc, killAll, waitFor } from './helpers/proc';

jest.setTimeout(120_000);

const SCRIPT = join(REPO_ROOT, 'scripts', 'cluster');
const CLUSTER_MJS = join(REPO_ROOT, 'scripts', 'lib', 'cluster.mjs');
// jest's global setup has built dist/; prepare.sh could rebuild it under other tests' feet.
const ENV = { ...process.env, CONFNODE_SKIP_PREPARE: '1' };
const dir = makeTempDir('scripts-cluster');
/** Every PID scripts/cluster said it started, for the afterAll safety net. */
const learned = new Map<number, string>();

interface TestNode {
  name: string;
  sipPort: number;
  httpPort: number;
}

interface TestCluster {
  path: string;
  etcdEndpoint: string;
  nodes: TestNode[];
}

/** A two-node config on free ports with its etcd endpoint on a free loopback port. */
async function writeTwoNodeConfig(file: string, opts: { capacityOfFirst?: number } = {}): Promise<TestCluster> {
  const [etcdPort, ...p] = (await freePorts(7)) as [number, number, number, number, number, number, number];
  const nodes: TestNode[] = [
    { name: 'cA', sipPort: p[0] ?? 0, httpPort: p[1] ?? 0 },
    { name: 'cB', sipPort: p[3] ?? 0, httpPort: p[4] ?? 0 },
  ];
  const controls = [p[2], p[5]];
  const lines: string[] = [];
  for (const [i, n] of nodes.entries()) {
    const rtp = await freePortRange(100);
    const capacity = i === 0 ? (opts.capacityOfFirst ?? 10) : 10;
    lines.push(
      `  - { name: ${n.name}, location: here, address: 127.0.0.1, sip_port: ${n.sipPort}, http_port: ${n.httpPort}, ` +
        `control_port: ${controls[i]}, rtp_ports: { min: ${rtp.min}, max: ${rtp.max} }, capacity: ${capacity} }`,
    );
  }
  const etcdEndpoint = `http://127.0.0.1:${etcdPort}`;
  const yaml = [
    `cluster: { name: clustertest, secret: "scripts-cluster-test-secret-0123456789", store: { etcd: { endpoints: ['${etcdEndpoint}'] } } }`,
    'locations: [ { name: here } ]',
    'nodes:',
    ...lines,
    'media: { workers: 1 }',
    'vmrs: [ { name: room, aliases: [room.one, room.one@example.com] } ]',
    '',
  ].join('\n');
  const path = join(dir, file);
  writeFileSync(path, yaml);
  return { path, etcdEndpoint, nodes };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `started pids: etcd=1 cA=2` -> name -> pid, also remembered for afterAll. */
async function startedPids(proc: Proc): Promise<Map<string, number>> {
  const line = await waitFor(
    'the "started pids:" line',
    () => {
      const m = /^started pids: (.*)$/m.exec(proc.stdout);
      if (m === null && proc.exit) throw new Error(`scripts/cluster exited: ${JSON.stringify(proc.exit)}\n${proc.tail()}`);
      return m?.[1];
    },
    40_000,
  );
  const pids = new Map<string, number>();
  for (const m of line.matchAll(/(\S+)=(\d+)/g)) {
    pids.set(m[1] ?? '', Number(m[2]));
    learned.set(Number(m[2]), m[1] ?? '');
  }
  return pids;
}

function printedTempDir(proc: Proc): string {
  const m = /^temp dir: (\S+)/m.exec(proc.stdout);
  if (m?.[1] === undefined) throw new Error(`no "temp dir:" line\n${proc.tail()}`);
  return m[1];
}

async function healthz(node: TestNode): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return res?.status;
}

afterAll(async () => {
  for (const [pid, name] of learned) {
    // Guard against PID reuse: only a process that still looks like what the script started.
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    if (isAlive(pid) && (cmdline.includes('etcd') || cmdline.includes(`--node\0${name}`))) process.kill(pid, 'SIGKILL');
  }
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('scripts/cluster CONFIG', () => {
  it('DESIGN 7: starts etcd on the loopback endpoint and every node, prints SIP URI and page per node; a node that dies is reported while the other runs on; SIGTERM stops all it started (exit 0, no PID left, temp dir gone)', async () => {
    const cfg = await writeTwoNodeConfig('two-nodes.yaml');
    const proc = new Proc('scripts/cluster', SCRIPT, [cfg.path], { cwd: REPO_ROOT, env: ENV });
    const pids = await startedPids(proc);
    expect([...pids.keys()].sort()).toEqual(['cA', 'cB', 'etcd']);
    const tempDir = printedTempDir(proc);
    expect(existsSync(tempDir)).toBe(true);

    await waitFor(
      'both nodes healthy and the ready lines printed',
      async () => {
        if (proc.exit) throw new Error(`scripts/cluster exited: ${JSON.stringify(proc.exit)}\n${proc.tail()}`);
        const statuses = await Promise.all(cfg.nodes.map(healthz));
        return statuses.every((s) => s === 200) && proc.stdout.includes('Ctrl-C stops everything') ? true : undefined;
      },
      60_000,
      200,
    );
    for (const n of cfg.nodes) {
      expect(proc.stdout).toContain(`${n.name} (here): sip:room.one@127.0.0.1:${n.sipPort}  page http://127.0.0.1:${n.httpPort}/\n`);
    }
    const etcdHealth = (await (await fetch(`${cfg.etcdEndpoint}/health`)).json()) as { health?: string };
    expect(etcdHealth.health).toBe('true');

    // A node that dies while running: reported with its last lines, the other keeps serving.
    const pidB = pids.get('cB') ?? 0;
    process.kill(pidB, 'SIGKILL');
    await waitFor('the report of cB', () => (proc.stderr.includes('still running: cA') ? true : undefined), 10_000);
    expect(proc.stderr).toContain(`cB (pid ${pidB}) exited on its own (killed by SIGKILL)`);
    expect(proc.stderr).toContain('last log lines of cB:');
    expect(await healthz(cfg.nodes[0] as TestNode)).toBe(200);
    expect(proc.exit).toBeUndefined();

    proc.kill('SIGTERM');
    const exit = await proc.wait(20_000);
    expect({ exit, tail: exit.code === 0 ? '' : proc.tail() }).toEqual({ exit: { code: 0, signal: null }, tail: '' });
    const left = [...pids].filter(([, pid]) => isAlive(pid));
    expect(left).toEqual([]);
    expect(existsSync(tempDir)).toBe(false);
  });

  it('DESIGN 7: no CONFIG, or a CONFIG file that does not exist, prints the usage on stderr and exits 2', async () => {
    for (const args of [[], [join(dir, 'missing.yaml')]]) {
      const proc = new Proc('scripts/cluster (bad args)', SCRIPT, args, { cwd: REPO_ROOT, env: ENV });
      const exit = await proc.wait(15_000);
      expect(exit.code).toBe(2);
      expect(proc.stderr).toContain('usage: scripts/cluster CONFIG');
      expect(proc.stdout).not.toContain('started pids');
    }
  });

  it("DESIGN 7: a config the node refuses shows the node's 'config error', stops etcd and the nodes and exits 2", async () => {
    const cfg = await writeTwoNodeConfig('refused.yaml', { capacityOfFirst: 0 });
    const proc = new Proc('scripts/cluster (config error)', SCRIPT, [cfg.path], { cwd: REPO_ROOT, env: ENV });
    const pids = await startedPids(proc);
    const tempDir = printedTempDir(proc);
    const exit = await proc.wait(30_000);
    expect({ code: exit.code, tail: exit.code === 2 ? '' : proc.tail() }).toEqual({ code: 2, tail: '' });
    expect(proc.stderr).toContain('config error: nodes[0].capacity');
    expect([...pids].filter(([, pid]) => isAlive(pid))).toEqual([]);
    expect(existsSync(tempDir)).toBe(false);
  });

  it('DESIGN 7: a loopback etcd endpoint without etcd installed says which package provides it, starts nothing and fails', async () => {
    const cfg = await writeTwoNodeConfig('no-etcd.yaml');
    // PATH without etcd; node itself is called by its absolute path.
    const env = { ...ENV, PATH: join(dir, 'empty-path') };
    const proc = new Proc('scripts/cluster (no etcd)', process.execPath, [CLUSTER_MJS, cfg.path], { cwd: REPO_ROOT, env });
    const exit = await proc.wait(15_000);
    expect(exit.code).toBe(1);
    expect(proc.stderr).toContain('etcd is not installed (Debian package etcd-server)');
    expect(proc.stdout).not.toContain('started pids');
  });
});

describe('examples/usa.yaml', () => {
  it("DESIGN 7 / R2-R4: is a valid config of the seed's USA example with the placement tests' capacities", () => {
    const config = loadConfigFile(join(REPO_ROOT, 'examples', 'usa.yaml'));
    expect(config.cluster.name).toBe('usa');
    expect(config.cluster.secret.length).toBeGreaterThanOrEqual(32);
    expect(config.cluster.store).toEqual({ etcd: { endpoints: ['http://127.0.0.1:23790'], prefix: '/confnode/v1/' } });
    expect(config.locations.map((l) => l.name)).toEqual([SEED_USA_LOCATION]);
    expect(Object.fromEntries(config.nodes.map((n) => [n.name, n.capacity]))).toEqual(SEED_USA_CAPACITIES);
    expect(config.nodes.every((n) => n.location === SEED_USA_LOCATION && n.address === '127.0.0.1')).toBe(true);
    expect(config.capacity_costs).toEqual({ video: 1, audio: 0.25, backplane: 1 });
    expect(config.media.workers).toBe(1);
    expect(config.vmrs.map((v) => v.aliases)).toEqual([['meet.alice', 'meet.alice@example.com']]);
  });
});

describe('examples/global.yaml', () => {
  it("DESIGN 7 / R6: is a valid config of the seed's global example with the placement tests' capacities and overflow table", () => {
    const config = loadConfigFile(join(REPO_ROOT, 'examples', 'global.yaml'));
    expect(config.cluster.name).toBe('global');
    expect(config.cluster.store).toEqual({ etcd: { endpoints: ['http://127.0.0.1:23791'], prefix: '/confnode/v1/' } });
    const byLocation: Record<string, Record<string, number>> = {};
    for (const n of config.nodes) byLocation[n.location] = { ...byLocation[n.location], [n.name]: n.capacity };
    expect(byLocation).toEqual(SEED_GLOBAL_CAPACITIES);
    const overflow = Object.fromEntries(config.locations.filter((l) => l.overflow).map((l) => [l.name, l.overflow]));
    expect(overflow).toEqual(SEED_GLOBAL_OVERFLOW);
    expect(config.capacity_costs).toEqual({ video: 1, audio: 0.25, backplane: 1 });
    expect(config.wan_sim).toEqual([]);
    expect(config.vmrs.map((v) => v.aliases)).toEqual([['meet.alice', 'meet.alice@example.com']]);
    // No two nodes (nor usa.yaml's) share a port: both examples can run at once.
    const usa = loadConfigFile(join(REPO_ROOT, 'examples', 'usa.yaml'));
    const ports = [...config.nodes, ...usa.nodes].flatMap((n) => [n.sip_port, n.http_port, n.control_port]);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('examples/docker.yaml and the Dockerfile', () => {
  it('issue 12 item 4: the container example is a valid config, and the image exposes its ports and checks /healthz', () => {
    const config = loadConfigFile(join(REPO_ROOT, 'examples', 'docker.yaml'));
    const n = config.nodes[0];
    expect(n?.ice_ports).toEqual({ min: 50000, max: 50199 });
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/) ?? [];
    for (const p of [`${n?.sip_port}/udp`, `${n?.sip_port}/tcp`, `${n?.http_port}/tcp`, `${n?.control_port}/tcp`, `${n?.rtp_ports.min}-${n?.rtp_ports.max}/udp`, `${n?.ice_ports?.min}-${n?.ice_ports?.max}/udp`]) {
      expect(exposed).toContain(p);
    }
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toContain('ENV CONFNODE_HEALTH_URL=http://127.0.0.1:8080/healthz');
    expect(readFileSync(join(REPO_ROOT, 'examples', 'docker-compose.yml'), 'utf8')).toContain('/etc/confnode/docker.yaml');
  });
});
