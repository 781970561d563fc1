/**
 * The node's Prometheus metrics on a registry of its own (never prom-client's global one, so
 * several nodes can live in one test process). The only module importing prom-client. Values the
 * node can compute on demand are read from `MetricSources` at scrape time: nothing here is
 * meant to be called per packet, and label values from the network are bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { WebRtcSessionEvent } from '../../signaling';

export type RtpDirection = 'in' | 'out';
export type MixTiming = 'on_time' | 'late' | 'skipped';
export type IceRestartBy = 'node' | 'browser';

/** Read at each scrape. Totals are cumulative; a total that goes down is taken as a restart. */
export interface MetricSources {
  conferences?(): number;
  participants?(): Partial<Record<'sip' | 'webrtc', number>>;
  loadUnits?(): number;
  capacityUnits?(): number;
  rtpPackets?(): Partial<Record<RtpDirection, number>>;
  /** Reason -> cumulative dropped packets, e.g. { 'unknown-ssrc': 3, 'wrong-source': 1 }. */
  rtpDropped?(): Readonly<Record<string, number>>;
  /** Cumulative audio mix slot runs by timing: on time, started 5 ms or more late, skipped after a stall. */
  mixTicks?(): Partial<Record<MixTiming, number>>;
  /** The slowest mix slot run seen so far, seconds. */
  mixRoundMaxSeconds?(): number;
  /** Cumulative browser ICE restarts by who asked, and those that connected again. */
  iceRestarts?(): Partial<Record<IceRestartBy, number>>;
  iceReconnects?(): number;
  /** Control channel (clusters): handshakes refused by reason, calls by outcome, bad frames. */
  controlRefused?(): Readonly<Record<string, number>>;
  controlCalls?(): Readonly<Record<string, number>>;
  controlBadFrames?(): number;
}

export interface NodeMetricsOptions {
  /** Added as a `node` label to every series, so nodes sharing a host stay apart. */
  nodeName?: string;
  /** Process metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
  sources?: MetricSources;
}

const SIP_METHODS = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'INFO', 'UPDATE', 'PRACK',
  'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
]);


/**
 * Keeps a label's distinct values few (each is a time series in Prometheus): well-formed values
 * are kept up to `max` distinct ones, the rest become 'other'.
 */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}
  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(raw) || this.seen.size >= this.max) return 'other';
    this.seen.add(raw);
    return raw;
  }
}

/**
 * Turns cumulative totals read at scrape time into counter increments (a total that goes down is
 * a restart of its source: nothing is added). Without `label` the counter has none and `totals`
 * holds one key.
 */
class TotalsToCounter<L extends string> {
  private readonly last = new Map<string, number>();
  constructor(private readonly counter: Counter<L>, private readonly label?: L) {}
  update(totals: Readonly<Record<string, number | undefined>>, bound: (v: string) => string = (v) => v): void {
    for (const [key, total] of Object.entries(totals)) {
      if (total === undefined || !Number.isFinite(total)) continue;
      const labelValue = bound(key);
      const previous = this.last.get(labelValue) ?? 0;
      if (total > previous) {
        if (this.label === undefined) this.counter.inc(total - previous);
        else this.counter.inc({ [this.label]: labelValue } as Partial<Record<L, string>>, total - previous);
      }
      this.last.set(labelValue, total);
    }
  }
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly conferences: Gauge;
  readonly participants: Gauge<'protocol'>;
  readonly loadUnits: Gauge;
  readonly capacityUnits: Gauge;
  readonly sipRequests: Counter<'method'>;
  readonly sipResponses: Counter<'status'>;
  readonly calls: Counter<'result'>;
  readonly callEnds: Counter<'reason'>;
  readonly rtpPackets: Counter<'direction'>;
  readonly rtpDropped: Counter<'reason'>;
  readonly mixTicks: Counter<'timing'>;
  readonly mixRoundMax: Gauge;
  readonly iceRestarts: Counter<'by'>;
  readonly iceReconnects: Counter;
  readonly wsSessionEvents: Counter<'event'>;
  readonly joinTokensRefused: Counter<'reason'>;
  readonly controlRefused: Counter<'reason'>;
  readonly controlCalls: Counter<'outcome'>;
  readonly controlBadFrames: Counter;
  readonly collectErrors: Counter;
  private sources: MetricSources;
  private readonly callResults = new BoundedLabel(24);
  private readonly callEndReasons = new BoundedLabel(24);
  private readonly dropReasons = new BoundedLabel(24);

