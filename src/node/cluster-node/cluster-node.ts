/**
 * A node of a cluster (etcd store): registers itself under a lease, opens the control channel,
 * places media with the cluster placer, serves peers' media requests for the participants it
 * carries, tells signaling nodes about their participants' media (events, stats), shares its
 * participant lists, and cleans up after a node whose lease expired. The composition of
 * node/cluster, node/control and node/placement; main.ts only starts and stops it.
 */
import { ConfnodeError, asNodeId, errorMessage, type Clock, type ConferenceId, type Logger, type NodeId, type ParticipantId, type RpcHandlers } from '../../common';
import { mediaOpHandlers, type MediaService } from '../../media';
import type { MediaHost } from '../media-host';
import { BackplaneManager } from './backplanes';
import { ClusterState, EtcdClusterStore, type ClusterStore, type NodeRecord } from '../cluster';
import type { CapacityLedger } from '../conference/capacity-ledger';
import type { Placement, PlacementRequest, Placer } from '../conference/placer';
import type { Roster } from '../conference/roster';
import type { ClusterConfig, NodeConfig } from '../config';
import { ControlChannel, type ControlStats } from '../control';
import type { AdminLogEntryView, AdminLogQuery, BackplaneView, ConferenceView, NodeStatusView, ParticipantView } from '../http';
import { ClusterPlacer, type OverflowEntry } from './cluster-placer';
import { MediaMembership } from './membership';
import { PeerLiveness } from './peer-liveness';
import { CLUSTER_PROTOCOL, type ClusterEvents, type ClusterOps } from './protocol';
import { RoutedMediaService } from './routed-media';
import { SrtpKeySeal } from './srtp-seal';
import { paysBackplane } from '../placement';
import { wanImpairment } from './wan-config';
import { backplaneView } from './backplane-view';

export interface ClusterNodeOptions {
  config: ClusterConfig;
  node: NodeConfig;
  /** This node's own media and backplanes (threads). */
  localMedia: MediaHost;
  ledger: CapacityLedger;
  clock: Clock;
  logger: Logger;
  version: string;
  /** This node's own admin views, served to peers. */
  views(): Promise<{ participants: ParticipantView[]; conferences: ConferenceView[] }>;
  /** This node's admin log (newest first), served to peers; and where R7's overflow entries go. */
  adminLog: { list(query: AdminLogQuery): AdminLogEntryView[]; overflow(entry: OverflowEntry): void };
  /** A store other than the config's etcd (tests). */
  store?: ClusterStore;
}

/** How often a media node sends its signaling peers their participants' counters. */
const MEDIA_STATS_MS = 1000;
/** Admin views asked of peers: an answer later than this is left out. */
const VIEWS_TIMEOUT_MS = 2000;

export class ClusterNode {
  readonly media: RoutedMediaService;
  private readonly keySeal: SrtpKeySeal;
  readonly membership: MediaMembership;
  private placerImpl: ClusterPlacer | undefined;
  private state: ClusterState | undefined;
  private control: ControlChannel<ClusterOps, ClusterEvents> | undefined;
  private store: ClusterStore | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private loadTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private roster: Roster | undefined;
  private backplanes: BackplaneManager | undefined;
  private localConferences: () => ConferenceId[] = () => [];
  /** What this node last told its peers of each conference's list. */
  private readonly sentRosters = new Map<ConferenceId, string>();
  private readonly log: Logger;
  private readonly liveness: PeerLiveness;

  constructor(private readonly opts: ClusterNodeOptions) {
    this.log = opts.logger.child({ component: 'cluster' });
    this.liveness = new PeerLiveness({
      reach: (peer) => this.channel().connect(asNodeId(peer)),
      listed: (peer) => this.state?.node(peer) !== undefined,
      gone: (n) => this.onPeerGone(n),
      logger: this.log,
    });
    this.membership = new MediaMembership(opts.ledger);
    this.keySeal = new SrtpKeySeal(opts.config.cluster.secret);
    this.media = new RoutedMediaService(opts.localMedia, opts.node.name, { call: (node, op, data) => this.channel().call(asNodeId(node), op, data) }, this.log, this.keySeal);
  }

  /** Placement through the cluster; every decision routes the participant's media. */
  get placer(): Placer {
    return {
      place: async (req: PlacementRequest): Promise<Placement> => {
        const p = await this.clusterPlacer().place(req);
        this.media.route(req.participant, p.mediaNode);
        return p;
      },
      left: (participant, mediaNode) => this.clusterPlacer().left(participant, mediaNode),
    };
  }

