"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.apiRoutes = apiRoutes;
exports.matchRoute = matchRoute;
exports.allowedMethods = allowedMethods;
exports.parseLogQuery = parseLogQuery;
/**
 * The admin API and metrics routes: which path and method call which NodeApi method, and how
 * path parameters and query strings are validated. No sockets here (server.ts owns them), so the
 * table can be read in one place; handlers never trust the URL.
 */
const common_1 = require("../../common");
const MAX_PARAM_LENGTH = 256;
const MAX_LOG_LIMIT = 1000;
const ok = (json) => ({ status: 200, json });
function apiRoutes(api, metrics) {
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
        { pattern: /^\/api\/v1\/status$/, methods: { GET: async () => ok(await api.status()) } },
        { pattern: /^\/api\/v1\/nodes$/, methods: { GET: async () => ok(await api.nodes()) } },
        { pattern: /^\/api\/v1\/conferences$/, methods: { GET: async () => ok(await api.conferences()) } },
        {
            pattern: /^\/api\/v1\/conferences\/([^/]+)$/,
            methods: {
                DELETE: async ({ params: [name = ''] }) => {
                    const ended = await api.endConference(name);
                    if (!ended)
                        throw new common_1.ConfnodeError('not-found', `no conference named '${name}' on this node`);
                    return ok({ ended: name, participants: ended.participants });
                },
            },
        },
        { pattern: /^\/api\/v1\/participants$/, methods: { GET: async () => ok(await api.participants()) } },
        {
            pattern: /^\/api\/v1\/participants\/([^/]+)$/,
            methods: {
                DELETE: async ({ params: [id = ''] }) => {
                    if (!(await api.hangupParticipant(id)))
                        throw new common_1.ConfnodeError('not-found', `no participant '${id}' on this node`);
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
/** Finds the route for a path; a malformed or oversized parameter is a bad request. */
function matchRoute(routes, path) {
    for (const route of routes) {
        const m = route.pattern.exec(path);
        if (!m)
            continue;
        return { route, params: m.slice(1).map((raw) => decodeParam(raw ?? '')) };
    }
    return undefined;
}
function allowedMethods(route) {
    const methods = Object.keys(route.methods);
    return methods.includes('GET') ? [...methods, 'HEAD'] : methods;
}
function decodeParam(raw) {
    let value;
    try {
        value = decodeURIComponent(raw);
    }
    catch {
        throw new common_1.ConfnodeError('bad-request', 'malformed percent-encoding in path');
    }
    if (value.length === 0 || value.length > MAX_PARAM_LENGTH || hasControlChar(value)) {
        throw new common_1.ConfnodeError('bad-request', 'bad path parameter');
    }
    return value;
}
function hasControlChar(s) {
    for (let i = 0; i < s.length; i++)
        if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f)
            return true;
    return false;
}
/** `?limit=N&conference=NAME`; anything else in the query is ignored. */
function parseLogQuery(query) {
    const out = {};
    const limit = query.get('limit');
    if (limit !== null) {
        const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
        if (!(n >= 1 && n <= MAX_LOG_LIMIT))
            throw new common_1.ConfnodeError('bad-request', `limit must be an integer 1..${MAX_LOG_LIMIT}`);
        out.limit = n;
    }
    const conference = query.get('conference');
    if (conference !== null) {
        if (conference.length === 0 || conference.length > MAX_PARAM_LENGTH)
            throw new common_1.ConfnodeError('bad-request', 'bad conference name');
        out.conference = conference;
    }
    return out;
}
//# sourceMappingURL=routes.js.map