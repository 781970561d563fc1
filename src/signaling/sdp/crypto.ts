/**
 * SDES-SRTP in SDP (RFC 4568), pure: picks the peer's a=crypto line we can use, decides per
 * m-line whether the call is SRTP, plain RTP or refused under media.sip_srtp, and writes our
 * a=crypto line. Keys are data here; they never go into a reason text or anywhere else.
 */
import type { ParsedMedia } from './sdp-lines';
import type { LocalSdesKey, SdesCrypto, SdesSuite, SrtpPolicy } from './types';

const SUITES: readonly SdesSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];
/** inline:<40 base64 chars = key 16 || salt 14>, an optional lifetime, and no MKI. */
const INLINE_RE = /^inline:([A-Za-z0-9+/]{40})(?:\|(?:2\^\d{1,2}|\d{1,20}))?$/;
const MAX_TAG = 999_999_999;

export function isSecureProfile(profile: string): boolean {
  return profile === 'RTP/SAVP' || profile === 'RTP/SAVPF';
}

/**
 * The first a=crypto line of the m-line we can honour (the offerer's order is its preference):
 * a suite of ours, one inline key with no MKI, and no session parameters (KDR, UNENCRYPTED_*,
 * FEC_*: RFC 4568 6.3 says a line with one we do not implement is not acceptable).
 */
export function acceptableCrypto(m: ParsedMedia): SdesCrypto | undefined {
  for (const c of m.crypto ?? []) {
    const suite = SUITES.find((s) => s === String(c.suite));
    const tag = Number(c.id);
    if (!suite || !Number.isInteger(tag) || tag < 0 || tag > MAX_TAG) continue;
    if (c.sessionConfig !== undefined && String(c.sessionConfig) !== '') continue;
    const inline = INLINE_RE.exec(String(c.config));
    if (!inline?.[1]) continue;
    return { tag, suite, key: inline[1] };
  }
  return undefined;
}

export type SrtpDecision = { ok: true; crypto?: SdesCrypto } | { ok: false; reason: string };

/**
 * One m-line under the policy. RTP/SAVP(F) needs an acceptable a=crypto (refused under 'off');
 * RTP/AVP with a=crypto (best-effort SRTP, as baresip's `srtp` and others offer) is SRTP unless
 * 'off'; plain RTP/AVP is refused under 'required'.
 */
export function decideSrtp(m: ParsedMedia, policy: SrtpPolicy): SrtpDecision {
  const secure = isSecureProfile(m.protocol);
  if (policy === 'off') return secure ? { ok: false, reason: 'SRTP not accepted here (media.sip_srtp: off)' } : { ok: true };
  const crypto = acceptableCrypto(m);
  if (crypto) return { ok: true, crypto };
  if (secure) {
    const reason = (m.crypto ?? []).length > 0 ? 'no acceptable a=crypto (AES_CM_128_HMAC_SHA1_80 or _32, one inline key, no MKI)' : `${m.protocol} without a=crypto (SDES keying only)`;
    return { ok: false, reason };
  }
  if (policy === 'required') return { ok: false, reason: 'SRTP required (media.sip_srtp: required)' };
  return { ok: true };
}

/** The profile of our m-line: the offered one when it is SRTP; plain lines are answered RTP/AVP. */
export function answerProfile(offered: string, crypto: SdesCrypto | undefined): string {
  return crypto && isSecureProfile(offered) ? offered : 'RTP/AVP';
}

/** Our a=crypto line answering `crypto` with our key (same tag and suite, RFC 4568 5.1.2). */
export function cryptoLine(tag: number, key: LocalSdesKey): string {
  return `a=crypto:${tag} ${key.suite} inline:${key.key}`;
}