  async start(): Promise<void> {
    const { config, node, ledger, clock } = this.opts;
    const store = this.opts.store ?? this.etcdStore();
    this.store = store;
    const prefix = config.cluster.store === 'memory' ? undefined : config.cluster.store.etcd.prefix;
    const state = new ClusterState({ store, clock, logger: this.log, ...(prefix ? { prefix } : {}) });
    this.state = state;
    this.placerImpl = new ClusterPlacer({
      nodeName: node.name,
      location: node.location,
      state,
      ledger,
      membership: this.membership,
      remote: {
        reserve: async (peer, req) => {
          await this.channel().call(asNodeId(peer), 'reserve', req);
        },
        release: (peer, participant) => {
          this.channel().call(asNodeId(peer), 'remove', { participant }).catch(() => undefined);
        },
      },
      backplaneCost: config.capacity_costs.backplane,
      overflow: config.locations.find((l) => l.name === node.location)?.overflow,
      onOverflow: (entry) => this.opts.adminLog.overflow(entry),
      alive: (n) => this.isLive(n),
      logger: this.log,
      clock,
      draining: () => this.draining,
      unlisted: () => this.liveness.records(),
    });
    this.control = await ControlChannel.open<ClusterOps, ClusterEvents>({
      node: asNodeId(node.name),
      secret: config.cluster.secret,
      listen: { address: node.address, port: node.control_port },
      resolvePeer: (peer) => {
        const n = config.nodes.find((c) => c.name === peer);
        // A peer behind NAT is reached at its public address.
        return n ? { address: n.public_address ?? n.address, port: n.control_port } : undefined;
      },
      protocol: CLUSTER_PROTOCOL,
      handlers: (peer) => this.handlers(peer),
      logger: this.log,
      clock,
    });
    this.control.events.on('event', (e) => this.onPeerEvent(e.from, e.name, e.data));
    const control = this.control;
    this.backplanes = new BackplaneManager({
      nodeName: node.name,
      location: node.location,
      secret: config.cluster.secret,
      host: this.opts.localMedia,
      state,
      membership: this.membership,
      peers: {
        open: (peer, req) => control.call(peer, 'backplaneOpen', req),
        streams: (peer, conference, streams) => this.notify(peer, 'backplaneStreams', { conference, streams }),
      },
      logger: this.log,
      alive: (n) => this.isLive(n),
      wanTo: (location) => wanImpairment(config, node.location, location),
    });
    this.membership.events.on('added', () => this.backplanes?.reconcile());
    this.watchLocalMedia();
    state.events.on('node-down', (n) => this.onNodeDown(n));
    this.control.events.on('peerDown', (peer) => this.liveness.linkDown(peer));
    state.events.on('node-up', (n) => this.onNodeUp(n));
    state.events.on('conference-changed', (c) => {
      if (c.kind !== 'location') return;
      // Any location's change may change this node's links: a new location (a geo link if this
      // node is the proxy here), another location's new proxy, or this location's media nodes.
      this.chargeBackplane(c.conference);
      this.backplanes?.reconcile();
    });
    try {
      await state.start();
      await state.register(this.record());
    } catch (err) {
      throw new ConfnodeError('unavailable', `cluster store: ${errorMessage(err)}`, { cause: err });
    }
    this.loadTimer = setInterval(() => state.updateLoad(ledger.load), 250);
    this.statsTimer = setInterval(() => this.sendMediaStats(), MEDIA_STATS_MS);
    this.log.info({ nodes: state.nodes().map((n) => n.name) }, 'joined the cluster');
  }

  /**
   * Shares this node's participant lists with its peers (only when this node's part changed: a
   * peer's list arriving must not echo back) and takes theirs into the roster.
   */
  attachRoster(roster: Roster, localConferences: () => ConferenceId[]): void {
    this.roster = roster;
    this.localConferences = localConferences;
    roster.events.on('changed', (conference) => {
      const entries = roster.entries(conference).filter((e) => e.node === this.opts.node.name);
      const text = JSON.stringify(entries);
      const last = this.sentRosters.get(conference);
      if (last === text) return;
      if (entries.length === 0) {
        // Retract once, and only what was announced: a peer's empty list arriving changes the
        // roster too, and answering [] with [] made every ended conference bounce between nodes.
        if (last === undefined) return;
        this.sentRosters.delete(conference);
      } else this.sentRosters.set(conference, text);
      for (const peer of this.peers()) this.notify(peer, 'roster', { conference, entries });
    });
  }

