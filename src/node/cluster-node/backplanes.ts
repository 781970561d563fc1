/**
 * The backplanes of this node: for every conference whose media this node carries, what the pure
 * topology wants (placement/topology.ts): a local link to each other live media node of the
 * location (at most 2 more: R5) and, while this node is its location's proxy, a geo link to the
 * proxy of every other location of the conference (R9). Links are set up over the control channel
 * (the lower node name opens; each side draws a nonce, keys come from the cluster secret with
 * HKDF and never cross the wire) and the links' stream lists carried to the peer. One promise per
 * (conference, peer) so concurrent joins never open two links; a periodic reconcile repairs what a
 * race, a restart or a new proxy left, and records this node as proxy where the store names a
 * dead or departed one. Never touches packets.
 */
import { asConferenceId, asNodeId, errorMessage, type ConferenceId, type Logger, type NodeId } from '../../common';
import { deriveLinkKeys, newLinkNonce, type BackplaneAddress, type BackplaneKind, type BackplaneStream, type WanImpairment } from '../../backplane';
import type { ClusterState } from '../cluster';
import type { BackplaneControl } from '../media-host';
import { electProxy, wantedLinks } from '../placement';
import type { MediaMembership } from './membership';

export interface BackplanePeers {
  open(peer: NodeId, req: { conference: ConferenceId; address: BackplaneAddress; nonce: string }): Promise<{ address: BackplaneAddress; nonce: string }>;
  streams(peer: NodeId, conference: ConferenceId, streams: BackplaneStream[]): void;
}

export interface BackplaneManagerOptions {
  nodeName: string;
  location: string;
  secret: string;
  host: BackplaneControl;
  state: ClusterState;
  membership: MediaMembership;
  peers: BackplanePeers;
  logger: Logger;
  /** This node, a node in the store, or one without a record that still answers. */
  alive(node: string): boolean;
  /** Tests and benchmarks: the simulated WAN on geo links to a location (config `wan_sim`). */
  wanTo?(location: string): WanImpairment | undefined;
}

/** How often the wanted links are compared with the open ones. */
const RECONCILE_MS = 1000;

const keyOf = (conference: ConferenceId, peer: string): string => `${conference}\u0000${peer}`;

