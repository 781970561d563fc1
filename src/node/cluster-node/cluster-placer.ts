/**
 * The placer of a cluster node (R2-R8, R10 across processes): reads the watched cluster state,
 * runs the pure decidePlacement with this location's overflow list, commits a changed list of
 * media nodes of the chosen location (this one or an overflow location) with one compare-and-swap
 * (a lost race re-reads and decides again), and holds the caller's capacity on the chosen media
 * node (this node's ledger, or a reservation over the control channel; a node that refuses is
 * excluded and the decision is made again). An overflow placement is reported for the admin log
 * (R7). Never touches media or sockets itself.
 */
import { ConfnodeError, asConferenceId, errorMessage, type Clock, type Logger, type ParticipantId, type TimerHandle } from '../../common';
import type { ClusterState, NodeRecord } from '../cluster';
import { fits } from '../conference/capacity';
import type { CapacityLedger, Reservation } from '../conference/capacity-ledger';
import type { Placement, PlacementRequest, Placer } from '../conference/placer';
import { decidePlacement, describeDecision, electProxy, type PlacementNode } from '../placement';
import type { MediaMembership } from './membership';
import type { ReserveRequest } from './protocol';

/** How a placer asks a peer media node for capacity, and gives it back. */
export interface RemoteCapacity {
  reserve(node: string, req: ReserveRequest): Promise<void>;
  release(node: string, participant: ParticipantId): void;
}

/** R7: what the admin log records of one overflow. */
export interface OverflowEntry {
  conference: string;
  participant: ParticipantId;
  originalLocation: string;
  overflowLocation: string;
  reason: 'overflow-primary' | 'overflow-secondary';
  mediaNode: string;
}

export interface ClusterPlacerOptions {
  nodeName: string;
  location: string;
  state: ClusterState;
  ledger: CapacityLedger;
  membership: MediaMembership;
  remote: RemoteCapacity;
  backplaneCost: number;
  /** R6: this location's overflow locations (config `locations[].overflow`). */
  overflow?: { primary: string; secondary?: string | undefined } | undefined;
  /** R7: a caller's media went to an overflow location. */
  onOverflow?(entry: OverflowEntry): void;
  /** This node, a node in the store, or one without a record that still answers. */
  alive(node: string): boolean;
  logger: Logger;
  /** Timers of leaves tried again. */
  clock: Clock;
  /** This node takes no new media (draining). */
  draining(): boolean;
  /**
   * Peers whose store record is gone but who still answer on their control link: they keep the
   * media they carry and their place among a conference's media nodes (as draining nodes), so a
   * lease lost to an etcd outage never lets a conference grow past R5 around them.
   */
  unlisted(): NodeRecord[];
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** Lost CAS races and refusing nodes before a caller is told to try later. */
const MAX_ATTEMPTS = 6;
/** A leave the store refused is tried again after this, doubling up to the maximum. */
const LEAVE_RETRY_MS = 500;
const LEAVE_RETRY_MAX_MS = 8000;

export class ClusterPlacer implements Placer {
  /** Conferences this node is leaving (no media left here): it refuses new media for them meanwhile. */
  private readonly leaving = new Set<string>();
  /** Leaves that failed on the store, waiting to be tried again. */
  private readonly retries = new Map<string, TimerHandle>();
  private closed = false;

  constructor(private readonly opts: ClusterPlacerOptions) {
    opts.membership.events.on('empty', (vmr) => void this.leave(vmr));
  }

