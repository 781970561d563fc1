"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.buildAnswer = buildAnswer;
exports.buildOffer = buildOffer;
const negotiate_1 = require("./negotiate");
function ipVer(address) {
    return address.includes(':') ? 'IP6' : 'IP4';
}
function header(origin, address) {
    return [
        'v=0',
        `o=confnode ${origin.sessionId} ${origin.version} IN ${ipVer(address)} ${address}`,
        's=confnode',
        `c=IN ${ipVer(address)} ${address}`,
        't=0 0',
    ];
}
function codecLines(c) {
    const ch = c.channels > 1 ? `/${c.channels}` : '';
    const lines = [`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${ch}`];
    if (c.fmtp)
        lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
    return lines;
}
function transportLines(local) {
    return local.rtcpMux ? ['a=rtcp-mux'] : [`a=rtcp:${local.rtcpPort}`];
}
function buildAnswer(opts) {
    const { local, negotiation } = opts;
    const lines = header(opts.origin, local.address);
    for (const outcome of negotiation.media) {
        if (outcome.kind === 'rejected') {
            lines.push(`m=${outcome.type} 0 ${outcome.protocol} ${outcome.formats || '0'}`);
            continue;
        }
        const a = outcome.audio;
        const pts = [a.codec.payloadType, ...(a.telephoneEvent ? [a.telephoneEvent.payloadType] : [])];
        lines.push(`m=audio ${local.port} RTP/AVP ${pts.join(' ')}`);
        lines.push(...codecLines(a.codec));
        if (a.telephoneEvent)
            lines.push(...codecLines({ ...a.telephoneEvent, fmtp: a.telephoneEvent.fmtp ?? '0-16' }));
        lines.push('a=ptime:20');
        lines.push(...transportLines({ ...local, rtcpMux: local.rtcpMux && a.remote.rtcpMux }));
        lines.push(`a=${opts.direction ?? (0, negotiate_1.answerDirection)(a.remoteDirection)}`);
    }
    return lines.join('\r\n') + '\r\n';
}
/** Our offer (for an INVITE that came without one): every capability plus telephone-event. */
function buildOffer(opts) {
    const lines = header(opts.origin, opts.local.address);
    let nextDynamic = 96;
    const codecs = opts.caps.map((cap) => ({
        name: cap.name,
        payloadType: cap.staticPayloadType ?? cap.dynamicPayloadType ?? nextDynamic++,
        clockRate: cap.clockRate,
        channels: cap.channels,
        ...(cap.fmtp ? { fmtp: cap.fmtp } : {}),
    }));
    const te = { name: 'telephone-event', payloadType: 101, clockRate: 8000, channels: 1, fmtp: '0-16' };
    lines.push(`m=audio ${opts.local.port} RTP/AVP ${[...codecs, te].map((c) => c.payloadType).join(' ')}`);
    for (const c of [...codecs, te])
        lines.push(...codecLines(c));
    lines.push('a=ptime:20');
    lines.push(...transportLines(opts.local));
    lines.push(`a=${opts.direction ?? 'sendrecv'}`);
    return lines.join('\r\n') + '\r\n';
}
//# sourceMappingURL=build.js.map