/**
 * Conference instances as this node's signaling sees them: a VMR's instance starts with its first
 * participant here and ends after the last one leaves. Bookkeeping only: where media goes and
 * what capacity it costs are decided before (admission.ts, the placer and its capacity ledger).
 * Raises joined/updated/left events (the roster and the API follow them); never touches SIP or
 * sockets: it releases media through the MediaService and ends calls through hangup functions.
 */
import {
  TypedEmitter,
  asParticipantId,
  type ConferenceId,
  type Logger,
  type ParticipantId,
} from '../../common';
import type { MediaService, RouterParticipantStats } from '../../media';
import type { VmrConfig } from '../config';
import type { PlacementReason } from '../placement';
import { randomUUID } from 'node:crypto';

export type Protocol = 'sip' | 'webrtc';


export interface ParticipantRecord {
  readonly id: ParticipantId;
  readonly conference: Conference;
  readonly protocol: Protocol;
  readonly displayName: string;
  readonly remote: string;
  readonly cost: number;
  readonly joinedAt: Date;
  /** The node that carries this participant's media (R1: the signaling stays here). */
  readonly mediaNode: string;
  /** The media node's location, when another than this node's (R6 overflow). */
  readonly mediaLocation?: string;
  readonly placementReason: PlacementReason;
  /** 'host' or 'guest' after PIN entry, 'waiting-for-pin' before; 'participant' without PINs. */
  role: 'host' | 'guest' | 'participant' | 'waiting-for-pin';
  /** A SIP phone that holds the call (sendonly/inactive audio or c=0.0.0.0): not heard meanwhile. */
  onHold?: boolean;
  audioCodec?: string;
  /** Video codec when the participant has video (SIP: negotiated in the conference codec). */
  videoCodec?: string;
  videoUnavailableReason?: string;
  /** What a browser says it sends now (microphone, camera): tiles show it. */
  publishing?: { audio: boolean; video: boolean };
  /** Ends the participant's call (SIP BYE); the registry's leave() follows from the call ending. */
  hangup(): Promise<void>;
}

/** The fields that change during a call; registry.update() sets them and tells listeners. */
export type ParticipantUpdate = Partial<Pick<ParticipantRecord, 'role' | 'onHold' | 'audioCodec' | 'videoCodec' | 'videoUnavailableReason' | 'publishing'>>;

export interface Conference {
  /** The conference instance's id, the same on every node of the cluster. */
  id: ConferenceId;
  vmr: VmrConfig;
  startedAt: Date;
  participants: Map<ParticipantId, ParticipantRecord>;
}

export interface RegistryEvents {
  [event: string]: unknown[];
  'conference-started': [Conference];
  'conference-ended': [Conference];
  'participant-joined': [ParticipantRecord];
  'participant-updated': [ParticipantRecord];
  /** Final media counters of a participant, just before its media is removed. */
  'participant-left': [ParticipantRecord, RouterParticipantStats | undefined];
}

export interface RegistryOptions {
  logger: Logger;
  /** Where participants' media lives; the registry releases it when they leave. */
  media: MediaService;
}

export interface JoinRequest {
  protocol: Protocol;
  displayName: string;
  remote: string;
  cost: number;
  /** Known at admission (a browser's PIN was checked, its camera state given in the join). */
  role?: ParticipantRecord['role'];
  publishing?: ParticipantRecord['publishing'];
  hangup(): Promise<void>;
}

/** Where the placement put the participant's media, and the conference instance it joins. */
export interface PlacementResult {
  conferenceId: ConferenceId;
  mediaNode: string;
  mediaLocation?: string;
  reason: PlacementReason;
}

export class ConferenceRegistry {
  readonly events = new TypedEmitter<RegistryEvents>();
  private readonly byName = new Map<string, Conference>();
  private readonly participantsById = new Map<ParticipantId, ParticipantRecord>();

  constructor(private readonly opts: RegistryOptions) {}

  /**
   * Adds a participant, starting the conference instance here if needed (with the placement's
   * conference id; a conference already running here keeps its own).
   */
  join(vmr: VmrConfig, req: JoinRequest, placement: PlacementResult, id: ParticipantId = asParticipantId(randomUUID())): ParticipantRecord {
    let conf = this.byName.get(vmr.name);
    if (!conf) {
      conf = { id: placement.conferenceId, vmr, startedAt: new Date(), participants: new Map() };
      this.byName.set(vmr.name, conf);
      this.opts.logger.info({ conference: vmr.name, conferenceId: conf.id }, 'conference started');
      this.events.emit('conference-started', conf);
    }
    const rec: ParticipantRecord = {
      id,
      conference: conf,
      protocol: req.protocol,
      displayName: req.displayName,
      remote: req.remote,
      cost: req.cost,
      joinedAt: new Date(),
      mediaNode: placement.mediaNode,
      ...(placement.mediaLocation !== undefined ? { mediaLocation: placement.mediaLocation } : {}),
      placementReason: placement.reason,
      role: req.role ?? 'participant',
      ...(req.publishing ? { publishing: req.publishing } : {}),
      hangup: req.hangup,
    };
    conf.participants.set(rec.id, rec);
    this.participantsById.set(rec.id, rec);
    this.events.emit('participant-joined', rec);
    return rec;
  }

  /** Changes what a participant's call says about it (role, hold, codecs, camera...). */
  update(id: ParticipantId, patch: ParticipantUpdate): void {
    const rec = this.participantsById.get(id);
    if (!rec) return;
    let changed = false;
    for (const [k, v] of Object.entries(patch) as Array<[keyof ParticipantUpdate, unknown]>) {
      if (JSON.stringify(rec[k]) === JSON.stringify(v)) continue;
      (rec as unknown as Record<string, unknown>)[k] = v;
      changed = true;
    }
    if (changed) this.events.emit('participant-updated', rec);
  }

  /** Removes a participant; the conference ends after the last one. */
  leave(id: ParticipantId): void {
    const rec = this.participantsById.get(id);
    if (!rec) return;
    this.participantsById.delete(id);
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
  conferences(): Conference[] {
    return [...this.byName.values()];
  }

  conference(name: string): Conference | undefined {
    return this.byName.get(name);
  }

  participants(): ParticipantRecord[] {
    return [...this.participantsById.values()];
  }

  participant(id: string): ParticipantRecord | undefined {
    return this.participantsById.get(id as ParticipantId);
  }

  /** Hangs up every participant of a conference; resolves when each hangup has settled. */
  async endConference(name: string): Promise<number> {
    const conf = this.byName.get(name);
    if (!conf) return 0;
    const all = [...conf.participants.values()];
    await Promise.allSettled(all.map((p) => p.hangup()));
    return all.length;
  }
}
