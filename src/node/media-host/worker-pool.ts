/**
 * WorkerMediaService: spreads conferences over media worker threads so mixing and RTP use every
 * core while the main thread keeps SIP and HTTP responsive. A conference lives in one worker
 * (its mix needs all its participants); new conferences go to the least loaded worker, and a
 * conference's backplane links go to its worker. Stats come from periodic snapshots. A worker
 * that dies loses its participants ('lost') and links ('linkClosed') and is replaced. Never
 * blocks the caller on a worker except for creating an endpoint or a link.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackplaneAddress, BackplaneHostEvents, BackplaneLinkStats, BackplaneStream, LinkKeys, LinkOptions } from '../../backplane';
import { ConfnodeError, RpcClient, TypedEmitter, type ConferenceId, type Logger, type NodeId, type OpName, type ParticipantId } from '../../common';
import {
  emptyMediaStats,
  type LocalRtpAddress,
  type MediaConferenceRef,
  type MediaServiceEvents,
  type MediaServiceStats,
  type RouterParticipantStats,
  type RtpParticipantUpdate,
} from '../../media';
import type { MediaHost } from './media-host';
import type { FromWorker, MediaWorkerData, WorkerEventPayloads, WorkerOps } from './protocol';

export interface WorkerMediaOptions {
  workers: number;
  address: string;
  /** nodes[].public_address: announced in SDP, ICE candidates and backplane addresses. */
  announceAddress?: string;
  rtpPorts: { min: number; max: number };
  logger: Logger;
  mixTalkers: number;
  jitterBufferMs: number;
  opusComplexity: number;
  /** How often workers post stats (default 500 ms). */
  snapshotMs?: number;
  /** Timeout of a request to a worker (default 5000 ms). */
  requestTimeoutMs?: number;
  /** UDP ports for browsers' ICE sockets, split over the workers (default: ephemeral ports). */
  icePortRange?: [number, number];
}

interface Slot {
  index: number;
  data: MediaWorkerData;
  worker: Worker;
  /** Requests to this worker: when it dies, only these fail. */
  rpc: RpcClient<WorkerOps>;
  participants: Set<ParticipantId>;
  conferences: Map<ConferenceId, number>;
  stats: MediaServiceStats;
  closing: boolean;
  /** The last RTP port this worker handed out (its replacement continues after it). */
  lastRtpPort?: number;
  /** Its backplane links, from the last snapshot. */
  links: BackplaneLinkStats[];
}

/** Splits [min, max] into `n` slices that each start on an even port. */
export function splitPortRange(range: { min: number; max: number }, n: number): Array<{ min: number; max: number }> {
  const pairs = Math.floor((range.max - range.min + 1) / 2);
  if (pairs < n) throw new ConfnodeError('config', `RTP port range ${range.min}-${range.max} is too small for ${n} media workers`);
  const per = Math.floor(pairs / n);
  return Array.from({ length: n }, (_, i) => {
    const min = range.min + i * per * 2;
    const max = i === n - 1 ? range.max : min + per * 2 - 1;
    return { min, max };
  });
}

/** An event frame from a worker, typed by its name. */
type WorkerEvent = { [K in keyof WorkerEventPayloads]: { kind: 'evt'; name: K; data: WorkerEventPayloads[K] } }[keyof WorkerEventPayloads];

/** A worker thread that has not loaded and answered within this is a failed start. */
const READY_TIMEOUT_MS = 30_000;

const linkKey = (conference: ConferenceId, peer: NodeId): string => `${conference}\u0000${peer}`;

export class WorkerMediaService implements MediaHost {
  readonly events: TypedEmitter<MediaServiceEvents>;
  readonly backplane: TypedEmitter<BackplaneHostEvents>;
  /** Which worker holds each open backplane link (the conference's worker when it was opened). */
  private readonly linkSlots = new Map<string, { slot: Slot; conference: ConferenceId; peer: NodeId }>();
  private readonly slots: Slot[] = [];
  private readonly byParticipant = new Map<ParticipantId, Slot>();
  private readonly conferenceOf = new Map<ParticipantId, ConferenceId>();
  private readonly byConference = new Map<ConferenceId, Slot>();
  private readonly snapshot = new Map<ParticipantId, RouterParticipantStats>();
  private readonly speakers = new Map<ConferenceId, ParticipantId | undefined>();
  private closed = false;
  private readonly script = path.join(__dirname, 'worker-main.js');

