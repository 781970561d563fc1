/**
 * The placer of a cluster node (R2-R5, R10 across processes): reads the watched cluster state,
 * runs the pure decidePlacement, commits a changed list of media nodes with one compare-and-swap
 * (a lost race re-reads and decides again), and holds the caller's capacity on the chosen media
 * node (this node's ledger, or a reservation over the control channel; a node that refuses is
 * excluded and the decision is made again). Never touches media or sockets itself.
 */
import { ConfnodeError, asConferenceId, errorMessage, type Logger, type ParticipantId } from '../../common';
import type { ClusterState } from '../cluster';
import type { CapacityLedger } from '../conference/capacity-ledger';
import type { Placement, PlacementRequest, Placer } from '../conference/placer';
import { decidePlacement, describeDecision, type PlacementNode } from '../placement';
import type { MediaMembership } from './membership';
import type { ReserveRequest } from './protocol';

/** How a placer asks a peer media node for capacity, and gives it back. */
export interface RemoteCapacity {
  reserve(node: string, req: ReserveRequest): Promise<void>;
  release(node: string, participant: ParticipantId): void;
}

export interface ClusterPlacerOptions {
  nodeName: string;
  location: string;
  state: ClusterState;
  ledger: CapacityLedger;
  membership: MediaMembership;
  remote: RemoteCapacity;
  backplaneCost: number;
  logger: Logger;
  /** This node takes no new media (draining). */
  draining(): boolean;
}

/** Lost CAS races and refusing nodes before a caller is told to try later. */
const MAX_ATTEMPTS = 6;

export class ClusterPlacer implements Placer {
  /** Conferences this node is leaving (no media left here): it refuses new media for them meanwhile. */
  private readonly leaving = new Set<string>();

  constructor(private readonly opts: ClusterPlacerOptions) {
    opts.membership.events.on('empty', (vmr) => void this.leave(vmr));
  }

  async place(req: PlacementRequest): Promise<Placement> {
    const { state, nodeName, location, logger } = this.opts;
    const vmr = req.vmr.name;
    const exclude: string[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = state.conferenceLocation(vmr, location);
      const decision = decidePlacement(
        { signalingNode: nodeName, location, cost: req.cost, backplaneCost: this.opts.backplaneCost, exclude },
        { nodes: this.snapshotNodes(), mediaNodes: current?.record.mediaNodes ?? [] },
      );
      if (decision.kind === 'reject') throw new ConfnodeError('capacity', `no media node of ${location} can take the call: ${decision.detail}`);
      if (decision.changed) {
        const instanceId = current?.record.instanceId ?? state.proposeInstanceId(vmr);
        const next = { conference: vmr, instanceId, location, mediaNodes: decision.mediaNodes, ...(current?.record.proxyNode ? { proxyNode: current.record.proxyNode } : {}) };
        if (!(await state.casConferenceLocation(vmr, location, current?.modRevision ?? 0, next))) {
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
        return { conferenceId, mediaNode: decision.node, reason: decision.reason, ...placement };
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
    const reservation = this.opts.ledger.reserve(req.cost);
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
    this.opts.ledger.reserve(req.cost).commit(req.participant);
    this.opts.membership.add(req.participant, { conference: req.conference, conferenceId: req.conferenceId, owner: peer });
  }

  /** This node's live view: its own load from its ledger (the store's copy lags by up to 250 ms). */
  private snapshotNodes(): PlacementNode[] {
    const { state, nodeName, ledger } = this.opts;
    return state.nodes().map((n) =>
      n.name === nodeName
        ? { name: n.name, location: n.location, capacity: ledger.capacity, load: ledger.load, state: this.opts.draining() ? 'draining' : 'active' }
        : { name: n.name, location: n.location, capacity: n.capacity, load: n.load, state: n.state },
    );
  }

  /** No media of `vmr` is left here: take this node out of the conference's media nodes. */
  private async leave(vmr: string): Promise<void> {
    const { state, nodeName, location, logger } = this.opts;
    this.leaving.add(vmr);
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (this.opts.membership.carries(vmr)) return; // someone joined meanwhile: stay
        const current = state.conferenceLocation(vmr, location);
        if (!current || !current.record.mediaNodes.includes(nodeName)) return;
        const rest = current.record.mediaNodes.filter((n) => n !== nodeName);
        const next = rest.length > 0 ? { ...current.record, mediaNodes: rest } : undefined;
        if (await state.casConferenceLocation(vmr, location, current.modRevision, next)) return;
      }
      logger.warn({ conference: vmr }, 'could not leave the conference media nodes (lost races)');
    } catch (err) {
      logger.warn({ conference: vmr, err: errorMessage(err) }, 'could not leave the conference media nodes');
    } finally {
      this.leaving.delete(vmr);
    }
  }
}
