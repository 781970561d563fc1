"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Proc = void 0;
exports.killAll = killAll;
exports.sleep = sleep;
exports.waitFor = waitFor;
/**
 * Child processes for integration tests: spawn with captured output, wait for exit with a bound,
 * kill by PID (the process group we created, never by name). Every process started here is
 * registered so `killAll()` in afterAll ends it even when a test failed half way.
 */
const node_child_process_1 = require("node:child_process");
const KEEP_CHARS = 64 * 1024;
class Proc {
    child;
    name;
    out = '';
    err = '';
    exitInfo;
    exited;
    lineListeners = [];
    partial = '';
    constructor(name, cmd, args, opts = {}) {
        this.name = name;
        // detached: its own process group, so kill(-pid) also ends its children (e.g. unshare'd bash).
        this.child = (0, node_child_process_1.spawn)(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...opts });
        this.exited = new Promise((resolve) => {
            this.child.once('exit', (code, signal) => {
                this.exitInfo = { code, signal };
                registry.delete(this);
                resolve(this.exitInfo);
            });
            this.child.once('error', (e) => {
                this.err += `\nspawn error: ${e.message}`;
                this.exitInfo = { code: -1, signal: null };
                registry.delete(this);
                resolve(this.exitInfo);
            });
        });
        this.child.stdout?.setEncoding('utf8');
        this.child.stderr?.setEncoding('utf8');
        this.child.stdout?.on('data', (d) => this.onStdout(d));
        this.child.stderr?.on('data', (d) => {
            this.err = (this.err + d).slice(-KEEP_CHARS);
        });
        registry.add(this);
    }
    get pid() {
        return this.child.pid;
    }
    get stdout() {
        return this.out;
    }
    get stderr() {
        return this.err;
    }
    get exit() {
        return this.exitInfo;
    }
    /** Last `chars` characters of stdout and stderr, for assertion messages. */
    tail(chars = 3000) {
        return `--- ${this.name} stdout (tail) ---\n${this.out.slice(-chars)}\n` +
            `--- ${this.name} stderr (tail) ---\n${this.err.slice(-chars)}`;
    }
    /** Calls `fn` for every complete stdout line from now on. */
    onLine(fn) {
        this.lineListeners.push(fn);
    }
    write(text) {
        this.child.stdin?.write(text);
    }
    /** Resolves with the exit status; rejects after `timeoutMs` (the process is then killed). */
    async wait(timeoutMs) {
        let timer;
        const timeout = new Promise((_resolve, reject) => {
            timer = setTimeout(() => {
                this.kill('SIGKILL');
                reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.tail()}`));
            }, timeoutMs);
        });
        try {
            return await Promise.race([this.exited, timeout]);
        }
        finally {
            if (timer)
                clearTimeout(timer);
        }
    }
    /** Sends `signal` to the process group we created (only if it is still running). */
    kill(signal = 'SIGTERM') {
        const pid = this.child.pid;
        if (pid === undefined || this.exitInfo)
            return;
        try {
            process.kill(-pid, signal);
        }
        catch {
            try {
                process.kill(pid, signal);
            }
            catch {
                // already gone
            }
        }
    }
    /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
    async stop(graceMs = 3000) {
        if (this.exitInfo)
            return this.exitInfo;
        this.kill('SIGTERM');
        const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
        const info = await this.exited;
        clearTimeout(timer);
        return info;
    }
    onStdout(d) {
        this.out = (this.out + d).slice(-KEEP_CHARS);
        if (this.lineListeners.length === 0)
            return;
        const text = this.partial + d;
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines)
            for (const fn of this.lineListeners)
                fn(line);
    }
}
exports.Proc = Proc;
const registry = new Set();
/** Ends every process still running that this test file started (for afterAll). */
async function killAll() {
    await Promise.all([...registry].map((p) => p.stop(2000)));
}
function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
/** Polls `check` every `intervalMs` until it returns a value (not undefined) or time runs out. */
async function waitFor(what, check, timeoutMs, intervalMs = 100) {
    const deadline = Date.now() + timeoutMs;
    let lastErr;
    while (Date.now() < deadline) {
        try {
            const v = await check();
            if (v !== undefined)
                return v;
        }
        catch (e) {
            lastErr = e;
        }
        await sleep(intervalMs);
    }
    const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}
//# sourceMappingURL=proc.js.map