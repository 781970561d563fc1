"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_PARSE_LIMITS = void 0;
exports.findBodyStart = findBodyStart;
exports.skipLeadingCrlf = skipLeadingCrlf;
exports.parseMessage = parseMessage;
/**
 * Parses one whole SIP message (a UDP datagram or one framed TCP message) into the model of
 * message.ts (RFC 3261 7, 18.3, 20). Input is untrusted: it must never throw, never loop
 * unboundedly, and must enforce size, header-count and line-length limits.
 */
const message_1 = require("./message");
const headers_1 = require("./headers");
const uri_1 = require("./uri");
exports.DEFAULT_PARSE_LIMITS = Object.freeze({
    maxMessageBytes: 65535,
    maxHeaders: 100,
    maxLineLength: 4096,
});
const SIP_VERSION = 'SIP/2.0';
/** Thrown only inside this module and turned into { ok: false } at the edge. */
class ParseFailure extends Error {
    status;
    constructor(message, status = 400) {
        super(message);
        this.status = status;
    }
}
/** A failure after the request line was read: carries the partial request for a 400. */
class PartialFailure extends ParseFailure {
    partial;
    constructor(message, partial, status = 400) {
        super(message, status);
        this.partial = partial;
    }
}
/**
 * Index of the first body byte: just past the first empty line at or after `from` (lines end
 * in CRLF; a bare LF is tolerated). -1 when the header section is not complete in [from, end).
 */
function findBodyStart(buf, from, end) {
    let p = from;
    while (p < end) {
        const lf = buf.indexOf(0x0a, p);
        if (lf < 0 || lf >= end)
            return -1;
        if (lf + 1 < end && buf[lf + 1] === 0x0a)
            return lf + 2;
        if (lf + 2 < end && buf[lf + 1] === 0x0d && buf[lf + 2] === 0x0a)
            return lf + 3;
        p = lf + 1;
    }
    return -1;
}
/** Skips CRLFs before the start line (RFC 3261 7.5). */
function skipLeadingCrlf(buf, from, end) {
    let p = from;
    while (p < end && (buf[p] === 0x0d || buf[p] === 0x0a))
        p++;
    return p;
}
/**
 * Splits the header section into lines (terminators removed). Stops at the first over-long or
 * bare-CR line and reports it, so the lines before it can still feed a partial request.
 */
