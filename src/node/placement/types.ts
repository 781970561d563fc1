/**
 * The snapshot placement decides on and the decision it returns (DESIGN.md sections 2 and 5).
 * Plain data only: whoever reads the cluster store builds these, placement never reads the store.
 */

export type PlacementNodeState = 'active' | 'draining';

export interface PlacementNode {
  name: string;
  location: string;
  capacity: number;
  /** In capacity units, including the backplane units the node already pays. */
  load: number;
  state: PlacementNodeState;
}

export interface PlacementRequest {
  /** The node that received the call; it keeps the signaling whatever is decided (R1). */
  signalingNode: string;
  /** The signaling node's location: media is placed among this location's nodes. */
  location: string;
  /** What the caller costs (0.25 audio, 1 video by default). */
  cost: number;
  /** What a backplane costs each node of the conference that carries one (1 by default). */
  backplaneCost: number;
  /** R5: at most this many media nodes per location (default 3). */
  maxMediaNodes?: number;
  /** Nodes that just refused (capacity raced) or are unreachable: no new media on them. */
  exclude?: string[];
  /**
   * R6: where this location's callers go when it is full for the conference (the signaling
   * node's location's own list: another location's overflow never applies, R6).
   */
  overflow?: { primary?: string | undefined; secondary?: string | undefined } | undefined;
}

export interface PlacementSnapshot {
  nodes: PlacementNode[];
  /** The conference's media nodes in the request's location, in allocation order; [] if none. */
  mediaNodes: string[];
  /**
   * The conference's media nodes in each other location (allocation order): where overflow may
   * join it, and whether a location's first media node opens a geo backplane. Absent: none.
   */
  otherLocations?: Readonly<Record<string, readonly string[]>>;
}

/** How a node of a location was chosen (R2-R4). */
export type LocationReason = 'affinity' | 'least-loaded' | 'expansion';

/** Why the media went where it went; the overflow reasons say the caller's location was full (R6). */
export type PlacementReason = LocationReason | 'overflow-primary' | 'overflow-secondary';

export type PlacementDecision =
  | {
      kind: 'place';
      node: string;
      /** The media node's location: the caller's, or an overflow location of the caller's (R6). */
      location: string;
      reason: PlacementReason;
      /** How the node was chosen inside `location` (equals `reason` unless overflowed). */
      within: LocationReason;
      /** The conference's media nodes in `location` after this decision: the list to CAS. */
      mediaNodes: string[];
      /** The list differs from the snapshot's, so a compare-and-swap is needed. */
      changed: boolean;
      /** Nodes that start paying the backplane unit for this conference because of this decision. */
      backplaneCharges: string[];
    }
  /** R8: the caller's location and its overflow locations are all full for the conference. */
  | { kind: 'reject'; reason: 'rejected-full'; detail: string };
