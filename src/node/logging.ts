/**
 * The node's logger: pino writing one JSON line per event to stdout, with the node name on every
 * line. The only module that imports pino; everything else receives the `Logger` from common.
 * Never logs per packet (callers' rule) and never pretty-prints in process (pipe to a tool).
 */
import pino from 'pino';
import { ConfnodeError, type Logger } from '../common';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type NodeLogLevel = (typeof LOG_LEVELS)[number];

export interface CreateLoggerOptions {
  level: string;
  nodeName: string;
  /** Pretty printing is not built in: pipe the JSON lines to a formatter instead. */
  pretty?: false;
  /** Where lines go; stdout when absent (tests pass a collector). */
  destination?: { write(line: string): void };
}

function isLogLevel(level: string): level is NodeLogLevel {
  return (LOG_LEVELS as readonly string[]).includes(level);
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  if (!isLogLevel(opts.level)) {
    throw new ConfnodeError('config', `config error: log level '${opts.level}' is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { node: opts.nodeName },
    // ISO times and level names make the lines readable without a formatter; the cost is
    // negligible at our volume (no per-packet lines).
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const logger: Logger = opts.destination ? pino(options, opts.destination) : pino(options);
  return logger;
}
