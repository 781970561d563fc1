/**
 * ConferenceSfu: one conference's forwarding core. Every source reaches every sink the policy
 * lets through (kind, never its owner, split horizon), one plain call per packet per sink, with
 * counters; viewers get a sink of their own per source; sinks' keyframe requests reach a video
 * source through one throttle per source. Sources and sinks change at control rate only; never
 * an event, a log line, an await or an allocation per packet; knows nothing of werift.
 */
import { TypedEmitter, errorMessage, type Clock, type Logger } from '../../common';
import { DEFAULT_KEYFRAME_INTERVAL_MS, KeyframeThrottle } from '../video/keyframe-throttle';
import { shouldForward } from './policy';
import type { MediaPacket, SfuCounters, Sink, SinkCounters, Source, SourceCodec, SourceView, Viewer } from './types';

export interface ConferenceSfuOptions {
  /** Timers of the keyframe throttles. */
  clock: Clock;
  keyframeIntervalMs?: number;
  /** Told once per sink whose send throws (the packet path goes on without it). */
  logger?: Logger;
}

/** Control-rate events, for onlookers such as a backplane that announces and retracts streams. */
export type ConferenceSfuEvents = {
  'source-added': [source: SourceView];
  'source-removed': [source: SourceView];
  /** The source's codec changed (a SIP re-INVITE): later packets are in the new one. */
  'source-changed': [source: SourceView];
};

/** A sink in the SFU with its counters; also what a source's packet loop walks. */
interface Outlet {
  readonly sink: Sink;
  readonly skipSilent: boolean;
  readonly counters: SinkCounters;
  /** Set for a sink a viewer made for one source: the SFU closes it. */
  readonly viewer: ViewerEntry | undefined;
  failed: boolean;
}

interface SourceEntry {
  readonly source: Source;
  readonly keyframes: KeyframeThrottle | undefined;
  /** Copy-on-write: replaced, never mutated, so a packet loop in progress is never disturbed. */
  outlets: Outlet[];
  readonly counters: SfuCounters;
}

interface ViewerEntry {
  readonly viewer: Viewer;
  readonly sinks: Map<SourceEntry, Outlet>;
}

export class ConferenceSfu extends TypedEmitter<ConferenceSfuEvents> {
  private readonly sourceEntries = new Map<SourceView, SourceEntry>();
  /** Sinks added with addSink (each takes many sources). */
  private readonly sharedSinks = new Map<Sink, Outlet>();
  private readonly viewerEntries = new Map<Viewer, ViewerEntry>();
  /** Every sink, shared or made by a viewer, for stats. */
  private readonly allSinks = new Map<Sink, Outlet>();
  private readonly keyframeRequest = (source: SourceView, firstOfViewer?: boolean): void => this.requestKeyframe(source, firstOfViewer);
  private closed = false;

  constructor(private readonly opts: ConferenceSfuOptions) {
    super((err, event) => opts.logger?.error({ event: String(event), err: errorMessage(err) }, 'sfu listener failed'));
  }

  addSource(source: Source): void {
    if (this.closed || this.sourceEntries.has(source)) return;
    const ask = source.requestKeyframe;
    const keyframes =
      source.kind === 'video' && ask ? new KeyframeThrottle(ask, this.opts.clock, this.opts.keyframeIntervalMs ?? DEFAULT_KEYFRAME_INTERVAL_MS) : undefined;
    const entry: SourceEntry = { source, keyframes, outlets: [], counters: { packets: 0, bytes: 0, dropped: 0 } };
    // Known before any sink hears of it: a sink may ask it for a keyframe at once.
    this.sourceEntries.set(source, entry);
    source.onPacket = (packet) => this.forward(entry, packet);
    for (const outlet of this.sharedSinks.values()) if (shouldForward(source, outlet.sink)) this.connect(entry, outlet);
    for (const v of this.viewerEntries.values()) this.offerToViewer(entry, v);
    this.emit('source-added', source);
  }

  removeSource(source: SourceView): void {
    const entry = this.sourceEntries.get(source);
    if (!entry) return;
    this.sourceEntries.delete(source);
    entry.source.onPacket = null;
    entry.keyframes?.close();
    const outlets = entry.outlets;
    entry.outlets = [];
    for (const outlet of outlets) {
      this.tell(() => outlet.sink.sourceRemoved?.(source));
      if (outlet.viewer) this.dropViewerSink(outlet.viewer, entry, outlet);
    }
    this.emit('source-removed', source);
  }

  /** A source's codec changed: sinks read it from the source, onlookers are told. */
  setCodec(source: SourceView, codec: SourceCodec): void {
    const entry = this.sourceEntries.get(source);
    if (!entry || (entry.source.codec.mime === codec.mime && entry.source.codec.clockRate === codec.clockRate)) return;
    entry.source.codec = codec;
    this.emit('source-changed', source);
  }

  /** A sink of every source the policy lets through, present and future. */
  addSink(sink: Sink): void {
    if (this.closed || this.allSinks.has(sink)) return;
    const outlet = this.newOutlet(sink, undefined);
    this.sharedSinks.set(sink, outlet);
    for (const entry of this.sourceEntries.values()) if (shouldForward(entry.source, sink)) this.connect(entry, outlet);
  }

