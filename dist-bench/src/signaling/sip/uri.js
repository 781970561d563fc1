"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.unescapeComponent = unescapeComponent;
exports.escapeComponent = escapeComponent;
exports.parsePort = parsePort;
exports.parseHost = parseHost;
exports.parseHostPort = parseHostPort;
exports.parseUri = parseUri;
exports.formatUri = formatUri;
/**
 * SIP/SIPS/tel URI parsing and formatting (RFC 3261 19.1, 25.1; RFC 3966 for tel).
 * Input is untrusted network text: never throws, returns null on anything malformed, and
 * scans each character at most a constant number of times (no backtracking regexes).
 */
const net_1 = require("net");
/** 128-entry lookup table: true for the ASCII characters in `chars` plus alphanumerics. */
function charSet(chars) {
    const set = new Uint8Array(128);
    for (let c = 0; c < 128; c++) {
        const ch = String.fromCharCode(c);
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            set[c] = 1;
    }
    for (const ch of chars)
        set[ch.charCodeAt(0)] = 1;
    return set;
}
const MARK = "-_.!~*'()";
/** unreserved / user-unreserved (RFC 3261 25.1). */
const USER_CHARS = charSet(MARK + '&=+$,;?/');
const PASSWORD_CHARS = charSet(MARK + '&=+$,');
/** paramchar = param-unreserved / unreserved. */
const PARAM_CHARS = charSet(MARK + '[]/:&+$');
/** hname / hvalue = hnv-unreserved / unreserved. */
const HEADER_CHARS = charSet(MARK + '[]/?:+$');
/** tel: telephone-subscriber is looser (RFC 3966 visual separators, '#', '*'). */
const TEL_CHARS = charSet(MARK + '+#&=$,/:[]');
const HOST_CHARS = charSet('-._');
function hexValue(code) {
    if (code >= 48 && code <= 57)
        return code - 48;
    const lower = code | 0x20;
    if (lower >= 97 && lower <= 102)
        return lower - 87;
    return -1;
}
/**
 * Decodes %-escapes and checks every literal character against `allowed`. Non-ASCII literals
 * are tolerated (some UAs send raw UTF-8); they come back escaped from escapeComponent().
 */