  constructor(opts: NodeMetricsOptions = {}) {
    this.sources = { ...opts.sources };
    if (opts.nodeName !== undefined) this.registry.setDefaultLabels({ node: opts.nodeName });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const gauge = (name: string, help: string, collect: () => void): Gauge =>
      new Gauge({ name, help, registers, collect: () => this.safely(collect) });
    this.conferences = gauge('confnode_conferences', 'Conferences with media on this node', () => this.readGauge(this.conferences, this.sources.conferences));
    this.loadUnits = gauge('confnode_load_units', 'Capacity units in use on this node', () => this.readGauge(this.loadUnits, this.sources.loadUnits));
    this.capacityUnits = gauge('confnode_capacity_units', 'Capacity units of this node', () => this.readGauge(this.capacityUnits, this.sources.capacityUnits));
    this.mixRoundMax = gauge('confnode_mix_round_max_seconds', 'Slowest audio mix slot run so far', () => this.readGauge(this.mixRoundMax, this.sources.mixRoundMaxSeconds));
    this.participants = new Gauge({
      name: 'confnode_participants',
      help: 'Participants whose media is on this node',
      labelNames: ['protocol'] as const,
      registers,
      collect: () => this.safely(() => this.collectParticipants()),
    });
    this.sipRequests = new Counter({ name: 'confnode_sip_requests_total', help: 'SIP requests received', labelNames: ['method'] as const, registers });
    this.sipResponses = new Counter({ name: 'confnode_sip_responses_total', help: 'SIP responses sent', labelNames: ['status'] as const, registers });
    this.calls = new Counter({ name: 'confnode_calls_total', help: 'Calls by outcome', labelNames: ['result'] as const, registers });
    this.callEnds = new Counter({
      name: 'confnode_calls_ended_total',
      help: 'Answered SIP calls that ended, by why: remote-bye, local-bye (API, shutdown), media-timeout, pin-timeout, pin-rejected, ack-timeout, transport-error',
      labelNames: ['reason'] as const,
      registers,
    });
    // A counter fed from cumulative totals read at each scrape.
    const cumulative = <L extends string>(
      name: string,
      help: string,
      label: L | undefined,
      read: () => Readonly<Record<string, number | undefined>>,
      bound?: (v: string) => string,
    ): Counter<L> => {
      const counter: Counter<L> = new Counter<L>({
        name,
        help,
        labelNames: label === undefined ? [] : [label],
        registers,
        collect: () => this.safely(() => totals.update(read(), bound)),
      });
      const totals = new TotalsToCounter(counter, label);
      return counter;
    };
    this.rtpPackets = cumulative('confnode_rtp_packets_total', 'RTP packets received and sent', 'direction', () => this.sources.rtpPackets?.() ?? {}, (d) =>
      d === 'in' ? 'in' : 'out',
    );
    this.rtpDropped = cumulative('confnode_rtp_dropped_total', 'RTP packets dropped, by reason', 'reason', () => this.sources.rtpDropped?.() ?? {}, (r) =>
      this.dropReasons.value(r),
    );
    this.mixTicks = cumulative(
      'confnode_mix_ticks_total',
      'Audio mix slot runs by timing (late: started 5 ms or more after its deadline; skipped: dropped after a stall)',
      'timing',
      () => this.sources.mixTicks?.() ?? {},
    );
    this.iceRestarts = cumulative(
      'confnode_webrtc_ice_restarts_total',
      'Browser ICE restarts by who asked: the node after ICE failed (no consent answers), or the browser',
      'by',
      () => this.sources.iceRestarts?.() ?? {},
    );
    this.iceReconnects = cumulative('confnode_webrtc_ice_reconnects_total', 'Browser ICE restarts that connected again', undefined, () => ({
      total: this.sources.iceReconnects?.(),
    }));
    this.controlRefused = cumulative(
      'confnode_control_handshakes_refused_total',
      'Control channel connections refused before the upgrade, by reason: missing, bad-signature, stale, replay, unknown-node',
      'reason',
      () => this.sources.controlRefused?.() ?? {},
    );
    this.controlCalls = cumulative('confnode_control_calls_total', 'Calls to peer nodes by outcome: ok, failed, timeout, unavailable', 'outcome', () => this.sources.controlCalls?.() ?? {});
    this.controlBadFrames = cumulative(
      'confnode_control_bad_frames_total',
      'Control channel frames that failed their MAC, schema or size bound (each closed its link)',
      undefined,
      () => ({ total: this.sources.controlBadFrames?.() }),
    );
    this.wsSessionEvents = new Counter({
      name: 'confnode_webrtc_signaling_sessions_total',
      help: 'Browser signaling sessions whose WebSocket dropped (detached), that resumed, that were not resumed in time (expired), and refused resumes',
      labelNames: ['event'] as const,
      registers,
    });
    this.joinTokensRefused = new Counter({
      name: 'confnode_join_tokens_refused_total',
      help: 'Browser joins refused for their join token, by reason: missing, malformed, signature, expired, not-yet-valid, wrong-room, claims, disabled',
      labelNames: ['reason'] as const,
      registers,
    });
    this.collectErrors = new Counter({ name: 'confnode_metrics_collect_errors_total', help: 'Metric sources that threw during a scrape', registers });
  }

