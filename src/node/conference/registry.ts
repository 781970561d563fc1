/**
 * Conference instances on this node: a VMR's instance starts with its first participant and
 * ends after the last one leaves. Owns capacity accounting (load = sum of participant costs) so
 * admission and release can never drift apart. Never touches SIP or sockets directly: it releases
 * media through the MediaService and ends calls through participants' hangup functions.
 */
import { randomUUID } from 'node:crypto';
import {
  ConfnodeError,
  TypedEmitter,
  asConferenceId,
  asParticipantId,
  type ConferenceId,
  type Logger,
  type ParticipantId,
} from '../../common';
import type { MediaService, RouterParticipantStats } from '../../media';
import type { VmrConfig } from '../config';
import { fits } from './capacity';

export type Protocol = 'sip' | 'webrtc';

export interface ParticipantRecord {
  id: ParticipantId;
  conference: Conference;
  protocol: Protocol;
  displayName: string;
  remote: string;
  cost: number;
  joinedAt: Date;
  placementReason: string;
  /** 'host' or 'guest' after PIN entry, 'waiting-for-pin' before; 'participant' without PINs. */
  role: 'host' | 'guest' | 'participant' | 'waiting-for-pin';
  /** A SIP phone that holds the call (sendonly/inactive audio or c=0.0.0.0): not heard meanwhile. */
  onHold?: boolean;
  audioCodec?: string;
  /** Video codec when the participant has video (SIP: negotiated in the conference codec). */
  videoCodec?: string;
  videoUnavailableReason?: string;
  /** Ends the participant's call (SIP BYE); the registry's leave() follows from the call ending. */
  hangup(): Promise<void>;
}

export interface Conference {
  id: ConferenceId;
  vmr: VmrConfig;
  startedAt: Date;
  participants: Map<ParticipantId, ParticipantRecord>;
}

export interface RegistryEvents {
  [event: string]: unknown[];
  'conference-started': [Conference];
  'conference-ended': [Conference];
  /** Final media counters of a participant, just before its media is removed. */
  'participant-left': [ParticipantRecord, RouterParticipantStats | undefined];
}

export interface RegistryOptions {
  capacity: number;
  logger: Logger;
  /** Where participants' media lives; the registry releases it when they leave. */
  media: MediaService;
}

export interface JoinRequest {
  protocol: Protocol;
  displayName: string;
  remote: string;
  cost: number;
  hangup(): Promise<void>;
}

export class ConferenceRegistry {
  readonly events = new TypedEmitter<RegistryEvents>();
  private readonly byName = new Map<string, Conference>();
  private readonly participantsById = new Map<ParticipantId, ParticipantRecord>();
  private reserved = 0;
  private committed = 0;

  constructor(private readonly opts: RegistryOptions) {}

  get capacity(): number {
    return this.opts.capacity;
  }

  /** Units in use, including admissions in progress. */
  get load(): number {
    return this.committed + this.reserved;
  }

  /**
   * Reserves capacity for a participant whose media is being set up. Throws 'capacity' (SIP 503)
   * when the node or the VMR is full. The returned release() must be called if the join fails.
   */
  reserve(vmr: VmrConfig, cost: number): { release(): void } {
    if (!fits(this.load, cost, this.opts.capacity)) {
      throw new ConfnodeError('capacity', `node full: load ${this.load} + ${cost} > capacity ${this.opts.capacity}`);
    }
    const conf = this.byName.get(vmr.name);
    if (vmr.max_participants !== undefined && (conf?.participants.size ?? 0) >= vmr.max_participants) {
      throw new ConfnodeError('capacity', `conference ${vmr.name} is full (${vmr.max_participants} participants)`);
    }
    this.reserved += cost;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reserved -= cost;
      },
    };
  }

  /** Adds a participant (starting the conference instance if needed), turning a reservation into load. */
  join(vmr: VmrConfig, req: JoinRequest, reservation: { release(): void }): ParticipantRecord {
    let conf = this.byName.get(vmr.name);
    if (!conf) {
      const id = asConferenceId(randomUUID());
      conf = { id, vmr, startedAt: new Date(), participants: new Map() };
      this.byName.set(vmr.name, conf);
      this.opts.logger.info({ conference: vmr.name, conferenceId: id }, 'conference started');
      this.events.emit('conference-started', conf);
    }
    reservation.release();
    const rec: ParticipantRecord = {
      id: asParticipantId(randomUUID()),
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
  leave(id: ParticipantId): void {
    const rec = this.participantsById.get(id);
    if (!rec) return;
    this.participantsById.delete(id);
    this.committed -= rec.cost;
    if (this.committed < 1e-9) this.committed = 0;
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
