/**
 * Composition root of one Conferencing Node: reads the CLI and config, wires the SIP signaling
 * plane, the media plane and the HTTP API, and shuts them down in order on SIGTERM/SIGINT
 * (BYE to every call first). The only module that reads process.argv and installs signal handlers.
 */
import * as path from 'node:path';
import { errorMessage, systemClock, type Logger } from '../common';
import { availableParallelism } from 'node:os';
import { rtpIoInfo, srtpEngineInfo, type MediaService } from '../media';
import { createSipServer, createWebRtcSignaling, type SipServer, type WebRtcSignalingServer } from '../signaling';
import { AdminLog } from './admin-log';
import { USAGE, parseCli } from './cli';
import { Admission } from './conference/admission';
import { CapacityLedger } from './conference/capacity-ledger';
import { LocalPlacer } from './conference/placer';
import { ConferenceRegistry } from './conference/registry';
import { Roster } from './conference/roster';
import { ConfigError, assertSupported, defaultConfig, loadConfigFile, selectNode, sipTlsPort, type ClusterConfig, type NodeConfig } from './config';
import { loadTlsFiles, startHttpServer, NodeMetrics } from './http';
import { createLogger } from './logging';
import { ClusterNode } from './cluster-node';
import { LocalMediaHost, WorkerMediaService, type MediaHost } from './media-host';
import { NodeApiImpl } from './node-api';
import { SipConferenceHandler } from './sip-handler';
import { WebRtcConferenceHandler } from './webrtc-handler';

const VERSION = '0.1.0';

/** R7: the admin log's text for each overflow (the seed's, word for word). */
export const OVERFLOW_MESSAGE = 'Capacity reached in the location. Allocating the media node in the overflow location.';

interface Running {
  /** How long stop() may wait for calls to end (nodes[].drain_timeout_s). */
  drainMs: number;
  stop(): Promise<void>;
}

