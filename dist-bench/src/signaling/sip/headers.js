"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.isToken = isToken;
exports.splitHeaderList = splitHeaderList;
exports.parseParams = parseParams;
exports.parseVia = parseVia;
exports.formatVia = formatVia;
exports.getVias = getVias;
exports.parseNameAddr = parseNameAddr;
exports.formatNameAddr = formatNameAddr;
exports.parseCSeq = parseCSeq;
/**
 * Structured views of SIP header values (RFC 3261 7.3, 20, 25.1): Via, name-addr forms
 * (From/To/Contact/Route/Record-Route), CSeq, comma-separated lists and generic parameters.
 * Values are untrusted: every function returns null on malformed input and never throws.
 */
const message_1 = require("./message");
const net_1 = require("net");
const uri_1 = require("./uri");
/** token chars (RFC 3261 25.1): alphanum and -.!%*_+`'~ */
const TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if (/[A-Za-z0-9]/.test(ch) || "-.!%*_+`'~".includes(ch))
        TOKEN[c] = 1;
}
function isToken(text) {
    if (text.length === 0)
        return false;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 128 || TOKEN[c] !== 1)
            return false;
    }
    return true;
}
function isWs(c) {
    return c === 32 || c === 9;
}
function skipWs(s, pos) {
    let p = pos;
    while (p < s.length && isWs(s.charCodeAt(p)))
        p++;
    return p;
}
/** Index just past the closing quote of the quoted string starting at `pos`, or -1. */
function endOfQuoted(s, pos) {
    for (let p = pos + 1; p < s.length; p++) {
        const c = s.charCodeAt(p);
        if (c === 92 /* \ */)
            p++;
        else if (c === 34 /* " */)
            return p + 1;
    }
    return -1;
}
/** Comma split that respects "quoted strings" (with \-escapes) and <...>; trims, drops empties. */
function splitHeaderList(value) {
    const out = [];
    let start = 0;
    let inAngle = false;
    for (let p = 0; p < value.length; p++) {
        const c = value.charCodeAt(p);
        if (c === 34) {
            const end = endOfQuoted(value, p);
            if (end < 0)
                break; // unterminated: the rest is one element, the caller's parser rejects it
            p = end - 1;
        }
        else if (c === 60)
            inAngle = true;
        else if (c === 62)
            inAngle = false;
        else if (c === 44 && !inAngle) {
            const part = value.slice(start, p).trim();
            if (part.length > 0)
                out.push(part);
            start = p + 1;
        }
    }
    const last = value.slice(start).trim();
    if (last.length > 0)
        out.push(last);
    return out;
}
/**
 * Parses '*(SEMI name [EQUAL value])' starting at `pos` to the end of `s`. Values are a
 * quoted string (kept with quotes) or a run of characters up to ';', ',', whitespace or '"'.
 */