  /** Leaves placement at once: no new media here; existing calls go on. */
  drain(): void {
    this.draining = true;
    this.state?.setState('draining');
  }

  /** Every live node of the cluster, from the store. */
  nodes(): NodeStatusView[] {
    return (this.state?.nodes() ?? []).map((n) => ({
      node: n.name,
      location: n.location,
      capacity: n.capacity,
      load: Math.round(n.load * 1000) / 1000,
      state: n.state,
      sip: { ...n.sip, transports: ['udp', 'tcp'] },
      http: n.http,
      control: n.control,
      uptimeSeconds: 0,
      version: n.version,
    }));
  }

  /** The conference's locations and media nodes as the store has them (live nodes only). */
  placementOf(vmr: string): { locations: string[]; mediaNodes: string[]; proxyNodes: string[] } {
    const locs = this.state?.conferenceLocations(vmr) ?? [];
    return {
      locations: locs.map((l) => l.record.location),
      mediaNodes: locs.flatMap((l) => l.record.mediaNodes).filter((n) => this.isLive(n)),
      proxyNodes: locs.flatMap((l) => (l.record.proxyNode ? [l.record.proxyNode] : [])),
    };
  }

  /** The backplane unit (local or geo links) is charged exactly while this node has a backplane for the conference. */
  private chargeBackplane(vmr: string): void {
    const state = this.state;
    if (!state) return;
    const { node, config } = this.opts;
    const records = state.conferenceLocations(vmr).map((l) => l.record);
    this.membership.setBackplaneCharge(vmr, paysBackplane(node.name, node.location, records, (n) => this.isLive(n)), config.capacity_costs.backplane);
  }

