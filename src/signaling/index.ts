/**
 * Public surface of the signaling plane for other folders (node/): SIP today, SDP and WebRTC
 * signaling beside it. Re-exports only; no logic here.
 */
export * from './sip';
export * from './sdp';