export class BackplaneManager {
  /** Links set up or being set up, by (conference, peer): one promise each. */
  private readonly links = new Map<string, Promise<void>>();
  /** Stream lists a peer sent before our side of the link existed. */
  private readonly pending = new Map<string, BackplaneStream[]>();
  /** Conferences whose proxy record this node is writing. */
  private readonly proxyWrites = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: BackplaneManagerOptions) {
    opts.host.backplane.on('localStreams', (conference, peer, streams) => opts.peers.streams(peer, conference, streams));
    opts.host.backplane.on('linkClosed', (conference, peer, reason) => {
      opts.logger.info({ conference, peer, reason }, 'backplane link closed');
      this.links.delete(keyOf(conference, peer));
    });
    this.timer = setInterval(() => this.reconcile(), RECONCILE_MS);
    this.timer.unref();
  }

  /** Opens the links this node should have and closes those it should not. */
  reconcile(): void {
    if (this.closed) return;
    const { state, nodeName, location, membership, alive } = this.opts;
    const wanted = new Set<string>();
    for (const vmr of state.conferences()) {
      const records = state.conferenceLocations(vmr).map((l) => l.record);
      const mine = records.find((r) => r.location === location);
      const instance = state.instance(vmr)?.instanceId ?? mine?.instanceId;
      if (!mine || instance === undefined || !membership.carries(vmr)) continue;
      const conference = asConferenceId(instance);
      this.recordProxy(vmr, mine.proxyNode, electProxy(mine, alive));
      for (const link of wantedLinks(nodeName, location, records, alive)) {
        wanted.add(keyOf(conference, link.peer));
        // The lower name opens; the other side answers in onOpen().
        if (nodeName < link.peer) this.ensure(conference, link.peer, link.kind, link.location);
      }
    }
    for (const key of [...this.links.keys()]) {
      if (wanted.has(key)) continue;
      const [conference, peer] = key.split('\u0000') as [ConferenceId, string];
      this.close(conference, peer);
    }
  }

  /**
   * R9: the store records each location's proxy. The elected node writes itself in when the record
   * names none, a dead node or one that left (one CAS; a lost race is decided again next time).
   */
  private recordProxy(vmr: string, recorded: string | undefined, elected: string | undefined): void {
    const { state, nodeName, location, logger } = this.opts;
    if (elected !== nodeName || recorded === nodeName || this.proxyWrites.has(vmr)) return;
    const current = state.conferenceLocation(vmr, location);
    if (!current) return;
    this.proxyWrites.add(vmr);
    const next = { ...current.record, proxyNode: nodeName };
    state
      .casConferenceLocation(vmr, location, current.modRevision, next)
      .then((ok) => {
        if (ok) logger.info({ conference: vmr, location, proxy: nodeName, previous: recorded ?? null }, 'proxy node of the location recorded');
      })
      .catch((err: unknown) => logger.warn({ conference: vmr, err: errorMessage(err) }, 'could not record the proxy node'))
      .finally(() => this.proxyWrites.delete(vmr));
  }

  /** Local when the peer is of this node's location, geo otherwise (never taken from the wire). */
  private kindOf(peer: string): { kind: BackplaneKind; location: string } {
    const location = this.opts.state.node(peer)?.location ?? this.opts.location;
    return { kind: location === this.opts.location ? 'local' : 'geo', location };
  }

  private linkOptions(kind: BackplaneKind, peerLocation: string): { kind: BackplaneKind; wan?: WanImpairment } {
    const wan = kind === 'geo' ? this.opts.wanTo?.(peerLocation) : undefined;
    return { kind, ...(wan ? { wan } : {}) };
  }

  /** A peer opens a link (it has the lower name): our side, our nonce, both keys. */
  async onOpen(peer: NodeId, req: { conference: ConferenceId; address: BackplaneAddress; nonce: string }): Promise<{ address: BackplaneAddress; nonce: string }> {
    const { host, nodeName, secret } = this.opts;
    const nonce = newLinkNonce();
    const key = keyOf(req.conference, peer);
    // Only the lower-named peer opens, one promise per link: an open for a link we have means it
    // restarted its side (its link died): ours goes too, and both start afresh with new keys.
    const previous = this.links.get(key);
    const setUp = (async () => {
      if (previous) {
        await previous.catch(() => undefined);
        await host.closeBackplane(req.conference, peer).catch(() => undefined);
      }
      const { kind, location } = this.kindOf(peer);
      const address = await host.openBackplane(req.conference, peer, this.linkOptions(kind, location));
      const keys = deriveLinkKeys({ secret, conference: req.conference, localNode: nodeName, peerNode: peer, localNonce: nonce, peerNonce: Buffer.from(req.nonce, 'base64') });
      await host.connectBackplane(req.conference, peer, req.address, keys);
      await this.applyPending(req.conference, peer);
      return address;
    })();
    const done = setUp.then(() => undefined);
    // The caller (the peer's open) gets the failure; the stored promise must not be an unhandled one.
    done.catch(() => undefined);
    this.links.set(key, done);
    try {
      return { address: await setUp, nonce: nonce.toString('base64') };
    } catch (err) {
      this.links.delete(key);
      throw err;
    }
  }

  /** A peer's stream list for a link (applied now, or when our side of the link exists). */
  onStreams(peer: NodeId, conference: ConferenceId, streams: BackplaneStream[]): void {
    const key = keyOf(conference, peer);
    this.pending.set(key, streams);
    const link = this.links.get(key);
    if (link) void link.then(() => this.applyPending(conference, peer)).catch(() => undefined);
  }

  /** A peer left the cluster: its links go. */
  dropPeer(peer: string): void {
    for (const key of [...this.links.keys()]) {
      const [conference, p] = key.split('\u0000') as [ConferenceId, string];
      if (p === peer) this.close(conference, p);
    }
  }

  close(conference: ConferenceId, peer: string): void {
    const key = keyOf(conference, peer);
    this.links.delete(key);
    this.pending.delete(key);
    this.opts.host.closeBackplane(conference, asNodeId(peer)).catch((err: unknown) => this.opts.logger.debug({ conference, peer, err: errorMessage(err) }, 'backplane close failed'));
  }

  stop(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private ensure(conference: ConferenceId, peer: string, kind: BackplaneKind, peerLocation: string): void {
    const key = keyOf(conference, peer);
    if (this.links.has(key)) return;
    const p = this.open(conference, asNodeId(peer), kind, peerLocation);
    this.links.set(key, p);
    p.catch((err: unknown) => {
      // Not there yet (the peer's first participant is still being set up), or unreachable: the
      // next reconcile tries again.
      if (this.links.get(key) === p) this.links.delete(key);
      this.opts.logger.debug({ conference, peer, err: errorMessage(err) }, 'backplane not set up yet');
    });
  }

  private async open(conference: ConferenceId, peer: NodeId, kind: BackplaneKind, peerLocation: string): Promise<void> {
    const { host, nodeName, secret, logger } = this.opts;
    const address = await host.openBackplane(conference, peer, this.linkOptions(kind, peerLocation));
    const nonce = newLinkNonce();
    let reply;
    try {
      reply = await this.opts.peers.open(peer, { conference, address, nonce: nonce.toString('base64') });
    } catch (err) {
      await host.closeBackplane(conference, peer).catch(() => undefined);
      throw err;
    }
    const keys = deriveLinkKeys({ secret, conference, localNode: nodeName, peerNode: peer, localNonce: nonce, peerNonce: Buffer.from(reply.nonce, 'base64') });
    await host.connectBackplane(conference, peer, reply.address, keys);
    await this.applyPending(conference, peer);
    logger.info({ conference, peer, kind, peerLocation, local: address, remote: reply.address }, 'backplane link up');
  }

  private async applyPending(conference: ConferenceId, peer: string): Promise<void> {
    const key = keyOf(conference, peer);
    const streams = this.pending.get(key);
    if (!streams) return;
    this.pending.delete(key);
    await this.opts.host.setBackplaneStreams(conference, asNodeId(peer), streams);
  }
}
