"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConferenceRegistry = void 0;
/**
 * Conference instances on this node: a VMR's instance starts with its first participant and
 * ends after the last one leaves. Owns capacity accounting (load = sum of participant costs) so
 * admission and release can never drift apart. Never touches SIP or sockets directly: it releases
 * media through the MediaService and ends calls through participants' hangup functions.
 */
const node_crypto_1 = require("node:crypto");
const common_1 = require("../../common");
const capacity_1 = require("./capacity");
class ConferenceRegistry {
    opts;
    events = new common_1.TypedEmitter();
    byName = new Map();
    participantsById = new Map();
    reserved = 0;
    committed = 0;
    constructor(opts) {
        this.opts = opts;
    }
    get capacity() {
        return this.opts.capacity;
    }
    /** Units in use, including admissions in progress. */
    get load() {
        return this.committed + this.reserved;
    }
    /**
     * Reserves capacity for a participant whose media is being set up. Throws 'capacity' (SIP 503)
     * when the node or the VMR is full. The returned release() must be called if the join fails.
     */
    reserve(vmr, cost) {
        if (!(0, capacity_1.fits)(this.load, cost, this.opts.capacity)) {
            throw new common_1.ConfnodeError('capacity', `node full: load ${this.load} + ${cost} > capacity ${this.opts.capacity}`);
        }
        const conf = this.byName.get(vmr.name);
        if (vmr.max_participants !== undefined && (conf?.participants.size ?? 0) >= vmr.max_participants) {
            throw new common_1.ConfnodeError('capacity', `conference ${vmr.name} is full (${vmr.max_participants} participants)`);
        }
        this.reserved += cost;
        let released = false;
        return {
            release: () => {
                if (released)
                    return;
                released = true;
                this.reserved -= cost;
            },
        };
    }
    /** Adds a participant (starting the conference instance if needed), turning a reservation into load. */
    join(vmr, req, reservation) {
        let conf = this.byName.get(vmr.name);
        if (!conf) {
            const id = (0, common_1.asConferenceId)((0, node_crypto_1.randomUUID)());
            conf = { id, vmr, startedAt: new Date(), participants: new Map() };
            this.byName.set(vmr.name, conf);
            this.opts.logger.info({ conference: vmr.name, conferenceId: id }, 'conference started');
            this.events.emit('conference-started', conf);
        }
        reservation.release();
        const rec = {
            id: (0, common_1.asParticipantId)((0, node_crypto_1.randomUUID)()),
            conference: conf,
            protocol: req.protocol,
            displayName: req.displayName,
            remote: req.remote,
            cost: req.cost,
            joinedAt: new Date(),
            placementReason: 'local',
            role: 'participant',
            hangup: req.hangup,
        };
        this.committed += req.cost;
        conf.participants.set(rec.id, rec);
        this.participantsById.set(rec.id, rec);
        return rec;
    }
    /** Removes a participant; the conference ends after the last one. */
    leave(id) {
        const rec = this.participantsById.get(id);
        if (!rec)
            return;
        this.participantsById.delete(id);
        this.committed -= rec.cost;
        if (this.committed < 1e-9)
            this.committed = 0;
        const conf = rec.conference;
        this.events.emit('participant-left', rec, this.opts.media.participantStats(id));
        this.opts.media.removeParticipant(id);
        conf.participants.delete(id);
        if (conf.participants.size === 0 && this.byName.get(conf.vmr.name) === conf) {
            this.byName.delete(conf.vmr.name);
            this.opts.logger.info({ conference: conf.vmr.name, conferenceId: conf.id }, 'conference ended');
            this.events.emit('conference-ended', conf);
        }
    }
    conferences() {
        return [...this.byName.values()];
    }
    conference(name) {
        return this.byName.get(name);
    }
    participants() {
        return [...this.participantsById.values()];
    }
    participant(id) {
        return this.participantsById.get(id);
    }
    /** Hangs up every participant of a conference; resolves when each hangup has settled. */
    async endConference(name) {
        const conf = this.byName.get(name);
        if (!conf)
            return 0;
        const all = [...conf.participants.values()];
        await Promise.allSettled(all.map((p) => p.hangup()));
        return all.length;
    }
}
exports.ConferenceRegistry = ConferenceRegistry;
//# sourceMappingURL=registry.js.map