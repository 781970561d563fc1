"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.serializeMessage = serializeMessage;
function clean(text) {
    return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}
function serializeMessage(msg) {
    const start = msg.kind === 'request'
        ? `${clean(msg.method)} ${clean(msg.uri)} ${clean(msg.version)}`
        : `${clean(msg.version)} ${msg.status} ${clean(msg.reason)}`;
    const lines = [start];
    let wroteLength = false;
    for (const h of msg.headers) {
        if (h.name === 'Content-Length') {
            // Keep the position of the first one (some peers are picky about order), drop the rest.
            if (!wroteLength)
                lines.push(`Content-Length: ${msg.body.length}`);
            wroteLength = true;
            continue;
        }
        lines.push(`${clean(h.name)}: ${clean(h.value)}`);
    }
    if (!wroteLength)
        lines.push(`Content-Length: ${msg.body.length}`);
    const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
    return msg.body.length > 0 ? Buffer.concat([head, msg.body]) : head;
}
//# sourceMappingURL=serializer.js.map