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

/**
 * The seed's globally distributed example (seeds/004: Emma, Frank, Greta), shared by the placement
 * tests and examples/global.yaml. USA keeps the locally distributed capacities: six audio callers
 * (0.25) fill it for the conference (USConf02 takes three and its backplane unit, USConf03 two and
 * its unit, USConf01 one and its unit). A location's first media node pays a geo backplane unit as
 * soon as the conference runs elsewhere, so one caller (0.25 + 1) fills MexConf01 and CanConf01;
 * BraConf01 keeps room for more, to show a USA caller never spills to Brazil (R6).
 */
export const SEED_GLOBAL_CAPACITIES = {
  USA: SEED_USA_CAPACITIES,
  Mexico: { MexConf01: 1.25 },
  Canada: { CanConf01: 1.25 },
  Brazil: { BraConf01: 2.5 },
} as const;

/** The seed's overflow table: USA -> Mexico, then Canada; Mexico -> Brazil. */
export const SEED_GLOBAL_OVERFLOW: Readonly<Record<string, { primary: string; secondary?: string }>> = {
  USA: { primary: 'Mexico', secondary: 'Canada' },
  Mexico: { primary: 'Brazil' },
};