  constructor(private readonly opts: WorkerMediaOptions) {
    this.events = new TypedEmitter<MediaServiceEvents>((err, event) =>
      opts.logger.error({ event: String(event), err: String(err) }, 'media event listener failed'),
    );
    this.backplane = new TypedEmitter<BackplaneHostEvents>((err, event) =>
      opts.logger.error({ event: String(event), err: String(err) }, 'backplane event listener failed'),
    );
    // Every worker may bind any pair of the range (one room can fill it); each starts looking in
    // its own slice so that workers rarely try a pair another one holds.
    const starts = splitPortRange(opts.rtpPorts, opts.workers);
    const iceRanges = opts.icePortRange
      ? splitPortRange({ min: opts.icePortRange[0], max: opts.icePortRange[1] }, opts.workers)
      : undefined;
    starts.forEach((slice, index) => {
      const ice = iceRanges?.[index];
      const data: MediaWorkerData = {
        index,
        address: opts.address,
        ...(opts.announceAddress !== undefined ? { announceAddress: opts.announceAddress } : {}),
        rtpPorts: { min: opts.rtpPorts.min, max: opts.rtpPorts.max, startAt: slice.min },
        mixTalkers: opts.mixTalkers,
        jitterBufferMs: opts.jitterBufferMs,
        opusComplexity: opts.opusComplexity,
        snapshotMs: opts.snapshotMs ?? 500,
        icePortRange: ice ? [ice.min, ice.max] : undefined,
      };
      this.slots.push(this.spawn(index, data));
    });
  }

  async createRtpParticipant(conference: MediaConferenceRef, participant: ParticipantId, admitted: boolean, video = false): Promise<LocalRtpAddress> {
    const slot = this.assign(conference, participant);
    try {
      const value = await slot.rpc.call('createRtp', { conference, participant, admitted, video });
      slot.lastRtpPort = value.video?.rtpPort ?? value.rtpPort;
      return value;
    } catch (err) {
      this.forget(participant);
      throw err;
    }
  }

  async createWebRtcParticipant(conference: MediaConferenceRef, participant: ParticipantId, videoCodec: 'H264' | 'VP8'): Promise<void> {
    const slot = this.assign(conference, participant);
    try {
      await slot.rpc.call('createWebRtc', { conference, participant, videoCodec });
    } catch (err) {
      this.forget(participant);
      throw err;
    }
  }

  async webrtcOffer(participant: ParticipantId, sdp: string): Promise<string> {
    return this.slotOf(participant).rpc.call('webrtcOffer', { participant, sdp });
  }

  async webrtcAnswer(participant: ParticipantId, sdp: string): Promise<void> {
    await this.slotOf(participant).rpc.call('webrtcAnswer', { participant, sdp });
  }

  updateRtpParticipant(participant: ParticipantId, update: RtpParticipantUpdate): void {
    this.post(participant, 'updateRtp', { participant, update });
  }

  admit(participant: ParticipantId): void {
    this.post(participant, 'admit', { participant });
  }

  injectDtmf(participant: ParticipantId, digit: string): void {
    this.post(participant, 'dtmf', { participant, digit });
  }

  removeParticipant(participant: ParticipantId): void {
    this.post(participant, 'remove', { participant });
    this.forget(participant);
  }

  participantStats(participant: ParticipantId): RouterParticipantStats | undefined {
    if (!this.byParticipant.has(participant)) return undefined;
    return this.snapshot.get(participant) ?? { packetsIn: 0, packetsOut: 0, packetsDropped: 0, audioCodec: undefined, talker: false, levelDbov: -127 };
  }

  activeSpeaker(conference: ConferenceId): ParticipantId | undefined {
    return this.speakers.get(conference);
  }

