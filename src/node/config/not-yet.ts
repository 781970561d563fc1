/**
 * Keys the schema understands but this release does not act on yet: a node refuses to start with
 * them (naming the key) rather than run as if they were honoured. Pure; main.ts asks it at start.
 */
import { ConfigError, type ConfigIssue } from './load';
import type { ClusterConfig } from './schema';

export function unsupportedKeys(cfg: ClusterConfig): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (cfg.routing_rules.length > 0) {
    out.push({ path: 'routing_rules', message: 'the distributed gateway (R11) is not built yet: remove the routing rules' });
  }
  return out;
}

/** Throws a ConfigError (exit 2 at start) when the config asks for what this release cannot do. */
export function assertSupported(cfg: ClusterConfig): void {
  const issues = unsupportedKeys(cfg);
  if (issues.length > 0) throw new ConfigError(issues);
}
