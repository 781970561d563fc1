"use strict";
/**
 * RFC 4733 telephone-event payloads: parsing, and a per-stream recogniser that reports each DTMF
 * digit exactly once however many updates and redundant end packets the sender transmits.
 * Pure and per-packet cheap: never emits events or logs itself; the caller raises the event.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.DtmfRecognizer = void 0;
exports.dtmfDigitForEvent = dtmfDigitForEvent;
exports.parseTelephoneEvent = parseTelephoneEvent;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'];
/** RFC 4733 section 3.2: 0-9, * (10), # (11), A-D (12-15). Event 16 (flash) and others: undefined. */
function dtmfDigitForEvent(event) {
    return DIGITS[event];
}
/** Parses the 4-byte event block (RFC 4733 section 2.3); undefined if too short. */
function parseTelephoneEvent(payload) {
    if (payload.length < 4)
        return undefined;
    const flags = payload[1] ?? 0;
    return {
        event: payload[0] ?? 0,
        end: (flags & 0x80) !== 0,
        volume: flags & 0x3f,
        duration: payload.readUInt16BE(2),
    };
}
/** Duration a long event's segment reaches before the sender starts a new segment (section 2.5.1.3). */
const SEGMENT_NEAR_MAX = 0xff00;
/** One per received telephone-event stream. */
class DtmfRecognizer {
    stats = { packets: 0, digits: 0, malformed: 0, repeats: 0, ignored: 0 };
    lastTimestamp = 0;
    lastEvent = -1;
    lastEnded = true;
    lastDuration = 0;
    seen = false;
    /**
     * Feeds one telephone-event RTP packet (its RTP timestamp and payload). Returns the digit when
     * this packet is the first seen of a new event, otherwise undefined.
     */
    push(timestamp, payload) {
        this.stats.packets++;
        if (payload.length < 4) {
            this.stats.malformed++;
            return undefined;
        }
        const event = payload[0] ?? 0;
        const end = ((payload[1] ?? 0) & 0x80) !== 0;
        const duration = payload.readUInt16BE(2);
        const ts = timestamp >>> 0;
        if (this.seen) {
            // Signed 32-bit distance handles timestamp wrap.
            const diff = (ts - this.lastTimestamp) | 0;
            if (diff < 0 || (diff === 0 && event === this.lastEvent)) {
                if (diff === 0)
                    this.update(end, duration);
                this.stats.repeats++;
                return undefined;
            }
            if (this.isNextSegment(event, diff)) {
                this.start(ts, event, end, duration);
                this.stats.repeats++;
                return undefined;
            }
        }
        this.seen = true;
        this.start(ts, event, end, duration);
        const digit = dtmfDigitForEvent(event);
        if (digit === undefined) {
            this.stats.ignored++;
            return undefined;
        }
        this.stats.digits++;
        return digit;
    }
    reset() {
        this.seen = false;
        this.lastEvent = -1;
        this.lastEnded = true;
    }
    /** A long event continues under a new timestamp right after a segment that hit the limit. */
    isNextSegment(event, diff) {
        return event === this.lastEvent && !this.lastEnded && this.lastDuration >= SEGMENT_NEAR_MAX && diff <= this.lastDuration + 8000;
    }
    start(ts, event, end, duration) {
        this.lastTimestamp = ts;
        this.lastEvent = event;
        this.lastEnded = end;
        this.lastDuration = duration;
    }
    update(end, duration) {
        if (end)
            this.lastEnded = true;
        if (duration > this.lastDuration)
            this.lastDuration = duration;
    }
}
exports.DtmfRecognizer = DtmfRecognizer;
//# sourceMappingURL=dtmf.js.map