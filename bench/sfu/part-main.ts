/**
 * What the SFU bench's standalone part runners (`*-main.ts`) share: their few command-line flags
 * and the way they end (an error's stack on stderr, exit 1).
 */

export interface PartArgs {
  /** The value after `name`, if given. */
  flag(name: string): string | undefined;
  /** An integer flag of at least `min`, else `fallback`. */
  num(name: string, fallback: number, min?: number): number;
  has(name: string): boolean;
}

export function partArgs(argv: readonly string[]): PartArgs {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    flag,
    num: (name, fallback, min = 0) => {
      const v = Number(flag(name));
      return Number.isInteger(v) && v >= min ? v : fallback;
    },
    has: (name) => argv.includes(name),
  };
}

/** Runs a part runner's main; a failure prints its stack and exits 1. */
export function runPart(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
