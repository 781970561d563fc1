/**
 * The runner's handle on one load-generator child process: forks generator.js, sends it
 * commands and awaits the matching reply with a timeout. Must never leave the child running:
 * stop() asks it to exit, then kills it by PID.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { GeneratorWindow, ToGenerator, ToRunner } from './protocol';

type Reply<K extends ToRunner['op']> = Extract<ToRunner, { op: K }>;

export class GeneratorClient {
  private readonly child: ChildProcess;
  private waiting: { op: string; resolve: (m: ToRunner) => void; reject: (e: Error) => void } | undefined;
  private exited = false;
  private stderr = '';
  private gotReady = false;

  constructor(readonly name: string) {
    this.child = fork(join(__dirname, 'generator.js'), [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.child.on('message', (raw: unknown) => this.onMessage(raw as ToRunner));
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      this.waiting?.reject(new Error(`generator ${name} exited (${code ?? signal}): ${this.stderr.slice(-1500)}`));
      this.waiting = undefined;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private onMessage(m: ToRunner): void {
    if (m.op === 'ready') this.gotReady = true;
    const w = this.waiting;
    if (!w) return;
    if (m.op === 'error') {
      this.waiting = undefined;
      w.reject(new Error(`generator ${this.name}: ${m.message}`));
    } else if (m.op === w.op) {
      this.waiting = undefined;
      w.resolve(m);
    }
  }

  /** Sends `cmd` (if any) and waits for a reply of kind `op`. One request at a time. */
  request<K extends ToRunner['op']>(cmd: ToGenerator | undefined, op: K, timeoutMs: number): Promise<Reply<K>> {
    if (this.exited) return Promise.reject(new Error(`generator ${this.name} is not running`));
    if (this.waiting) return Promise.reject(new Error(`generator ${this.name} is busy with ${this.waiting.op}`));
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`generator ${this.name}: no '${op}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        op,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Reply<K>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (cmd) this.child.send(cmd);
    });
  }

  async ready(): Promise<void> {
    if (!this.gotReady) await this.request(undefined, 'ready', 15_000);
  }

  async window(): Promise<GeneratorWindow> {
    return (await this.request({ op: 'window-stop' }, 'window', 30_000)).result;
  }

  /** Asks the child to exit; kills it by PID if it has not after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ op: 'exit' });
    } catch {
      // IPC already closed
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
