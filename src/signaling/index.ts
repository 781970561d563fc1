/**
 * Public surface of the signaling plane for other folders (node/): SIP, SDP and WebRTC (browser)
 * signaling. Re-exports only; no logic here.
 */
export * from './sip';
export * from './sdp';
export * from './webrtc';
