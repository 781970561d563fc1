import { consentResponseTimeoutMs } from 'werift';
import { CONSENT_ANSWER_WAIT_MS, tolerateLateConsentAnswers } from './consent';

describe('ICE consent answer wait', () => {
  it('werift waits CONSENT_ANSWER_WAIT_MS for a consent answer on a fast path and when RTT is unknown', () => {
    expect(consentResponseTimeoutMs(0.001)).toBe(500);
    expect(tolerateLateConsentAnswers()).toBe(true);
    expect(consentResponseTimeoutMs(0.001)).toBe(CONSENT_ANSWER_WAIT_MS);
    expect(consentResponseTimeoutMs(undefined)).toBe(CONSENT_ANSWER_WAIT_MS);
    // A slow path still gets werift's 2 RTT + 200 ms when that is longer.
    expect(consentResponseTimeoutMs(3)).toBe(6200);
  });
});
