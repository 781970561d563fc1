"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NodeApiImpl = void 0;
function parseRemote(remote) {
    const first = remote.indexOf(':');
    const last = remote.lastIndexOf(':');
    return { transport: remote.slice(0, first), address: remote.slice(first + 1, last), port: Number(remote.slice(last + 1)) };
}
class NodeApiImpl {
    deps;
    startedAt;
    draining = false;
    /** Counters of participants that already left, so node totals never go down. */
    retired = { in: 0, out: 0, dropped: 0 };
    constructor(deps) {
        this.deps = deps;
        this.startedAt = deps.startedAt ?? Date.now();
        deps.registry.events.on('participant-left', (_rec, stats) => {
            if (!stats)
                return;
            this.retired.in += stats.packetsIn;
            this.retired.out += stats.packetsOut;
            this.retired.dropped += stats.packetsDropped;
        });
    }
    setDraining(draining) {
        this.draining = draining;
    }
    health() {
        return { status: this.draining ? 'draining' : 'ok' };
    }
    status() {
        const { node, registry, version } = this.deps;
        return {
            node: node.name,
            location: node.location,
            capacity: registry.capacity,
            load: Math.round(registry.load * 1000) / 1000,
            state: this.draining ? 'draining' : 'active',
            sip: { address: node.address, port: node.sip_port, transports: ['udp', 'tcp'] },
            http: { address: node.address, port: node.http_port },
            control: { address: node.address, port: node.control_port },
            uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
            version,
        };
    }
    nodes() {
        return [this.status()];
    }
    conferences() {
        const { node } = this.deps;
        return this.deps.registry.conferences().map((c) => {
            const speaker = this.deps.media.activeSpeaker(c.id);
            return {
                id: c.id,
                name: c.vmr.name,
                aliases: [...c.vmr.aliases],
                startedAt: c.startedAt.toISOString(),
                participants: c.participants.size,
                locations: [node.location],
                mediaNodes: [node.name],
                proxyNodes: [],
                ...(speaker ? { activeSpeaker: speaker } : {}),
            };
        });
    }
    participants() {
        return this.deps.registry.participants().map((p) => this.participantView(p));
    }
    backplanes() {
        return [];
    }
    adminLog(query) {
        let entries = this.deps.adminLog.list();
        if (query.conference !== undefined)
            entries = entries.filter((e) => e.conference === query.conference);
        entries.reverse();
        return query.limit !== undefined ? entries.slice(0, query.limit) : entries;
    }
    async endConference(name) {
        if (!this.deps.registry.conference(name))
            return undefined;
        this.deps.adminLog.add('info', 'Conference ended by the admin API', { conference: name });
        return { participants: await this.deps.registry.endConference(name) };
    }
    async hangupParticipant(id) {
        const p = this.deps.registry.participant(id);
        if (!p)
            return false;
        await p.hangup();
        return true;
    }
    metricsSource() {
        const { registry } = this.deps;
        const live = () => {
            const t = { ...this.retired };
            for (const p of registry.participants()) {
                const s = this.deps.media.participantStats(p.id);
                if (!s)
                    continue;
                t.in += s.packetsIn;
                t.out += s.packetsOut;
                t.dropped += s.packetsDropped;
            }
            return t;
        };
        return {
            conferences: () => registry.conferences().length,
            participants: () => {
                const out = { sip: 0, webrtc: 0 };
                for (const p of registry.participants())
                    out[p.protocol]++;
                return out;
            },
            loadUnits: () => registry.load,
            capacityUnits: () => registry.capacity,
            rtpPackets: () => {
                const t = live();
                return { in: t.in, out: t.out };
            },
            rtpDropped: () => ({ total: live().dropped }),
        };
    }
    participantView(p) {
        const { node } = this.deps;
        const stats = this.deps.media.participantStats(p.id);
        return {
            id: p.id,
            conference: p.conference.vmr.name,
            protocol: p.protocol,
            displayName: p.displayName,
            remote: parseRemote(p.remote),
            signalingNode: node.name,
            mediaNode: node.name,
            mediaLocation: node.location,
            placementReason: p.placementReason,
            role: p.role,
            audioCodec: stats?.audioCodec ?? p.audioCodec ?? 'none',
            ...(p.videoUnavailableReason ? { videoUnavailableReason: p.videoUnavailableReason } : {}),
            packetsIn: stats?.packetsIn ?? 0,
            packetsOut: stats?.packetsOut ?? 0,
            packetsDropped: stats?.packetsDropped ?? 0,
            currentSpeaker: this.deps.media.activeSpeaker(p.conference.id) === p.id,
            joinedAt: p.joinedAt.toISOString(),
        };
    }
}
exports.NodeApiImpl = NodeApiImpl;
//# sourceMappingURL=node-api.js.map