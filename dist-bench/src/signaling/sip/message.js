"use strict";
/**
 * SIP message model (RFC 3261 section 7): requests and responses with an ordered header list.
 * Header names are stored in canonical long form (compact forms are expanded by the parser),
 * values are raw strings; structured views (Via, name-addr, CSeq, URI) are parsed on demand by
 * headers.ts and uri.ts. No I/O here.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.COMPACT_FORMS = void 0;
exports.canonicalHeaderName = canonicalHeaderName;
exports.getHeader = getHeader;
exports.getHeaderLines = getHeaderLines;
exports.setHeader = setHeader;
exports.removeHeader = removeHeader;
exports.addHeader = addHeader;
/** Compact forms (RFC 3261 section 7.3.3 and later RFCs) to canonical names. */
exports.COMPACT_FORMS = {
    i: 'Call-ID',
    m: 'Contact',
    e: 'Content-Encoding',
    l: 'Content-Length',
    c: 'Content-Type',
    f: 'From',
    s: 'Subject',
    k: 'Supported',
    t: 'To',
    v: 'Via',
    o: 'Event',
    r: 'Refer-To',
    u: 'Allow-Events',
    b: 'Referred-By',
    x: 'Session-Expires',
};
const CANONICAL = {
    'call-id': 'Call-ID',
    cseq: 'CSeq',
    'www-authenticate': 'WWW-Authenticate',
    'mime-version': 'MIME-Version',
    'rack': 'RAck',
    'rseq': 'RSeq',
};
/** Canonical header name: expands compact forms, fixes case ('call-id' -> 'Call-ID'). */
function canonicalHeaderName(name) {
    const lower = name.toLowerCase();
    if (lower.length === 1) {
        const long = exports.COMPACT_FORMS[lower];
        if (long)
            return long;
    }
    const special = CANONICAL[lower];
    if (special)
        return special;
    return lower.replace(/(^|-)([a-z])/g, (_m, dash, ch) => dash + ch.toUpperCase());
}
/** First value of a header (names compared canonically), or undefined. */
function getHeader(msg, name) {
    const canon = canonicalHeaderName(name);
    for (const h of msg.headers)
        if (h.name === canon)
            return h.value;
    return undefined;
}
/** Every value of a header, in order, as separate header lines (not split on commas). */
function getHeaderLines(msg, name) {
    const canon = canonicalHeaderName(name);
    return msg.headers.filter((h) => h.name === canon).map((h) => h.value);
}
/** Replaces every instance of a header with one value. */
function setHeader(msg, name, value) {
    const canon = canonicalHeaderName(name);
    const idx = msg.headers.findIndex((h) => h.name === canon);
    msg.headers = msg.headers.filter((h, i) => h.name !== canon || i === idx);
    if (idx >= 0) {
        const h = msg.headers.find((x) => x.name === canon);
        if (h)
            h.value = value;
    }
    else {
        msg.headers.push({ name: canon, value });
    }
}
function removeHeader(msg, name) {
    const canon = canonicalHeaderName(name);
    msg.headers = msg.headers.filter((h) => h.name !== canon);
}
function addHeader(msg, name, value) {
    msg.headers.push({ name: canonicalHeaderName(name), value });
}
//# sourceMappingURL=message.js.map