/**
 * Which conferences this node carries media for, and for whom: participants signaled here and
 * those reserved by peer nodes. Keeps the node's capacity ledger honest (a participant's units and,
 * while the conference has a backplane here, one backplane charge per conference) and tells the
 * placer when a conference has no media left here, so it leaves the conference's media nodes.
 */
import { TypedEmitter, type ConferenceId, type ParticipantId } from '../../common';
import type { CapacityLedger } from '../conference/capacity-ledger';

export interface Carried {
  conference: string;
  conferenceId: ConferenceId;
  /** The node whose signaling holds the participant (this node for its own callers). */
  owner: string;
}

export type MembershipEvents = {
  /** A participant's media is carried here now (a conference may need its backplanes). */
  added: [participant: ParticipantId, what: Carried];
  /** The last participant of `conference` whose media is here left. */
  empty: [conference: string];
};

export class MediaMembership {
  readonly events = new TypedEmitter<MembershipEvents>();
  private readonly carried = new Map<ParticipantId, Carried>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly ledger: CapacityLedger) {}

  add(participant: ParticipantId, what: Carried): void {
    if (this.carried.has(participant)) return;
    this.carried.set(participant, what);
    this.counts.set(what.conference, (this.counts.get(what.conference) ?? 0) + 1);
    this.events.emit('added', participant, what);
  }

  /** The participant's media left this node: its units are free. Unknown ids are ignored. */
  remove(participant: ParticipantId): void {
    this.ledger.release(participant);
    const what = this.carried.get(participant);
    if (!what) return;
    this.carried.delete(participant);
    const left = (this.counts.get(what.conference) ?? 1) - 1;
    if (left > 0) {
      this.counts.set(what.conference, left);
      return;
    }
    this.counts.delete(what.conference);
    this.events.emit('empty', what.conference);
  }

  get(participant: ParticipantId): Carried | undefined {
    return this.carried.get(participant);
  }

  carries(conference: string): boolean {
    return this.counts.has(conference);
  }

  /** Participants carried here for one signaling node. */
  ownedBy(owner: string): ParticipantId[] {
    return [...this.carried].filter(([, c]) => c.owner === owner).map(([id]) => id);
  }

  /** Signaling nodes with participants of `conference` carried here. */
  ownersOf(conferenceId: ConferenceId): Set<string> {
    const out = new Set<string>();
    for (const c of this.carried.values()) if (c.conferenceId === conferenceId) out.add(c.owner);
    return out;
  }

  /** The conference has a backplane on this node (other media nodes in the location), or not. */
  setBackplaneCharge(conference: string, charged: boolean, cost: number): void {
    const key = `backplane:${conference}`;
    if (charged) this.ledger.charge(key, cost);
    else this.ledger.release(key);
  }
}
