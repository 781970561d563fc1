/**
 * Errors carry a code and a cause. One table maps codes to SIP statuses (and later WebSocket
 * error messages and control-channel replies), so every edge reports the same fault the same way.
 */
export type ErrorCode =
  | 'bad-request'
  | 'not-found'
  | 'no-common-codec'
  | 'capacity'
  | 'busy'
  | 'timeout'
  | 'closed'
  | 'config'
  | 'unavailable'
  | 'internal';

export class ConfnodeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ConfnodeError';
  }
}

export interface SipStatusMapping {
  readonly status: number;
  readonly reason: string;
  /** Seconds, for 503 responses. */
  readonly retryAfter?: number;
}

const SIP_STATUS: Record<ErrorCode, SipStatusMapping> = {
  'bad-request': { status: 400, reason: 'Bad Request' },
  'not-found': { status: 404, reason: 'Not Found' },
  'no-common-codec': { status: 488, reason: 'Not Acceptable Here' },
  capacity: { status: 503, reason: 'Service Unavailable', retryAfter: 30 },
  busy: { status: 486, reason: 'Busy Here' },
  timeout: { status: 408, reason: 'Request Timeout' },
  closed: { status: 481, reason: 'Call/Transaction Does Not Exist' },
  config: { status: 500, reason: 'Server Internal Error' },
  // The cluster store or a peer node cannot be reached: a caller should try again shortly.
  unavailable: { status: 503, reason: 'Service Unavailable', retryAfter: 10 },
  internal: { status: 500, reason: 'Server Internal Error' },
};

const ERROR_CODES = new Set<string>(Object.keys(SIP_STATUS));

/** A code that came from another thread or node, checked before it is trusted. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && ERROR_CODES.has(code);
}

export function sipStatusFor(err: unknown): SipStatusMapping {
  if (err instanceof ConfnodeError) return SIP_STATUS[err.code];
  return SIP_STATUS.internal;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
