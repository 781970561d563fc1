/**
 * Turns YAML text or a plain object into a validated ClusterConfig, or one ConfnodeError('config')
 * listing every problem with its key path (and the line, for YAML syntax errors). Never returns
 * a partly valid config and never reads anything but the one file it is given.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { ZodIssue } from 'zod';
import { ConfnodeError, errorMessage } from '../../common';
import { ConfigSchema, type ClusterConfig } from './schema';

export interface ConfigIssue {
  /** Key path as written in the YAML file, e.g. `nodes[0].sip_port`; '' for the top level. */
  path: string;
  message: string;
}

/** A config error that also keeps the problems apart, for tests and tools. */
export class ConfigError extends ConfnodeError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: { cause?: unknown }) {
    super('config', issues.map(formatIssue).join('\n'), options);
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? `config error: ${issue.message}` : `config error: ${issue.path}: ${issue.message}`;
}

/** Validates an already parsed document (from YAML, JSON or code) and applies the defaults. */
export function parseConfig(input: unknown): ClusterConfig {
  const result = ConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.flatMap(toConfigIssues));
}

/** Reads and validates one YAML file. */
export function loadConfigFile(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : errorMessage(err);
    throw new ConfigError([{ path: '', message: `cannot read config file '${path}': ${why}` }], { cause: err });
  }
  const doc = parseYaml(text, path);
  if (doc === null || doc === undefined) {
    throw new ConfigError([{ path: '', message: `config file '${path}' is empty` }]);
  }
  return parseConfig(doc);
}

/** YAML to a plain value; syntax errors (and duplicate keys) name the file, line and column. */
export function parseYaml(text: string, fileName = '<config>'): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `${fileName} line ${pos.line}, column ${pos.col}` : fileName;
        const firstLine = e.message.split('\n')[0] ?? e.message;
        return { path: '', message: `YAML syntax error in ${where}: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}` };
      }),
    );
  }
  return doc.toJS({ maxAliasCount: 100 });
}

/** `['nodes', 0, 'sip_port']` -> `nodes[0].sip_port`; odd keys are quoted so they stay readable. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function toConfigIssues(issue: ZodIssue): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: /[A-Z-]/.test(key) ? 'unknown key (keys are snake_case)' : 'unknown key',
    }));
  }
  if (issue.code === 'invalid_union') {
    // Report the branch the input was evidently meant for (an object with a typo inside), not
    // "invalid input" for every branch.
    const depth = issue.path.length;
    const meant = issue.unionErrors.filter((e) => !e.issues.every((i) => i.path.length === depth && isTypeMismatch(i)));
    if (meant.length === 1 && meant[0]) return meant[0].issues.flatMap(toConfigIssues);
  }
  if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    return [{ path: formatPath(issue.path), message: `required key missing (expected ${issue.expected})` }];
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}

function isTypeMismatch(issue: ZodIssue): boolean {
  return issue.code === 'invalid_type' || issue.code === 'invalid_literal';
}
