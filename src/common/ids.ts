/**
 * Branded identifiers: a participant id cannot be passed where a node id is expected.
 * Never carries behaviour; plain strings at runtime.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type NodeId = Brand<string, 'NodeId'>;
export type LocationId = Brand<string, 'LocationId'>;
export type ConferenceId = Brand<string, 'ConferenceId'>;
export type ParticipantId = Brand<string, 'ParticipantId'>;

export const asNodeId = (s: string): NodeId => s as NodeId;
export const asLocationId = (s: string): LocationId => s as LocationId;
export const asConferenceId = (s: string): ConferenceId => s as ConferenceId;
export const asParticipantId = (s: string): ParticipantId => s as ParticipantId;
