/**
 * The node's HTTP server (node:http, or node:https when the node has a certificate; no framework):
 * admin API, Prometheus metrics, the browser pages and the WebSocket upgrades, all on one port.
 * Owns sockets, request limits, the client address behind trusted proxies, and error replies;
 * what each path does is in routes.ts. A bad request or a failing handler gets a JSON error and
 * never takes the process down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { ConfnodeError, errorMessage, type ErrorCode, type Logger } from '../../common';
import { adminAccess, isAdminPath } from './admin-access';
import { TrustedProxies, clientAddress, type ClientAddress } from './forwarded';
import type { NodeMetrics } from './metrics';
import { allowedMethods, apiRoutes, matchRoute, type HttpMethod, type HttpReply, type Route } from './routes';
import { StaticFiles } from './static';
import type { NodeApi } from './views';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); the bound port is returned. */
  port: number;
  logger: Logger;
  api: NodeApi;
  metrics: NodeMetrics;
  /** Directory with index.html and admin.html; no static files when absent. */
  staticDir?: string;
  /** `cluster.admin_token`: lets clients other than direct loopback ones use the admin API and /metrics. */
  adminToken?: string;
  /** Request bodies above this are refused with 413; default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * HTTP upgrades (WebSocket): returns true when it took the socket; anything it does not take
   * gets 404. Upgraded sockets are the taker's to close (close() here does not see them).
   * `client` is the request's client (behind a trusted proxy: the one it names).
   */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, client: ClientAddress) => boolean;
  /** Serve HTTPS (and so WSS) with this PEM certificate chain and key; plain HTTP without. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** `http.trusted_proxies`: only these TCP peers' X-Forwarded-For / Forwarded headers are believed. */
  trustedProxies?: readonly string[];
}