  async place(req: PlacementRequest): Promise<Placement> {
    const { state, nodeName, location, logger } = this.opts;
    const vmr = req.vmr.name;
    const exclude: string[] = [];
    let reread = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const records = state.conferenceLocations(vmr);
      const otherLocations = Object.fromEntries(records.filter((r) => r.record.location !== location).map((r) => [r.record.location, r.record.mediaNodes] as const));
      const decision = decidePlacement(
        { signalingNode: nodeName, location, cost: req.cost, backplaneCost: this.opts.backplaneCost, exclude, overflow: this.opts.overflow },
        { nodes: this.snapshotNodes(), mediaNodes: state.conferenceLocation(vmr, location)?.record.mediaNodes ?? [], otherLocations },
      );
      if (decision.kind === 'reject') {
        // The watched cache may lag a CAS another placer just made (a node added, so the lone one
        // now pays its backplane): before refusing, read the conference once from the store.
        if (!reread && records.length > 0) {
          reread = true;
          const before = records.map((r) => `${r.record.location}@${r.modRevision}`).join();
          await state.refreshConference(vmr).catch(() => undefined);
          if (state.conferenceLocations(vmr).map((r) => `${r.record.location}@${r.modRevision}`).join() !== before) continue;
        }
        // R8: callers hear (SIP 503 with Retry-After) or read (WebSocket 'full') where it was full;
        // the node-level detail goes to the log only.
        logger.info({ conference: vmr, participant: req.participant, decision: describeDecision(decision) }, 'no room for the caller (R8)');
        const { primary, secondary } = this.opts.overflow ?? {};
        const tried = [location, primary, secondary].filter((l): l is string => l !== undefined);
        throw new ConfnodeError('capacity', `conference ${vmr} is full in ${tried.length > 1 ? `locations ${tried.join(', ')} (this location and its overflow)` : `location ${location}`}: try again later`);
      }
      const current = state.conferenceLocation(vmr, decision.location);
      if (decision.changed) {
        const instanceId = current?.record.instanceId ?? state.proposeInstanceId(vmr);
        const proxyNode = electProxy({ location: decision.location, mediaNodes: decision.mediaNodes, proxyNode: current?.record.proxyNode }, (n) => n === decision.node || this.opts.alive(n));
        const next = { conference: vmr, instanceId, location: decision.location, mediaNodes: decision.mediaNodes, ...(proxyNode ? { proxyNode } : {}) };
        if (!(await state.casConferenceLocation(vmr, decision.location, current?.modRevision ?? 0, next))) {
          logger.debug({ conference: vmr, attempt }, 'placement lost a race: deciding again');
          continue;
        }
      }
      const instance = state.instance(vmr)?.instanceId ?? current?.record.instanceId;
      if (instance === undefined) continue; // the conference ended meanwhile: decide again
      const conferenceId = asConferenceId(instance);
      try {
        const placement = await this.hold(decision.node, { participant: req.participant, conference: vmr, conferenceId, cost: req.cost });
        logger.info({ conference: vmr, participant: req.participant, decision: describeDecision(decision) }, 'media placed');
        if (decision.reason === 'overflow-primary' || decision.reason === 'overflow-secondary') {
          this.opts.onOverflow?.({ conference: vmr, participant: req.participant, originalLocation: location, overflowLocation: decision.location, reason: decision.reason, mediaNode: decision.node });
        }
        return { conferenceId, mediaNode: decision.node, mediaLocation: decision.location, reason: decision.reason, ...placement };
      } catch (err) {
        if (!(err instanceof ConfnodeError) || !['capacity', 'unavailable', 'timeout', 'busy'].includes(err.code)) throw err;
        logger.info({ conference: vmr, mediaNode: decision.node, err: err.message }, 'media node refused: deciding again without it');
        exclude.push(decision.node);
      }
    }
    throw new ConfnodeError('unavailable', `could not place media for ${vmr} after ${MAX_ATTEMPTS} attempts`);
  }

  left(participant: ParticipantId, mediaNode: string): void {
    if (mediaNode === this.opts.nodeName) this.opts.membership.remove(participant);
    // A remote media node releases on the 'remove' the participant's media gets anyway.
  }

  /** Capacity for the caller on `node`, held until the join commits or fails. */
  private async hold(node: string, req: ReserveRequest): Promise<Pick<Placement, 'commit' | 'release'>> {
    if (node !== this.opts.nodeName) {
      await this.opts.remote.reserve(node, req);
      return { commit: () => undefined, release: () => this.opts.remote.release(node, req.participant) };
    }
    if (this.leaving.has(req.conference)) throw new ConfnodeError('busy', `${node} is leaving conference ${req.conference}`);
    if (this.opts.draining()) throw new ConfnodeError('unavailable', `${node} is draining`);
    const reservation = this.reserveUnits(req);
    return {
      commit: (id) => {
        reservation.commit(id);
        this.opts.membership.add(id, { conference: req.conference, conferenceId: req.conferenceId, owner: this.opts.nodeName });
      },
      release: () => reservation.release(),
    };
  }

  /** Serves a peer's reservation (this node is the chosen media node). */
  reserveForPeer(peer: string, req: ReserveRequest): void {
    if (this.leaving.has(req.conference)) throw new ConfnodeError('busy', `${this.opts.nodeName} is leaving conference ${req.conference}`);
    if (this.opts.draining()) throw new ConfnodeError('unavailable', `${this.opts.nodeName} is draining`);
    this.reserveUnits(req).commit(req.participant);
    this.opts.membership.add(req.participant, { conference: req.conference, conferenceId: req.conferenceId, owner: peer });
  }