  /** Peers' admin views (a peer that does not answer in time is left out). */
  async peerViews(): Promise<Array<{ participants: ParticipantView[]; conferences: ConferenceView[] }>> {
    const asked = this.peers().map((p) => this.channel().call(p, 'views', undefined, VIEWS_TIMEOUT_MS));
    const settled = await Promise.allSettled(asked);
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  /** Peers' admin logs, newest first each (a peer that does not answer in time is left out). */
  async peerLogs(query: AdminLogQuery): Promise<AdminLogEntryView[][]> {
    const req = { ...(query.conference !== undefined ? { conference: query.conference } : {}), ...(query.limit !== undefined ? { limit: query.limit } : {}) };
    const asked = this.peers().map((p) => this.channel().call(p, 'adminLog', req, VIEWS_TIMEOUT_MS));
    const settled = await Promise.allSettled(asked);
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  /** This node's backplane links (GET /api/v1/backplanes). */
  backplaneViews(): BackplaneView[] {
    const location = (peer: string): string => this.state?.node(peer)?.location ?? this.opts.node.location;
    const vmrOf = new Map((this.state?.conferences() ?? []).map((vmr) => [this.state?.instance(vmr)?.instanceId, vmr] as const));
    return this.opts.localMedia.backplaneStats().map((l) => backplaneView(l, vmrOf.get(l.conference) ?? l.conference, location(l.peer)));
  }

  controlStats(): ControlStats | undefined {
    return this.control?.stats();
  }

  async stop(): Promise<void> {
    this.backplanes?.stop();
    this.placerImpl?.close();
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.loadTimer) clearInterval(this.loadTimer);
    await this.state?.deregister().catch(() => undefined);
    this.state?.close();
    await this.control?.close();
    await this.store?.close();
  }

  private handlers(peer: NodeId): RpcHandlers<ClusterOps> {
    const media = mediaOpHandlers(this.opts.localMedia);
    const mine = (p: ParticipantId): void => {
      if (this.membership.get(p)?.owner !== peer) throw new ConfnodeError('not-found', `participant ${p} has no media here for ${peer}`);
    };
    return {
      reserve: (d) => {
        this.clusterPlacer().reserveForPeer(peer, d);
        return undefined;
      },
      createRtp: (d) => (mine(d.participant), media.createRtp(d)),
      createWebRtc: (d) => (mine(d.participant), media.createWebRtc(d)),
      webrtcOffer: (d) => (mine(d.participant), media.webrtcOffer(d)),
      webrtcAnswer: (d) => (mine(d.participant), media.webrtcAnswer(d)),
      // SDES keys arrive sealed (srtp-seal.ts): opened here, for this participant only.
      updateRtp: (d) => (mine(d.participant), media.updateRtp({ participant: d.participant, update: this.keySeal.openUpdate(d.participant, d.update) })),
      admit: (d) => (mine(d.participant), media.admit(d)),
      dtmf: (d) => (mine(d.participant), media.dtmf(d)),
      remove: (d) => {
        if (this.membership.get(d.participant)?.owner !== peer) return undefined;
        this.opts.localMedia.removeParticipant(d.participant);
        this.membership.remove(d.participant);
        return undefined;
      },
      backplaneOpen: (d) => {
        if (!this.backplanes) throw new ConfnodeError('unavailable', 'backplanes are not ready yet');
        return this.backplanes.onOpen(peer, d);
      },
      views: () => this.opts.views(),
      adminLog: (d) => this.opts.adminLog.list(d),
    };
  }

  /** Events of media carried here for peers' participants go to their signaling nodes. */
  private watchLocalMedia(): void {
    const local = this.opts.localMedia;
    const toOwner = <K extends keyof ClusterEvents>(p: ParticipantId, name: K, data: ClusterEvents[K]): void => {
      const owner = this.membership.get(p)?.owner;
      if (owner !== undefined && owner !== this.opts.node.name) this.notify(asNodeId(owner), name, data);
    };
    local.events.on('webrtcOffer', (participant, sdp) => toOwner(participant, 'webrtcOffer', { participant, sdp }));
    local.events.on('webrtcFailed', (participant, reason) => toOwner(participant, 'webrtcFailed', { participant, reason }));
    local.events.on('dtmf', (participant, digit) => toOwner(participant, 'dtmf', { participant, digit }));
    local.events.on('activeSpeaker', (conference, participant) => {
      for (const owner of this.membership.ownersOf(conference)) {
        if (owner !== this.opts.node.name) this.notify(asNodeId(owner), 'activeSpeaker', { conference, participant });
      }
    });
    local.events.on('lost', (ids) => {
      // A media thread died: the peers' calls whose media it carried end with their signaling node.
      for (const id of ids) {
        const owner = this.membership.get(id)?.owner;
        if (owner !== undefined && owner !== this.opts.node.name) this.notify(asNodeId(owner), 'webrtcFailed', { participant: id, reason: 'media thread failed' });
      }
    });
  }

  private sendMediaStats(): void {
    const byOwner = new Map<string, Array<[ParticipantId, NonNullable<ReturnType<MediaService['participantStats']>>]>>();
    for (const peer of this.peers()) {
      for (const id of this.membership.ownedBy(peer)) {
        const s = this.opts.localMedia.participantStats(id);
        if (!s) continue;
        let list = byOwner.get(peer);
        if (!list) byOwner.set(peer, (list = []));
        list.push([id, s]);
      }
    }
    for (const [peer, participants] of byOwner) this.notify(asNodeId(peer), 'mediaStats', { participants });
  }

  private onPeerEvent(from: NodeId, name: keyof ClusterEvents, data: unknown): void {
    if (name === 'backplaneStreams') {
      const d = data as ClusterEvents['backplaneStreams'];
      this.backplanes?.onStreams(from, d.conference, d.streams);
      return;
    }
    if (name === 'roster') {
      const d = data as ClusterEvents['roster'];
      this.roster?.setRemote(from, d.conference, d.entries.filter((e) => e.node === from));
      return;
    }
    this.media.onPeerEvent(from, name, data as ClusterEvents[typeof name]);
  }

  private onNodeUp(n: NodeRecord): void {
    this.liveness.recordBack(n.name);
    if (n.name === this.opts.node.name || !this.roster) return;
    // A node that (re)joined gets this node's lists of every conference it has participants in.
    for (const conference of this.localConferences()) {
      const entries = this.roster.entries(conference).filter((e) => e.node === this.opts.node.name);
      this.notify(asNodeId(n.name), 'roster', { conference, entries });
    }
  }

  /** A peer's record left the store: gone, unless it still answers on its control link (liveness). */
  private onNodeDown(n: NodeRecord): void {
    if (n.name === this.opts.node.name) return;
    this.liveness.recordGone(n);
  }

  /** A peer is gone (no record, no control link): its calls are gone, and so is the media it carried for ours. */
  private onPeerGone(n: NodeRecord): void {
    for (const id of this.membership.ownedBy(n.name)) {
      this.opts.localMedia.removeParticipant(id);
      this.membership.remove(id);
    }
    this.media.onPeerDown(n.name);
    this.roster?.dropNode(n.name);
    this.backplanes?.dropPeer(n.name);
    void this.control?.forget(asNodeId(n.name));
    void this.dropDeadMediaNode(n.name);
    // A dead proxy elsewhere changes nothing here; a dead local peer may end this node's last backplane.
    for (const vmr of this.state?.conferences() ?? []) this.chargeBackplane(vmr);
  }

  /**
   * The first live media node of the dead node's location, for each conference that listed it,
   * takes it out of that location's record; a location with no live node left is repaired by the
   * first live node of the cluster (else the record would name a dead node, and keep the
   * conference's instance, for good).
   */
  private async dropDeadMediaNode(dead: string): Promise<void> {
    const state = this.state;
    if (!state) return;
    const me = this.opts.node.name;
    const everyone = [...new Set([...state.nodes().map((n) => n.name), ...this.liveness.records().map((n) => n.name), me])].filter((n) => n !== dead).sort();
    for (const vmr of state.conferences()) {
      for (const loc of state.conferenceLocations(vmr)) {
        if (!loc.record.mediaNodes.includes(dead)) continue;
        const location = loc.record.location;
        const live = loc.record.mediaNodes.filter((m) => m !== dead && this.isLive(m));
        const repairer = live[0] ?? this.nodesOf(location).find((m) => m !== dead) ?? everyone[0];
        if (repairer !== me) continue;
        const rest = loc.record.mediaNodes.filter((m) => m !== dead);
        // A dead proxy leaves the record with it: the next media node elects and records itself.
        const { proxyNode, ...kept } = loc.record;
        const next = rest.length > 0 ? { ...kept, mediaNodes: rest, ...(proxyNode !== undefined && proxyNode !== dead ? { proxyNode } : {}) } : undefined;
        await state.casConferenceLocation(vmr, location, loc.modRevision, next).catch((err: unknown) => {
          this.log.warn({ conference: vmr, location, err: errorMessage(err) }, 'could not drop a dead media node');
        });
      }
    }
  }

  private notify<K extends keyof ClusterEvents>(peer: NodeId, name: K, data: ClusterEvents[K]): void {
    this.control?.notify(peer, name, data).catch((err: unknown) => this.log.debug({ peer, event: name, err: errorMessage(err) }, 'event to a peer not sent'));
  }

  /** Live peers: those in the store, and those whose record is gone but who answer on their control link. */
  private peers(): NodeId[] {
    const names = new Set([...(this.state?.nodes() ?? []).map((n) => n.name), ...this.liveness.records().map((n) => n.name)]);
    names.delete(this.opts.node.name);
    return [...names].sort().map((n) => asNodeId(n));
  }

  /** This node (registered or not), a node in the store, or one without a record that still answers. */
  private isLive(name: string): boolean {
    return name === this.opts.node.name || this.state?.node(name) !== undefined || this.liveness.has(name);
  }

  /** Live nodes of a location (this node included when it is its own), by name. */
  private nodesOf(location: string): string[] {
    const here = [...(this.state?.nodes() ?? []), ...this.liveness.records()].filter((n) => n.location === location).map((n) => n.name);
    if (location === this.opts.node.location) here.push(this.opts.node.name);
    return [...new Set(here)].sort();
  }

  private record(): NodeRecord {
    const { node, ledger, version } = this.opts;
    const reached = node.public_address ?? node.address;
    return {
      name: node.name,
      location: node.location,
      sip: { address: reached, port: node.sip_port },
      http: { address: reached, port: node.http_port },
      control: { address: reached, port: node.control_port },
      capacity: ledger.capacity,
      load: ledger.load,
      state: this.draining ? 'draining' : 'active',
      version,
    };
  }

  private etcdStore(): ClusterStore {
    const s = this.opts.config.cluster.store;
    if (s === 'memory') throw new ConfnodeError('config', 'a cluster node needs an etcd store');
    return new EtcdClusterStore({ endpoints: s.etcd.endpoints, logger: this.log, clock: this.opts.clock });
  }

  private clusterPlacer(): ClusterPlacer {
    if (!this.placerImpl) throw new ConfnodeError('unavailable', 'the node has not joined its cluster yet');
    return this.placerImpl;
  }

  private channel(): ControlChannel<ClusterOps, ClusterEvents> {
    if (!this.control) throw new ConfnodeError('unavailable', 'the control channel is not open yet');
    return this.control;
  }
}