  removeSink(sink: Sink): void {
    const outlet = this.sharedSinks.get(sink);
    if (!outlet) return;
    this.sharedSinks.delete(sink);
    this.allSinks.delete(sink);
    sink.onKeyframeRequest = null;
    for (const entry of this.sourceEntries.values()) {
      if (!entry.outlets.includes(outlet)) continue;
      entry.outlets = entry.outlets.filter((o) => o !== outlet);
      this.tell(() => sink.sourceRemoved?.(entry.source));
    }
  }

  /** A consumer that takes each source the policy lets through on a sink of its own. */
  addViewer(viewer: Viewer): void {
    if (this.closed || this.viewerEntries.has(viewer)) return;
    const v: ViewerEntry = { viewer, sinks: new Map() };
    this.viewerEntries.set(viewer, v);
    for (const entry of this.sourceEntries.values()) this.offerToViewer(entry, v);
  }

  /** Closes every sink the viewer got. */
  removeViewer(viewer: Viewer): void {
    const v = this.viewerEntries.get(viewer);
    if (!v) return;
    this.viewerEntries.delete(viewer);
    for (const [entry, outlet] of [...v.sinks]) {
      entry.outlets = entry.outlets.filter((o) => o !== outlet);
      this.dropViewerSink(v, entry, outlet);
    }
  }

  /** Asks a video source for a keyframe, through its throttle (at most one per interval). */
  requestKeyframe(source: SourceView, firstOfViewer = false): void {
    const throttle = this.sourceEntries.get(source)?.keyframes;
    if (firstOfViewer) throttle?.requestFirst();
    else throttle?.request();
  }

  /** The sources in the conference now (control rate: allocates). */
  sources(): SourceView[] {
    return [...this.sourceEntries.keys()];
  }

  /** Number of sinks a source reaches now. */
  sinkCountOf(source: SourceView): number {
    return this.sourceEntries.get(source)?.outlets.length ?? 0;
  }

  sourceStats(source: SourceView): SfuCounters | undefined {
    const c = this.sourceEntries.get(source)?.counters;
    return c ? { ...c } : undefined;
  }

  sinkStats(sink: Sink): SinkCounters | undefined {
    const c = this.allSinks.get(sink)?.counters;
    return c ? { ...c } : undefined;
  }

  /** Idempotent: every source leaves (onlookers are told), viewers' sinks are closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const source of [...this.sourceEntries.keys()]) this.removeSource(source);
    for (const viewer of [...this.viewerEntries.keys()]) this.removeViewer(viewer);
    for (const sink of [...this.sharedSinks.keys()]) this.removeSink(sink);
    this.removeAllListeners();
  }

  private forward(entry: SourceEntry, packet: MediaPacket): void {
    const bytes = packet.payload.length;
    const counters = entry.counters;
    counters.packets++;
    counters.bytes += bytes;
    const outlets = entry.outlets;
    const source = entry.source;
    const silent = packet.silent;
    for (let i = 0; i < outlets.length; i++) {
      const o = outlets[i] as Outlet;
      const c = o.counters;
      if (silent && o.skipSilent) {
        c.silentSkipped++;
        continue;
      }
      let taken = false;
      try {
        taken = o.sink.send(packet, source);
      } catch (err) {
        this.sinkFailed(o, err);
      }
      if (taken) {
        c.packets++;
        c.bytes += bytes;
      } else {
        c.dropped++;
        counters.dropped++;
      }
    }
  }

  private newOutlet(sink: Sink, viewer: ViewerEntry | undefined): Outlet {
    const outlet: Outlet = { sink, skipSilent: sink.skipSilent === true, counters: { packets: 0, bytes: 0, dropped: 0, silentSkipped: 0 }, viewer, failed: false };
    sink.onKeyframeRequest = this.keyframeRequest;
    this.allSinks.set(sink, outlet);
    return outlet;
  }

  private connect(entry: SourceEntry, outlet: Outlet): void {
    entry.outlets = [...entry.outlets, outlet];
    this.tell(() => outlet.sink.sourceAdded?.(entry.source));
  }

  private offerToViewer(entry: SourceEntry, v: ViewerEntry): void {
    if (!shouldForward(entry.source, v.viewer)) return;
    let sink: Sink | undefined;
    try {
      sink = v.viewer.sinkFor(entry.source);
    } catch (err) {
      this.opts.logger?.warn({ owner: entry.source.owner, kind: entry.source.kind, err: errorMessage(err) }, 'viewer could not take a source');
    }
    if (!sink || this.allSinks.has(sink)) return;
    const outlet = this.newOutlet(sink, v);
    v.sinks.set(entry, outlet);
    this.connect(entry, outlet);
  }

  private dropViewerSink(v: ViewerEntry, entry: SourceEntry, outlet: Outlet): void {
    v.sinks.delete(entry);
    this.allSinks.delete(outlet.sink);
    outlet.sink.onKeyframeRequest = null;
    this.tell(() => outlet.sink.close?.());
  }

  /** A sink's control-rate hook that throws must not stop the others. */
  private tell(hook: () => void): void {
    try {
      hook();
    } catch (err) {
      this.opts.logger?.error({ err: errorMessage(err) }, 'sfu sink hook failed');
    }
  }

  private sinkFailed(outlet: Outlet, err: unknown): void {
    if (outlet.failed) return;
    outlet.failed = true;
    this.opts.logger?.error({ owner: outlet.sink.owner, kind: outlet.sink.kind, err: errorMessage(err) }, 'sfu sink send threw (counted as dropped; logged once per sink)');
  }
}
