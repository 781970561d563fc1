"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.GeneratorClient = void 0;
/**
 * The runner's handle on one load-generator child process: forks generator.js, sends it
 * commands and awaits the matching reply with a timeout. Must never leave the child running:
 * stop() asks it to exit, then kills it by PID.
 */
const node_child_process_1 = require("node:child_process");
const node_path_1 = require("node:path");
class GeneratorClient {
    name;
    child;
    waiting;
    exited = false;
    stderr = '';
    gotReady = false;
    constructor(name) {
        this.name = name;
        this.child = (0, node_child_process_1.fork)((0, node_path_1.join)(__dirname, 'generator.js'), [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
        this.child.stderr?.setEncoding('utf8');
        this.child.stderr?.on('data', (d) => {
            this.stderr = (this.stderr + d).slice(-4000);
        });
        this.child.on('message', (raw) => this.onMessage(raw));
        this.child.once('exit', (code, signal) => {
            this.exited = true;
            this.waiting?.reject(new Error(`generator ${name} exited (${code ?? signal}): ${this.stderr.slice(-1500)}`));
            this.waiting = undefined;
        });
    }
    get pid() {
        return this.child.pid;
    }
    onMessage(m) {
        if (m.op === 'ready')
            this.gotReady = true;
        const w = this.waiting;
        if (!w)
            return;
        if (m.op === 'error') {
            this.waiting = undefined;
            w.reject(new Error(`generator ${this.name}: ${m.message}`));
        }
        else if (m.op === w.op) {
            this.waiting = undefined;
            w.resolve(m);
        }
    }
    /** Sends `cmd` (if any) and waits for a reply of kind `op`. One request at a time. */
    request(cmd, op, timeoutMs) {
        if (this.exited)
            return Promise.reject(new Error(`generator ${this.name} is not running`));
        if (this.waiting)
            return Promise.reject(new Error(`generator ${this.name} is busy with ${this.waiting.op}`));
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.waiting = undefined;
                reject(new Error(`generator ${this.name}: no '${op}' within ${timeoutMs} ms`));
            }, timeoutMs);
            this.waiting = {
                op,
                resolve: (m) => {
                    clearTimeout(timer);
                    resolve(m);
                },
                reject: (e) => {
                    clearTimeout(timer);
                    reject(e);
                },
            };
            if (cmd)
                this.child.send(cmd);
        });
    }
    async ready() {
        if (!this.gotReady)
            await this.request(undefined, 'ready', 15_000);
    }
    async window() {
        return (await this.request({ op: 'window-stop' }, 'window', 30_000)).result;
    }
    /** Asks the child to exit; kills it by PID if it has not after `graceMs`. */
    async stop(graceMs = 3000) {
        if (this.exited)
            return;
        const gone = new Promise((resolve) => this.child.once('exit', () => resolve()));
        try {
            this.child.send({ op: 'exit' });
        }
        catch {
            // IPC already closed
        }
        const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
    }
}
exports.GeneratorClient = GeneratorClient;
//# sourceMappingURL=generator-client.js.map