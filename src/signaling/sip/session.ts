/**
 * The port between the SIP user agent and whatever runs conferences (node/ implements it).
 * The SIP layer knows nothing of media, werift, etcd or other nodes: it hands SDP strings to the
 * handler and sends back what the handler returns. Errors thrown by the handler that are
 * ConfnodeError become SIP statuses through common/errors sipStatusFor().
 */

/** TLS (RFC 3261 26.2) is framed like TCP, on its own port. */
export type SipTransportKind = 'udp' | 'tcp' | 'tls';

export interface SipEndpointAddress {
  transport: SipTransportKind;
  address: string;
  port: number;
}

export interface CallInfo {
  /** SIP Call-ID of the dialog. */
  callId: string;
  /** User part of the Request-URI, unescaped (e.g. 'meet'); undefined when the URI has none. */
  requestUser: string | undefined;
  /** Host part of the Request-URI (e.g. 'localhost', '127.0.0.1', '[::1]' without brackets). */
  requestHost: string;
  /** Raw From URI and display name. */
  fromUri: string;
  fromDisplayName: string | undefined;
  /** Where the INVITE came from (after Via received/rport), i.e. where the signaling peer is. */
  remote: SipEndpointAddress;
  userAgent: string | undefined;
}

export type CallEndReason =
  | 'remote-bye' // the caller sent BYE
  | 'cancel' // CANCEL before the final response
  | 'local-bye' // we hung up (hangup() called)
  | 'ack-timeout' // 2xx sent, no ACK within 64*T1
  | 'rejected' // handler threw, a final error response was sent
  | 'transport-error' // a request we sent got no response / transport failed
  | 'session-expired'; // session timer (RFC 4028): the refreshes stopped

/** One call (INVITE dialog) as the handler sees it. */
export interface SipCall {
  /** Stable id of this call inside the node (not the SIP Call-ID). */
  readonly id: string;
  readonly info: CallInfo;
  /** Sends BYE (or, before the 2xx, a final error to the INVITE); resolves when done. Idempotent. */
  hangup(): Promise<void>;
}

export interface SdpResult {
  sdp: string;
}

export interface SessionHandler {
  /**
   * Initial INVITE. With an offer, return the answer; without one (offerSdp undefined), return
   * an offer: the answer then arrives in onAck. Throw ConfnodeError to reject (404, 488, 503...).
   */
  onInvite(call: SipCall, offerSdp: string | undefined): Promise<SdpResult>;
  /** ACK of the 2xx. answerSdp is set when the INVITE had no offer. */
  onAck(call: SipCall, answerSdp: string | undefined): void;
  /** re-INVITE in the dialog (hold/resume, address or codec change); same contract as onInvite. */
  onReinvite(call: SipCall, offerSdp: string | undefined): Promise<SdpResult>;
  /** INFO in the dialog (e.g. application/dtmf-relay). The UA answers 200 itself. */
  onInfo(call: SipCall, contentType: string | undefined, body: Buffer): void;
  /**
   * Called exactly once per call for which onInvite was called, after onInvite has settled
   * (so the handler never races its own setup).
   */
  onEnded(call: SipCall, reason: CallEndReason): void;
}