export interface RunningHttpServer {
  port: number;
  /** 'https' when it serves TLS. */
  scheme: 'http' | 'https';
  /** Stops accepting, lets in-flight requests finish (up to 2 s), then closes. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;
/** A refused body up to this size is read and dropped so the client sees the 413 cleanly. */
const MAX_DRAIN_BYTES = 1024 * 1024;
const CLOSE_GRACE_MS = 2000;
/** A TLS client that has not finished its handshake by then is cut (node's default is 120 s). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

const STATUS_FOR_CODE: Partial<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'not-found': 404,
  capacity: 503,
  busy: 503,
  timeout: 504,
  unavailable: 503,
};

interface Context {
  routes: Route[];
  statics: StaticFiles | undefined;
  logger: Logger;
  maxBody: number;
  adminToken: string | undefined;
  trusted: TrustedProxies;
}

/** The request's client: its TCP peer, or the client a trusted proxy forwarded it for. */
function clientOf(req: IncomingMessage, trusted: TrustedProxies): ClientAddress {
  return clientAddress({ address: req.socket.remoteAddress, port: req.socket.remotePort }, req.headers, trusted);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const ctx: Context = {
    routes: apiRoutes(opts.api, opts.metrics, opts.tls ? 'https' : 'http'),
    statics: opts.staticDir !== undefined ? new StaticFiles(opts.staticDir) : undefined,
    logger: opts.logger,
    maxBody: opts.maxBodyBytes ?? DEFAULT_MAX_BODY,
    adminToken: opts.adminToken,
    trusted: new TrustedProxies(opts.trustedProxies ?? []),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res, ctx);
  const server: Server | HttpsServer = opts.tls
    ? createHttpsServer({ maxHeaderSize: 16 * 1024, cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onRequest)
    : createServer({ maxHeaderSize: 16 * 1024 }, onRequest);
  if (opts.tls) {
    // A plain-HTTP request, a scanner or a browser that refuses the certificate: no reply possible.
    server.on('tlsClientError', (err: Error, socket: Duplex) => {
      opts.logger.debug({ err: errorMessage(err) }, 'tls handshake failed');
      socket.destroy();
    });
  }
  // Slow or stuck clients must not hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, opts, ctx.trusted));
  const port = await listen(server, opts.host, opts.port, opts.tls ? 'HTTPS' : 'HTTP');
  server.on('error', (err) => opts.logger.error({ err }, 'http server error'));
  let closing: Promise<void> | undefined;
  return { port, scheme: opts.tls ? 'https' : 'http', close: () => (closing ??= closeServer(server)) };
}

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, opts: HttpServerOptions, trusted: TrustedProxies): void {
  socket.on('error', () => undefined);
  let taken = false;
  try {
    taken = opts.upgrade?.(req, socket, head, clientOf(req, trusted)) ?? false;
  } catch (err) {
    opts.logger.error({ err, url: loggableUrl(req.url ?? '') }, 'upgrade handler failed');
    socket.destroy();
    return;
  }
  if (!taken) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  try {
    const body = await readBody(req, ctx.maxBody);
    if (body === 'too-large') {
      refuseTooLarge(req, res, ctx.maxBody);
      return;
    }
    const reply = await dispatch(req, method, url, ctx);
    send(res, reply);
    ctx.logger.debug({ method, url: loggableUrl(url), status: reply.status, client: describeClient(clientOf(req, ctx.trusted)) }, 'http request');
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    send(res, errorReply(err, ctx.logger, method, url));
  }
}

async function dispatch(req: IncomingMessage, method: string, url: string, ctx: Context): Promise<HttpReply> {
  if (!url.startsWith('/')) throw new ConfnodeError('bad-request', 'request target must be a path');
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (isAdminPath(path)) {
    const access = adminAccess({ remoteAddress: req.socket.remoteAddress, headers: req.headers }, ctx.adminToken);
    if (!access.ok) {
      return { status: access.status, json: { error: access.error }, headers: access.status === 401 ? { 'www-authenticate': 'Bearer realm="confnode admin"' } : {} };
    }
  }
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const getLike = method === 'GET' || method === 'HEAD';
  const match = matchRoute(ctx.routes, path);
  if (match) {
    const key: HttpMethod | undefined = getLike ? 'GET' : method === 'DELETE' ? 'DELETE' : undefined;
    const handler = key !== undefined ? match.route.methods[key] : undefined;
    if (!handler) {
      const allow = allowedMethods(match.route).join(', ');
      return { status: 405, json: { error: `method ${method} not allowed; allowed: ${allow}` }, headers: { allow } };
    }
    return handler({ params: match.params, query });
  }
  if (getLike && ctx.statics) {
    const file = await ctx.statics.lookup(path);
    if (file) return { status: 200, raw: file.body, contentType: file.contentType, headers: { 'cache-control': 'no-cache' } };
  }
  return { status: 404, json: { error: 'not found' } };
}

function send(res: ServerResponse, reply: HttpReply): void {
  // Serialise before writing headers, so a value that cannot be serialised still gets a 500.
  const [body, contentType] = 'json' in reply ? [JSON.stringify(reply.json), 'application/json; charset=utf-8'] : [reply.raw, reply.contentType];
  res.writeHead(reply.status, {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...reply.headers,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function errorReply(err: unknown, logger: Logger, method: string, url: string): HttpReply {
  const status = (err instanceof ConfnodeError && STATUS_FOR_CODE[err.code]) || 500;
  if (status === 500) {
    logger.error({ err, method, url: loggableUrl(url) }, 'http handler failed');
    return { status, json: { error: 'internal error' } };
  }
  return { status, json: { error: (err as Error).message } };
}

/** Reads the whole body up to `limit` bytes; 'too-large' as soon as it is known to exceed it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  if (declaredLength(req) > limit) return Promise.resolve('too-large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        resolve('too-large');
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!settled) resolve(Buffer.concat(chunks));
      settled = true;
    });
    req.on('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
  });
}

function declaredLength(req: IncomingMessage): number {
  const raw = req.headers['content-length'];
  const n = raw === undefined ? 0 : Number(raw);
  return Number.isFinite(n) ? n : Infinity;
}

/**
 * A modest declared body is left for node:http to read and drop after the reply, so the
 * connection stays usable; anything bigger or of unknown size ends the connection.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  const declared = declaredLength(req);
  const keep = req.headers['content-length'] !== undefined && declared <= MAX_DRAIN_BYTES;
  send(res, {
    status: 413,
    json: { error: `request body larger than ${limit} bytes` },
    headers: keep ? {} : { connection: 'close' },
  });
}

/** For the request log: a forwarded client is marked, so a reader knows a proxy named it. */
function describeClient(c: ClientAddress): string {
  return c.forwarded ? `${c.address} (forwarded)` : c.address;
}

function listen(server: Server | HttpsServer, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ConfnodeError('config', `cannot listen for ${what} on ${host}:${port}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

function closeServer(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** A request URL for the log: bounded, and without secrets a link may carry (join tokens). */
export function loggableUrl(url: string): string {
  return url.replace(/([?&](?:token|access_token)=)[^&#]*/gi, '$1[redacted]').slice(0, 200);
}
