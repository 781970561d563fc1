"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.LOG_LEVELS = void 0;
exports.createLogger = createLogger;
/**
 * The node's logger: pino writing one JSON line per event to stdout, with the node name on every
 * line. The only module that imports pino; everything else receives the `Logger` from common.
 * Never logs per packet (callers' rule) and never pretty-prints in process (pipe to a tool).
 */
const pino_1 = __importDefault(require("pino"));
const common_1 = require("../common");
exports.LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];
function isLogLevel(level) {
    return exports.LOG_LEVELS.includes(level);
}
function createLogger(opts) {
    if (!isLogLevel(opts.level)) {
        throw new common_1.ConfnodeError('config', `config error: log level '${opts.level}' is not one of ${exports.LOG_LEVELS.join(', ')}`);
    }
    const options = {
        level: opts.level,
        base: { node: opts.nodeName },
        // ISO times and level names make the lines readable without a formatter; the cost is
        // negligible at our volume (no per-packet lines).
        timestamp: pino_1.default.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
    };
    const logger = opts.destination ? (0, pino_1.default)(options, opts.destination) : (0, pino_1.default)(options);
    return logger;
}
//# sourceMappingURL=logging.js.map