/**
 * Command-line parsing for the node process (pure): no arguments = embedded defaults;
 * `--config FILE --node NAME` = one node of a cluster config. Never reads files itself.
 */
import { ConfnodeError } from '../common';

export interface CliOptions {
  configPath?: string;
  nodeName?: string;
  logLevel?: string;
  help: boolean;
}

export const USAGE = `usage: confnode [--config FILE --node NAME] [--log-level LEVEL]
  no arguments        one node with the embedded defaults (SIP 127.0.0.1:5060 UDP+TCP, HTTP 127.0.0.1:8080, VMR "meet")
  --config FILE       cluster config (YAML)
  --node NAME         which node of FILE this process is (required with --config)
  --log-level LEVEL   trace|debug|info|warn|error (overrides the config)`;

export function parseCli(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) {
        throw new ConfnodeError('config', `${flag} needs a value\n${USAGE}`);
      }
      return v;
    };
    switch (flag) {
      case '--config':
        opts.configPath = value();
        break;
      case '--node':
        opts.nodeName = value();
        break;
      case '--log-level':
        opts.logLevel = value();
        break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      default:
        throw new ConfnodeError('config', `unknown argument '${arg}'\n${USAGE}`);
    }
  }
  if (opts.configPath !== undefined && opts.nodeName === undefined) {
    throw new ConfnodeError('config', `--config needs --node NAME\n${USAGE}`);
  }
  if (opts.nodeName !== undefined && opts.configPath === undefined) {
    throw new ConfnodeError('config', `--node needs --config FILE\n${USAGE}`);
  }
  return opts;
}
