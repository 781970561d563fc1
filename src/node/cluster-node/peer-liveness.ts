/**
 * Whether a peer whose store record went away is gone. A record goes with its lease, and a lease
 * also goes when etcd is unreachable for a few seconds or the peer stalled: a peer that still
 * answers on its control link carries its calls on (it registers again once it can). Only a peer
 * with neither a record nor a control link is gone. Never touches media or the store itself.
 */
import { errorMessage, type Logger } from '../../common';
import type { NodeRecord } from '../cluster';

export interface PeerLivenessOptions {
  /** Resolves once a control link to `peer` is open (dialing if needed); rejects if none can be had. */
  reach(peer: string): Promise<void>;
  /** The record is back in the store (the peer registered again). */
  listed(peer: string): boolean;
  /** The peer is gone: drop what it carried and what it signaled. */
  gone(peer: NodeRecord): void;
  logger: Logger;
}

export class PeerLiveness {
  /** Peers without a store record that answered on their control link, by name. */
  private readonly unlisted = new Map<string, NodeRecord>();
  /** Peers being probed, so one probe at a time decides. */
  private readonly probing = new Set<string>();

  constructor(private readonly opts: PeerLivenessOptions) {}

  /** The peer's store record is gone (`last` is what it said): gone unless its control link answers. */
  recordGone(last: NodeRecord): void {
    this.probe(last, 'record gone from the store');
  }

  /** The peer's record is in the store again: it never left. */
  recordBack(peer: string): void {
    if (this.unlisted.delete(peer)) this.opts.logger.info({ peer }, 'node registered again: its calls went on');
  }

  /** Every link to the peer closed: a peer without a record is gone unless it can be reached again. */
  linkDown(peer: string): void {
    const last = this.unlisted.get(peer);
    if (last) this.probe(last, 'control link down');
  }

  /** Peers without a record that still answer: they keep their media and take no new (draining). */
  records(): NodeRecord[] {
    return [...this.unlisted.values()];
  }

  has(peer: string): boolean {
    return this.unlisted.has(peer);
  }

  private probe(last: NodeRecord, why: string): void {
    const peer = last.name;
    if (this.probing.has(peer)) return;
    this.probing.add(peer);
    this.opts.reach(peer).then(
      () => {
        this.probing.delete(peer);
        if (this.opts.listed(peer)) return;
        if (!this.unlisted.has(peer)) this.opts.logger.warn({ peer, why }, 'node has no record in the store but answers on its control link: keeping its calls');
        this.unlisted.set(peer, last);
      },
      (err: unknown) => {
        this.probing.delete(peer);
        this.unlisted.delete(peer);
        if (this.opts.listed(peer)) return;
        this.opts.logger.warn({ peer, why, err: errorMessage(err) }, 'node left the cluster (no record in the store, control link unreachable)');
        this.opts.gone(last);
      },
    );
  }
}
