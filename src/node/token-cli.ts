/**
 * `scripts/token`: mints a join token (and the invitation link that carries it) for an operator,
 * from the cluster config's `join_tokens.secret`. Prints JSON {token, url, expires} on stdout;
 * never prints the secret. Parsing and the link are pure; main() alone reads files and the clock.
 */
import { ConfnodeError, errorMessage } from '../common';
import { mintJoinToken, type JoinTokenRole } from './conference/join-token';
import { loadConfigFile, selectNode, type ClusterConfig, type NodeConfig } from './config';

export const TOKEN_USAGE = `usage: scripts/token --config FILE --room VMR --name NAME [--role host|guest] [--ttl SECONDS] [--node NAME] [--base-url URL]
  --config FILE     cluster config with join_tokens.secret
  --room VMR        the VMR's name (vmrs[].name)
  --name NAME       the display name the holder joins with
  --role ROLE       host or guest (default guest); a host token enters as the host PIN would
  --ttl SECONDS     how long the token is valid (default 86400, at most 31 days)
  --node NAME       whose address the link points at (default the config's first node)
  --base-url URL    the page's address when it differs (a reverse proxy), e.g. https://meet.example.com`;

export interface TokenCliOptions {
  configPath: string;
  room: string;
  name: string;
  role: JoinTokenRole;
  ttlS: number;
  nodeName?: string;
  baseUrl?: string;
}

const MAX_TTL_S = 31 * 86_400;

/** Pure: argv -> options, or a ConfnodeError('config') that says what is wrong, with the usage. */
export function parseTokenCli(argv: readonly string[]): TokenCliOptions | 'help' {
  const got = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!['--config', '--room', '--name', '--role', '--ttl', '--node', '--base-url'].includes(flag)) fail(`unknown argument '${arg}'`);
    const value = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) fail(`${flag} needs a value`);
    got.set(flag, value);
  }
  const need = (flag: string): string => got.get(flag) ?? fail(`${flag} is required`);
  const role = got.get('--role') ?? 'guest';
  if (role !== 'host' && role !== 'guest') fail(`--role must be host or guest, not '${role}'`);
  const ttlText = got.get('--ttl') ?? '86400';
  const ttlS = /^\d{1,8}$/.test(ttlText) ? Number(ttlText) : NaN;
  if (!(ttlS >= 60 && ttlS <= MAX_TTL_S)) fail(`--ttl must be 60..${MAX_TTL_S} seconds`);
  const baseUrl = got.get('--base-url');
  if (baseUrl !== undefined && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(baseUrl)) fail('--base-url must be an http:// or https:// URL without query');
  const out: TokenCliOptions = { configPath: need('--config'), room: need('--room'), name: need('--name'), role, ttlS };
  const nodeName = got.get('--node');
  if (nodeName !== undefined) out.nodeName = nodeName;
  if (baseUrl !== undefined) out.baseUrl = baseUrl;
  return out;
}

/** Pure: the invitation link, `<base>/?alias=<the VMR's first alias>&token=<token>`. */
export function invitationUrl(node: NodeConfig, alias: string, token: string, baseUrl?: string): string {
  let base = baseUrl?.replace(/\/+$/, '');
  if (base === undefined) {
    const address = node.public_address ?? node.address;
    const host = address.includes(':') ? `[${address}]` : address;
    base = `${node.tls ? 'https' : 'http'}://${host}:${node.http_port}`;
  }
  return `${base}/?alias=${encodeURIComponent(alias)}&token=${token}`;
}

/** Mints the token for `opts` against `config` at `nowMs`. */
export async function mintInvitation(config: ClusterConfig, opts: TokenCliOptions, nowMs: number): Promise<{ token: string; url: string; expires: string }> {
  if (!config.join_tokens) fail('the config has no join_tokens section (join_tokens: { secret: ... })');
  const vmr = config.vmrs.find((v) => v.name.toLowerCase() === opts.room.toLowerCase());
  if (!vmr) fail(`no VMR named '${opts.room}' (known: ${config.vmrs.map((v) => v.name).join(', ') || 'none'})`);
  const node = selectNode(config, opts.nodeName ?? config.nodes[0]?.name ?? '');
  const token = await mintJoinToken({ secret: config.join_tokens.secret, room: vmr.name, name: opts.name, role: opts.role, ttlS: opts.ttlS, nowMs });
  const alias = vmr.aliases[0] ?? vmr.name;
  return { token, url: invitationUrl(node, alias, token, opts.baseUrl), expires: new Date(Math.floor(nowMs / 1000) * 1000 + opts.ttlS * 1000).toISOString() };
}

function fail(message: string): never {
  throw new ConfnodeError('config', `${message}\n${TOKEN_USAGE}`);
}

async function main(): Promise<void> {
  try {
    const opts = parseTokenCli(process.argv.slice(2));
    if (opts === 'help') {
      process.stdout.write(`${TOKEN_USAGE}\n`);
      return;
    }
    const out = await mintInvitation(loadConfigFile(opts.configPath), opts, Date.now());
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } catch (err) {
    process.stderr.write(`token: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  }
}

if (require.main === module) void main();
