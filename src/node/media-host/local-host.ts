/**
 * LocalMediaHost: media and backplanes in the calling thread (`media.workers: 0`): this thread's
 * LocalMediaService with a BackplaneHost beside it, behind the same MediaHost interface as the
 * worker threads. Adds no routing of its own: every call goes straight to the thread's planes.
 */
import { BackplaneHost, type BackplaneAddress, type BackplaneHostEvents, type BackplaneLinkStats, type BackplaneStream, type LinkKeys, type LinkOptions } from '../../backplane';
import type { ConferenceId, NodeId, TypedEmitter } from '../../common';
import { LocalMediaService, type LocalMediaOptions } from '../../media';
import type { MediaHost } from './media-host';

export class LocalMediaHost extends LocalMediaService implements MediaHost {
  readonly backplane: TypedEmitter<BackplaneHostEvents>;
  private readonly backplanes: BackplaneHost;

  constructor(opts: LocalMediaOptions) {
    super(opts);
    this.backplanes = new BackplaneHost({
      media: this,
      clock: opts.clock,
      logger: opts.logger.child({ component: 'backplane' }),
      ...(opts.announceAddress !== undefined ? { announceAddress: opts.announceAddress } : {}),
    });
    this.backplane = this.backplanes.events;
  }

  openBackplane(conference: ConferenceId, peer: NodeId, options?: LinkOptions): Promise<BackplaneAddress> {
    return this.backplanes.openLink(conference, peer, options);
  }

  async connectBackplane(conference: ConferenceId, peer: NodeId, remote: BackplaneAddress, keys: LinkKeys): Promise<void> {
    this.backplanes.connectLink(conference, peer, remote, keys);
  }

  async setBackplaneStreams(conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]): Promise<void> {
    this.backplanes.setRemoteStreams(conference, peer, streams);
  }

  closeBackplane(conference: ConferenceId, peer: NodeId): Promise<void> {
    return this.backplanes.closeLink(conference, peer);
  }

  backplaneStats(): BackplaneLinkStats[] {
    return this.backplanes.stats();
  }

  override async close(): Promise<void> {
    await this.backplanes.close();
    await super.close();
  }
}