function unescapeComponent(text, allowed) {
    let out = '';
    let bytes = [];
    for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code === 37 /* % */) {
            const hi = hexValue(text.charCodeAt(i + 1));
            const lo = hexValue(text.charCodeAt(i + 2));
            if (hi < 0 || lo < 0)
                return null;
            bytes.push(hi * 16 + lo);
            i += 2;
            continue;
        }
        if (code < 128 && allowed[code] !== 1)
            return null;
        if (code < 32 || code === 127)
            return null;
        if (bytes.length > 0) {
            out += Buffer.from(bytes).toString('utf8');
            bytes = [];
        }
        out += text[i];
    }
    if (bytes.length > 0)
        out += Buffer.from(bytes).toString('utf8');
    return out;
}
function escapeComponent(text, allowed) {
    let out = '';
    for (const ch of text) {
        const code = ch.charCodeAt(0);
        if (ch.length === 1 && code < 128 && allowed[code] === 1) {
            out += ch;
            continue;
        }
        for (const b of Buffer.from(ch, 'utf8'))
            out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
    }
    return out;
}
/** Port 0..65535 from decimal digits only, or null. */
function parsePort(text) {
    if (text.length === 0 || text.length > 5)
        return null;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c < 48 || c > 57)
            return null;
    }
    const n = Number(text);
    return n <= 65535 ? n : null;
}
/** hostname, IPv4address or bracketed IPv6reference; returns the host without brackets. */
function parseHost(text) {
    if (text.startsWith('[')) {
        if (!text.endsWith(']'))
            return null;
        const inner = text.slice(1, -1);
        return (0, net_1.isIPv6)(inner) ? inner : null;
    }
    if (text.length === 0 || text.length > 255)
        return null;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 128 || HOST_CHARS[c] !== 1 && !isAlnum(c))
            return null;
    }
    return text;
}
function isAlnum(c) {
    return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
/** Splits 'host', 'host:port', '[v6]', '[v6]:port'. */
function parseHostPort(text) {
    let hostText = text;
    let portText;
    if (text.startsWith('[')) {
        const close = text.indexOf(']');
        if (close < 0)
            return null;
        hostText = text.slice(0, close + 1);
        const rest = text.slice(close + 1);
        if (rest.length > 0) {
            if (!rest.startsWith(':'))
                return null;
            portText = rest.slice(1);
        }
    }
    else {
        const colon = text.indexOf(':');
        if (colon >= 0) {
            hostText = text.slice(0, colon);
            portText = text.slice(colon + 1);
        }
    }
    const host = parseHost(hostText);
    if (host === null)
        return null;
    if (portText === undefined)
        return { host };
    const port = parsePort(portText);
    return port === null ? null : { host, port };
}
/** ';a=b;c' -> params (names lower-cased). Empty names (';;') are malformed. */
function parseUriParams(text) {
    const params = {};
    if (text.length === 0)
        return params;
    for (const part of text.split(';')) {
        const eq = part.indexOf('=');
        const rawName = eq < 0 ? part : part.slice(0, eq);
        const name = unescapeComponent(rawName, PARAM_CHARS);
        if (name === null || name.length === 0)
            return null;
        let value = null;
        if (eq >= 0) {
            value = unescapeComponent(part.slice(eq + 1), PARAM_CHARS);
            if (value === null)
                return null;
        }
        const key = name.toLowerCase();
        if (!(key in params))
            params[key] = value;
    }
    return params;
}
function parseUriHeaders(text) {
    const headers = {};
    for (const part of text.split('&')) {
        const eq = part.indexOf('=');
        if (eq <= 0)
            return null;
        const name = unescapeComponent(part.slice(0, eq), HEADER_CHARS);
        const value = unescapeComponent(part.slice(eq + 1), HEADER_CHARS);
        if (name === null || name.length === 0 || value === null)
            return null;
        headers[name] = value;
    }
    return headers;
}
function parseTel(rest) {
    const semi = rest.indexOf(';');
    const numberText = semi < 0 ? rest : rest.slice(0, semi);
    const user = unescapeComponent(numberText, TEL_CHARS);
    if (user === null || user.length === 0)
        return null;
    const params = parseUriParams(semi < 0 ? '' : rest.slice(semi + 1));
    if (params === null)
        return null;
    return { scheme: 'tel', user, host: '', params, headers: {} };
}
function parseSipRest(scheme, rest) {
    const uri = { scheme, host: '', params: {}, headers: {} };
    // userinfo cannot hold an unescaped '@' and host/params/headers cannot either, so the first
    // '@' separates them even when the user part holds ';' or '?' (RFC 4475 3.1.1.2, 3.1.1.10).
    const at = rest.indexOf('@');
    let hostPart = rest;
    if (at >= 0) {
        const userinfo = rest.slice(0, at);
        hostPart = rest.slice(at + 1);
        const colon = userinfo.indexOf(':');
        const user = unescapeComponent(colon < 0 ? userinfo : userinfo.slice(0, colon), USER_CHARS);
        if (user === null || user.length === 0)
            return null;
        uri.user = user;
        if (colon >= 0) {
            const password = unescapeComponent(userinfo.slice(colon + 1), PASSWORD_CHARS);
            if (password === null)
                return null;
            uri.password = password;
        }
    }
    const q = hostPart.indexOf('?');
    const beforeHeaders = q < 0 ? hostPart : hostPart.slice(0, q);
    if (q >= 0) {
        const headers = parseUriHeaders(hostPart.slice(q + 1));
        if (headers === null)
            return null;
        uri.headers = headers;
    }
    const semi = beforeHeaders.indexOf(';');
    const hp = parseHostPort(semi < 0 ? beforeHeaders : beforeHeaders.slice(0, semi));
    if (hp === null)
        return null;
    uri.host = hp.host;
    if (hp.port !== undefined)
        uri.port = hp.port;
    const params = parseUriParams(semi < 0 ? '' : beforeHeaders.slice(semi + 1));
    if (params === null)
        return null;
    uri.params = params;
    return uri;
}
/** Parses a sip:, sips: or tel: URI, with or without enclosing '<>'. Null when malformed. */
function parseUri(text) {
    let t = text.trim();
    if (t.startsWith('<')) {
        if (!t.endsWith('>'))
            return null;
        t = t.slice(1, -1);
    }
    if (t.length === 0 || t.length > 8192)
        return null;
    for (let i = 0; i < t.length; i++) {
        const c = t.charCodeAt(i);
        if (c <= 32 || c === 127 || c === 60 /* < */ || c === 62 /* > */ || c === 34 /* " */)
            return null;
    }
    const colon = t.indexOf(':');
    if (colon < 0)
        return null;
    const scheme = t.slice(0, colon).toLowerCase();
    const rest = t.slice(colon + 1);
    if (scheme === 'sip' || scheme === 'sips')
        return parseSipRest(scheme, rest);
    if (scheme === 'tel')
        return parseTel(rest);
    return null;
}
function formatParams(params) {
    let out = '';
    for (const [name, value] of Object.entries(params)) {
        out += ';' + escapeComponent(name, PARAM_CHARS);
        if (value !== null)
            out += '=' + escapeComponent(value, PARAM_CHARS);
    }
    return out;
}
/** Formats a URI (no '<>'), re-escaping user, password, params and headers; brackets IPv6. */
function formatUri(uri) {
    if (uri.scheme === 'tel')
        return 'tel:' + escapeComponent(uri.user ?? '', TEL_CHARS) + formatParams(uri.params);
    let out = uri.scheme + ':';
    if (uri.user !== undefined && uri.user.length > 0) {
        out += escapeComponent(uri.user, USER_CHARS);
        if (uri.password !== undefined)
            out += ':' + escapeComponent(uri.password, PASSWORD_CHARS);
        out += '@';
    }
    out += uri.host.includes(':') ? `[${uri.host}]` : uri.host;
    if (uri.port !== undefined)
        out += ':' + String(uri.port);
    out += formatParams(uri.params);
    const headers = Object.entries(uri.headers);
    if (headers.length > 0) {
        out += '?' + headers.map(([n, v]) => escapeComponent(n, HEADER_CHARS) + '=' + escapeComponent(v, HEADER_CHARS)).join('&');
    }
    return out;
}
//# sourceMappingURL=uri.js.map