/**
 * Types of the control channel's public surface: the zod schemas a caller supplies for its op and
 * event maps (what a peer sends stays `unknown` until they pass), the events the channel raises,
 * and its counters. Types and tiny helpers only; no I/O.
 */
import type { z } from 'zod';
import type { EventPayloads, NodeId, OpMap, OpName } from '../../common';
import { AUTH_REFUSALS, type AuthRefusal } from './auth';

/** A schema that accepts anything on the wire and yields `T` (transforms allowed, e.g. branded ids). */
export type WireSchema<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

/** Event names of an event map. */
export type EventName<E extends EventPayloads> = keyof E & string;

/**
 * Schemas for every request, reply and event of a channel: requests are checked before a handler
 * sees them, replies before a caller does, events before they are raised.
 */
export interface ControlProtocol<Ops extends OpMap, Events extends EventPayloads> {
  requests: { [K in OpName<Ops>]: WireSchema<Ops[K]['req']> };
  replies: { [K in OpName<Ops>]: WireSchema<Ops[K]['res']> };
  events: { [K in EventName<Events>]: WireSchema<Events[K]> };
}

/** An event a peer sent, with the name of the node that sent it. */
export type ControlEvent<Events extends EventPayloads> = {
  [K in EventName<Events>]: { from: NodeId; name: K; data: Events[K] };
}[EventName<Events>];

export type ControlChannelEvents<Events extends EventPayloads> = {
  /** A validated event from a peer. */
  event: [ControlEvent<Events>];
  /** The first link with this peer is up (either side dialed). */
  peerUp: [NodeId];
  /** The last link with this peer is gone; its pending calls have failed. */
  peerDown: [NodeId, string];
};

/** How an outgoing call ended: answered, answered with an error, no answer in time, no link. */
export type CallOutcome = 'ok' | 'failed' | 'timeout' | 'unavailable';
export const CALL_OUTCOMES: readonly CallOutcome[] = ['ok', 'failed', 'timeout', 'unavailable'];

/** Plain counters since start (for /metrics). */
export interface ControlStats {
  handshakesAccepted: number;
  handshakesRefused: Record<AuthRefusal, number>;
  /** Our dials that did not give a link (refused, unreachable, wrong node answered). */
  dialFailures: number;
  framesIn: number;
  framesOut: number;
  /** Frames that failed their MAC, their schema or the size bound (each closed its link, 1008). */
  badFrames: number;
  /** Well-formed frames whose request, reply or event data failed the protocol's schema. */
  badPayloads: number;
  /** Outgoing calls by outcome. */
  calls: Record<CallOutcome, number>;
  /** Requests peers sent us: answered with a value, or with an error (handler, schema, busy). */
  served: { ok: number; failed: number };
  /** Links open now. */
  links: number;
}

export function emptyControlStats(): ControlStats {
  return {
    handshakesAccepted: 0,
    handshakesRefused: Object.fromEntries(AUTH_REFUSALS.map((r) => [r, 0])) as Record<AuthRefusal, number>,
    dialFailures: 0,
    framesIn: 0,
    framesOut: 0,
    badFrames: 0,
    badPayloads: 0,
    calls: Object.fromEntries(CALL_OUTCOMES.map((o) => [o, 0])) as Record<CallOutcome, number>,
    served: { ok: 0, failed: 0 },
    links: 0,
  };
}

export function copyControlStats(s: ControlStats): ControlStats {
  return { ...s, handshakesRefused: { ...s.handshakesRefused }, calls: { ...s.calls }, served: { ...s.served } };
}
