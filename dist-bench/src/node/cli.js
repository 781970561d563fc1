"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.USAGE = void 0;
exports.parseCli = parseCli;
/**
 * Command-line parsing for the node process (pure): no arguments = embedded defaults;
 * `--config FILE --node NAME` = one node of a cluster config. Never reads files itself.
 */
const common_1 = require("../common");
exports.USAGE = `usage: confnode [--config FILE --node NAME] [--log-level LEVEL]
  no arguments        one node with the embedded defaults (SIP 127.0.0.1:5060 UDP+TCP, HTTP 127.0.0.1:8080, VMR "meet")
  --config FILE       cluster config (YAML)
  --node NAME         which node of FILE this process is (required with --config)
  --log-level LEVEL   trace|debug|info|warn|error (overrides the config)`;
function parseCli(argv) {
    const opts = { help: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i] ?? '';
        const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
        const value = () => {
            const v = inline ?? argv[++i];
            if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) {
                throw new common_1.ConfnodeError('config', `${flag} needs a value\n${exports.USAGE}`);
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
                throw new common_1.ConfnodeError('config', `unknown argument '${arg}'\n${exports.USAGE}`);
        }
    }
    if (opts.configPath !== undefined && opts.nodeName === undefined) {
        throw new common_1.ConfnodeError('config', `--config needs --node NAME\n${exports.USAGE}`);
    }
    if (opts.nodeName !== undefined && opts.configPath === undefined) {
        throw new common_1.ConfnodeError('config', `--node needs --config FILE\n${exports.USAGE}`);
    }
    return opts;
}
//# sourceMappingURL=cli.js.map