export async function runNode(config: ClusterConfig, node: NodeConfig, logger: Logger): Promise<Running> {
  const clock = systemClock;
  // HTTPS/WSS on http_port: a bad certificate or key stops the start before anything opens.
  const httpTls = node.tls ? loadTlsFiles(node.tls, `nodes[${config.nodes.indexOf(node)}].tls`) : undefined;
  const adminLog = new AdminLog(logger);
  const localMedia = createMediaService(config, node, logger);
  const metrics = new NodeMetrics({ nodeName: node.name });
  const ledger = new CapacityLedger(node.capacity);
  // With an etcd store this node is one of a cluster: media may go to other nodes (R1-R5).
  let api: NodeApiImpl | undefined;
  const cluster =
    config.cluster.store === 'memory'
      ? undefined
      : new ClusterNode({
          config,
          node,
          localMedia,
          ledger,
          clock,
          logger,
          version: VERSION,
          views: async () => (api ? api.localViews() : { participants: [], conferences: [] }),
          adminLog: {
            list: (query) => (api ? api.localAdminLog(query) : []),
            // R7: the seed's words, with the conference and both locations.
            overflow: (e) =>
              adminLog.add('info', OVERFLOW_MESSAGE, {
                conference: e.conference,
                participant: e.participant,
                originalLocation: e.originalLocation,
                overflowLocation: e.overflowLocation,
                reason: e.reason,
                mediaNode: e.mediaNode,
              }),
          },
        });
  const media: MediaService = cluster?.media ?? localMedia;
  const registry = new ConferenceRegistry({ logger, media });
  const placer =
    cluster?.placer ??
    new LocalPlacer({
      nodeName: node.name,
      location: node.location,
      ledger,
      backplaneCost: config.capacity_costs.backplane,
      runningConference: (name) => registry.conference(name)?.id,
    });
  let draining = false;
  const admission = new Admission({ config, registry, placer, adminLog, draining: () => draining });
  const roster = new Roster(registry, node.name);
  cluster?.attachRoster(roster, () => registry.conferences().map((c) => c.id));
  media.events.on('activeSpeaker', (conference, participant) => roster.setActiveSpeaker(conference, participant));
  // A media thread or a media node died and took these participants' media with it: end their
  // SIP calls with a BYE (browsers are told by the webrtc handler, with a media-failed error).
  media.events.on('lost', (ids) => {
    for (const id of ids) {
      const p = registry.participant(id);
      if (p?.protocol === 'sip') void p.hangup();
    }
  });
  registry.events.on('conference-started', (c) => adminLog.add('info', 'Conference started', { conference: c.vmr.name }));
  registry.events.on('conference-ended', (c) => adminLog.add('info', 'Conference ended', { conference: c.vmr.name }));

  const handler = new SipConferenceHandler({ config, node, registry, admission, media, clock, logger, adminLog, countCall: (r) => metrics.countCall(r), countCallEnd: (r) => metrics.countCallEnd(r) });
  // Browsers: WebSocket signaling on the HTTP server's port, path /ws.
  const browsers = new WebRtcConferenceHandler({
    config,
    registry,
    admission,
    roster,
    media,
    clock,
    logger: logger.child({ component: 'webrtc' }),
    adminLog,
    countTokenRefused: (reason) => metrics.countJoinTokenRefused(reason),
  });
  const signaling: WebRtcSignalingServer = createWebRtcSignaling({
    handler: browsers,
    clock,
    logger: logger.child({ component: 'ws' }),
    path: '/ws',
    onSessionEvent: (e) => metrics.countWsSession(e),
  });
  let sip: SipServer | undefined;
  let http: { close(): Promise<void> } | undefined;
  try {
    // SIP and HTTP open once the media threads answer: a call that comes in first would wait.
    await media.ready();
    await cluster?.start();
    const rtpIo = rtpIoInfo();
    if (rtpIo.kind === 'unavailable') throw new Error(rtpIo.reason);
    if (rtpIo.kind === 'native') logger.info({ rtpIo: rtpIo.kind }, 'plain RTP sockets use batched native I/O (native/rtpio)');
    else logger.warn({ rtpIo: rtpIo.kind, reason: rtpIo.reason }, "plain RTP sockets use Node's dgram (slower: see README, RTP socket I/O)");
    const srtp = srtpEngineInfo();
    if (srtp.kind === 'unavailable') throw new Error(srtp.reason);
    if (srtp.kind === 'native') logger.info({ srtp: srtp.kind }, 'SRTP uses keyed native contexts (native/srtp)');
    else logger.warn({ srtp: srtp.kind, reason: srtp.reason }, "SRTP uses Node's crypto per packet (slower: see README, SRTP)");
    // SIP over TLS on sip_tls_port (5061 by default) with the node's certificate (checked above).
    const tlsPort = sipTlsPort(node);
    sip = await createSipServer({
      host: node.address,
      ...(node.public_address !== undefined ? { advertisedHost: node.public_address } : {}),
      port: node.sip_port,
      ...(httpTls && tlsPort !== undefined ? { tls: { port: tlsPort, cert: httpTls.cert, key: httpTls.key } } : {}),
      handler,
      clock,
      logger,
      userAgent: `confnode/${VERSION}`,
      observer: { request: (m) => metrics.countSipRequest(m), response: (s) => metrics.countSipResponse(s) },
    });
    api = new NodeApiImpl({ config, node, registry, ledger, roster, media, adminLog, version: VERSION, sip: () => sip, ...(cluster ? { cluster } : {}) });
    metrics.setSources(api.metricsSource());
    if (cluster) {
      metrics.setSources({
        controlRefused: () => cluster.controlStats()?.handshakesRefused ?? {},
        controlCalls: () => cluster.controlStats()?.calls ?? {},
        controlBadFrames: () => (cluster.controlStats()?.badFrames ?? 0) + (cluster.controlStats()?.badPayloads ?? 0),
      });
    }
    http = await startHttpServer({
      host: node.address,
      port: node.http_port,
      logger,
      api,
      metrics,
      staticDir: path.resolve(__dirname, '..', '..', 'web'),
      ...(config.cluster.admin_token !== undefined ? { adminToken: config.cluster.admin_token } : {}),
      ...(httpTls ? { tls: httpTls } : {}),
      trustedProxies: config.http.trusted_proxies,
      upgrade: (req, socket, head, client) => signaling.handleUpgrade(req, socket, head, client),
    });
  } catch (err) {
    await sip?.close();
    await signaling.close();
    browsers.close();
    await cluster?.stop();
    await media.close();
    throw err;
  }
  const reached = node.public_address ?? node.address;
  const host = reached.includes(':') ? `[${reached}]` : reached;
  const firstAlias = config.vmrs[0]?.aliases[0];
  const page = `${httpTls ? 'https' : 'http'}://${host}:${node.http_port}/`;
  logger.info(
    { sip: `${host}:${node.sip_port}`, ...(sip.tlsPort !== undefined ? { sipTls: `${host}:${sip.tlsPort}` } : {}), http: page, ...(httpTls ? { certificateSha256: httpTls.fingerprint256 } : {}) },
    `confnode ${node.name} ready${firstAlias ? `: dial sip:${firstAlias.split('@')[0]}@${host}:${node.sip_port}` : ''}, page ${page}`,
  );
  let stopping: Promise<void> | undefined;
  const drainMs = (node.drain_timeout_s ?? 0) * 1000;
  return {
    drainMs,
    stop: () => {
      stopping ??= (async () => {
        if (drainMs > 0 && registry.participants().length > 0) {
          // Drain: out of placement at once (/healthz 503), no new calls; calls go on until they end.
          draining = true;
          api?.setDraining(true);
          cluster?.drain();
          logger.info({ drainTimeoutS: drainMs / 1000, calls: registry.participants().length }, 'draining: no new calls; waiting for calls to end');
          const deadline = Date.now() + drainMs;
          while (registry.participants().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        }
        logger.info({}, 'shutting down: hanging up calls');
        await sip?.close();
        await signaling.close();
        browsers.close();
        await http?.close();
        await cluster?.stop();
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
function createMediaService(config: ClusterConfig, node: NodeConfig, logger: Logger): MediaHost {
  const m = config.media;
  const common = {
    address: node.address,
    ...(node.public_address !== undefined ? { announceAddress: node.public_address } : {}),
    rtpPorts: node.rtp_ports,
    // Browsers' ICE sockets from a fixed range (split between the workers) a firewall can open.
    ...(node.ice_ports ? { icePortRange: [node.ice_ports.min, node.ice_ports.max] as [number, number] } : {}),
    logger: logger.child({ component: 'media' }),
    mixTalkers: m.mix_talkers,
    jitterBufferMs: m.jitter_buffer_ms,
    opusComplexity: m.opus_complexity,
  };
  // One per core: the main thread (SIP, HTTP) is light. Measured on 2 cores: 120 Opus participants
  // pass with 2 workers and fail with 1 (one thread saturates), see bench/results.
  const workers = m.workers ?? Math.max(1, Math.min(4, availableParallelism()));
  if (workers === 0) return new LocalMediaHost({ ...common, clock: systemClock });
  logger.info({ workers }, 'media runs in worker threads');
  return new WorkerMediaService({ ...common, workers });
}

async function main(): Promise<void> {
  let cli;
  let config: ClusterConfig;
  let node: NodeConfig;
  try {
    cli = parseCli(process.argv.slice(2));
    if (cli.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    config = cli.configPath ? loadConfigFile(cli.configPath) : defaultConfig();
    node = selectNode(config, cli.nodeName ?? config.nodes[0]?.name ?? 'node1');
    assertSupported(config);
  } catch (err) {
    process.stderr.write(`confnode: ${errorMessage(err)}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger({ level: cli.logLevel ?? node.log_level ?? 'info', nodeName: node.name });
  if (!cli.configPath) {
    const host = node.address;
    process.stdout.write(
      `confnode: single node with embedded defaults\n  SIP: sip:meet@${host}:${node.sip_port} (UDP and TCP)\n  page: ${node.tls ? 'https' : 'http'}://${host}:${node.http_port}/\n`,
    );
  }
  let running: Running;
  try {
    running = await runNode(config, node, logger);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'start failed');
    process.stderr.write(`confnode: start failed: ${errorMessage(err)}\n`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
    return;
  }
  let signals = 0;
  const onSignal = (sig: string): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    const force = setTimeout(() => {
      logger.error({}, 'shutdown took too long: exiting');
      process.exit(1);
    }, running.drainMs + 10_000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.error({ err: errorMessage(err), stack: err.stack }, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    logger.error({ err: errorMessage(err) }, 'unhandled rejection');
  });
}

if (require.main === module) void main();
