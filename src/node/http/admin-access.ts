/**
 * Who may use the admin API and /metrics. The join page, its WebSocket, /healthz and
 * /api/v1/status (which the join page reads) are open to anyone who reaches the HTTP port; an
 * operator who binds it to a public address so that browsers can join must not open the
 * participant list, hang-ups and metrics to them too. Allowed: a direct loopback client (no
 * forwarding header: a reverse proxy on the same host makes every client look local), or any
 * client with `Authorization: Bearer <cluster.admin_token>`. Pure: no sockets.
 */
import { timingSafeEqual } from 'node:crypto';

export interface AccessRequest {
  /** The TCP peer address as node:http reports it (IPv4, IPv6 or IPv4-mapped IPv6). */
  remoteAddress: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; error: string };

/** Paths that need admin access: the API (but /api/v1/status) and /metrics. */
export function isAdminPath(path: string): boolean {
  if (path === '/metrics') return true;
  return path.startsWith('/api/') && path !== '/api/v1/status';
}

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

export function isDirectLoopback(req: AccessRequest): boolean {
  if (FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  const a = req.remoteAddress ?? '';
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return v4.startsWith('127.') || a === '::1';
}

function bearer(req: AccessRequest): string | undefined {
  const h = req.headers.authorization;
  const value = Array.isArray(h) ? h[0] : h;
  const m = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function adminAccess(req: AccessRequest, adminToken: string | undefined): AccessDecision {
  if (isDirectLoopback(req)) return { ok: true };
  if (adminToken === undefined) {
    return { ok: false, status: 403, error: 'the admin API is open to loopback clients only; set cluster.admin_token to use it from elsewhere' };
  }
  const given = bearer(req);
  if (given !== undefined && sameSecret(given, adminToken)) return { ok: true };
  return { ok: false, status: 401, error: given === undefined ? 'admin token required (Authorization: Bearer ...)' : 'wrong admin token' };
}
