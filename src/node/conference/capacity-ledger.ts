/**
 * The capacity this node carries (DESIGN.md section 1): participants' media and, with backplanes,
 * one unit per conference per link. The media node's own authority on "full": reservations are
 * taken before media is set up and become load, or are released; never drifts with admissions.
 */
import { ConfnodeError, type ParticipantId } from '../../common';
import { fits } from './capacity';

export interface Reservation {
  readonly cost: number;
  /** The participant got its media: the reserved units become its load (released by release(id)). */
  commit(participant: ParticipantId): void;
  /** The join failed: give the units back. Idempotent; a no-op after commit. */
  release(): void;
}

export class CapacityLedger {
  private reserved = 0;
  private readonly committed = new Map<string, number>();
  private committedSum = 0;

  constructor(readonly capacity: number) {}

  /** Units in use, including admissions in progress. */
  get load(): number {
    return this.committedSum + this.reserved;
  }

  /** Throws 'capacity' (SIP 503) when `cost` does not fit. */
  reserve(cost: number): Reservation {
    if (!fits(this.load, cost, this.capacity)) {
      throw new ConfnodeError('capacity', `node full: load ${round(this.load)} + ${cost} > capacity ${this.capacity}`);
    }
    this.reserved += cost;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.reserved = clamp(this.reserved - cost);
      return true;
    };
    return {
      cost,
      commit: (participant) => {
        if (close()) this.add(participant, cost);
      },
      release: () => {
        close();
      },
    };
  }

  /** Load that is charged without a reservation (a conference's backplane on this node). */
  charge(key: string, cost: number): void {
    if (!this.committed.has(key)) this.add(key, cost);
  }

  /** A participant left (or a charge ended): its units are free again. Unknown keys are ignored. */
  release(key: string): void {
    const cost = this.committed.get(key);
    if (cost === undefined) return;
    this.committed.delete(key);
    this.committedSum = clamp(this.committedSum - cost);
  }

  private add(key: string, cost: number): void {
    this.committed.set(key, cost);
    this.committedSum += cost;
  }
}

/** Sums of 0.25s drift by 1e-16: what is "nothing" must read as 0. */
function clamp(n: number): number {
  return n < 1e-9 ? 0 : n;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
