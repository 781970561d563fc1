// The body of `scripts/cluster CONFIG`: starts etcd (when CONFIG names one on this machine's
// loopback) and every node of CONFIG as its own process, then stops all of it on Ctrl-C/SIGTERM.
// It must never signal a process it did not start (only the PIDs it spawned) and never validate
// the config itself: the node does (`config error: ...`, exit 2) and this script stops everything.
/* global process, fetch, AbortSignal */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { request as httpsRequest } from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL, fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE_MAIN = path.join(ROOT, 'dist', 'node', 'main.js');
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
// Bounds: a node's first start loads codecs and worker threads; a node's own shutdown gives up
// after 10 s, so 15 s covers a slow BYE round; etcd stops in well under a second when healthy.
const ETCD_READY_MS = 20_000;
const NODE_READY_MS = 60_000;
const NODE_STOP_MS = 15_000;
const ETCD_STOP_MS = 5_000;
const TAIL_LINES = 20;

const USAGE = `usage: scripts/cluster CONFIG [--log-level LEVEL]
  Runs every node of the cluster config CONFIG (YAML) on this machine, each as its own process
  (node dist/node/main.js --config CONFIG --node NAME). When cluster.store names an etcd endpoint
  on 127.0.0.1 or localhost, it first starts one etcd there (data in a temp dir removed at exit;
  the Debian package etcd-server provides it); other endpoints are used as they are.
  Every node's output (JSON log lines) is shown here prefixed with its name: [USConf01] ...
  Once every node answers GET /healthz, one line per node gives its SIP URI and page URL.
  Ctrl-C or SIGTERM stops everything it started (SIGTERM to each node, SIGKILL after 15 s).
  --log-level LEVEL   trace|debug|info|warn|error for every node (overrides the config)
  CONFNODE_SKIP_PREPARE=1   skip scripts/lib/prepare.sh (dist/ is already built, e.g. by jest)
  exit status: 0 after Ctrl-C/SIGTERM, 2 usage or config error, 1 anything else`;

/** Every process this script started, so shutdown (and the exit safety net) reaches each one. */
const children = [];
let tempDir;
let stopping;

function say(msg) {
  process.stdout.write(`${msg}\n`);
}

function complain(msg) {
  process.stderr.write(`scripts/cluster: ${msg}\n`);
}

/** `CONFIG [--log-level L]` -> { configPath, logLevel } | { help } | { error }. */
function parseArgs(argv) {
  let configPath;
  let logLevel;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '--log-level' || arg.startsWith('--log-level=')) {
      logLevel = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!LOG_LEVELS.includes(logLevel)) return { error: `--log-level must be one of ${LOG_LEVELS.join('|')}` };
    } else if (arg.startsWith('-')) {
      return { error: `unknown option '${arg}'` };
    } else if (configPath === undefined) {
      configPath = arg;
    } else {
      return { error: `unexpected argument '${arg}'` };
    }
  }
  if (configPath === undefined) return { error: 'CONFIG is missing' };
  if (!fs.statSync(configPath, { throwIfNoEntry: false })?.isFile()) return { error: `no such config file: ${configPath}` };
  return { configPath: path.resolve(configPath), logLevel };
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Only what this script needs from CONFIG (node names and addresses, the first alias, the etcd
 * endpoints); undefined when even that is unreadable, and then the node explains why.
 */
function readPlan(doc) {
  if (!isObject(doc) || !Array.isArray(doc.nodes) || doc.nodes.length === 0) return undefined;
  const nodes = [];
  for (const n of doc.nodes) {
    if (!isObject(n) || typeof n.name !== 'string' || typeof n.address !== 'string') return undefined;
    if (!Number.isInteger(n.sip_port) || !Number.isInteger(n.http_port)) return undefined;
    const host = n.address.includes(':') ? `[${n.address}]` : n.address;
    // A node with a certificate serves its page, API and /ws over HTTPS (nodes[].tls).
    const scheme = isObject(n.tls) ? 'https' : 'http';
    nodes.push({ name: n.name, location: String(n.location ?? '?'), host, sipPort: n.sip_port, httpPort: n.http_port, scheme });
  }
  const firstAlias = Array.isArray(doc.vmrs) && isObject(doc.vmrs[0]) && Array.isArray(doc.vmrs[0].aliases) ? doc.vmrs[0].aliases[0] : undefined;
  const store = isObject(doc.cluster) ? doc.cluster.store : undefined;
  const endpoints = isObject(store) && isObject(store.etcd) && Array.isArray(store.etcd.endpoints) ? store.etcd.endpoints : [];
  if (!endpoints.every((e) => typeof e === 'string')) return undefined;
  return { nodes, alias: typeof firstAlias === 'string' ? firstAlias.split('@')[0] : undefined, etcdEndpoints: endpoints };
}

