/**
 * A deterministic pseudo-random sequence in [0, 1) (a 32-bit linear congruential generator,
 * Numerical Recipes constants): for fuzz tests that must fail the same way every run. Not for
 * anything an attacker may predict (tokens, SSRCs: those use node:crypto).
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
