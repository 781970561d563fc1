"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.StreamFramer = exports.FramingError = void 0;
/**
 * Cuts a TCP byte stream into whole SIP messages by Content-Length (RFC 3261 18.3) and absorbs
 * CRLF keep-alives (RFC 3261 7.5, RFC 5626 4.4.1). It never parses more than it must to frame,
 * never buffers past the limits, and once it has thrown the stream is dead for good.
 */
const parser_1 = require("./parser");
class FramingError extends Error {
    constructor(message) {
        super(message);
        this.name = 'FramingError';
    }
}
exports.FramingError = FramingError;
const CR = 0x0d;
const LF = 0x0a;
/** Content-Length of a complete header section (latin1 text), folded lines joined. */
function frameContentLength(head) {
    let found;
    const lines = head.split(/\r?\n/);
    for (let i = 1; i < lines.length; i++) {
        let line = lines[i] ?? '';
        while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] ?? ''))
            line += ' ' + (lines[++i] ?? '').trim();
        const colon = line.indexOf(':');
        if (colon < 0)
            continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        if (name !== 'content-length' && name !== 'l')
            continue;
        const value = line.slice(colon + 1).trim();
        if (!/^\d{1,10}$/.test(value))
            throw new FramingError('malformed Content-Length');
        const n = Number(value);
        if (found !== undefined && found !== n)
            throw new FramingError('conflicting Content-Length headers');
        found = n;
    }
    if (found === undefined)
        throw new FramingError('missing Content-Length on a stream transport');
    return found;
}
/**
 * A start line is 'SIP/x.y ...' or 'METHOD ... SIP/x.y'; anything else means the peer is not
 * talking SIP (TLS hello, HTTP). Odd spacing is left for the parser to answer with a 400.
 */
function looksLikeStartLine(line) {
    return /^SIP\/\d/i.test(line) || /^\S+[ \t].*[ \t]SIP\/\d+\.\d+[ \t]*$/i.test(line);
}
class StreamFramer {
    limits;
    store = Buffer.alloc(0);
    start = 0;
    end = 0;
    /** Where to resume the search for the empty line, so each byte is scanned about once. */
    scanFrom = 0;
    startLineChecked = false;
    /** Total bytes of the message at `start`, once its header section has been read. */
    pendingLength;
    pinged = false;
    failure;
    constructor(limits = parser_1.DEFAULT_PARSE_LIMITS) {
        this.limits = limits;
    }
    push(chunk) {
        if (chunk.length === 0 || this.failure)
            return;
        const used = this.end - this.start;
        if (this.end + chunk.length > this.store.length) {
            const needed = used + chunk.length;
            const target = needed <= this.store.length / 2 ? this.store : Buffer.alloc(Math.max(needed, this.store.length * 2, 4096));
            this.store.copy(target, 0, this.start, this.end);
            this.store = target;
            this.scanFrom -= this.start;
            this.start = 0;
            this.end = used;
        }
        chunk.copy(this.store, this.end);
        this.end += chunk.length;
    }
    /** The next whole message (a copy), or null when more data is needed. Throws FramingError. */
    next() {
        if (this.failure)
            throw this.failure;
        try {
            return this.nextUnchecked();
        }
        catch (err) {
            this.failure = err instanceof FramingError ? err : new FramingError(String(err));
            throw this.failure;
        }
    }
    /** True once after a CRLFCRLF ping was consumed, so the transport can answer CRLF. */
    takePing() {
        const pinged = this.pinged;
        this.pinged = false;
        return pinged;
    }
    nextUnchecked() {
        if (this.pendingLength === undefined) {
            if (!this.skipKeepAlives())
                return null;
            const total = this.readHeaderSection();
            if (total === undefined)
                return null;
            this.pendingLength = total;
        }
        if (this.end - this.start < this.pendingLength)
            return null;
        const message = Buffer.from(this.store.subarray(this.start, this.start + this.pendingLength));
        this.start += this.pendingLength;
        this.pendingLength = undefined;
        this.startLineChecked = false;
        this.scanFrom = this.start;
        if (this.start === this.end)
            this.start = this.end = this.scanFrom = 0;
        return message;
    }
    /** Consumes CRLFCRLF pings and stray CRLFs; false when what is buffered may still be one. */
    skipKeepAlives() {
        const s = this.store;
        for (;;) {
            const avail = this.end - this.start;
            if (avail === 0)
                return false;
            if (s[this.start] !== CR)
                return true;
            if (avail < 2)
                return false;
            if (s[this.start + 1] !== LF)
                return true;
            if (avail < 3)
                return false;
            if (s[this.start + 2] !== CR) {
                this.consume(2);
                continue;
            }
            if (avail < 4)
                return false;
            if (s[this.start + 3] === LF) {
                this.consume(4);
                this.pinged = true;
            }
            else {
                this.consume(2);
            }
        }
    }
    consume(n) {
        this.start += n;
        this.scanFrom = Math.max(this.scanFrom, this.start);
    }
    /** Total message length once the header section is complete, else undefined. */
    readHeaderSection() {
        const { maxLineLength, maxMessageBytes } = this.limits;
        if (!this.startLineChecked) {
            const lf = this.store.indexOf(LF, this.start);
            if (lf < 0 || lf >= this.end) {
                if (this.end - this.start > maxLineLength)
                    throw new FramingError('start line longer than maxLineLength');
                return undefined;
            }
            const line = this.store.toString('latin1', this.start, lf > this.start && this.store[lf - 1] === CR ? lf - 1 : lf);
            if (line.length > maxLineLength || !looksLikeStartLine(line))
                throw new FramingError('bad start line');
            this.startLineChecked = true;
        }
        const bodyStart = (0, parser_1.findBodyStart)(this.store, Math.max(this.scanFrom, this.start), this.end);
        if (bodyStart < 0) {
            if (this.end - this.start > maxMessageBytes)
                throw new FramingError(`header section larger than maxMessageBytes (${maxMessageBytes})`);
            this.scanFrom = Math.max(this.start, this.end - 3);
            return undefined;
        }
        const headLength = bodyStart - this.start;
        const cl = frameContentLength(this.store.toString('latin1', this.start, bodyStart));
        if (headLength + cl > maxMessageBytes)
            throw new FramingError(`message larger than maxMessageBytes (${maxMessageBytes})`);
        return headLength + cl;
    }
}
exports.StreamFramer = StreamFramer;
//# sourceMappingURL=framing.js.map