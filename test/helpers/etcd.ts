/**
 * A real single-member etcd for tests: free 127.0.0.1 ports, a temp data dir, started and ended
 * by PID (`Proc`). A missing binary fails the test (scripts/test installs etcd-server); never a skip.
 * Pausing (SIGSTOP) and restarting on the same data dir let tests see an unreachable store.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts } from './ports';
import { Proc, sleep } from './proc';
import { requireTool } from './tools';

const READY_TIMEOUT_MS = 20_000;

export class EtcdServer {
  private proc: Proc | undefined;
  private paused = false;
  private starts = 0;

  private constructor(
    private readonly binary: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly ownedDir: string | undefined,
  ) {}

  /** Starts etcd on two free ports with a fresh data dir under `parentDir` (a temp dir when omitted). */
  static async start(parentDir?: string): Promise<EtcdServer> {
    // Fails (never skips) with "etcd is not installed: scripts/test should have installed it".
    const binary = requireTool('etcd');
    const ownedDir = parentDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'confnode-etcd-')) : undefined;
    const dataDir = path.join(parentDir ?? ownedDir ?? '', 'etcd-data');
    const [clientPort, peerPort] = await freePorts(2);
    if (clientPort === undefined || peerPort === undefined) throw new Error('no free ports for etcd');
    const server = new EtcdServer(binary, dataDir, clientPort, peerPort, ownedDir);
    await server.restart();
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** (Re)starts etcd on the same ports and data dir; resolves once /health says true. */
  async restart(): Promise<void> {
    if (this.proc && !this.proc.exit) throw new Error('etcd is still running');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.starts++;
    this.proc = new Proc(`etcd#${this.starts}`, this.binary, [
      '--name', 'confnode-test',
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `confnode-test=${peer}`,
      // Ignored once the data dir exists: a restart keeps the member and its data.
      '--initial-cluster-state', 'new',
      // Short raft timers: elections after a restart and the minimum lease TTL (1 s) stay small.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'warn',
    ]);
    this.paused = false;
    await this.waitHealthy();
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      if (this.proc?.exit) throw new Error(`etcd exited at start (${JSON.stringify(this.proc.exit)})\n${this.tail()}`);
      try {
        const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: unknown };
        if (body.health === 'true') return;
        last = JSON.stringify(body);
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await sleep(100);
    }
    throw new Error(`etcd not healthy within ${READY_TIMEOUT_MS} ms (last: ${last})\n${this.tail()}`);
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing (a hung store). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
    this.paused = false;
  }

  /** SIGKILL (after SIGCONT if paused) and wait for the exit; the data dir stays for restart(). */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exit) return;
    proc.kill('SIGKILL');
    if (this.paused) this.resume();
    await proc.wait(10_000);
  }

  /** Stops etcd (if running) and removes its data dir (and the temp dir it made for it). */
  async destroy(): Promise<void> {
    if (this.paused) this.resume();
    await this.proc?.stop(2000);
    fs.rmSync(this.ownedDir ?? this.dataDir, { recursive: true, force: true });
  }

  tail(): string {
    return this.proc?.tail() ?? '(etcd never started)';
  }
}
