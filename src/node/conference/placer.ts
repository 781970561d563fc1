/**
 * The placement seam of admission: where a new participant's media goes, with capacity held there
 * until the participant joins or the join fails. `LocalPlacer` is a node alone (the embedded
 * default): this node carries all media. The cluster placer (store, placement policy, a reservation
 * on the chosen media node over the control channel) implements the same interface.
 */
import { randomUUID } from 'node:crypto';
import { ConfnodeError, asConferenceId, type ConferenceId, type ParticipantId } from '../../common';
import type { VmrConfig } from '../config';
import { decidePlacement, type PlacementReason } from '../placement';
import type { CapacityLedger } from './capacity-ledger';

export interface PlacementRequest {
  vmr: VmrConfig;
  cost: number;
  /** The participant's id, minted before placement: capacity is held under it. */
  participant: ParticipantId;
}

/** A decision whose capacity is held on the media node until commit() or release(). */
export interface Placement {
  conferenceId: ConferenceId;
  mediaNode: string;
  /** The media node's location when it is not the signaling node's (R6 overflow). */
  mediaLocation?: string;
  reason: PlacementReason;
  commit(participant: ParticipantId): void;
  release(): void;
}

export interface Placer {
  /** Throws 'capacity' (nowhere fits: SIP 503) or 'unavailable' (cannot decide now). */
  place(req: PlacementRequest): Promise<Placement>;
  /** A participant placed by this placer left: free its capacity on its media node. */
  left(participant: ParticipantId, mediaNode: string): void;
}

export interface LocalPlacerOptions {
  nodeName: string;
  location: string;
  ledger: CapacityLedger;
  backplaneCost: number;
  /** The id of the VMR's instance running here, if any. */
  runningConference(vmr: string): ConferenceId | undefined;
}

/**
 * One node: the same placement policy on a one-node snapshot (the reason says whether the
 * conference was running here), and this node's ledger holds the capacity.
 */
export class LocalPlacer implements Placer {
  constructor(private readonly opts: LocalPlacerOptions) {}

  place(req: PlacementRequest): Promise<Placement> {
    const { nodeName, location, ledger } = this.opts;
    const running = this.opts.runningConference(req.vmr.name);
    const decision = decidePlacement(
      { signalingNode: nodeName, location, cost: req.cost, backplaneCost: this.opts.backplaneCost },
      { nodes: [{ name: nodeName, location, capacity: ledger.capacity, load: ledger.load, state: 'active' }], mediaNodes: running ? [nodeName] : [] },
    );
    if (decision.kind === 'reject') {
      return Promise.reject(new ConfnodeError('capacity', `node full: load ${Math.round(ledger.load * 1000) / 1000} + ${req.cost} > capacity ${ledger.capacity}`));
    }
    let reservation;
    try {
      reservation = ledger.reserve(req.cost);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve({
      conferenceId: running ?? asConferenceId(randomUUID()),
      mediaNode: decision.node,
      reason: decision.reason,
      commit: (id: ParticipantId) => reservation.commit(id),
      release: () => reservation.release(),
    });
  }

  left(participant: ParticipantId): void {
    this.opts.ledger.release(participant);
  }
}
