/**
 * MediaHost: what the main thread calls for media and for backplanes, whether they run in worker
 * threads (WorkerMediaService) or in this thread (LocalMediaHost). A backplane link lives beside
 * its conference's router, so every backplane call is routed by conference. Types only.
 */
import type { BackplaneAddress, BackplaneHostEvents, BackplaneLinkStats, BackplaneStream, LinkKeys, LinkOptions } from '../../backplane';
import type { ConferenceId, NodeId, TypedEmitter } from '../../common';
import type { MediaService } from '../../media';

export interface BackplaneControl {
  /** `localStreams` (carry the list to the peer) and `linkClosed` (a link ended without being asked). */
  readonly backplane: TypedEmitter<BackplaneHostEvents>;
  /**
   * The link of (conference, peer) on this node's address and RTP range: opened, or the one open
   * (two concurrent calls get one link). 'not-found' when the conference has no media here.
   * `options`: a geo link (between proxies) rather than a local one, and a simulated WAN.
   */
  openBackplane(conference: ConferenceId, peer: NodeId, options?: LinkOptions): Promise<BackplaneAddress>;
  /** Media starts both ways: the peer's link address and this side's keys (deriveLinkKeys). */
  connectBackplane(conference: ConferenceId, peer: NodeId, remote: BackplaneAddress, keys: LinkKeys): Promise<void>;
  /** The peer's whole list of streams (from its `localStreams` event): published as remote sources. */
  setBackplaneStreams(conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]): Promise<void>;
  /** Idempotent. The peer should then be given an empty list (setBackplaneStreams(.., [])). */
  closeBackplane(conference: ConferenceId, peer: NodeId): Promise<void>;
  /** Every link's counters and QoS (a snapshot at most 500 ms old for worker threads). */
  backplaneStats(): BackplaneLinkStats[];
}

export type MediaHost = MediaService & BackplaneControl;
