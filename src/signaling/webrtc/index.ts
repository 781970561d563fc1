/**
 * Public surface of browser signaling: the WebSocket server factory, the session port that node/
 * implements, and the protocol's message types and limits. Re-exports only.
 */
export { createWebRtcSignaling, type WebRtcSignalingOptions, type WebRtcSignalingServer } from './ws-server';
export type { SessionEvent as WebRtcSessionEvent } from './browser-session';
export type { WebRtcCloseRequest, WebRtcEndReason, WebRtcSession, WebRtcSessionHandler } from './session';
export {
  JOIN_TIMEOUT_MS,
  MAX_MESSAGE_BYTES,
  RESUME_GRACE_MS,
  WS_CLOSE,
  WebRtcRefusal,
  parseClientMessage,
  wsErrorFor,
  type ClientMessage,
  type JoinMessage,
  type JoinedMessage,
  type MediaState,
  type ParticipantEntry,
  type ServerMessage,
  type VideoCodecName,
  type WsErrorCode,
} from './protocol';
