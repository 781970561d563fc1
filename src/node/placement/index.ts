/**
 * Pure media placement inside a location (DESIGN.md R2-R5, R10): what other folders may use.
 * Nothing here touches the cluster store, sockets or clocks.
 */
export type { LocationReason, PlacementDecision, PlacementNode, PlacementNodeState, PlacementReason, PlacementRequest, PlacementSnapshot } from './types';
export { DEFAULT_MAX_MEDIA_NODES, availableCapacity, decidePlacement, describeDecision } from './decide-placement';
export { SEED_GLOBAL_CAPACITIES, SEED_GLOBAL_OVERFLOW, SEED_USA_CAPACITIES, SEED_USA_LOCATION } from './seed-example';
export { electProxy, paysBackplane, wantedLinks, type BackplaneKind, type LocationMedia, type WantedLink } from './topology';
