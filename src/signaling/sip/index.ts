/**
 * Public surface of the SIP stack: the UA server factory and the SessionHandler contract.
 * Other folders import SIP only through here; internals (transactions, transport) stay private.
 */
export { createSipServer, ALLOWED_METHODS } from './ua';
export type { SipServer, SipServerOptions, SipServerStats, SipTrafficObserver } from './ua';
export type { SipTlsOptions } from './transport';
export type { CallEndReason, CallInfo, SdpResult, SessionHandler, SipCall, SipEndpointAddress, SipTransportKind } from './session';
export type { SipTimerConfig } from './timers';
export { DEFAULT_SIP_TIMERS } from './timers';
export type { SipHeader, SipMessage, SipRequest, SipResponse } from './message';
export type { ParseLimits } from './parser';
export { DEFAULT_PARSE_LIMITS } from './parser';
