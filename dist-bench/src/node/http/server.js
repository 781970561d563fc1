"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.startHttpServer = startHttpServer;
/**
 * The node's HTTP server (node:http, no framework): admin API, Prometheus metrics and the browser
 * pages. Owns sockets, request limits and error replies; what each path does is in routes.ts.
 * A bad request or a failing handler gets a JSON error and never takes the process down.
 */
const node_http_1 = require("node:http");
const common_1 = require("../../common");
const routes_1 = require("./routes");
const static_1 = require("./static");
const DEFAULT_MAX_BODY = 64 * 1024;
/** A refused body up to this size is read and dropped so the client sees the 413 cleanly. */
const MAX_DRAIN_BYTES = 1024 * 1024;
const CLOSE_GRACE_MS = 2000;
const STATUS_FOR_CODE = {
    'bad-request': 400,
    'not-found': 404,
    capacity: 503,
    busy: 503,
    timeout: 504,
};
async function startHttpServer(opts) {
    const ctx = {
        routes: (0, routes_1.apiRoutes)(opts.api, opts.metrics),
        statics: opts.staticDir !== undefined ? new static_1.StaticFiles(opts.staticDir) : undefined,
        logger: opts.logger,
        maxBody: opts.maxBodyBytes ?? DEFAULT_MAX_BODY,
    };
    const server = (0, node_http_1.createServer)({ maxHeaderSize: 16 * 1024 }, (req, res) => void handle(req, res, ctx));
    // Slow or stuck clients must not hold sockets forever.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 100;
    const port = await listen(server, opts.host, opts.port);
    server.on('error', (err) => opts.logger.error({ err }, 'http server error'));
    let closing;
    return { port, close: () => (closing ??= closeServer(server)) };
}
async function handle(req, res, ctx) {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    try {
        const body = await readBody(req, ctx.maxBody);
        if (body === 'too-large') {
            refuseTooLarge(req, res, ctx.maxBody);
            return;
        }
        const reply = await dispatch(method, url, ctx);
        send(res, reply);
        ctx.logger.debug({ method, url: url.slice(0, 200), status: reply.status }, 'http request');
    }
    catch (err) {
        if (res.headersSent) {
            res.destroy();
            return;
        }
        send(res, errorReply(err, ctx.logger, method, url));
    }
}
async function dispatch(method, url, ctx) {
    if (!url.startsWith('/'))
        throw new common_1.ConfnodeError('bad-request', 'request target must be a path');
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const getLike = method === 'GET' || method === 'HEAD';
    const match = (0, routes_1.matchRoute)(ctx.routes, path);
    if (match) {
        const key = getLike ? 'GET' : method === 'DELETE' ? 'DELETE' : undefined;
        const handler = key !== undefined ? match.route.methods[key] : undefined;
        if (!handler) {
            const allow = (0, routes_1.allowedMethods)(match.route).join(', ');
            return { status: 405, json: { error: `method ${method} not allowed; allowed: ${allow}` }, headers: { allow } };
        }
        return handler({ params: match.params, query });
    }
    if (getLike && ctx.statics) {
        const file = await ctx.statics.lookup(path);
        if (file)
            return { status: 200, raw: file.body, contentType: file.contentType, headers: { 'cache-control': 'no-cache' } };
    }
    return { status: 404, json: { error: 'not found' } };
}
function send(res, reply) {
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
function errorReply(err, logger, method, url) {
    const status = (err instanceof common_1.ConfnodeError && STATUS_FOR_CODE[err.code]) || 500;
    if (status === 500) {
        logger.error({ err, method, url: url.slice(0, 200) }, 'http handler failed');
        return { status, json: { error: 'internal error' } };
    }
    return { status, json: { error: err.message } };
}
/** Reads the whole body up to `limit` bytes; 'too-large' as soon as it is known to exceed it. */
function readBody(req, limit) {
    if (declaredLength(req) > limit)
        return Promise.resolve('too-large');
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        let settled = false;
        req.on('data', (chunk) => {
            if (settled)
                return;
            size += chunk.length;
            if (size > limit) {
                settled = true;
                resolve('too-large');
            }
            else
                chunks.push(chunk);
        });
        req.on('end', () => {
            if (!settled)
                resolve(Buffer.concat(chunks));
            settled = true;
        });
        req.on('error', (err) => {
            if (!settled)
                reject(err);
            settled = true;
        });
    });
}
function declaredLength(req) {
    const raw = req.headers['content-length'];
    const n = raw === undefined ? 0 : Number(raw);
    return Number.isFinite(n) ? n : Infinity;
}
/**
 * A modest declared body is left for node:http to read and drop after the reply, so the
 * connection stays usable; anything bigger or of unknown size ends the connection.
 */
function refuseTooLarge(req, res, limit) {
    const declared = declaredLength(req);
    const keep = req.headers['content-length'] !== undefined && declared <= MAX_DRAIN_BYTES;
    send(res, {
        status: 413,
        json: { error: `request body larger than ${limit} bytes` },
        headers: keep ? {} : { connection: 'close' },
    });
}
function listen(server, host, port) {
    return new Promise((resolve, reject) => {
        const onError = (err) => {
            reject(new common_1.ConfnodeError('config', `cannot listen for HTTP on ${host}:${port}: ${err.code ?? err.message}`, { cause: err }));
        };
        server.once('error', onError);
        server.listen({ host, port }, () => {
            server.off('error', onError);
            const addr = server.address();
            resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
        });
    });
}
function closeServer(server) {
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
//# sourceMappingURL=server.js.map