/**
 * The inter-node control channel: authenticated, typed calls and events between the nodes of a
 * cluster. Other folders import it only through this file.
 */
export { ControlChannel, type ControlChannelOptions, type ControlPeerAddress } from './channel';
export type { PeerState } from './peer';
export {
  CALL_OUTCOMES,
  type CallOutcome,
  type ControlChannelEvents,
  type ControlEvent,
  type ControlProtocol,
  type ControlStats,
  type EventName,
  type WireSchema,
} from './protocol';
export { AUTH_REFUSALS, CONTROL_HKDF_INFO, HANDSHAKE_HEADERS, HANDSHAKE_WINDOW_MS, type AuthRefusal } from './auth';
export { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
export { MAX_FRAME_BYTES } from './frames';
export { CONTROL_PATH } from './ws-server';
