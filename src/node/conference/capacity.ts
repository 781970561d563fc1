/**
 * Capacity accounting (DESIGN.md section 1), pure: what a participant costs and whether the next
 * one fits. "Full" means the next participant's cost does not fit.
 */

export interface CapacityCosts {
  video: number;
  audio: number;
  backplane: number;
}

export type MediaKind = 'audio' | 'video';

export function participantCost(kind: MediaKind, costs: CapacityCosts): number {
  return kind === 'video' ? costs.video : costs.audio;
}

/** Float-safe comparison: 4 x 0.25 must fit exactly into 1. */
export function fits(load: number, cost: number, capacity: number): boolean {
  return load + cost <= capacity + 1e-9;
}
