/**
 * The port between browser signaling (WebSocket) and whatever runs conferences (node/ implements
 * it), like sip/session.ts for SIP. Messages reach the handler already validated; the handler
 * never sees the socket, only a WebRtcSession it can send to and close.
 */
import type { JoinMessage, JoinedMessage, MediaState, ServerMessage, WsErrorCode } from './protocol';

export type WebRtcEndReason =
  | 'leave' // the browser sent {type:'leave'}
  | 'closed' // the browser closed the socket
  | 'lost' // no pong, socket error or abnormal close
  | 'bad-message' // we refused a message and closed
  | 'timeout' // no join in time, or no answer to the node's offer in time
  | 'refused' // the join was refused (not found, full, PIN)
  | 'ended' // the node closed it (admin hangup, media failure, shutdown)
  | 'shutdown';

/** Why the node closes a session; the browser sees the error message and the close reason. */
export interface WebRtcCloseRequest {
  /** Sent first as `{type:'error'}` when set (media failure, ...); an admin hangup has none. */
  error?: { code: WsErrorCode; message: string };
  /** Close frame reason shown by the page (at most 120 bytes). */
  reason: string;
}

/** One browser connection as the handler sees it. */
export interface WebRtcSession {
  /** Stable id inside the node (not the participant id). */
  readonly id: string;
  /** `ws:ADDRESS:PORT` of the browser, for the API and logs. */
  readonly remote: string;
  /** Queues a message; dropped silently once the session is closing. */
  send(message: ServerMessage): void;
  /** Closes the socket; resolves once it is closed (bounded). Idempotent. */
  close(request: WebRtcCloseRequest): Promise<void>;
}

export interface WebRtcSessionHandler {
  /**
   * The first message. Resolve with the `joined` reply; throw WebRtcRefusal or ConfnodeError to
   * refuse (the browser gets `{type:'error'}` and the socket closes).
   */
  onJoin(session: WebRtcSession, join: JoinMessage): Promise<JoinedMessage>;
  /**
   * The browser's offer; resolve with our answer SDP, or undefined to ignore it (glare: the
   * server's own offer is in flight and wins; the browser rolls back and offers again later).
   */
  onOffer(session: WebRtcSession, sdp: string): Promise<string | undefined>;
  /** The browser's answer to an offer the handler sent. */
  onAnswer(session: WebRtcSession, sdp: string): Promise<void>;
  /** The browser muted or unmuted its microphone or camera. */
  onMediaState(session: WebRtcSession, state: MediaState): void;
  /**
   * Called exactly once for every session whose onJoin was called, after onJoin has settled (so
   * the handler never races its own setup).
   */
  onClosed(session: WebRtcSession, reason: WebRtcEndReason): void;
}