  /** Adds or replaces sources (the node's parts exist only after the metrics are created). */
  setSources(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** `method` comes off the wire: unknown methods are counted as 'other'. */
  countSipRequest(method: string): void {
    this.sipRequests.inc({ method: SIP_METHODS.has(method) ? method : 'other' });
  }

  countSipResponse(status: number): void {
    const ok = Number.isInteger(status) && status >= 100 && status <= 699;
    this.sipResponses.inc({ status: ok ? String(status) : 'other' });
  }

  /** A browser session lost its WebSocket ('detached'), 'resumed', 'expired', or a 'resume-refused'. */
  countWsSession(event: WebRtcSessionEvent): void {
    this.wsSessionEvents.inc({ event });
  }

  /** A browser join refused for its token; `reason` is one of join-token.ts's fixed reasons. */
  countJoinTokenRefused(reason: string): void {
    this.joinTokensRefused.inc({ reason: /^[a-z-]{1,20}$/.test(reason) ? reason : 'other' });
  }

  /** E.g. 'answered', 'cancelled', or an error code such as 'not-found' or 'capacity'. */
  countCall(result: string): void {
    this.calls.inc({ result: this.callResults.value(result) });
  }

  /** An answered SIP call ended: a CallEndReason, or why the node hung up (e.g. 'media-timeout'). */
  countCallEnd(reason: string): void {
    this.callEnds.inc({ reason: this.callEndReasons.value(reason) });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private readGauge(g: Gauge, source: (() => number) | undefined): void {
    if (!source) return;
    const v = source();
    if (Number.isFinite(v)) g.set(v);
  }

  private collectParticipants(): void {
    const read = this.sources.participants;
    if (!read) return;
    const counts = read();
    this.participants.set({ protocol: 'sip' }, counts.sip ?? 0);
    this.participants.set({ protocol: 'webrtc' }, counts.webrtc ?? 0);
  }

  /** A source that throws must not fail the whole scrape: keep the last value, count it. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      this.collectErrors.inc();
    }
  }
}
