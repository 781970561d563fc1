"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.PortAllocator = void 0;
/**
 * Hands out RTP/RTCP UDP socket pairs (RTP on an even port, RTCP on port+1) from a configured
 * range, binding both sockets before returning so a port is never promised and then lost.
 * Never loops unbounded: exhaustion is a ConfnodeError('capacity') the SIP layer turns into 503.
 */
const node_dgram_1 = __importDefault(require("node:dgram"));
const node_net_1 = __importDefault(require("node:net"));
const common_1 = require("../../common");
/** The lookup dgram uses for send(): our targets are IP literals, so skip dns.lookup's nextTick. */
function literalLookup(host, _opts, cb) {
    const family = node_net_1.default.isIP(host);
    if (family === 0) {
        const err = new Error(`not an IP address: ${host}`);
        err.code = 'EINVAL';
        cb(err, '', 0);
        return;
    }
    cb(null, host, family);
}
function bindOne(address, port, bufferBytes) {
    return new Promise((resolve) => {
        const type = node_net_1.default.isIPv6(address) ? 'udp6' : 'udp4';
        const socket = node_dgram_1.default.createSocket({
            type,
            lookup: literalLookup,
            ...(bufferBytes ? { recvBufferSize: bufferBytes, sendBufferSize: bufferBytes } : {}),
        });
        const onError = (error) => {
            socket.close();
            resolve({ error });
        };
        socket.once('error', onError);
        socket.bind({ port, address, exclusive: true }, () => {
            socket.off('error', onError);
            resolve({ socket });
        });
    });
}
function closeSocket(socket) {
    return new Promise((resolve) => {
        try {
            socket.close(() => resolve());
        }
        catch {
            resolve(); // already closed
        }
    });
}
class PortAllocator {
    min;
    max;
    defaultAddress;
    maxTries;
    bufferBytes;
    /** "address|port" of pairs held by this allocator. */
    held = new Set();
    cursor;
    constructor(opts) {
        const min = opts.min + (opts.min % 2);
        if (!Number.isInteger(min) || !Number.isInteger(opts.max) || min < 1024 || opts.max > 65535 || min + 1 > opts.max) {
            throw new common_1.ConfnodeError('config', `bad RTP port range ${opts.min}-${opts.max}`);
        }
        this.min = min;
        this.max = opts.max;
        this.defaultAddress = opts.address ?? '127.0.0.1';
        const pairs = Math.floor((this.max - this.min + 1) / 2);
        this.maxTries = Math.max(1, Math.min(pairs, opts.maxTries ?? pairs));
        this.bufferBytes = opts.socketBufferBytes;
        this.cursor = this.min;
    }
    /** Pairs currently handed out by this allocator. */
    get inUse() {
        return this.held.size;
    }
    /**
     * Binds the next free pair, starting after the last one handed out (so a just-released pair is
     * not reused at once), skipping pairs some other process holds (EADDRINUSE).
     */
    async allocate(address = this.defaultAddress) {
        for (let tries = 0; tries < this.maxTries; tries++) {
            const port = this.cursor;
            this.cursor = port + 3 > this.max ? this.min : port + 2;
            const key = `${address}|${port}`;
            if (this.held.has(key))
                continue;
            this.held.add(key);
            let pair = null;
            try {
                pair = await this.tryPair(address, port);
            }
            finally {
                if (!pair)
                    this.held.delete(key);
            }
            if (pair)
                return pair;
        }
        throw new common_1.ConfnodeError('capacity', `no free RTP port pair in ${this.min}-${this.max} on ${address}`);
    }
    async tryPair(address, port) {
        const rtp = await bindOne(address, port, this.bufferBytes);
        if ('error' in rtp)
            return this.bindFailed(rtp.error, address);
        const rtcp = await bindOne(address, port + 1, this.bufferBytes);
        if ('error' in rtcp) {
            await closeSocket(rtp.socket);
            return this.bindFailed(rtcp.error, address);
        }
        let released = null;
        const key = `${address}|${port}`;
        return {
            address,
            rtpPort: port,
            rtcpPort: port + 1,
            rtp: rtp.socket,
            rtcp: rtcp.socket,
            release: () => {
                released ??= Promise.all([closeSocket(rtp.socket), closeSocket(rtcp.socket)]).then(() => {
                    this.held.delete(key);
                });
                return released;
            },
        };
    }
    bindFailed(err, address) {
        if (err.code === 'EADDRINUSE')
            return null;
        // Not a busy port: every other port would fail the same way (bad address, no permission).
        throw new common_1.ConfnodeError('config', `cannot bind RTP socket on ${address}: ${err.message}`, { cause: err });
    }
}
exports.PortAllocator = PortAllocator;
//# sourceMappingURL=port-allocator.js.map