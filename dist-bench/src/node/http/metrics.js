"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NodeMetrics = void 0;
/**
 * The node's Prometheus metrics on a registry of its own (never prom-client's global one, so
 * several nodes can live in one test process). The only module importing prom-client. Values the
 * node can compute on demand are read from `MetricSources` at scrape time: nothing here is
 * meant to be called per packet, and label values from the network are bounded.
 */
const prom_client_1 = require("prom-client");
const SIP_METHODS = new Set([
    'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'INFO', 'UPDATE', 'PRACK',
    'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
]);
/** Seconds; a 20 ms mix tick should take well under a millisecond. */
const MIX_TICK_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.04];
/**
 * Keeps a label's distinct values few (each is a time series in Prometheus): well-formed values
 * are kept up to `max` distinct ones, the rest become 'other'.
 */
class BoundedLabel {
    max;
    seen = new Set();
    constructor(max) {
        this.max = max;
    }
    value(raw) {
        if (this.seen.has(raw))
            return raw;
        if (!/^[A-Za-z0-9_.-]{1,40}$/.test(raw) || this.seen.size >= this.max)
            return 'other';
        this.seen.add(raw);
        return raw;
    }
}
/** Turns cumulative totals read at scrape time into counter increments. */
class TotalsToCounter {
    counter;
    label;
    last = new Map();
    constructor(counter, label) {
        this.counter = counter;
        this.label = label;
    }
    update(totals, bound) {
        for (const [key, total] of Object.entries(totals)) {
            if (total === undefined || !Number.isFinite(total))
                continue;
            const labelValue = bound(key);
            const previous = this.last.get(labelValue) ?? 0;
            if (total > previous)
                this.counter.inc({ [this.label]: labelValue }, total - previous);
            this.last.set(labelValue, total);
        }
    }
}
class NodeMetrics {
    registry = new prom_client_1.Registry();
    conferences;
    participants;
    loadUnits;
    capacityUnits;
    sipRequests;
    sipResponses;
    calls;
    rtpPackets;
    rtpDropped;
    mixTick;
    mixTickLag;
    collectErrors;
    sources;
    callResults = new BoundedLabel(24);
    dropReasons = new BoundedLabel(24);
    rtpTotals;
    dropTotals;
    constructor(opts = {}) {
        this.sources = { ...opts.sources };
        if (opts.nodeName !== undefined)
            this.registry.setDefaultLabels({ node: opts.nodeName });
        if (opts.defaultMetrics !== false)
            (0, prom_client_1.collectDefaultMetrics)({ register: this.registry });
        const registers = [this.registry];
        const gauge = (name, help, collect) => new prom_client_1.Gauge({ name, help, registers, collect: () => this.safely(collect) });
        this.conferences = gauge('confnode_conferences', 'Conferences with media on this node', () => this.readGauge(this.conferences, this.sources.conferences));
        this.loadUnits = gauge('confnode_load_units', 'Capacity units in use on this node', () => this.readGauge(this.loadUnits, this.sources.loadUnits));
        this.capacityUnits = gauge('confnode_capacity_units', 'Capacity units of this node', () => this.readGauge(this.capacityUnits, this.sources.capacityUnits));
        this.mixTickLag = gauge('confnode_mix_tick_lag_seconds', 'How late the last audio mix tick started', () => this.readGauge(this.mixTickLag, this.sources.mixTickLagSeconds));
        this.participants = new prom_client_1.Gauge({
            name: 'confnode_participants',
            help: 'Participants whose media is on this node',
            labelNames: ['protocol'],
            registers,
            collect: () => this.safely(() => this.collectParticipants()),
        });
        this.sipRequests = new prom_client_1.Counter({ name: 'confnode_sip_requests_total', help: 'SIP requests received', labelNames: ['method'], registers });
        this.sipResponses = new prom_client_1.Counter({ name: 'confnode_sip_responses_total', help: 'SIP responses sent', labelNames: ['status'], registers });
        this.calls = new prom_client_1.Counter({ name: 'confnode_calls_total', help: 'Calls by outcome', labelNames: ['result'], registers });
        this.rtpPackets = new prom_client_1.Counter({
            name: 'confnode_rtp_packets_total',
            help: 'RTP packets received and sent',
            labelNames: ['direction'],
            registers,
            collect: () => this.safely(() => this.rtpTotals.update(this.sources.rtpPackets?.() ?? {}, (d) => (d === 'in' ? 'in' : 'out'))),
        });
        this.rtpDropped = new prom_client_1.Counter({
            name: 'confnode_rtp_dropped_total',
            help: 'RTP packets dropped, by reason',
            labelNames: ['reason'],
            registers,
            collect: () => this.safely(() => this.dropTotals.update(this.sources.rtpDropped?.() ?? {}, (r) => this.dropReasons.value(r))),
        });
        this.mixTick = new prom_client_1.Histogram({ name: 'confnode_mix_tick_seconds', help: 'Time to mix one 20 ms audio tick', buckets: MIX_TICK_BUCKETS, registers });
        this.collectErrors = new prom_client_1.Counter({ name: 'confnode_metrics_collect_errors_total', help: 'Metric sources that threw during a scrape', registers });
        this.rtpTotals = new TotalsToCounter(this.rtpPackets, 'direction');
        this.dropTotals = new TotalsToCounter(this.rtpDropped, 'reason');
    }
    /** Adds or replaces sources (the node's parts exist only after the metrics are created). */
    setSources(sources) {
        this.sources = { ...this.sources, ...sources };
    }
    /** `method` comes off the wire: unknown methods are counted as 'other'. */
    countSipRequest(method) {
        this.sipRequests.inc({ method: SIP_METHODS.has(method) ? method : 'other' });
    }
    countSipResponse(status) {
        const ok = Number.isInteger(status) && status >= 100 && status <= 699;
        this.sipResponses.inc({ status: ok ? String(status) : 'other' });
    }
    /** E.g. 'answered', 'cancelled', or an error code such as 'not-found' or 'capacity'. */
    countCall(result) {
        this.calls.inc({ result: this.callResults.value(result) });
    }
    observeMixTick(seconds) {
        this.mixTick.observe(seconds);
    }
    get contentType() {
        return this.registry.contentType;
    }
    /** The Prometheus text exposition of every metric. */
    text() {
        return this.registry.metrics();
    }
    readGauge(g, source) {
        if (!source)
            return;
        const v = source();
        if (Number.isFinite(v))
            g.set(v);
    }
    collectParticipants() {
        const read = this.sources.participants;
        if (!read)
            return;
        const counts = read();
        this.participants.set({ protocol: 'sip' }, counts.sip ?? 0);
        this.participants.set({ protocol: 'webrtc' }, counts.webrtc ?? 0);
    }
    /** A source that throws must not fail the whole scrape: keep the last value, count it. */
    safely(fn) {
        try {
            fn();
        }
        catch {
            this.collectErrors.inc();
        }
    }
}
exports.NodeMetrics = NodeMetrics;
//# sourceMappingURL=metrics.js.map