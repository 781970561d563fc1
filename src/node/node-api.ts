/**
 * The node's NodeApi for the HTTP layer: read-only views of this node's conferences and
 * participants, plus the two admin actions (end a conference, hang up a participant). Also the
 * metric sources read at scrape time. Single node for now: the cluster store comes later.
 */
import type { MediaService } from '../media';
import type { SipServer } from '../signaling';
import type { AdminLog } from './admin-log';
import type { CapacityLedger } from './conference/capacity-ledger';
import type { ConferenceRegistry, ParticipantRecord } from './conference/registry';
import type { Roster } from './conference/roster';
import type { ClusterConfig, NodeConfig } from './config';
import type {
  AdminLogEntryView,
  AdminLogQuery,
  BackplaneView,
  ConferenceView,
  HealthView,
  MetricSources,
  NodeApi,
  NodeStatusView,
  ParticipantView,
  RemoteView,
} from './http';

export interface NodeApiDeps {
  config: ClusterConfig;
  node: NodeConfig;
  registry: ConferenceRegistry;
  /** What this node carries: its capacity and load. */
  ledger: CapacityLedger;
  roster: Roster;
  media: MediaService;
  adminLog: AdminLog;
  version: string;
  sip: () => SipServer | undefined;
  startedAt?: number;
  /** In a cluster: every live node, and peers' views merged into this node's answers. */
  cluster?: ClusterViews;
}

/** What the API reads of the cluster (node/cluster-node's ClusterNode). */
export interface ClusterViews {
  nodes(): NodeStatusView[];
  placementOf(vmr: string): { locations: string[]; mediaNodes: string[]; proxyNodes: string[] };
  peerViews(): Promise<Array<{ participants: ParticipantView[]; conferences: ConferenceView[] }>>;
  /** Peers' admin logs, newest first each. */
  peerLogs(query: AdminLogQuery): Promise<AdminLogEntryView[][]>;
  backplaneViews(): BackplaneView[];
}

interface Totals {
  in: number;
  out: number;
  dropped: number;
}

function parseRemote(remote: string): RemoteView {
  const first = remote.indexOf(':');
  const last = remote.lastIndexOf(':');
  return { transport: remote.slice(0, first), address: remote.slice(first + 1, last), port: Number(remote.slice(last + 1)) };
}

export class NodeApiImpl implements NodeApi {
  private readonly startedAt: number;
  private draining = false;
  /** Counters of participants that already left, so node totals never go down. */
  private readonly retired: Totals = { in: 0, out: 0, dropped: 0 };

  constructor(private readonly deps: NodeApiDeps) {
    this.startedAt = deps.startedAt ?? Date.now();
    deps.registry.events.on('participant-left', (_rec, stats) => {
      if (!stats) return;
      this.retired.in += stats.packetsIn;
      this.retired.out += stats.packetsOut;
      this.retired.dropped += stats.packetsDropped;
    });
  }

  setDraining(draining: boolean): void {
    this.draining = draining;
  }

  health(): HealthView {
    return { status: this.draining ? 'draining' : 'ok' };
  }

  status(): NodeStatusView {
    const { node, ledger, version } = this.deps;
    return {
      node: node.name,
      location: node.location,
      capacity: ledger.capacity,
      load: Math.round(ledger.load * 1000) / 1000,
      state: this.draining ? 'draining' : 'active',
      sip: this.sipView(),
      http: { address: node.public_address ?? node.address, port: node.http_port },
      control: { address: node.public_address ?? node.address, port: node.control_port },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      version,
    };
  }

  /** The SIP server's own ports (TLS only when it listens on it). */
  private sipView(): NodeStatusView['sip'] {
    const { node } = this.deps;
    const tlsPort = this.deps.sip()?.tlsPort;
    const address = node.public_address ?? node.address;
    return tlsPort === undefined
      ? { address, port: node.sip_port, transports: ['udp', 'tcp'] }
      : { address, port: node.sip_port, transports: ['udp', 'tcp', 'tls'], tlsPort };
  }

  nodes(): NodeStatusView[] {
    const cluster = this.deps.cluster;
    if (!cluster) return [this.status()];
    // This node's own entry is live (uptime, load now); the others are as the store has them.
    return cluster.nodes().map((n) => (n.node === this.deps.node.name ? this.status() : n));
  }

  /** The whole cluster's conferences, wherever asked: one entry per conference instance. */
  async conferences(): Promise<ConferenceView[]> {
    const mine = this.localConferences();
    const peers = this.deps.cluster ? await this.deps.cluster.peerViews() : [];
    const byId = new Map<string, ConferenceView>();
    for (const c of [...mine, ...peers.flatMap((v) => v.conferences)]) {
      const seen = byId.get(c.id);
      if (!seen) byId.set(c.id, { ...c });
      else byId.set(c.id, { ...seen, participants: seen.participants + c.participants, startedAt: seen.startedAt < c.startedAt ? seen.startedAt : c.startedAt, ...(seen.activeSpeaker ?? c.activeSpeaker ? { activeSpeaker: seen.activeSpeaker ?? c.activeSpeaker } : {}) });
    }
    return [...byId.values()];
  }

  /** The whole cluster's participants (each from its signaling node), wherever asked. */
  async participants(): Promise<ParticipantView[]> {
    const peers = this.deps.cluster ? await this.deps.cluster.peerViews() : [];
    return [...this.localParticipants(), ...peers.flatMap((v) => v.participants)];
  }

