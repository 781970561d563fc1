// The body of `scripts/start --tls-self-signed`: makes (or reuses) a self-signed development
// certificate for the node's address(es) with openssl, keeps it in .confnode/dev-cert/ (or
// $CONFNODE_STATE_DIR/dev-cert/), writes a copy of the node's config that names it (nodes[].tls),
// prints the https page URL and the certificate's SHA-256 fingerprint, and hands the node's
// arguments back to scripts/start on file descriptor 3, one per line. It never starts the node
// itself and never touches a config file it was given (the copy is its own).
/* global process */
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const STATE_DIR = process.env.CONFNODE_STATE_DIR ? path.resolve(process.env.CONFNODE_STATE_DIR) : path.join(ROOT, '.confnode');
const CERT_DIR = path.join(STATE_DIR, 'dev-cert');
const FLAG = '--tls-self-signed';
/** Days a new certificate is valid; one that expires within a day is made again. */
const VALID_DAYS = 365;

function complain(msg) {
  process.stderr.write(`scripts/start: ${FLAG}: ${msg}\n`);
}

function fail(msg, code = 2) {
  complain(msg);
  process.exit(code);
}

/** `[--config FILE] [--node NAME] [other node options]` without the flag. */
function parseArgs(argv) {
  const out = { configPath: undefined, nodeName: undefined, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === FLAG) continue;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--config' || flag === '--node') {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') fail(`${flag} needs a value`);
      if (flag === '--config') out.configPath = value;
      else out.nodeName = value;
    } else out.rest.push(arg);
  }
  if (out.configPath !== undefined && out.nodeName === undefined) fail('--config needs --node NAME');
  if (out.nodeName !== undefined && out.configPath === undefined) fail('--node needs --config FILE');
  return out;
}

/** The config as a plain object: the file's (YAML), or the embedded default's input. */
function loadConfigInput(configPath) {
  const require = createRequire(import.meta.url);
  if (configPath === undefined) {
    const { defaultConfigInput } = require(path.join(ROOT, 'dist', 'node', 'config', 'index.js'));
    return defaultConfigInput();
  }
  let text;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    return fail(`cannot read ${configPath}: ${err.code ?? err.message}`);
  }
  const { parseDocument } = require('yaml');
  const doc = parseDocument(text, { uniqueKeys: true });
  // A broken file: the node says what is wrong with it (config error, exit 2).
  if (doc.errors.length > 0) return undefined;
  return doc.toJS({ maxAliasCount: 100 });
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The addresses the certificate must name: the node's own and its public one. */
function certAddresses(node) {
  const out = [];
  for (const a of [node.address, node.public_address]) {
    if (typeof a === 'string' && net.isIP(a) !== 0 && !out.includes(a)) out.push(a);
  }
  return out;
}

function isLoopback(a) {
  return a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
}

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error?.code === 'ENOENT') fail('openssl is not installed (Debian: apt-get install openssl)', 1);
  return r;
}

/** An existing pair is reused when it loads, belongs together and is valid for another day. */
function usable(certFile, keyFile) {
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(fs.readFileSync(certFile));
    if (!cert.checkPrivateKey(createPrivateKey(fs.readFileSync(keyFile)))) return false;
  } catch {
    return false;
  }
  return openssl(['x509', '-in', certFile, '-noout', '-checkend', '86400']).status === 0;
}

/** Makes (or reuses) the certificate for `addresses`; returns its files. */
function ensureCertificate(addresses) {
  const dir = path.join(CERT_DIR, addresses.map((a) => a.replace(/[^0-9A-Za-z.]/g, '-')).join('_'));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (usable(certFile, keyFile)) return { certFile, keyFile, made: false };
  const san = [...addresses.map((a) => `IP:${a}`), ...(addresses.some(isLoopback) ? ['DNS:localhost'] : [])].join(',');
  const r = openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(VALID_DAYS),
    '-subj', '/CN=confnode development certificate',
    '-addext', `subjectAltName=${san}`,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature',
    '-addext', 'extendedKeyUsage=serverAuth',
    '-keyout', keyFile, '-out', certFile,
  ]);
  if (r.status !== 0) fail(`openssl could not make the certificate: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`, 1);
  fs.chmodSync(keyFile, 0o600);
  return { certFile, keyFile, made: true };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const input = loadConfigInput(args.configPath);
  if (input === undefined) return handBack(['--config', args.configPath, '--node', args.nodeName, ...args.rest]);
  const nodes = isObject(input) && Array.isArray(input.nodes) ? input.nodes : [];
  const nodeName = args.nodeName ?? (isObject(nodes[0]) ? nodes[0].name : undefined);
  const index = nodes.findIndex((n) => isObject(n) && n.name === nodeName);
  const node = nodes[index];
  if (!isObject(node)) {
    const known = nodes.filter(isObject).map((n) => String(n.name)).join(', ');
    return fail(`no node named '${String(nodeName)}' in ${args.configPath ?? 'the embedded default'} (known nodes: ${known})`);
  }
  if (node.tls !== undefined) return fail(`nodes[${index}] (${nodeName}) already names a certificate (tls): leave out ${FLAG} or its tls key`);
  if (typeof node.address !== 'string' || net.isIP(node.address) === 0) return fail(`nodes[${index}].address is not an IP literal; the node refuses it too`);
  const addresses = certAddresses(node);

  const { certFile, keyFile, made } = ensureCertificate(addresses);
  node.tls = { cert_file: certFile, key_file: keyFile };
  const configFile = path.join(CERT_DIR, `${nodeName}.config.json`);
  const source = args.configPath !== undefined ? path.resolve(args.configPath) : 'the embedded default';
  // JSON is YAML: the node reads this copy like any config file. It holds the cluster secret.
  fs.writeFileSync(configFile, `${JSON.stringify(input, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(configFile, 0o600);

  const cert = new X509Certificate(fs.readFileSync(certFile));
  const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const host = node.address.includes(':') ? `[${node.address}]` : node.address;
  const alias = Array.isArray(input.vmrs) && isObject(input.vmrs[0]) && Array.isArray(input.vmrs[0].aliases) ? String(input.vmrs[0].aliases[0]).split('@')[0] : undefined;
  const lines = [
    `confnode: ${nodeName} from ${source}, HTTPS and WSS with a development certificate (self-signed)`,
    `  page: https://${host}:${node.http_port}/`,
    ...(alias !== undefined ? [`  SIP: sip:${alias}@${host}:${node.sip_port} (UDP and TCP)`] : []),
    `  certificate: ${certFile} (${made ? 'new' : 'reused'}, for ${addresses.join(', ')}, valid until ${cert.validTo})`,
    `  SHA-256 fingerprint: ${cert.fingerprint256}`,
    `  SPKI SHA-256 (Chromium --ignore-certificate-errors-spki-list): ${spki}`,
    '  Browsers warn about a self-signed certificate: check that it shows this fingerprint, then accept it.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return handBack(['--config', configFile, '--node', nodeName, ...args.rest]);
}

/** The node's arguments to scripts/start, on fd 3, one per line. */
function handBack(nodeArgs) {
  if (nodeArgs.some((a) => a.includes('\n'))) fail('an argument contains a line break');
  try {
    fs.writeSync(3, `${nodeArgs.join('\n')}\n`);
  } catch {
    fail('run me through scripts/start (the node arguments go to file descriptor 3)', 1);
  }
}

main();