function parseParams(s, pos) {
    const params = {};
    let p = skipWs(s, pos);
    while (p < s.length) {
        if (s.charCodeAt(p) !== 59 /* ; */)
            return null;
        p = skipWs(s, p + 1);
        const nameStart = p;
        while (p < s.length && s.charCodeAt(p) < 128 && TOKEN[s.charCodeAt(p)] === 1)
            p++;
        if (p === nameStart)
            return null;
        const name = s.slice(nameStart, p).toLowerCase();
        p = skipWs(s, p);
        let value = null;
        if (p < s.length && s.charCodeAt(p) === 61 /* = */) {
            p = skipWs(s, p + 1);
            const valueStart = p;
            if (s.charCodeAt(p) === 34) {
                const end = endOfQuoted(s, p);
                if (end < 0)
                    return null;
                p = end;
            }
            else {
                while (p < s.length && !isValueStop(s.charCodeAt(p)))
                    p++;
            }
            if (p === valueStart)
                return null;
            value = s.slice(valueStart, p);
            p = skipWs(s, p);
        }
        if (!(name in params))
            params[name] = value;
    }
    return params;
}
function isValueStop(c) {
    return c === 59 || c === 44 || c === 34 || isWs(c) || c < 32 || c === 127;
}
function formatParams(params) {
    let out = '';
    for (const [name, value] of Object.entries(params))
        out += value === null ? `;${name}` : `;${name}=${value}`;
    return out;
}
/** Reads a token at `pos` after optional whitespace; returns it and the position after. */
function readToken(s, pos) {
    let p = skipWs(s, pos);
    const start = p;
    while (p < s.length && s.charCodeAt(p) < 128 && TOKEN[s.charCodeAt(p)] === 1)
        p++;
    return p === start ? null : { token: s.slice(start, p), end: p };
}
/** Expects '/' after optional whitespace (sent-protocol allows LWS around slashes). */
function readSlash(s, pos) {
    const p = skipWs(s, pos);
    return s.charCodeAt(p) === 47 ? p + 1 : -1;
}
function parseOneVia(text) {
    const name = readToken(text, 0);
    if (!name)
        return null;
    let p = readSlash(text, name.end);
    const version = p < 0 ? null : readToken(text, p);
    if (!version)
        return null;
    p = readSlash(text, version.end);
    const transport = p < 0 ? null : readToken(text, p);
    if (!transport)
        return null;
    const sentByStart = skipWs(text, transport.end);
    if (sentByStart === transport.end)
        return null; // LWS required before sent-by
    const sentBy = readSentBy(text, sentByStart);
    if (!sentBy)
        return null;
    const params = parseParams(text, sentBy.end);
    if (!params)
        return null;
    return buildVia(`${name.token}/${version.token}`, transport.token.toUpperCase(), sentBy, params);
}
/** sent-by = host [COLON port], where COLON = SWS ":" SWS allows 'host : 5060'. */
function readSentBy(text, pos) {
    let p = pos;
    if (text.charCodeAt(p) === 91 /* [ */) {
        const close = text.indexOf(']', p);
        if (close < 0)
            return null;
        p = close + 1;
    }
    else {
        while (p < text.length && !isSentByStop(text.charCodeAt(p)))
            p++;
    }
    const host = (0, uri_1.parseHost)(text.slice(pos, p));
    if (host === null)
        return null;
    let q = skipWs(text, p);
    if (text.charCodeAt(q) !== 58)
        return { host, end: p };
    q = skipWs(text, q + 1);
    const portStart = q;
    while (q < text.length && text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57)
        q++;
    const port = (0, uri_1.parsePort)(text.slice(portStart, q));
    return port === null ? null : { host, port, end: q };
}
function isSentByStop(c) {
    return c === 58 || c === 59 || isWs(c);
}
function buildVia(protocol, transport, hp, params) {
    const via = { protocol, transport, host: hp.host, params };
    if (hp.port !== undefined)
        via.port = hp.port;
    const branch = params.branch;
    if (branch !== undefined) {
        if (branch === null)
            return null;
        via.branch = branch;
    }
    const received = params.received;
    if (received !== undefined) {
        if (received === null)
            return null;
        const host = (0, net_1.isIPv6)(received) ? received : (0, uri_1.parseHost)(received);
        if (host === null)
            return null;
        via.received = host;
    }
    const rport = params.rport;
    if (rport !== undefined) {
        if (rport === null)
            via.rport = null;
        else {
            const port = (0, uri_1.parsePort)(rport);
            if (port === null)
                return null;
            via.rport = port;
        }
    }
    return via;
}
/** One Via header value may hold several comma-separated via-parms. Null when any is malformed. */
function parseVia(value) {
    const parts = splitHeaderList(value);
    if (parts.length === 0)
        return null;
    const out = [];
    for (const part of parts) {
        const via = parseOneVia(part);
        if (!via)
            return null;
        out.push(via);
    }
    return out;
}
/** Formats one Via; branch/received/rport fields override the same-named params. */
function formatVia(v) {
    const params = { ...v.params };
    if (v.branch !== undefined)
        params.branch = v.branch;
    if (v.received !== undefined)
        params.received = v.received;
    if (v.rport !== undefined)
        params.rport = v.rport === null ? null : String(v.rport);
    const host = v.host.includes(':') ? `[${v.host}]` : v.host;
    const port = v.port !== undefined ? `:${v.port}` : '';
    return `${v.protocol}/${v.transport} ${host}${port}${formatParams(params)}`;
}
/** Every Via of a message, in order, split across lines and commas; null if any is malformed. */
function getVias(msg) {
    const out = [];
    for (const line of (0, message_1.getHeaderLines)(msg, 'Via')) {
        const vias = parseVia(line);
        if (!vias)
            return null;
        out.push(...vias);
    }
    return out;
}
function unquote(quoted) {
    let out = '';
    for (let p = 1; p < quoted.length - 1; p++) {
        if (quoted.charCodeAt(p) === 92)
            p++;
        out += quoted[p] ?? '';
    }
    return out;
}
/**
 * Unquoted display-name: tokens separated by LWS (RFC 3261 25.1); a ',' or '"' is malformed
 * (RFC 4475 3.1.2.15). Raw UTF-8 is tolerated: some UAs send unquoted non-ASCII names.
 */
