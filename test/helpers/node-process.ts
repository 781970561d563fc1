/**
 * Runs one confnode process (`node dist/node/main.js --config FILE --node NAME`) for a test:
 * waits for GET /healthz, reads the admin API, stops it with SIGTERM (graceful) or SIGKILL.
 * Must never leave the process behind: it is a registered Proc, ended by killAll().
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig } from './config';
import { Proc, waitFor } from './proc';

export const REPO_ROOT = join(__dirname, '..', '..');
export const NODE_MAIN = join(REPO_ROOT, 'dist', 'node', 'main.js');

/** The fields of GET /api/v1/participants the tests rely on. */
export interface ParticipantView {
  id: string;
  conference: string;
  protocol: string;
  audioCodec?: string;
  packetsIn: number;
  packetsOut: number;
  packetsDropped?: number;
  currentSpeaker?: boolean;
  role?: string;
  onHold?: boolean;
  remote?: { transport: string; address: string; port: number };
  displayName?: string;
  signalingNode?: string;
  mediaNode?: string;
  placementReason?: string;
}

export interface ConferenceView {
  name: string;
  mediaNodes?: string[];
  participants: number;
}

export class NodeUnderTest {
  readonly proc: Proc;
  readonly config: NodeConfig;

  private constructor(config: NodeConfig, env: NodeJS.ProcessEnv | undefined) {
    this.config = config;
    if (!existsSync(NODE_MAIN)) {
      throw new Error(`${NODE_MAIN} is missing: the integration global setup should have built it`);
    }
    this.proc = new Proc(
      `node ${config.nodeName}`,
      process.execPath,
      [...(process.env.CONFNODE_TEST_NODE_FLAGS ?? '').split(' ').filter(Boolean), NODE_MAIN, '--config', config.path, '--node', config.nodeName],
      { cwd: REPO_ROOT, ...(env ? { env: { ...process.env, ...env } } : {}) },
    );
  }

  /** Starts the node and resolves once /healthz answers 200 (fails with its log otherwise); `env` adds variables. */
  static async start(config: NodeConfig, timeoutMs = 15000, env?: NodeJS.ProcessEnv): Promise<NodeUnderTest> {
    const n = new NodeUnderTest(config, env);
    try {
      await waitFor(
        `${config.nodeName} /healthz`,
        async () => {
          if (n.proc.exit) throw new Error(`node exited early: ${JSON.stringify(n.proc.exit)}`);
          const res = await fetch(`${n.baseUrl}/healthz`);
          return res.status === 200 ? true : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (e) {
      await n.proc.stop(1000);
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${n.proc.tail()}`);
    }
    return n;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.config.httpPort}`;
  }

  get sipTarget(): string {
    return `127.0.0.1:${this.config.sipPort}`;
  }

  get alive(): boolean {
    return this.proc.exit === undefined;
  }

  async getJson<T>(path: string): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(3000) });
    if (res.status !== 200) throw new Error(`GET ${path} -> ${res.status}`);
    return (await res.json()) as T;
  }

  async participants(): Promise<ParticipantView[]> {
    return this.getJson<ParticipantView[]>('/api/v1/participants');
  }

  async participantsOf(conference: string): Promise<ParticipantView[]> {
    return (await this.participants()).filter((p) => p.conference === conference);
  }

  async conferences(): Promise<ConferenceView[]> {
    return this.getJson<ConferenceView[]>('/api/v1/conferences');
  }

  async deleteConference(name: string): Promise<number> {
    const res = await fetch(`${this.baseUrl}/api/v1/conferences/${encodeURIComponent(name)}`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(3000),
    });
    return res.status;
  }

  /** SIGTERM and wait (graceful: the node BYEs every call, then exits 0). */
  async terminate(timeoutMs = 10000): Promise<{ code: number | null; signal: string | null }> {
    this.proc.kill('SIGTERM');
    return this.proc.wait(timeoutMs);
  }

  async stop(): Promise<void> {
    await this.proc.stop(3000);
  }
}

