/**
 * Voice-switched video for a conference's SIP endpoints: each SIP viewer sees the current
 * speaker's video (never its own; before anyone speaks, the first source there is) through its
 * own VideoSwitcher, so its stream keeps one SSRC, gap-free sequence numbers and a continuous
 * timeline. Switches wait for the new source's keyframe, which is asked for (throttled per
 * source) at each switch and whenever a viewer asks. No sockets: sources and viewers are handles.
 */
import type { Clock, ParticipantId } from '../../common';
import { KeyframeThrottle, DEFAULT_KEYFRAME_INTERVAL_MS } from './keyframe-throttle';
import type { VideoCodecName } from './keyframe';
import { VideoSwitcher } from './switcher';

/** Where a viewer's switched packets go (the SIP endpoint's video RtpEndpoint). */
export type SwitchedVideoSink = (payload: Buffer, timestamp: number, marker: boolean) => void;

interface Source {
  id: ParticipantId;
  /** Asks the source for a keyframe (through `throttle` when this switch throttles). */
  request: () => void;
  throttle: KeyframeThrottle | undefined;
}

interface Viewer {
  id: ParticipantId;
  switcher: VideoSwitcher<ParticipantId>;
  sink: SwitchedVideoSink;
}

export interface VoiceSwitchedVideoOptions {
  codec: VideoCodecName;
  clock: Clock;
  /**
   * Keyframe requests per source at most once per this interval (default 500 ms). 0: not
   * throttled here, because the caller's requestKeyframe already is (the SFU's per-source
   * throttle, shared with the browsers that view the same source).
   */
  keyframeIntervalMs?: number;
  /** SSRC, first sequence number and timestamp of each viewer's output (random in production). */
  random?: () => number;
}

export class VoiceSwitchedVideo {
  private readonly sources = new Map<ParticipantId, Source>();
  private readonly viewers = new Map<ParticipantId, Viewer>();
  /** Viewers as an array for the packet loop. */
  private viewerList: Viewer[] = [];
  private speaker: ParticipantId | undefined;

  constructor(private readonly opts: VoiceSwitchedVideoOptions) {}

  /** A participant that publishes video; `requestKeyframe` sends it a PLI/FIR. */
  addSource(id: ParticipantId, requestKeyframe: () => void): void {
    if (this.sources.has(id)) return;
    const interval = this.opts.keyframeIntervalMs ?? DEFAULT_KEYFRAME_INTERVAL_MS;
    const throttle = interval > 0 ? new KeyframeThrottle(requestKeyframe, this.opts.clock, interval) : undefined;
    this.sources.set(id, { id, request: throttle ? () => throttle.request() : requestKeyframe, throttle });
    this.reselectAll();
  }

  removeSource(id: ParticipantId): void {
    const s = this.sources.get(id);
    if (!s) return;
    s.throttle?.close();
    this.sources.delete(id);
    for (const v of this.viewerList) v.switcher.remove(id);
    this.reselectAll();
  }

  /** A SIP endpoint that receives video: it gets one voice-switched stream. */
  addViewer(id: ParticipantId, sink: SwitchedVideoSink): void {
    if (this.viewers.has(id)) return;
    const rnd = this.opts.random ?? Math.random;
    const switcher = new VideoSwitcher<ParticipantId>({
      ssrc: (rnd() * 2 ** 32) >>> 0,
      codec: this.opts.codec,
      initialSequence: Math.floor(rnd() * 65536),
      initialTimestamp: (rnd() * 2 ** 32) >>> 0,
    });
    const v: Viewer = { id, switcher, sink };
    this.viewers.set(id, v);
    this.viewerList = [...this.viewers.values()];
    this.reselect(v);
  }

  removeViewer(id: ParticipantId): void {
    if (!this.viewers.delete(id)) return;
    this.viewerList = [...this.viewers.values()];
  }

  /** The conference's active speaker changed (the mixer's detector, with its hysteresis). */
  setSpeaker(id: ParticipantId | undefined): void {
    this.speaker = id;
    this.reselectAll();
  }

  /** A viewer asked for a keyframe (its decoder lost the picture): ask the source it is showing. */
  viewerKeyframeRequest(viewer: ParticipantId): void {
    const v = this.viewers.get(viewer);
    const src = v?.switcher.sending ?? v?.switcher.wanted;
    if (src !== undefined) this.sources.get(src)?.request();
  }

  /** Which participant's video a viewer is shown now (API). */
  showing(viewer: ParticipantId): ParticipantId | undefined {
    return this.viewers.get(viewer)?.switcher.sending;
  }

  /** One video packet from a source: passed on to every viewer whose switcher takes it. */
  push(source: ParticipantId, sequence: number, timestamp: number, marker: boolean, payload: Buffer): void {
    const list = this.viewerList;
    if (list.length === 0) return;
    const now = this.opts.clock.now();
    let wantedByAnyone = false;
    for (let i = 0; i < list.length; i++) {
      const v = list[i] as Viewer;
      if (v.id === source) continue;
      const out = v.switcher.push(source, sequence, timestamp, marker, payload, now);
      if (out) v.sink(payload, out.timestamp, out.marker);
      else if (v.switcher.wantsKeyframe === source) wantedByAnyone = true;
    }
    // Still waiting for this source's keyframe: ask again (the throttle keeps it to one per interval).
    if (wantedByAnyone) this.sources.get(source)?.request();
  }

  close(): void {
    for (const s of this.sources.values()) s.throttle?.close();
    this.sources.clear();
    this.viewers.clear();
    this.viewerList = [];
  }

  private reselectAll(): void {
    for (const v of this.viewerList) this.reselect(v);
  }

  /** Speaker if it has video and is not the viewer; else keep what it shows; else any source. */
  private reselect(v: Viewer): void {
    const current = v.switcher.wanted;
    let next: ParticipantId | undefined;
    if (this.speaker !== undefined && this.speaker !== v.id && this.sources.has(this.speaker)) next = this.speaker;
    else if (current !== undefined && this.sources.has(current)) next = current;
    else next = [...this.sources.keys()].find((id) => id !== v.id);
    if (next === current) return;
    v.switcher.select(next);
    if (next !== undefined) this.sources.get(next)?.request();
  }
}