function plainDisplayName(text) {
    const words = text.split(/[ \t]+/).filter((w) => w.length > 0);
    for (const w of words) {
        for (let i = 0; i < w.length; i++) {
            const c = w.charCodeAt(i);
            if (c < 128 && TOKEN[c] !== 1)
                return null;
        }
    }
    return words.length > 0 ? words.join(' ') : null;
}
/** URI inside <...>: no whitespace, no nested brackets, starts with a scheme. */
function validAngleUri(uri) {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri))
        return false;
    for (let i = 0; i < uri.length; i++) {
        const c = uri.charCodeAt(i);
        if (c <= 32 || c === 127 || c === 60 || c === 34)
            return false;
    }
    return true;
}
function parseAngleForm(value, nameEnd, displayName) {
    const lt = skipWs(value, nameEnd);
    if (value.charCodeAt(lt) !== 60)
        return null;
    const gt = value.indexOf('>', lt + 1);
    if (gt < 0)
        return null;
    const uri = value.slice(lt + 1, gt);
    if (!validAngleUri(uri))
        return null;
    const params = parseParams(value, gt + 1);
    if (!params)
        return null;
    return finishNameAddr(displayName, uri, params);
}
function finishNameAddr(displayName, uri, params) {
    const n = { uri, params };
    if (displayName !== undefined)
        n.displayName = displayName;
    const tag = params.tag;
    if (tag !== undefined) {
        if (tag === null)
            return null;
        n.tag = tag;
    }
    return n;
}
/**
 * name-addr or addr-spec with header params (From/To/Contact/Route/Record-Route). In the
 * addr-spec form, everything after the first ';' belongs to the header (RFC 3261 20.10), and
 * a URI holding ',', '?' or ';' must have been in <> so '?' there is malformed.
 */
function parseNameAddr(value) {
    const v = value.trim();
    if (v.length === 0)
        return null;
    if (v.charCodeAt(0) === 34) {
        const end = endOfQuoted(v, 0);
        if (end < 0)
            return null;
        return parseAngleForm(v, end, unquote(v.slice(0, end)));
    }
    const lt = v.indexOf('<');
    if (lt >= 0) {
        const before = v.slice(0, lt);
        if (before.trim().length === 0)
            return parseAngleForm(v, lt, undefined);
        const name = plainDisplayName(before);
        return name === null ? null : parseAngleForm(v, lt, name);
    }
    const semi = v.indexOf(';');
    const uri = (semi < 0 ? v : v.slice(0, semi)).trim();
    if (!validAngleUri(uri) || uri.includes('?') || uri.includes(',') || uri.includes('>'))
        return null;
    const params = parseParams(v, semi < 0 ? v.length : semi);
    if (!params)
        return null;
    return finishNameAddr(undefined, uri, params);
}
function quoteDisplayName(name) {
    return '"' + name.replace(/["\\]/g, (ch) => '\\' + ch) + '"';
}
/** Always writes the <> form (safe for any URI); the tag field overrides params.tag. */
function formatNameAddr(n) {
    const params = { ...n.params };
    if (n.tag !== undefined)
        params.tag = n.tag;
    const name = n.displayName !== undefined && n.displayName.length > 0 ? quoteDisplayName(n.displayName) + ' ' : '';
    return `${name}<${n.uri}>${formatParams(params)}`;
}
const MAX_CSEQ = 2 ** 31 - 1;
/** 'seq LWS Method'; seq 0..2^31-1 (RFC 3261 8.1.1.5), leading zeros allowed. */
function parseCSeq(value) {
    const v = value.trim();
    let p = 0;
    while (p < v.length && v.charCodeAt(p) >= 48 && v.charCodeAt(p) <= 57)
        p++;
    if (p === 0)
        return null;
    const digits = v.slice(0, p).replace(/^0+(?=\d)/, '');
    if (digits.length > 10)
        return null;
    const seq = Number(digits);
    if (seq > MAX_CSEQ)
        return null;
    const ws = skipWs(v, p);
    if (ws === p)
        return null;
    const method = v.slice(ws);
    return isToken(method) ? { seq, method } : null;
}
//# sourceMappingURL=headers.js.map