function isLoopbackHost(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (net.isIPv4(h) && h.startsWith('127.'));
}

/** The client URLs a local etcd must serve: the loopback endpoints, localhost as 127.0.0.1. */
function localEtcdUrls(endpoints) {
  const urls = new Set();
  for (const e of endpoints) {
    let u;
    try {
      u = new URL(e);
    } catch {
      continue; // the node refuses it with a message naming the key
    }
    if (!isLoopbackHost(u.hostname)) continue;
    if (u.protocol !== 'http:') throw new Error(`${e}: scripts/cluster starts etcd only for http:// endpoints (TLS needs your own etcd on a non-loopback address)`);
    if (u.port === '') throw new Error(`${e}: give the port of the etcd to start, e.g. http://127.0.0.1:2379`);
    const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname;
    urls.add(`http://${host}:${u.port}`);
  }
  return [...urls];
}

/** Absolute path of `tool` on PATH (no shell: PATH alone decides), or undefined. */
function findOnPath(tool) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(dir, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function listenable(host, port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host.replace(/^\[|\]$/g, ''), () => srv.close(() => resolve(true)));
  });
}

function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function getOk(url, wantJsonHealth) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    if (res.status !== 200) return false;
    if (!wantJsonHealth) return true;
    const body = await res.json();
    return isObject(body) && body.health === 'true';
  } catch {
    return false;
  }
}

/**
 * GET /healthz of a node over HTTPS answers 200. The certificate is not checked: this only asks
 * whether our own child process is up (a development certificate is self-signed).
 */
function httpsHealthy(host, port) {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: host.replace(/^\[|\]$/g, ''), port, path: '/healthz', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

function nodeHealthy(node) {
  return node.scheme === 'https' ? httpsHealthy(node.host, node.httpPort) : getOk(`http://${node.host}:${node.httpPort}/healthz`, false);
}

function pipeLines(stream, out, child) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    child.tail.push(line);
    if (child.tail.length > TAIL_LINES) child.tail.shift();
    out.write(`[${child.name}] ${line}\n`);
  });
}

/** Spawns in its own process group, so a terminal's Ctrl-C reaches only us and we stop it in order. */
function startChild(name, cmd, args, env = process.env) {
  const proc = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = { name, pid: proc.pid, tail: [], exit: undefined };
  child.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => resolve((child.exit = { code, signal })));
    proc.once('error', (err) => resolve((child.exit ??= { code: -1, signal: null, error: err.message })));
  });
  pipeLines(proc.stdout, process.stdout, child);
  pipeLines(proc.stderr, process.stderr, child);
  children.push(child);
  return child;
}

/** Signals one child by the PID we spawned; never a group, never a name. */
function signalChild(child, sig) {
  if (child.exit !== undefined || child.pid === undefined) return;
  try {
    process.kill(child.pid, sig);
  } catch {
    // already gone
  }
}

