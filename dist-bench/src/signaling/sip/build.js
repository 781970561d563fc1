"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.createResponse = createResponse;
exports.generateTag = generateTag;
exports.generateBranch = generateBranch;
exports.generateCallId = generateCallId;
/**
 * Builds responses from requests (RFC 3261 8.2.6) and generates tags, branches and Call-IDs.
 * Randomness comes from crypto by default but can be injected so tests are plain tables;
 * never uses Math.random (tags and branches must be unguessable, RFC 3261 19.3).
 */
const crypto_1 = require("crypto");
const message_1 = require("./message");
const headers_1 = require("./headers");
const defaultRandom = (n) => (0, crypto_1.randomBytes)(n);
/** To with ';tag=' appended unless it has one; appending keeps the sender's exact text. */
function toWithTag(to, tag) {
    if (tag === undefined)
        return to;
    const parsed = (0, headers_1.parseNameAddr)(to);
    if (parsed && parsed.tag !== undefined)
        return to;
    return `${to};tag=${tag}`;
}
/**
 * Copies Via (all, in order), From, To, Call-ID and CSeq; the To tag is added only when the
 * request's To has none, and never to a 100 (RFC 3261 8.2.6.2). Works on a parser `partial`
 * request too: headers it lacks are simply not copied.
 */
function createResponse(req, status, reason, opts = {}) {
    const headers = [];
    for (const h of req.headers) {
        if (h.name === 'Via')
            headers.push({ name: 'Via', value: h.value });
    }
    for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
        const value = (0, message_1.getHeaderLines)(req, name)[0];
        if (value === undefined)
            continue;
        headers.push({ name, value: name === 'To' && status !== 100 ? toWithTag(value, opts.toTag) : value });
    }
    // RFC 3261 8.2.6.1: a 100 echoes the request's Timestamp.
    const timestamp = (0, message_1.getHeaderLines)(req, 'Timestamp')[0];
    if (status === 100 && timestamp !== undefined)
        headers.push({ name: 'Timestamp', value: timestamp });
    for (const h of opts.headers ?? [])
        headers.push({ name: h.name, value: h.value });
    const body = opts.body ?? Buffer.alloc(0);
    if (body.length > 0 && opts.contentType !== undefined)
        headers.push({ name: 'Content-Type', value: opts.contentType });
    headers.push({ name: 'Content-Length', value: String(body.length) });
    return { kind: 'response', version: 'SIP/2.0', status, reason, headers, body };
}
/** Random tag, 64 bits as hex (RFC 3261 19.3 asks for at least 32). */
function generateTag(random = defaultRandom) {
    return random(8).toString('hex');
}
/** Branch with the RFC 3261 magic cookie, 96 random bits. */
function generateBranch(random = defaultRandom) {
    return 'z9hG4bK' + random(12).toString('hex');
}
/** Globally unique Call-ID: 128 random bits '@' host (host may be empty). */
function generateCallId(host, random = defaultRandom) {
    const id = random(16).toString('hex');
    return host.length > 0 ? `${id}@${host}` : id;
}
//# sourceMappingURL=build.js.map