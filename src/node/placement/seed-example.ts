/**
 * Capacities of the seed's locally distributed example (seeds/004: Alice, Bob, Carol, Dave on
 * USConf01-03), shared by the placement tests and examples/usa.yaml. Data only, no behaviour.
 */

/**
 * With four audio callers (0.25 each) and a backplane cost of 1, in this order:
 * - Alice: the conference starts on USConf02, the most free (1.75 > 1.5 > 1.25), which fits
 *   0.25 plus the 1 it keeps for a future backplane;
 * - Bob and Carol: USConf02 by affinity (0.5 + 0.25 + 1 and 0.75 + 0.25 + 1 <= 1.75);
 * - Dave: USConf02 is full for him (0.75 + 0.25 + 1 = 2 > 1.75), so the conference expands to
 *   USConf03, more free than USConf01 (1.5 > 1.25) and fitting 0.25 + 1; USConf02 then pays its
 *   backplane unit out of the reserve (0.75 + 1 = 1.75, exactly full).
 */
export const SEED_USA_CAPACITIES = { USConf01: 1.25, USConf02: 1.75, USConf03: 1.5 } as const;

export const SEED_USA_LOCATION = 'USA';
