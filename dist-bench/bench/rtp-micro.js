"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * Micro-benchmark of the plain RTP path: packets handled per CPU-second by two RtpEndpoints
 * echoing 172-byte PCMU packets on loopback, against a bare dgram echo in the same process.
 * Bounded in time (about 3 s per phase); loopback only; never part of the test suite.
 *
 * Run: npx tsc -p tsconfig.json --outDir /tmp/confnode-bench && node /tmp/confnode-bench/bench/rtp-micro.js
 */
const node_dgram_1 = __importDefault(require("node:dgram"));
const node_net_1 = __importDefault(require("node:net"));
const common_1 = require("../src/common");
const packet_1 = require("../src/media/rtp/packet");
const port_allocator_1 = require("../src/media/rtp/port-allocator");
const rtp_endpoint_1 = require("../src/media/rtp/rtp-endpoint");
const PHASE_MS = Number(process.env.PHASE_MS ?? 3000);
const WINDOW = 16; // packets in flight each way
const PAYLOAD = Buffer.alloc(160, 0xff);
function perCpuSecond(r) {
    return (r.packets * 1000) / r.cpuMs;
}
/** Runs `start`, lets the echo loop go for PHASE_MS, and counts packets received by either side. */
async function measure(name, start) {
    let packets = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const stop = start(() => packets++);
    await new Promise((r) => setTimeout(r, PHASE_MS));
    const c = process.cpuUsage(c0);
    const wallMs = performance.now() - t0;
    const counted = packets;
    await stop();
    return { name, packets: counted, cpuMs: (c.user + c.system) / 1000, wallMs };
}
function bindSocket(lookup) {
    return new Promise((resolve) => {
        const s = node_dgram_1.default.createSocket({
            type: 'udp4',
            ...(lookup
                ? {
                    lookup: ((host, _o, cb) => cb(null, host, node_net_1.default.isIP(host))),
                }
                : {}),
        });
        s.bind(0, '127.0.0.1', () => resolve(s));
    });
}
async function bareEcho(name, literalLookup) {
    const a = await bindSocket(literalLookup);
    const b = await bindSocket(literalLookup);
    const pkt = (0, packet_1.buildRtp)(0, false, 1, 160, 0x1234, PAYLOAD);
    return measure(name, (count) => {
        let running = true;
        const echo = (s) => (msg, rinfo) => {
            count();
            if (running)
                s.send(msg, rinfo.port, rinfo.address);
        };
        a.on('message', echo(a));
        b.on('message', echo(b));
        for (let i = 0; i < WINDOW; i++)
            a.send(pkt, b.address().port, '127.0.0.1');
        return async () => {
            running = false;
            await new Promise((r) => setTimeout(r, 50));
            await Promise.all([a, b].map((s) => new Promise((r) => s.close(() => r()))));
        };
    });
}
async function endpointEcho() {
    const allocator = new port_allocator_1.PortAllocator({ min: 42000, max: 42099 });
    const opts = { address: '127.0.0.1', allocator, clock: common_1.systemClock, logger: common_1.silentLogger };
    const a = await rtp_endpoint_1.RtpEndpoint.open(opts);
    const b = await rtp_endpoint_1.RtpEndpoint.open(opts);
    a.setRemote({ address: '127.0.0.1', rtpPort: b.rtpPort, rtcpMux: false, payloadTypes: [0] });
    b.setRemote({ address: '127.0.0.1', rtpPort: a.rtpPort, rtcpMux: false, payloadTypes: [0] });
    return measure('RtpEndpoint echo', (count) => {
        const echo = (pkt, ep) => {
            count();
            ep.sendRtp(pkt.payloadType, pkt.payload, 160);
        };
        a.onRtp = echo;
        b.onRtp = echo;
        for (let i = 0; i < WINDOW; i++)
            a.sendRtp(0, PAYLOAD, 160);
        return async () => {
            a.onRtp = null;
            b.onRtp = null;
            const stats = [a.stats(), b.stats()];
            await Promise.all([a.close(), b.close()]);
            const drops = stats.map((s) => Object.values(s.dropped).reduce((x, y) => x + y, 0));
            console.log(`  endpoint drops: ${drops.join(', ')}; socket errors: ${stats.map((s) => s.socketErrors).join(', ')}`);
        };
    });
}
async function main() {
    const results = [];
    results.push(await bareEcho('bare dgram echo', false));
    results.push(await bareEcho('bare dgram echo, literal lookup', true));
    results.push(await endpointEcho());
    for (const r of results) {
        const util = ((r.cpuMs / r.wallMs) * 100).toFixed(0);
        console.log(`${r.name.padEnd(34)} ${r.packets.toString().padStart(8)} pkts  cpu ${r.cpuMs.toFixed(0)} ms (${util}%)  ` +
            `${Math.round(perCpuSecond(r)).toString().padStart(7)} pkts/cpu-s`);
    }
    const bare = results[0];
    const ep = results[2];
    console.log(`RtpEndpoint / bare dgram (packets per CPU-second): ${(perCpuSecond(ep) / perCpuSecond(bare)).toFixed(2)}`);
}
void main();
//# sourceMappingURL=rtp-micro.js.map