  stats(): MediaServiceStats {
    const out: MediaServiceStats = { ...emptyMediaStats(), conferences: this.byConference.size, participants: this.byParticipant.size };
    for (const s of this.slots) {
      out.maxMixRoundMs = Math.max(out.maxMixRoundMs, s.stats.maxMixRoundMs);
      out.skippedMixRounds += s.stats.skippedMixRounds;
      out.mixTicks += s.stats.mixTicks;
      out.lateMixTicks += s.stats.lateMixTicks;
      out.iceRestarts.node += s.stats.iceRestarts.node;
      out.iceRestarts.browser += s.stats.iceRestarts.browser;
      out.iceReconnects += s.stats.iceReconnects;
    }
    return out;
  }

  async openBackplane(conference: ConferenceId, peer: NodeId, options?: LinkOptions): Promise<BackplaneAddress> {
    const slot = this.byConference.get(conference);
    if (!slot || this.closed) throw new ConfnodeError('not-found', `conference ${conference} has no media on this node`);
    const local = await slot.rpc.call('openLink', { conference, peer, ...(options ? { options } : {}) });
    this.linkSlots.set(linkKey(conference, peer), { slot, conference, peer });
    slot.lastRtpPort = Math.max(slot.lastRtpPort ?? 0, local.port);
    return local;
  }

  async connectBackplane(conference: ConferenceId, peer: NodeId, remote: BackplaneAddress, keys: LinkKeys): Promise<void> {
    await this.linkSlot(conference, peer).rpc.call('connectLink', { conference, peer, remote, keys });
  }