  /** What this node alone knows: its signaling's participants and conferences (served to peers). */
  localViews(): { participants: ParticipantView[]; conferences: ConferenceView[] } {
    return { participants: this.localParticipants(), conferences: this.localConferences() };
  }

  private localParticipants(): ParticipantView[] {
    return this.deps.registry.participants().map((p) => this.participantView(p));
  }

  private localConferences(): ConferenceView[] {
    const { node, cluster } = this.deps;
    return this.deps.registry.conferences().map((c) => {
      const speaker = this.deps.roster.activeSpeaker(c.id);
      const placed = cluster?.placementOf(c.vmr.name) ?? { locations: [node.location], mediaNodes: [node.name], proxyNodes: [] };
      return {
        id: c.id,
        name: c.vmr.name,
        aliases: [...c.vmr.aliases],
        startedAt: c.startedAt.toISOString(),
        participants: c.participants.size,
        ...placed,
        ...(speaker ? { activeSpeaker: speaker } : {}),
      };
    });
  }

  /** This node's backplane links (none on a node alone). */
  backplanes(): BackplaneView[] {
    return this.deps.cluster?.backplaneViews() ?? [];
  }

  /** This node's admin log, newest first, each entry naming this node (served to peers too). */
  localAdminLog(query: AdminLogQuery): AdminLogEntryView[] {
    let entries = this.deps.adminLog.list();
    if (query.conference !== undefined) entries = entries.filter((e) => e.conference === query.conference);
    entries.reverse();
    const node = this.deps.node.name;
    return (query.limit !== undefined ? entries.slice(0, query.limit) : entries).map((e) => ({ node, ...e }));
  }

  /** The whole cluster's admin log, wherever asked: newest first (a peer that does not answer is left out). */
  async adminLog(query: AdminLogQuery): Promise<AdminLogEntryView[]> {
    const mine = this.localAdminLog(query);
    if (!this.deps.cluster) return mine;
    const all = [mine, ...(await this.deps.cluster.peerLogs(query))].flat();
    all.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    return query.limit !== undefined ? all.slice(0, query.limit) : all;
  }

  async endConference(name: string): Promise<{ participants: number } | undefined> {
    if (!this.deps.registry.conference(name)) return undefined;
    this.deps.adminLog.add('info', 'Conference ended by the admin API', { conference: name });
    return { participants: await this.deps.registry.endConference(name) };
  }

  async hangupParticipant(id: string): Promise<boolean> {
    const p = this.deps.registry.participant(id);
    if (!p) return false;
    await p.hangup();
    return true;
  }

  metricsSource(): MetricSources {
    const { registry, ledger } = this.deps;
    const live = (): Totals => {
      const t = { ...this.retired };
      for (const p of registry.participants()) {
        const s = this.deps.media.participantStats(p.id);
        if (!s) continue;
        t.in += s.packetsIn;
        t.out += s.packetsOut;
        t.dropped += s.packetsDropped;
      }
      return t;
    };
    return {
      conferences: () => registry.conferences().length,
      participants: () => {
        const out = { sip: 0, webrtc: 0 };
        for (const p of registry.participants()) out[p.protocol]++;
        return out;
      },
      loadUnits: () => ledger.load,
      capacityUnits: () => ledger.capacity,
      rtpPackets: () => {
        const t = live();
        return { in: t.in, out: t.out };
      },
      rtpDropped: () => ({ total: live().dropped }),
      mixTicks: () => {
        const s = this.deps.media.stats();
        return { on_time: s.mixTicks - s.lateMixTicks, late: s.lateMixTicks, skipped: s.skippedMixRounds };
      },
      mixRoundMaxSeconds: () => this.deps.media.stats().maxMixRoundMs / 1000,
      iceRestarts: () => this.deps.media.stats().iceRestarts,
      iceReconnects: () => this.deps.media.stats().iceReconnects,
    };
  }

  private participantView(p: ParticipantRecord): ParticipantView {
    const { node } = this.deps;
    const stats = this.deps.media.participantStats(p.id);
    return {
      id: p.id,
      conference: p.conference.vmr.name,
      protocol: p.protocol,
      displayName: p.displayName,
      remote: parseRemote(p.remote),
      signalingNode: node.name,
      mediaNode: p.mediaNode,
      mediaLocation: p.mediaLocation ?? node.location,
      placementReason: p.placementReason,
      role: p.role,
      ...(p.onHold ? { onHold: true } : {}),
      audioCodec: stats?.audioCodec ?? p.audioCodec ?? 'none',
      ...(p.videoCodec ? { videoCodec: p.videoCodec } : {}),
      ...(p.videoUnavailableReason ? { videoUnavailableReason: p.videoUnavailableReason } : {}),
      ...(stats?.videoShowing ? { videoShowing: stats.videoShowing } : {}),
      ...(stats?.videoPacketsIn !== undefined ? { videoPacketsIn: stats.videoPacketsIn, videoPacketsOut: stats.videoPacketsOut ?? 0 } : {}),
      packetsIn: stats?.packetsIn ?? 0,
      packetsOut: stats?.packetsOut ?? 0,
      packetsDropped: stats?.packetsDropped ?? 0,
      currentSpeaker: this.deps.roster.activeSpeaker(p.conference.id) === p.id,
      joinedAt: p.joinedAt.toISOString(),
    };
  }
}
