"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * A tiny stand-in for the node, to check the load generator itself (`node fake-uas.js SIP_PORT`):
 * answers INVITEs over UDP with a PCMU or Opus SDP answer on a fresh RTP socket, latches on the
 * caller's RTP, and every 20 ms sends each caller the N-1 mix of its room (PCMU decoded and
 * mixed; Opus mixed through @discordjs/opus). Not a SIP implementation: loopback bench use only.
 */
const node_dgram_1 = require("node:dgram");
const opus_1 = require("@discordjs/opus");
const g711_1 = require("../../src/media/codecs/g711");
const sip_uac_1 = require("./sip-uac");
const participant_1 = require("./participant");
const rooms = new Map();
const legs = new Map();
const FRAME = 160; // mixing at 8 kHz: enough for the bench tones
function first(h, name) {
    return h.get(name)?.[0] ?? '';
}
function openLeg(opus) {
    return new Promise((resolve) => {
        const sock = (0, node_dgram_1.createSocket)('udp4');
        const leg = { sock, opus, last: new Int16Array(FRAME), seq: 0, ts: 0 };
        if (opus)
            leg.codec = new opus_1.OpusEncoder(8000, 1);
        sock.on('message', (msg, rinfo) => {
            leg.remote = { address: rinfo.address, port: rinfo.port };
            const payload = (0, participant_1.rtpPayload)(msg);
            if (!payload)
                return;
            if (leg.codec) {
                try {
                    const pcm = leg.codec.decode(payload);
                    leg.last = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + Math.min(pcm.byteLength, FRAME * 2)));
                }
                catch {
                    leg.last = new Int16Array(FRAME);
                }
            }
            else {
                const out = new Int16Array(FRAME);
                for (let i = 0; i < FRAME && i < payload.length; i++)
                    out[i] = g711_1.ULAW_DECODE[payload[i] ?? 0xff] ?? 0;
                leg.last = out;
            }
        });
        sock.bind(0, '127.0.0.1', () => resolve(leg));
    });
}
function mixTick() {
    for (const members of rooms.values()) {
        for (const leg of members) {
            if (!leg.remote)
                continue;
            const mix = new Int16Array(FRAME);
            for (const other of members) {
                if (other === leg)
                    continue;
                for (let i = 0; i < FRAME; i++)
                    mix[i] = Math.max(-32768, Math.min(32767, (mix[i] ?? 0) + (other.last[i] ?? 0)));
            }
            let payload;
            if (leg.codec)
                payload = leg.codec.encode(Buffer.from(mix.buffer));
            else {
                payload = Buffer.allocUnsafe(FRAME);
                for (let i = 0; i < FRAME; i++)
                    payload[i] = (0, g711_1.encodeUlaw)(mix[i] ?? 0);
            }
            const h = Buffer.alloc(12);
            h[0] = 0x80;
            h[1] = leg.opus ? 111 : 0;
            h.writeUInt16BE(leg.seq, 2);
            h.writeUInt32BE(leg.ts >>> 0, 4);
            h.writeUInt32BE(0xabcdef, 8);
            leg.seq = (leg.seq + 1) & 0xffff;
            leg.ts += leg.opus ? 960 : 160;
            leg.sock.send([h, payload], leg.remote.port, leg.remote.address);
        }
    }
}
function respond(sip, rinfo, h, status, toTag, body = '') {
    const lines = [
        `SIP/2.0 ${status}`,
        ...(h.get('via') ?? []).map((v) => `Via: ${v}`),
        `From: ${first(h, 'from')}`,
        `To: ${first(h, 'to')}${toTag ? `;tag=${toTag}` : ''}`,
        `Call-ID: ${first(h, 'call-id')}`,
        `CSeq: ${first(h, 'cseq')}`,
        ...(body ? ['Content-Type: application/sdp', 'Contact: <sip:fake@127.0.0.1>'] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
    ];
    sip.send(lines.join('\r\n'), rinfo.port, rinfo.address);
}
async function onSip(sip, buf, rinfo) {
    const m = (0, sip_uac_1.parseSip)(buf.toString('utf8'));
    if (!m || m.status !== 0)
        return;
    const callId = first(m.headers, 'call-id');
    if (m.method === 'INVITE') {
        if (legs.has(callId))
            return;
        const room = /^INVITE sip:([^@ ]+)/.exec(buf.toString('utf8', 0, 200))?.[1] ?? 'x';
        const opus = /opus\/48000/i.test(m.body);
        const leg = await openLeg(opus);
        legs.set(callId, { room, leg });
        const set = rooms.get(room) ?? new Set();
        set.add(leg);
        rooms.set(room, set);
        const port = leg.sock.address().port;
        const fmt = opus ? ['m=audio PORT RTP/AVP 111', 'a=rtpmap:111 opus/48000/2'] : ['m=audio PORT RTP/AVP 0', 'a=rtpmap:0 PCMU/8000'];
        const sdp = ['v=0', 'o=fake 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', ...fmt, ''].join('\r\n').replace('PORT', String(port));
        respond(sip, rinfo, m.headers, '200 OK', callId.slice(0, 8), sdp);
    }
    else if (m.method === 'BYE') {
        const entry = legs.get(callId);
        if (entry) {
            legs.delete(callId);
            rooms.get(entry.room)?.delete(entry.leg);
            entry.leg.sock.close();
        }
        respond(sip, rinfo, m.headers, '200 OK', '');
    }
}
function main() {
    const port = Number(process.argv[2]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
        throw new Error('usage: fake-uas.js SIP_PORT');
    const sip = (0, node_dgram_1.createSocket)('udp4');
    sip.on('message', (buf, rinfo) => void onSip(sip, buf, rinfo));
    sip.bind(port, '127.0.0.1', () => process.stdout.write(`fake-uas ready on ${port}\n`));
    const t0 = performance.now();
    let tick = 0;
    const run = () => {
        for (let i = 0; i < 5 && t0 + tick * 20 <= performance.now(); i++) {
            mixTick();
            tick++;
        }
        tick = Math.max(tick, Math.floor((performance.now() - t0) / 20));
        setTimeout(run, Math.max(0, t0 + tick * 20 - performance.now()));
    };
    run();
    process.on('SIGTERM', () => process.exit(0));
}
main();
//# sourceMappingURL=fake-uas.js.map