  /**
   * The caller's units from this node's ledger, the media node's own authority. Placers decide on
   * loads that lag (the store's copy is up to 250 ms old), so several signaling nodes may send
   * callers here at once: the ledger must also keep free what decidePlacement keeps (headroom()),
   * or they fill the unit a lone media node holds for the conference's first backplane (the
   * conference can then never expand) or the unit an expansion node is about to be charged.
   */
  private reserveUnits(req: ReserveRequest): Reservation {
    const { ledger, nodeName } = this.opts;
    const headroom = this.headroom(req.conference);
    if (!fits(ledger.load, req.cost + headroom, ledger.capacity)) {
      throw new ConfnodeError('capacity', `${nodeName} full for ${req.conference}: load ${round(ledger.load)} + ${req.cost} + backplane ${headroom} > capacity ${ledger.capacity}`);
    }
    return ledger.reserve(req.cost);
  }

  /**
   * Units beyond a caller's cost that must stay free here for conference `vmr` (decidePlacement's
   * rule seen from the media node): none once this node pays the conference's backplane (the
   * charge is in the ledger: conference-changed sets it from the same cached record); the
   * backplane unit when other nodes carry the conference (this node is joining them); alone, the
   * unit kept for the first expansion when some other active node of the location could take it.
   */
  private headroom(vmr: string): number {
    const { state, nodeName, location, backplaneCost, alive } = this.opts;
    const media = state.conferenceLocation(vmr, location)?.record.mediaNodes ?? [];
    const elsewhere = state.conferenceLocations(vmr).some((l) => l.record.location !== location && l.record.mediaNodes.some(alive));
    // Once this node has a backplane for the conference (local or geo), its unit is in the ledger.
    if (media.includes(nodeName) && (media.some((n) => n !== nodeName) || elsewhere)) return 0;
    // Joining media nodes of this location, or the conference runs elsewhere: this node will pay.
    if (media.some((n) => n !== nodeName) || elsewhere) return backplaneCost;
    // Alone: the unit kept for a first backplane, local (expansion) or geo (another location joins).
    const growable = state.nodes().some((n) => n.state === 'active' && n.name !== nodeName && (n.location !== location || !media.includes(n.name)));
    return growable ? backplaneCost : 0;
  }

  /** This node's live view: its own load from its ledger (the store's copy lags by up to 250 ms). */
  private snapshotNodes(): PlacementNode[] {
    const { state, nodeName, location, ledger } = this.opts;
    const listed = state.nodes().filter((n) => n.name !== nodeName);
    const unlisted = this.opts.unlisted().filter((n) => n.name !== nodeName && state.node(n.name) === undefined);
    // This node is always in its own view, even while its lease is being renewed.
    const self: PlacementNode = { name: nodeName, location, capacity: ledger.capacity, load: ledger.load, state: this.opts.draining() ? 'draining' : 'active' };
    return [
      self,
      ...listed.map((n): PlacementNode => ({ name: n.name, location: n.location, capacity: n.capacity, load: n.load, state: n.state })),
      ...unlisted.map((n): PlacementNode => ({ name: n.name, location: n.location, capacity: n.capacity, load: n.load, state: 'draining' })),
    ];
  }

  /** Stops retrying leaves (the node is stopping). */
  close(): void {
    this.closed = true;
    for (const t of this.retries.values()) t.cancel();
    this.retries.clear();
  }

  /**
   * No media of `vmr` is left here: take this node out of the conference's media nodes. Retried
   * with backoff while the store fails: a record that keeps naming this node would hold one of the
   * conference's three places (R5) and its record for good.
   */
  private async leave(vmr: string, retryMs = LEAVE_RETRY_MS): Promise<void> {
    const { state, nodeName, location, logger } = this.opts;
    this.retries.get(vmr)?.cancel();
    this.retries.delete(vmr);
    this.leaving.add(vmr);
    let failed: string | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (this.opts.membership.carries(vmr)) return; // someone joined meanwhile: stay
        const current = state.conferenceLocation(vmr, location);
        if (!current || !current.record.mediaNodes.includes(nodeName)) return;
        const rest = current.record.mediaNodes.filter((n) => n !== nodeName);
        const next = rest.length > 0 ? { ...current.record, mediaNodes: rest } : undefined;
        if (await state.casConferenceLocation(vmr, location, current.modRevision, next)) return;
      }
      failed = 'lost races';
    } catch (err) {
      failed = errorMessage(err);
    } finally {
      this.leaving.delete(vmr);
    }
    if (this.closed) return;
    logger.warn({ conference: vmr, err: failed, retryInMs: retryMs }, 'could not leave the conference media nodes; trying again');
    this.retries.set(vmr, this.opts.clock.setTimeout(() => void this.leave(vmr, Math.min(LEAVE_RETRY_MAX_MS, retryMs * 2)), retryMs));
  }
}
