/**
 * Who is the client of an HTTP request: the TCP peer, unless that peer is a configured reverse
 * proxy (`http.trusted_proxies`), in which case the forwarding headers it wrote name the client.
 * Headers from any other peer are ignored: a browser must not pick the address the PIN lockout
 * keys on. Pure: no sockets, no DNS; it never returns an address it could not parse.
 */
import { isIP } from 'node:net';

export interface ClientAddress {
  /** The client's IP literal (IPv6 canonical form, IPv4-mapped IPv6 as plain IPv4). */
  address: string;
  /** The client's port when known: the TCP peer's, or one a `Forwarded: for=` value carried. */
  port: number | undefined;
  /** True when the address came from a trusted proxy's forwarding header. */
  forwarded: boolean;
}

export interface PeerAddress {
  /** As node:http reports it (`req.socket.remoteAddress`). */
  address: string | undefined;
  port: number | undefined;
}

export type HeaderValue = string | string[] | undefined;

/** Forwarding headers longer than this many hops are not walked past (proxies chain a few). */
export const MAX_HOPS = 32;

/** A set of normalised proxy addresses; build it once from the config. */
export class TrustedProxies {
  private readonly set: ReadonlySet<string>;

  constructor(addresses: readonly string[]) {
    this.set = new Set(addresses.map((a) => normalizeIp(a) ?? a));
  }

  get size(): number {
    return this.set.size;
  }

  has(address: string): boolean {
    return this.set.has(normalizeIp(address) ?? address);
  }
}

/**
 * The request's client. When the TCP peer is a trusted proxy, walks the hops of its
 * `X-Forwarded-For` (or, only when there is none, `Forwarded: for=`) from the right: each trusted
 * proxy vouches for the hop before it, and the first hop that is not a trusted proxy is the client
 * (the rightmost untrusted hop: what a client wrote itself further left is never reached). A hop
 * that cannot be parsed (`unknown`, an obfuscated name, garbage) ends the walk at the last
 * trusted address, so a bad header never yields an invented address.
 */
export function clientAddress(peer: PeerAddress, headers: Record<string, HeaderValue>, trusted: TrustedProxies): ClientAddress {
  const peerIp = normalizeIp(peer.address ?? '') ?? peer.address ?? '';
  const direct: ClientAddress = { address: peerIp, port: peer.port, forwarded: false };
  if (trusted.size === 0 || !trusted.has(peerIp)) return direct;
  const hops = forwardedHops(headers);
  if (hops.length === 0) return direct;
  let client: ClientAddress = direct;
  for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
    const hop = hops[i];
    if (hop === undefined || hop === 'invalid') break;
    client = { address: hop.address, port: hop.port, forwarded: true };
    if (!trusted.has(hop.address)) break;
  }
  return client;
}

export interface Hop {
  address: string;
  port: number | undefined;
}

/** The hops the request's forwarding header lists, left (first client) to right (last proxy). */
export function forwardedHops(headers: Record<string, HeaderValue>): Array<Hop | 'invalid'> {
  const xff = joined(headers['x-forwarded-for']);
  if (xff !== undefined) return parseXForwardedFor(xff);
  const fwd = joined(headers.forwarded);
  if (fwd !== undefined) return parseForwarded(fwd);
  return [];
}

/** `X-Forwarded-For: client, proxy1, proxy2`; entries may carry a port (`1.2.3.4:80`, `[::1]:80`). */
export function parseXForwardedFor(value: string): Array<Hop | 'invalid'> {
  return value.split(',').map((part) => parseNode(part.trim()));
}

/**
 * RFC 7239 `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"`: one hop per
 * element, its `for` parameter (quoted or not); an element without `for` is an unknown hop.
 */
export function parseForwarded(value: string): Array<Hop | 'invalid'> {
  const elements = splitOutsideQuotes(value, ',');
  if (elements === undefined) return ['invalid'];
  return elements.map((element) => {
    const pairs = splitOutsideQuotes(element, ';');
    if (pairs === undefined) return 'invalid';
    let forValue: string | undefined;
    for (const pair of pairs) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq < 0) return 'invalid';
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      if (forValue !== undefined) return 'invalid'; // two `for` in one element: ambiguous
      forValue = unquote(pair.slice(eq + 1).trim());
    }
    return forValue === undefined ? 'invalid' : parseNode(forValue);
  });
}

/** `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`; else 'invalid'. */
function parseNode(raw: string): Hop | 'invalid' {
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) return 'invalid';
    const ip = raw.slice(1, close);
    const rest = raw.slice(close + 1);
    if (isIP(ip) !== 6) return 'invalid';
    if (rest === '') return { address: normalizeIp(ip) ?? ip, port: undefined };
    const port = rest.startsWith(':') ? parsePort(rest.slice(1)) : undefined;
    return port === undefined ? 'invalid' : { address: normalizeIp(ip) ?? ip, port };
  }
  if (isIP(raw) !== 0) return { address: normalizeIp(raw) ?? raw, port: undefined };
  const colon = raw.lastIndexOf(':');
  if (colon > 0 && isIP(raw.slice(0, colon)) === 4) {
    const port = parsePort(raw.slice(colon + 1));
    return port === undefined ? 'invalid' : { address: raw.slice(0, colon), port };
  }
  return 'invalid';
}

function parsePort(s: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * An IP literal in one spelling: IPv4 as is, IPv4-mapped IPv6 (`::ffff:1.2.3.4`, how a dual-stack
 * socket reports an IPv4 peer) as IPv4, other IPv6 canonical (lower case, zeros compressed).
 * undefined when `a` is no IP literal. A zone (`fe80::1%eth0`) is kept as written.
 */
export function normalizeIp(a: string): string | undefined {
  const kind = isIP(a);
  if (kind === 4) return a;
  if (kind !== 6) return undefined;
  if (a.includes('%')) return a.toLowerCase();
  let host: string;
  try {
    host = new URL(`http://[${a}]/`).hostname;
  } catch {
    return a.toLowerCase();
  }
  const ip = host.slice(1, -1);
  // The URL parser writes a mapped address's IPv4 part in hex: ::ffff:7f00:1.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (mapped) {
    const hi = parseInt(mapped[1] ?? '0', 16);
    const lo = parseInt(mapped[2] ?? '0', 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return ip;
}

/** Several header lines of one name as one list (node:http already joins most with ', '). */
function joined(v: HeaderValue): string | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v.join(', ') : v;
  return s.trim() === '' ? undefined : s;
}

/** Splits on `sep` outside double quotes; undefined when a quote is left open. */
function splitOutsideQuotes(s: string, sep: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (quoted && c === '\\') {
      cur += c + (s[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === sep && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (quoted) return undefined;
  out.push(cur.trim());
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}
