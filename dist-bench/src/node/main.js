"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.runNode = runNode;
/**
 * Composition root of one Conferencing Node: reads the CLI and config, wires the SIP signaling
 * plane, the media plane and the HTTP API, and shuts them down in order on SIGTERM/SIGINT
 * (BYE to every call first). The only module that reads process.argv and installs signal handlers.
 */
const path = __importStar(require("node:path"));
const common_1 = require("../common");
const node_os_1 = require("node:os");
const media_1 = require("../media");
const signaling_1 = require("../signaling");
const admin_log_1 = require("./admin-log");
const cli_1 = require("./cli");
const registry_1 = require("./conference/registry");
const config_1 = require("./config");
const http_1 = require("./http");
const logging_1 = require("./logging");
const node_api_1 = require("./node-api");
const sip_handler_1 = require("./sip-handler");
const VERSION = '0.1.0';
async function runNode(config, node, logger) {
    const clock = common_1.systemClock;
    const adminLog = new admin_log_1.AdminLog(logger);
    const media = createMediaService(config, node, logger);
    const metrics = new http_1.NodeMetrics({ nodeName: node.name });
    const registry = new registry_1.ConferenceRegistry({ capacity: node.capacity, logger, media });
    // A worker that died took its participants' media with it: end their calls cleanly.
    media.events.on('lost', (ids) => {
        for (const id of ids)
            void registry.participant(id)?.hangup();
    });
    registry.events.on('conference-started', (c) => adminLog.add('info', 'Conference started', { conference: c.vmr.name }));
    registry.events.on('conference-ended', (c) => adminLog.add('info', 'Conference ended', { conference: c.vmr.name }));
    const handler = new sip_handler_1.SipConferenceHandler({ config, node, registry, media, clock, logger, adminLog });
    let sip;
    let http;
    try {
        sip = await (0, signaling_1.createSipServer)({ host: node.address, port: node.sip_port, handler, clock, logger, userAgent: `confnode/${VERSION}` });
        const api = new node_api_1.NodeApiImpl({ config, node, registry, media, adminLog, version: VERSION, sip: () => sip });
        metrics.setSources(api.metricsSource());
        http = await (0, http_1.startHttpServer)({
            host: node.address,
            port: node.http_port,
            logger,
            api,
            metrics,
            staticDir: path.resolve(__dirname, '..', '..', 'web'),
        });
    }
    catch (err) {
        await sip?.close();
        await media.close();
        throw err;
    }
    const host = node.address.includes(':') ? `[${node.address}]` : node.address;
    const firstAlias = config.vmrs[0]?.aliases[0];
    logger.info({ sip: `${host}:${node.sip_port}`, http: `http://${host}:${node.http_port}/` }, `confnode ${node.name} ready${firstAlias ? `: dial sip:${firstAlias.split('@')[0]}@${host}:${node.sip_port}` : ''}, page http://${host}:${node.http_port}/`);
    let stopping;
    return {
        stop: () => {
            stopping ??= (async () => {
                logger.info({}, 'shutting down: hanging up calls');
                await sip?.close();
                await http?.close();
                await media.close();
                logger.info({}, 'stopped');
            })();
            return stopping;
        },
    };
}
/**
 * Media in worker threads (one conference per worker, least loaded first) so mixing and RTP use
 * every core and never delay SIP; `media.workers: 0` keeps it on the main thread.
 */
function createMediaService(config, node, logger) {
    const m = config.media;
    const common = {
        address: node.address,
        rtpPorts: node.rtp_ports,
        logger: logger.child({ component: 'media' }),
        mixTalkers: m.mix_talkers,
        jitterBufferMs: m.jitter_buffer_ms,
        opusComplexity: m.opus_complexity,
    };
    const workers = m.workers ?? Math.min(4, (0, node_os_1.availableParallelism)());
    if (workers === 0)
        return new media_1.LocalMediaService({ ...common, clock: common_1.systemClock });
    logger.info({ workers }, 'media runs in worker threads');
    return new media_1.WorkerMediaService({ ...common, workers });
}
async function main() {
    let cli;
    let config;
    let node;
    try {
        cli = (0, cli_1.parseCli)(process.argv.slice(2));
        if (cli.help) {
            process.stdout.write(`${cli_1.USAGE}\n`);
            return;
        }
        config = cli.configPath ? (0, config_1.loadConfigFile)(cli.configPath) : (0, config_1.defaultConfig)();
        node = (0, config_1.selectNode)(config, cli.nodeName ?? config.nodes[0]?.name ?? 'node1');
    }
    catch (err) {
        process.stderr.write(`confnode: ${(0, common_1.errorMessage)(err)}\n`);
        process.exitCode = 2;
        return;
    }
    const logger = (0, logging_1.createLogger)({ level: cli.logLevel ?? node.log_level ?? 'info', nodeName: node.name });
    if (!cli.configPath) {
        const host = node.address;
        process.stdout.write(`confnode: single node with embedded defaults\n  SIP: sip:meet@${host}:${node.sip_port} (UDP and TCP)\n  page: http://${host}:${node.http_port}/\n`);
    }
    let running;
    try {
        running = await runNode(config, node, logger);
    }
    catch (err) {
        logger.error({ err: (0, common_1.errorMessage)(err) }, 'start failed');
        process.stderr.write(`confnode: start failed: ${(0, common_1.errorMessage)(err)}\n`);
        process.exitCode = 1;
        return;
    }
    let signals = 0;
    const onSignal = (sig) => {
        signals++;
        if (signals > 1) {
            logger.warn({ signal: sig }, 'second signal: exiting now');
            process.exit(1);
        }
        const force = setTimeout(() => {
            logger.error({}, 'shutdown took too long: exiting');
            process.exit(1);
        }, 10_000);
        force.unref();
        running.stop().then(() => process.exit(0), (err) => {
            logger.error({ err: (0, common_1.errorMessage)(err) }, 'shutdown failed');
            process.exit(1);
        });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('uncaughtException', (err) => {
        logger.error({ err: (0, common_1.errorMessage)(err), stack: err.stack }, 'uncaught exception');
    });
    process.on('unhandledRejection', (err) => {
        logger.error({ err: (0, common_1.errorMessage)(err) }, 'unhandled rejection');
    });
}
if (require.main === module)
    void main();
//# sourceMappingURL=main.js.map