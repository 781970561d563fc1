/**
 * The embedded default: one node on 127.0.0.1 that works with no config file (scripts/start with
 * no arguments). Built through parseConfig so the schema's defaults and checks apply to it too.
 * Its secret is a fixed development value: never use it for a real cluster.
 */
import { parseConfig } from './load';
import { DEV_CLUSTER_SECRET, type ClusterConfig, type ClusterConfigInput } from './schema';

export function defaultConfigInput(): ClusterConfigInput {
  return {
    cluster: { name: 'local', secret: DEV_CLUSTER_SECRET, store: 'memory' },
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

export function defaultConfig(): ClusterConfig {
  return parseConfig(defaultConfigInput());
}
