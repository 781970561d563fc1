/**
 * WorkerMediaService: spreads conferences over media worker threads so mixing and RTP use every
 * core while the main thread keeps SIP and HTTP responsive. A conference lives in one worker
 * (its mix needs all its participants); new conferences go to the least loaded worker. Stats
 * come from periodic snapshots. A worker that dies loses its participants ('lost') and is
 * replaced. Never blocks the caller on a worker except for creating an endpoint.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ConfnodeError, TypedEmitter, type ConferenceId, type ErrorCode, type Logger, type ParticipantId } from '../../common';
import type { RouterParticipantStats } from '../router';
import type {
  LocalRtpAddress,
  MediaConferenceRef,
  MediaService,
  MediaServiceEvents,
  MediaServiceStats,
  RtpParticipantUpdate,
} from '../service';
import { emptyMediaStats } from '../service';
import type { FromWorker, MediaWorkerData, ReplyValue, ToWorker } from './protocol';

export interface WorkerMediaOptions {
  workers: number;
  address: string;
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

interface Pending {
  resolve(value: ReplyValue): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Slot {
  index: number;
  data: MediaWorkerData;
  worker: Worker;
  participants: Set<ParticipantId>;
  conferences: Map<ConferenceId, number>;
  stats: MediaServiceStats;
  closing: boolean;
  /** The last RTP port this worker handed out (its replacement continues after it). */
  lastRtpPort?: number;
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

/** A worker thread that has not loaded and answered within this is a failed start. */
const READY_TIMEOUT_MS = 30_000;

export class WorkerMediaService implements MediaService {
  readonly events: TypedEmitter<MediaServiceEvents>;
  private readonly slots: Slot[] = [];
  private readonly byParticipant = new Map<ParticipantId, Slot>();
  private readonly conferenceOf = new Map<ParticipantId, ConferenceId>();
  private readonly byConference = new Map<ConferenceId, Slot>();
  private readonly snapshot = new Map<ParticipantId, RouterParticipantStats>();
  private readonly speakers = new Map<ConferenceId, ParticipantId | undefined>();
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private closed = false;
  private readonly script = path.join(__dirname, 'worker-main.js');

  constructor(private readonly opts: WorkerMediaOptions) {
    this.events = new TypedEmitter<MediaServiceEvents>((err, event) =>
      opts.logger.error({ event: String(event), err: String(err) }, 'media event listener failed'),
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
      const value = await this.request(slot, (req) => ({ op: 'create', req, conference, participant, admitted, video }));
      if (typeof value !== 'object') throw new ConfnodeError('internal', 'media worker returned no address');
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
      await this.request(slot, (req) => ({ op: 'createWebRtc', req, conference, participant, videoCodec }));
    } catch (err) {
      this.forget(participant);
      throw err;
    }
  }

  async webrtcOffer(participant: ParticipantId, sdp: string): Promise<string> {
    const value = await this.request(this.slotOf(participant), (req) => ({ op: 'webrtcOffer', req, participant, sdp }));
    if (typeof value !== 'string') throw new ConfnodeError('internal', 'media worker returned no answer');
    return value;
  }

  async webrtcAnswer(participant: ParticipantId, sdp: string): Promise<void> {
    await this.request(this.slotOf(participant), (req) => ({ op: 'webrtcAnswer', req, participant, sdp }));
  }

  updateRtpParticipant(participant: ParticipantId, update: RtpParticipantUpdate): void {
    this.post(participant, { op: 'update', participant, update });
  }

  admit(participant: ParticipantId): void {
    this.post(participant, { op: 'admit', participant });
  }

  injectDtmf(participant: ParticipantId, digit: string): void {
    this.post(participant, { op: 'dtmf', participant, digit });
  }

  removeParticipant(participant: ParticipantId): void {
    this.post(participant, { op: 'remove', participant });
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

  /** Every worker thread has loaded and answered a ping (rejects after `timeoutMs`). */
  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.request(slot, (req) => ({ op: 'ping', req }), timeoutMs)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(
      this.slots.map(async (slot) => {
        slot.closing = true;
        await this.request(slot, (req) => ({ op: 'close', req })).catch(() => undefined);
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(index: number, data: MediaWorkerData): Slot {
    const worker = new Worker(this.script, { workerData: data });
    const slot: Slot = {
      index,
      data,
      worker,
      participants: new Set(),
      conferences: new Map(),
      stats: emptyMediaStats(),
      closing: false,
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
    for (const [req, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ConfnodeError('internal', 'media worker exited'));
      this.pending.delete(req);
    }
    // The dead worker's callers may stream on until our BYE reaches them: the replacement starts
    // allocating after the last pair the dead one handed out, not on the pairs they still hit
    // (PortAllocator wraps a start past the range's end to its beginning).
    const data = slot.lastRtpPort === undefined ? slot.data : { ...slot.data, rtpPorts: { ...slot.data.rtpPorts, startAt: slot.lastRtpPort + 2 } };
    const fresh = this.spawn(slot.index, data);
    this.slots[this.slots.indexOf(slot)] = fresh;
    if (lost.length > 0) this.events.emit('lost', lost);
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.op) {
      case 'reply': {
        const p = this.pending.get(m.req);
        if (!p) return;
        this.pending.delete(m.req);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new ConfnodeError(m.code as ErrorCode, m.message));
        return;
      }
      case 'dtmf':
        this.events.emit('dtmf', m.participant, m.digit);
        return;
      case 'webrtcOffer':
        if (this.byParticipant.get(m.participant) === slot) this.events.emit('webrtcOffer', m.participant, m.sdp);
        return;
      case 'webrtcFailed':
        if (this.byParticipant.get(m.participant) === slot) this.events.emit('webrtcFailed', m.participant, m.reason);
        return;
      case 'activeSpeaker':
        this.speakers.set(m.conference, m.participant);
        this.events.emit('activeSpeaker', m.conference, m.participant);
        return;
      case 'snapshot':
        for (const [id, s] of m.participants) if (this.byParticipant.get(id) === slot) this.snapshot.set(id, s);
        slot.stats = m.stats;
        return;
      case 'log':
        this.opts.logger[m.level]({ ...m.fields, worker: slot.index }, m.msg);
        return;
    }
  }

  private request(slot: Slot, build: (req: number) => ToWorker, timeoutMs = this.opts.requestTimeoutMs ?? 5000): Promise<ReplyValue> {
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        reject(new ConfnodeError('timeout', `media worker ${slot.index} did not answer in time`));
      }, timeoutMs);
      this.pending.set(req, { resolve, reject, timer });
      slot.worker.postMessage(build(req));
    });
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

  private slotOf(participant: ParticipantId): Slot {
    const slot = this.byParticipant.get(participant);
    if (!slot) throw new ConfnodeError('not-found', `participant ${participant} has no media`);
    return slot;
  }

  private post(participant: ParticipantId, msg: ToWorker): void {
    this.byParticipant.get(participant)?.worker.postMessage(msg);
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
