/**
 * SIP message model (RFC 3261 section 7): requests and responses with an ordered header list.
 * Header names are stored in canonical long form (compact forms are expanded by the parser),
 * values are raw strings; structured views (Via, name-addr, CSeq, URI) are parsed on demand by
 * headers.ts and uri.ts. No I/O here.
 */

export interface SipHeader {
  /** Canonical long form, e.g. 'Via', 'Call-ID', 'Content-Length'. */
  name: string;
  value: string;
}

interface SipMessageBase {
  /** 'SIP/2.0' */
  version: string;
  headers: SipHeader[];
  body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  kind: 'request';
  /** Upper-case method token, e.g. 'INVITE'. Extension methods are kept as received. */
  method: string;
  /** Raw Request-URI text; parse with parseUri() from uri.ts. */
  uri: string;
}

export interface SipResponse extends SipMessageBase {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Compact forms (RFC 3261 section 7.3.3 and later RFCs) to canonical names. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
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

const CANONICAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
};

/** Canonical header name: expands compact forms, fixes case ('call-id' -> 'Call-ID'). */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const long = COMPACT_FORMS[lower];
    if (long) return long;
  }
  const special = CANONICAL[lower];
  if (special) return special;
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** First value of a header (names compared canonically), or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const canon = canonicalHeaderName(name);
  for (const h of msg.headers) if (h.name === canon) return h.value;
  return undefined;
}

/** Every value of a header, in order, as separate header lines (not split on commas). */
export function getHeaderLines(msg: SipMessage, name: string): string[] {
  const canon = canonicalHeaderName(name);
  return msg.headers.filter((h) => h.name === canon).map((h) => h.value);
}

/** Replaces every instance of a header with one value. */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const canon = canonicalHeaderName(name);
  const idx = msg.headers.findIndex((h) => h.name === canon);
  msg.headers = msg.headers.filter((h, i) => h.name !== canon || i === idx);
  if (idx >= 0) {
    const h = msg.headers.find((x) => x.name === canon);
    if (h) h.value = value;
  } else {
    msg.headers.push({ name: canon, value });
  }
}

export function removeHeader(msg: SipMessage, name: string): void {
  const canon = canonicalHeaderName(name);
  msg.headers = msg.headers.filter((h) => h.name !== canon);
}

export function addHeader(msg: SipMessage, name: string, value: string): void {
  msg.headers.push({ name: canonicalHeaderName(name), value });
}
