/**
 * When to dial a lost peer again (pure: the attempt and the random draw are arguments). Doubles
 * up to a cap with jitter, so the nodes that lost one peer do not all dial it at the same instant.
 */

export interface BackoffPolicy {
  /** Delay before the first retry (before jitter). */
  baseMs: number;
  /** Largest delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 10_000 };

/**
 * Delay before retry number `attempt` (0 = the first): between half and all of
 * min(maxMs, baseMs * 2^attempt), picked by `random` in [0, 1). Never zero, never above maxMs.
 */
export function reconnectDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const r = Math.min(Math.max(random, 0), 1);
  return Math.max(1, Math.round(cap / 2 + (cap / 2) * r));
}
