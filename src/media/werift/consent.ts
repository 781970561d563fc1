/**
 * ICE consent freshness (RFC 7675) as werift 0.25 runs it: one binding request every 4-6 s, each
 * waiting max(500 ms, 2 RTT + 200 ms) for its answer with no retransmission, and consent expires
 * 30 s after the last answer (the call then fails). The 500 ms floor is what a STUN server on a
 * quiet network needs, not what a browser on a busy laptop gives: measured on loopback with eight
 * Chromium pages sharing two cores, Chromium's answers to our checks took 0.1-2 s while the
 * node's answers to Chromium stayed under 50 ms, and werift counted most late answers as lost
 * until consent expired for pages that were sending media the whole time.
 *
 * A late answer still proves the peer consents (it carries the request's transaction id and
 * MESSAGE-INTEGRITY with the session's password), so we wait up to CONSENT_ANSWER_WAIT_MS, just
 * under the request interval (werift abandons a request when it sends the next). The 30 s expiry
 * is unchanged: a peer that is gone is still dropped in 30 s.
 *
 * werift reads the floor from its iceBase module's exports at every request and does not export
 * that module object itself, hence the path below: pinned werift version, checked by a unit test.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** How long a consent check waits for its answer. */
export const CONSENT_ANSWER_WAIT_MS = 4000;

/** The werift module that holds the ICE consent constants (read by werift at every use). */
export interface IceBaseModule {
  CONSENT_RESPONSE_TIMEOUT_MIN: number;
  CONSENT_RESPONSE_TIMEOUT: number;
  /** Seconds between consent checks (x 0.8-1.2). */
  CONSENT_INTERVAL: number;
  /** Seconds after the last answer when consent expires and ICE fails. */
  CONSENT_TIMEOUT: number;
}

function isIceBase(m: unknown): m is IceBaseModule {
  const o = m as Partial<IceBaseModule> | null;
  return (
    typeof o?.CONSENT_RESPONSE_TIMEOUT_MIN === 'number' &&
    typeof o.CONSENT_RESPONSE_TIMEOUT === 'number' &&
    typeof o.CONSENT_INTERVAL === 'number' &&
    typeof o.CONSENT_TIMEOUT === 'number'
  );
}

/** werift's iceBase module, or undefined when this werift build does not have it. */
export function weriftIceBase(): IceBaseModule | undefined {
  const req = createRequire(__filename);
  try {
    const mod: unknown = req(join(dirname(req.resolve('werift')), '..', '..', 'ice', 'src', 'iceBase.js'));
    return isIceBase(mod) ? mod : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets werift's consent answer wait (idempotent). Returns false when this werift build does not
 * have the module where the setting lives (werift's own 500 ms then applies).
 */
export function tolerateLateConsentAnswers(waitMs = CONSENT_ANSWER_WAIT_MS): boolean {
  const mod = weriftIceBase();
  if (!mod) return false;
  mod.CONSENT_RESPONSE_TIMEOUT_MIN = waitMs;
  mod.CONSENT_RESPONSE_TIMEOUT = waitMs;
  return true;
}
