"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.defaultConfigInput = defaultConfigInput;
exports.defaultConfig = defaultConfig;
/**
 * The embedded default: one node on 127.0.0.1 that works with no config file (scripts/start with
 * no arguments). Built through parseConfig so the schema's defaults and checks apply to it too.
 * Its secret is a fixed development value: never use it for a real cluster.
 */
const load_1 = require("./load");
const schema_1 = require("./schema");
function defaultConfigInput() {
    return {
        cluster: { name: 'local', secret: schema_1.DEV_CLUSTER_SECRET, store: 'memory' },
        locations: [{ name: 'local' }],
        nodes: [
            {
                name: 'node1',
                location: 'local',
                address: '127.0.0.1',
                sip_port: 5060,
                http_port: 8080,
                control_port: 7070,
                rtp_ports: { min: 40000, max: 40999 },
                capacity: 100,
            },
        ],
        vmrs: [{ name: 'meet', aliases: ['meet', 'meet@localhost'] }],
    };
}
function defaultConfig() {
    return (0, load_1.parseConfig)(defaultConfigInput());
}
//# sourceMappingURL=defaults.js.map