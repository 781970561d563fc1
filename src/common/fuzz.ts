/**
 * Deterministic fuzzing helpers for tests that must fail the same way every run: a seeded
 * pseudo-random sequence and line-oriented mutations of text protocols (SDP, SIP). Not for
 * anything an attacker may predict (tokens, SSRCs: those use node:crypto).
 */

/** A pseudo-random sequence in [0, 1) (32-bit LCG, Numerical Recipes constants). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface LineMutationOptions {
  /** Values that tend to break parsers (empty, huge numbers, separators, odd bytes). */
  tokens: readonly string[];
  /** Lines that may be inserted from elsewhere (other messages of the same kind). */
  donors?: readonly string[];
  /** Line separator of the input and, mostly, of the output (one time in four it becomes LF). */
  eol?: string;
}

/**
 * One to four edits of `text`, line by line: drop or repeat a line, replace a space-separated
 * field or a `:`/`=`/`/`-separated part with a token, cut a line short, insert a byte, insert a
 * donor line.
 */
export function mutateLines(text: string, rnd: () => number, opts: LineMutationOptions): string {
  const eol = opts.eol ?? '\r\n';
  const lines = text.split(eol);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const token = (): string => opts.tokens[pick(opts.tokens.length)] ?? '';
  for (let e = 1 + pick(4); e > 0; e--) {
    const i = pick(lines.length);
    const line = lines[i] ?? '';
    switch (pick(7)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2: {
        const fields = line.split(' ');
        fields[pick(fields.length)] = token();
        lines[i] = fields.join(' ');
        break;
      }
      case 3: {
        const parts = line.split(/([ :=/])/);
        parts[pick(parts.length)] = token();
        lines[i] = parts.join('');
        break;
      }
      case 4:
        lines[i] = line.slice(0, pick(line.length + 1));
        break;
      case 5:
        lines[i] = line.slice(0, pick(line.length + 1)) + String.fromCharCode(pick(256)) + line.slice(pick(line.length + 1));
        break;
      default:
        lines.splice(i, 0, opts.donors?.[pick(opts.donors.length)] ?? token());
    }
  }
  return lines.join(pick(4) === 0 ? '\n' : eol);
}
