/**
 * The admin API and metrics routes: which path and method call which NodeApi method, and how
 * path parameters and query strings are validated. No sockets here (server.ts owns them), so the
 * table can be read in one place; handlers never trust the URL.
 */
import { ConfnodeError } from '../../common';
import type { NodeMetrics } from './metrics';
import type { AdminLogQuery, NodeApi, NodeStatusView } from './views';

export type HttpMethod = 'GET' | 'DELETE';

export type HttpReply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; raw: string | Buffer; contentType: string; headers?: Record<string, string> };

export interface RouteRequest {
  /** Decoded path parameters, in pattern order. */
  params: string[];
  query: URLSearchParams;
}

export type RouteHandler = (req: RouteRequest) => Promise<HttpReply>;

export interface Route {
  /** Anchored; capture groups are path parameters (still percent-encoded). */
  pattern: RegExp;
  methods: Partial<Record<HttpMethod, RouteHandler>>;
}

const MAX_PARAM_LENGTH = 256;
const MAX_LOG_LIMIT = 1000;

const ok = (json: unknown): HttpReply => ({ status: 200, json });

/** `scheme`: what this server speaks, so /api/v1/status can give the page's URL. */
export function apiRoutes(api: NodeApi, metrics: NodeMetrics, scheme: 'http' | 'https' = 'http'): Route[] {
  return [
    {
      pattern: /^\/healthz$/,
      methods: {
        GET: async () => {
          const h = await api.health();
          return { status: h.status === 'ok' ? 200 : 503, json: { status: h.status } };
        },
      },
    },
    { pattern: /^\/api\/v1\/status$/, methods: { GET: async () => ok(withPageUrl(await api.status(), scheme)) } },
    { pattern: /^\/api\/v1\/nodes$/, methods: { GET: async () => ok(await api.nodes()) } },
    { pattern: /^\/api\/v1\/conferences$/, methods: { GET: async () => ok(await api.conferences()) } },
    {
      pattern: /^\/api\/v1\/conferences\/([^/]+)$/,
      methods: {
        DELETE: async ({ params: [name = ''] }) => {
          const ended = await api.endConference(name);
          if (!ended) throw new ConfnodeError('not-found', `no conference named '${name}' on this node`);
          return ok({ ended: name, participants: ended.participants });
        },
      },
    },
    { pattern: /^\/api\/v1\/participants$/, methods: { GET: async () => ok(await api.participants()) } },
    {
      pattern: /^\/api\/v1\/participants\/([^/]+)$/,
      methods: {
        DELETE: async ({ params: [id = ''] }) => {
          if (!(await api.hangupParticipant(id))) throw new ConfnodeError('not-found', `no participant '${id}' on this node`);
          return ok({ hungUp: id });
        },
      },
    },
    { pattern: /^\/api\/v1\/backplanes$/, methods: { GET: async () => ok(await api.backplanes()) } },
    { pattern: /^\/api\/v1\/log$/, methods: { GET: async ({ query }) => ok(await api.adminLog(parseLogQuery(query))) } },
    {
      pattern: /^\/metrics$/,
      methods: { GET: async () => ({ status: 200, raw: await metrics.text(), contentType: metrics.contentType }) },
    },
  ];
}

/** The status with `http.scheme` and `http.url` (the join page's address) as this server serves it. */
function withPageUrl(status: NodeStatusView, scheme: 'http' | 'https'): NodeStatusView {
  const { address, port } = status.http;
  const host = address.includes(':') ? `[${address}]` : address;
  return { ...status, http: { ...status.http, scheme, url: `${scheme}://${host}:${port}/` } };
}

export interface RouteMatch {
  route: Route;
  params: string[];
}

/** Finds the route for a path; a malformed or oversized parameter is a bad request. */
export function matchRoute(routes: readonly Route[], path: string): RouteMatch | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    return { route, params: m.slice(1).map((raw) => decodeParam(raw ?? '')) };
  }
  return undefined;
}

export function allowedMethods(route: Route): string[] {
  const methods = Object.keys(route.methods);
  return methods.includes('GET') ? [...methods, 'HEAD'] : methods;
}

function decodeParam(raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new ConfnodeError('bad-request', 'malformed percent-encoding in path');
  }
  if (value.length === 0 || value.length > MAX_PARAM_LENGTH || hasControlChar(value)) {
    throw new ConfnodeError('bad-request', 'bad path parameter');
  }
  return value;
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** `?limit=N&conference=NAME`; anything else in the query is ignored. */
export function parseLogQuery(query: URLSearchParams): AdminLogQuery {
  const out: AdminLogQuery = {};
  const limit = query.get('limit');
  if (limit !== null) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_LOG_LIMIT)) throw new ConfnodeError('bad-request', `limit must be an integer 1..${MAX_LOG_LIMIT}`);
    out.limit = n;
  }
  const conference = query.get('conference');
  if (conference !== null) {
    if (conference.length === 0 || conference.length > MAX_PARAM_LENGTH) throw new ConfnodeError('bad-request', 'bad conference name');
    out.conference = conference;
  }
  return out;
}