  async setBackplaneStreams(conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]): Promise<void> {
    await this.linkSlot(conference, peer).rpc.call('setRemoteStreams', { conference, peer, streams });
  }

  async closeBackplane(conference: ConferenceId, peer: NodeId): Promise<void> {
    const key = linkKey(conference, peer);
    const entry = this.linkSlots.get(key);
    if (!entry) return;
    this.linkSlots.delete(key);
    await entry.slot.rpc.call('closeLink', { conference, peer });
  }

  backplaneStats(): BackplaneLinkStats[] {
    return this.slots.flatMap((s) => s.links);
  }

  /** Every worker thread has loaded and answered a ping (rejects after `timeoutMs`). */
  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.rpc.call('ping', undefined, timeoutMs)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(
      this.slots.map(async (slot) => {
        slot.closing = true;
        await slot.rpc.call('close', undefined).catch(() => undefined);
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(index: number, data: MediaWorkerData): Slot {
    const worker = new Worker(this.script, { workerData: data });
    const rpc = new RpcClient<WorkerOps>((frame) => worker.postMessage(frame), {
      peer: `media worker ${index}`,
      timeoutMs: this.opts.requestTimeoutMs ?? 5000,
    });
    const slot: Slot = {
      index,
      data,
      worker,
      rpc,
      participants: new Set(),
      conferences: new Map(),
      stats: emptyMediaStats(),
      closing: false,
      links: [],
    };
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (err) => this.opts.logger.error({ worker: index, err: err.message, stack: err.stack }, 'media worker failed'));
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.closing || this.closed) return;
    const lost = [...slot.participants];
    this.opts.logger.error({ worker: slot.index, code, participants: lost.length }, 'media worker exited: restarting it');
    for (const p of lost) this.forget(p);
    slot.rpc.failAll(new ConfnodeError('internal', `media worker ${slot.index} exited`), true);
    // The dead worker's callers may stream on until our BYE reaches them: the replacement starts
    // allocating after the last pair the dead one handed out, not on the pairs they still hit
    // (PortAllocator wraps a start past the range's end to its beginning).
    const data = slot.lastRtpPort === undefined ? slot.data : { ...slot.data, rtpPorts: { ...slot.data.rtpPorts, startAt: slot.lastRtpPort + 2 } };
    const fresh = this.spawn(slot.index, data);
    this.slots[this.slots.indexOf(slot)] = fresh;
    if (lost.length > 0) this.events.emit('lost', lost);
    for (const [key, link] of [...this.linkSlots]) {
      if (link.slot !== slot) continue;
      this.linkSlots.delete(key);
      this.backplane.emit('linkClosed', link.conference, link.peer, `media worker ${slot.index} exited`);
    }
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.kind === 'res') {
      slot.rpc.handleReply(m);
      return;
    }
    this.onEvent(slot, m as WorkerEvent);
  }

  private onEvent(slot: Slot, e: WorkerEvent): void {
    switch (e.name) {
      case 'dtmf':
        this.events.emit('dtmf', e.data.participant, e.data.digit);
        return;
      case 'webrtcOffer':
        if (this.byParticipant.get(e.data.participant) === slot) this.events.emit('webrtcOffer', e.data.participant, e.data.sdp);
        return;
      case 'webrtcFailed':
        if (this.byParticipant.get(e.data.participant) === slot) this.events.emit('webrtcFailed', e.data.participant, e.data.reason);
        return;
      case 'activeSpeaker':
        this.speakers.set(e.data.conference, e.data.participant);
        this.events.emit('activeSpeaker', e.data.conference, e.data.participant);
        return;
      case 'snapshot':
        for (const [id, s] of e.data.participants) if (this.byParticipant.get(id) === slot) this.snapshot.set(id, s);
        slot.stats = e.data.stats;
        slot.links = e.data.links;
        return;
      case 'localStreams': {
        // A new link's first list may come before the reply to openLink: only a link known to be
        // on another worker is ignored.
        const link = this.linkSlots.get(linkKey(e.data.conference, e.data.peer));
        if (!link || link.slot === slot) this.backplane.emit('localStreams', e.data.conference, e.data.peer, e.data.streams);
        return;
      }
      case 'linkClosed': {
        const key = linkKey(e.data.conference, e.data.peer);
        if (this.linkSlots.get(key)?.slot !== slot) return;
        this.linkSlots.delete(key);
        this.backplane.emit('linkClosed', e.data.conference, e.data.peer, e.data.reason);
        return;
      }
      case 'log':
        this.opts.logger[e.data.level]({ ...e.data.fields, worker: slot.index }, e.data.msg);
        return;
    }
  }

  /** Places a new participant in its conference's worker (or the least loaded one). */
  private assign(conference: MediaConferenceRef, participant: ParticipantId): Slot {
    if (this.closed) throw new ConfnodeError('closed', 'media service is closed');
    if (this.byParticipant.has(participant)) throw new ConfnodeError('bad-request', `participant ${participant} already has media`);
    const slot = this.byConference.get(conference.id) ?? this.leastLoaded();
    this.byConference.set(conference.id, slot);
    slot.conferences.set(conference.id, (slot.conferences.get(conference.id) ?? 0) + 1);
    slot.participants.add(participant);
    this.byParticipant.set(participant, slot);
    this.conferenceOf.set(participant, conference.id);
    return slot;
  }

  private linkSlot(conference: ConferenceId, peer: NodeId): Slot {
    const entry = this.linkSlots.get(linkKey(conference, peer));
    if (!entry) throw new ConfnodeError('not-found', `no backplane of conference ${conference} to ${peer} on this node`);
    return entry.slot;
  }

  private slotOf(participant: ParticipantId): Slot {
    const slot = this.byParticipant.get(participant);
    if (!slot) throw new ConfnodeError('not-found', `participant ${participant} has no media`);
    return slot;
  }

  /** An operation whose reply nobody waits for (ordered with every other request to the worker). */
  private post<K extends OpName<WorkerOps>>(participant: ParticipantId, op: K, data: WorkerOps[K]['req']): void {
    const slot = this.byParticipant.get(participant);
    slot?.rpc.call(op, data).catch((err: unknown) => {
      if (!this.closed) this.opts.logger.warn({ worker: slot.index, op, participant, err: String(err) }, 'media worker request failed');
    });
  }

  private forget(participant: ParticipantId): void {
    const slot = this.byParticipant.get(participant);
    const conf = this.conferenceOf.get(participant);
    if (!slot || conf === undefined) return;
    this.byParticipant.delete(participant);
    this.conferenceOf.delete(participant);
    this.snapshot.delete(participant);
    slot.participants.delete(participant);
    const left = (slot.conferences.get(conf) ?? 1) - 1;
    if (left > 0) {
      slot.conferences.set(conf, left);
      return;
    }
    slot.conferences.delete(conf);
    this.byConference.delete(conf);
    this.speakers.delete(conf);
  }

  private leastLoaded(): Slot {
    let best = this.slots[0];
    for (const s of this.slots) if (best === undefined || s.participants.size < best.participants.size) best = s;
    if (!best) throw new ConfnodeError('internal', 'no media worker');
    return best;
  }
}