function splitLines(buf, start, end, limits) {
    const lines = [];
    let p = start;
    while (p < end) {
        let lf = buf.indexOf(0x0a, p);
        if (lf < 0 || lf >= end)
            lf = end;
        const lineEnd = lf > p && buf[lf - 1] === 0x0d ? lf - 1 : lf;
        if (lineEnd - p > limits.maxLineLength)
            return { lines, error: `line longer than maxLineLength (${limits.maxLineLength})` };
        if (buf.subarray(p, lineEnd).includes(0x0d))
            return { lines, error: 'bare CR inside a line' };
        lines.push(buf.toString('utf8', p, lineEnd));
        p = lf + 1;
    }
    return { lines };
}
function parseStartLine(line) {
    if (line.startsWith('SIP/') || line.startsWith('sip/'))
        return { msg: parseStatusLine(line) };
    const parts = line.split(' ');
    const exact = parts.length === 3 && parts.every((x) => x.length > 0);
    // Extra or trailing SP is malformed (RFC 4475 3.1.2.9, 3.1.2.10) but still readable.
    const fields = exact ? parts : line.split(/[ \t]+/).filter((x) => x.length > 0);
    if (fields.length !== 3)
        throw new ParseFailure('malformed request line');
    const [method = '', uri = '', version = ''] = fields;
    if (!(0, headers_1.isToken)(method))
        throw new ParseFailure('malformed method');
    if (!/^sip\/\d+\.\d+$/i.test(version))
        throw new ParseFailure('malformed SIP version');
    const msg = { kind: 'request', version: SIP_VERSION, method, uri, headers: [], body: Buffer.alloc(0) };
    if (!exact)
        return { msg, deferredError: new ParseFailure('malformed request line (whitespace)') };
    if (version.toUpperCase() !== SIP_VERSION) {
        msg.version = version;
        return { msg, deferredError: new ParseFailure('unsupported SIP version ' + version, 505) };
    }
    return { msg };
}
function parseStatusLine(line) {
    const m = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/i.exec(line);
    if (!m)
        throw new ParseFailure('malformed status line');
    if (m[1] !== '2.0')
        throw new ParseFailure('unsupported SIP version in status line');
    const status = Number(m[2]);
    if (status < 100 || status > 699)
        throw new ParseFailure('status code out of range');
    return { kind: 'response', version: SIP_VERSION, status, reason: m[3] ?? '', headers: [], body: Buffer.alloc(0) };
}
/** Trims SP and HT only: String.trim() would also eat a value's BOM or NBSP (RFC 4475 3.1.1.2). */
function trimLws(text) {
    let a = 0;
    let b = text.length;
    while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9))
        a++;
    while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9))
        b--;
    return text.slice(a, b);
}
/** Unfolds continuation lines and fills msg.headers; enforces header count and line length. */
function parseHeaderLines(lines, msg, limits) {
    let current;
    // A malformed line fails the message, but the well-formed lines after it are still read so the
    // caller can answer 400 when Via/From/To/Call-ID/CSeq come later (RFC 3261 8.2.2 / 21.4.1).
    let firstError;
    for (const line of lines) {
        const first = line.charCodeAt(0);
        if (first === 32 || first === 9) {
            if (!current) {
                firstError ??= 'continuation line before any header';
                continue;
            }
            const more = trimLws(line);
            if (more.length > 0)
                current.value = current.value.length > 0 ? `${current.value} ${more}` : more;
            if (current.name.length + 2 + current.value.length > limits.maxLineLength) {
                throw new ParseFailure(`unfolded header longer than maxLineLength (${limits.maxLineLength})`);
            }
            continue;
        }
        current = undefined;
        const colon = line.indexOf(':');
        if (colon < 0) {
            firstError ??= 'header line without colon';
            continue;
        }
        const rawName = trimLws(line.slice(0, colon));
        if (!(0, headers_1.isToken)(rawName)) {
            firstError ??= 'malformed header name';
            continue;
        }
        if (msg.headers.length >= limits.maxHeaders)
            throw new ParseFailure(`more than maxHeaders (${limits.maxHeaders}) headers`);
        current = { name: (0, message_1.canonicalHeaderName)(rawName), value: trimLws(line.slice(colon + 1)) };
        msg.headers.push(current);
    }
    if (firstError !== undefined)
        throw new ParseFailure(firstError);
}
/** Content-Length as a number, undefined when absent; several must agree. */
function contentLength(msg) {
    let result;
    for (const v of (0, message_1.getHeaderLines)(msg, 'Content-Length')) {
        if (!/^\d{1,10}$/.test(v))
            throw new ParseFailure('malformed Content-Length');
        const n = Number(v);
        if (result !== undefined && result !== n)
            throw new ParseFailure('conflicting Content-Length headers');
        result = n;
    }
    return result;
}
function single(msg, name) {
    const lines = (0, message_1.getHeaderLines)(msg, name);
    if (lines.length === 0)
        throw new ParseFailure(`missing ${name}`);
    if (lines.length > 1)
        throw new ParseFailure(`more than one ${name}`);
    return lines[0] ?? '';
}
/** Checks shared by requests and responses: Via, From, To, Call-ID, CSeq (RFC 3261 8.1.1). */
function validateCommon(msg) {
    const vias = (0, headers_1.getVias)(msg);
    if (vias === null)
        throw new ParseFailure('malformed Via');
    if (vias.length === 0)
        throw new ParseFailure('missing Via');
    for (const name of ['From', 'To']) {
        if ((0, headers_1.parseNameAddr)(single(msg, name)) === null)
            throw new ParseFailure(`malformed ${name}`);
    }
    const callId = single(msg, 'Call-ID');
    if (callId.length === 0 || /\s/.test(callId))
        throw new ParseFailure('malformed Call-ID');
    const cseq = (0, headers_1.parseCSeq)(single(msg, 'CSeq'));
    if (!cseq)
        throw new ParseFailure('malformed CSeq');
    for (const line of (0, message_1.getHeaderLines)(msg, 'Contact')) {
        if (line === '*')
            continue;
        const items = (0, headers_1.splitHeaderList)(line);
        if (items.length === 0 || items.some((c) => (0, headers_1.parseNameAddr)(c) === null))
            throw new ParseFailure('malformed Contact');
    }
    return cseq;
}
function validateRequest(req) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):./.exec(req.uri);
    if (!scheme || req.uri.includes('<') || req.uri.includes('>'))
        throw new ParseFailure('malformed Request-URI');
    const lower = (scheme[1] ?? '').toLowerCase();
    if (lower === 'sip' || lower === 'sips' || lower === 'tel') {
        const uri = (0, uri_1.parseUri)(req.uri);
        // Headers are not allowed in a Request-URI (RFC 3261 19.1.1 table, RFC 4475 3.1.2.11).
        if (!uri || Object.keys(uri.headers).length > 0)
            throw new ParseFailure('malformed Request-URI');
    }
    const { method } = validateCommon(req);
    if (method !== req.method)
        throw new ParseFailure('CSeq method does not match the request method');
    // Missing Max-Forwards is tolerated: many UAs omit it and we are not a proxy.
    const mf = (0, message_1.getHeaderLines)(req, 'Max-Forwards');
    if (mf.length > 1)
        throw new ParseFailure('more than one Max-Forwards');
    const mfValue = mf[0];
    if (mfValue !== undefined && (!/^\d{1,10}$/.test(mfValue) || Number(mfValue) > 255)) {
        throw new ParseFailure('malformed Max-Forwards');
    }
}
function attachBody(msg, data, bodyStart) {
    const cl = contentLength(msg);
    if (cl === undefined) {
        msg.body = Buffer.from(data.subarray(bodyStart));
        return;
    }
    // RFC 3261 18.3: a datagram shorter than Content-Length says is discarded; extra bytes are ignored.
    if (bodyStart + cl > data.length)
        throw new ParseFailure('Content-Length larger than the message');
    msg.body = Buffer.from(data.subarray(bodyStart, bodyStart + cl));
}
function parseUnchecked(data, limits) {
    if (data.length > limits.maxMessageBytes) {
        throw new ParseFailure(`message larger than maxMessageBytes (${limits.maxMessageBytes})`, 513);
    }
    const start = skipLeadingCrlf(data, 0, data.length);
    if (start >= data.length)
        throw new ParseFailure('empty message');
    const bodyStart = findBodyStart(data, start, data.length);
    if (bodyStart < 0)
        throw new ParseFailure('no empty line after the headers');
    const headerEnd = data[bodyStart - 2] === 0x0d ? bodyStart - 3 : bodyStart - 2;
    const { lines, error: lineError } = splitLines(data, start, headerEnd, limits);
    if (lines.length === 0)
        throw new ParseFailure(lineError ?? 'empty start line');
    const { msg, deferredError } = parseStartLine(lines[0] ?? '');
    try {
        parseHeaderLines(lines.slice(1), msg, limits);
        if (lineError !== undefined)
            throw new ParseFailure(lineError);
        if (deferredError)
            throw deferredError;
        attachBody(msg, data, bodyStart);
        if (msg.kind === 'request')
            validateRequest(msg);
        else
            validateCommon(msg);
    }
    catch (err) {
        if (msg.kind === 'request' && err instanceof ParseFailure && !(err instanceof PartialFailure)) {
            throw new PartialFailure(err.message, { ...msg, body: Buffer.alloc(0) }, err.status);
        }
        throw err;
    }
    return msg;
}
/** Parses one whole message. Never throws: any failure is { ok: false }. */
function parseMessage(data, limits = exports.DEFAULT_PARSE_LIMITS) {
    try {
        return { ok: true, message: parseUnchecked(data, limits) };
    }
    catch (err) {
        if (err instanceof PartialFailure)
            return { ok: false, error: err.message, partial: err.partial, status: err.status };
        if (err instanceof ParseFailure)
            return { ok: false, error: err.message, status: err.status };
        // A bug of ours must not become a crash on the packet path.
        return { ok: false, error: 'internal parser error: ' + (err instanceof Error ? err.message : String(err)), status: 400 };
    }
}
//# sourceMappingURL=parser.js.map