async function stopChild(child, graceMs) {
  signalChild(child, 'SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (done) return;
  complain(`${child.name} (pid ${child.pid}) did not stop within ${graceMs / 1000} s: SIGKILL`);
  signalChild(child, 'SIGKILL');
  await Promise.race([child.exited, sleep(2000)]);
}

function describeExit(exit) {
  if (exit.error !== undefined) return `could not start: ${exit.error}`;
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function printTail(child) {
  complain(`last log lines of ${child.name}:`);
  for (const line of child.tail) process.stderr.write(`  ${line}\n`);
}

function removeTempDir() {
  if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}

/** Stops the nodes first (they may still use etcd while they hang up), then etcd; exits `code`. */
function shutdown(code, why) {
  if (stopping !== undefined) return stopping;
  stopping = (async () => {
    const nodes = children.filter((c) => c.isNode);
    const etcd = children.filter((c) => !c.isNode);
    const running = [...nodes, ...etcd].filter((c) => c.exit === undefined).map((c) => c.name);
    say(`${why}: stopping ${running.length > 0 ? running.join(', ') : 'nothing left running'}`);
    await Promise.all(nodes.map((c) => stopChild(c, NODE_STOP_MS)));
    await Promise.all(etcd.map((c) => stopChild(c, ETCD_STOP_MS)));
    removeTempDir();
    say('stopped');
    process.exit(code);
  })();
  return stopping;
}

function onSignal(sig) {
  if (stopping === undefined) {
    void shutdown(0, sig);
    return;
  }
  // A second Ctrl-C: the operator does not want to wait for the graceful hang-up.
  complain(`second ${sig}: SIGKILL to everything still running`);
  for (const c of children) signalChild(c, 'SIGKILL');
}

/** Runs prepare.sh like scripts/start does (its output on stderr); false when it failed. */
function prepare() {
  if (process.env.CONFNODE_SKIP_PREPARE === '1') return true;
  const r = spawnSync(path.join(ROOT, 'scripts', 'lib', 'prepare.sh'), [], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  return r.status === 0;
}

/** The plan could not be read: one node process says what is wrong with CONFIG (exit 2). */
function letNodeExplain(configPath, doc) {
  const first = isObject(doc) && Array.isArray(doc.nodes) && isObject(doc.nodes[0]) ? doc.nodes[0].name : undefined;
  const r = spawnSync(process.execPath, [NODE_MAIN, '--config', configPath, '--node', typeof first === 'string' ? first : 'unknown'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  process.stderr.write(r.stderr ?? '');
  complain(`cannot start the nodes of ${configPath} (see above)`);
  process.exit(2);
}

async function loadPlan(configPath) {
  const { parse } = await import('yaml');
  let doc;
  try {
    doc = parse(fs.readFileSync(configPath, 'utf8'));
  } catch {
    doc = undefined;
  }
  const plan = readPlan(doc);
  if (plan === undefined) letNodeExplain(configPath, doc);
  return plan;
}

/** Starts one etcd serving `urls`; resolves once GET /health says true, or exits the script. */
async function startEtcd(binary, urls) {
  for (const url of urls) {
    const u = new URL(url);
    if (!(await listenable(u.hostname, Number(u.port)))) {
      complain(`cannot start etcd: ${u.host} is already in use (an etcd left running? stop it, or change cluster.store.etcd.endpoints)`);
      return shutdown(1, 'etcd port busy');
    }
  }
  const peer = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const dataDir = path.join(tempDir, 'etcd');
  // etcd also reads ETCD_* variables and refuses ones that a flag here shadows.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const etcd = startChild('etcd', binary, [
    '--name', 'confnode-cluster', '--data-dir', dataDir,
    '--listen-client-urls', urls.join(','), '--advertise-client-urls', urls.join(','),
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `confnode-cluster=${peer}`, '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-level', 'warn',
  ], env);
  const deadline = Date.now() + ETCD_READY_MS;
  while (!(await getOk(`${urls[0]}/health`, true))) {
    if (stopping !== undefined) return stopping;
    if (etcd.exit !== undefined || Date.now() > deadline) {
      complain(etcd.exit !== undefined ? `etcd ${describeExit(etcd.exit)}` : `etcd did not answer ${urls[0]}/health within ${ETCD_READY_MS / 1000} s`);
      printTail(etcd);
      return shutdown(1, 'etcd did not start');
    }
    await sleep(100);
  }
  say(`etcd: ${urls.join(', ')} (pid ${etcd.pid}, data in ${dataDir})`);
  return etcd;
}

function startNodes(plan, configPath, logLevel) {
  for (const n of plan.nodes) {
    const args = [NODE_MAIN, '--config', configPath, '--node', n.name, ...(logLevel !== undefined ? ['--log-level', logLevel] : [])];
    const child = startChild(n.name, process.execPath, args);
    child.isNode = true;
    child.node = n;
  }
  return children.filter((c) => c.isNode);
}

/** Polls every node's /healthz; a node that exits first ends the wait (and the cluster). */
async function waitNodesReady(nodes) {
  const deadline = Date.now() + NODE_READY_MS;
  const pending = new Set(nodes);
  while (pending.size > 0) {
    if (stopping !== undefined) return stopping;
    const gone = nodes.find((c) => c.exit !== undefined);
    if (gone !== undefined) return startupFailed(gone);
    if (Date.now() > deadline) {
      complain(`no answer from GET /healthz within ${NODE_READY_MS / 1000} s: ${[...pending].map((c) => c.name).join(', ')}`);
      return shutdown(1, 'nodes did not start');
    }
    await Promise.all([...pending].map(async (c) => {
      if (await nodeHealthy(c.node)) pending.delete(c);
    }));
    if (pending.size > 0) await sleep(200);
  }
  return undefined;
}

async function startupFailed(child) {
  await sleep(200); // let its last output lines through first
  if (child.exit.code === 2) {
    complain(`${child.name} refused the config (exit 2): stopping everything`);
    return shutdown(2, 'config error');
  }
  complain(`${child.name} ${describeExit(child.exit)} during startup`);
  printTail(child);
  return shutdown(1, 'a node failed to start');
}

/** After startup: a node that exits is reported and the others keep running. */
function watchRunning(nodes) {
  for (const c of children) {
    void c.exited.then(async () => {
      if (stopping !== undefined) return;
      await sleep(200);
      complain(`${c.name} (pid ${c.pid}) exited on its own (${describeExit(c.exit)})`);
      printTail(c);
      const alive = nodes.filter((n) => n.exit === undefined);
      if (alive.length === 0) return shutdown(1, 'no node left running');
      complain(`still running: ${alive.map((n) => n.name).join(', ')}${c.isNode ? '' : ' (without their etcd)'}`);
      return undefined;
    });
  }
}

function printReady(plan) {
  for (const n of plan.nodes) {
    say(`${n.name} (${n.location}): sip:${plan.alias !== undefined ? `${plan.alias}@` : ''}${n.host}:${n.sipPort}  page ${n.scheme}://${n.host}:${n.httpPort}/`);
  }
  say('Ctrl-C stops everything');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) return say(USAGE);
  if (args.error !== undefined) {
    process.stderr.write(`scripts/cluster: ${args.error}\n${USAGE}\n`);
    return process.exit(2);
  }
  if (!prepare()) {
    complain('installing or building failed (scripts/lib/prepare.sh, output above)');
    return process.exit(1);
  }
  const plan = await loadPlan(args.configPath);
  let etcdUrls;
  try {
    etcdUrls = localEtcdUrls(plan.etcdEndpoints);
  } catch (err) {
    complain(`config error: cluster.store.etcd.endpoints: ${err.message}`);
    return process.exit(2);
  }
  const etcdBinary = etcdUrls.length > 0 ? findOnPath('etcd') : undefined;
  if (etcdUrls.length > 0 && etcdBinary === undefined) {
    complain('etcd is not installed (Debian package etcd-server)');
    return process.exit(1);
  }
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confnode-cluster-'));
  say(`temp dir: ${tempDir} (removed at exit)`);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // A closed terminal: stop in order rather than leave the nodes to the exit safety net's SIGKILL.
  process.on('SIGHUP', () => onSignal('SIGHUP'));
  if (etcdUrls.length > 0) await startEtcd(etcdBinary, etcdUrls);
  if (stopping !== undefined) return undefined;
  const nodes = startNodes(plan, args.configPath, args.logLevel);
  say(`started pids: ${children.map((c) => `${c.name}=${c.pid}`).join(' ')}`);
  if ((await waitNodesReady(nodes)) !== undefined || stopping !== undefined) return undefined;
  printReady(plan);
  watchRunning(nodes);
  return undefined;
}

// A closed terminal or pipe must not turn every later line into an uncaught exception.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
// Safety net for a crash of this script: nothing it started may outlive it.
process.on('exit', () => {
  for (const c of children) signalChild(c, 'SIGKILL');
  removeTempDir();
});
process.on('uncaughtException', (err) => {
  complain(`internal error: ${err.stack ?? err.message}`);
  void shutdown(1, 'internal error');
});

void main();
