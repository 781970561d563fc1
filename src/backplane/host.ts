/**
 * BackplaneHost: the backplane links of one media thread, one per (conference, peer node), each
 * beside its conference's router. Serves the typed backplane operations (open, connect, streams,
 * close, stats) and raises the links' stream lists as events. Two concurrent opens of one link
 * share one promise; a conference whose router closes loses its links; closes are idempotent.
 */
import { ConfnodeError, TypedEmitter, errorMessage, type Clock, type ConferenceId, type Logger, type NodeId, type RpcHandlers, type RtpSocketPair } from './deps';
import type { LinkKeys } from './keys';
import { BackplaneLink } from './link';
import type { BackplaneAddress, BackplaneLinkStats, BackplaneRouter } from './types';
import { backplaneMeshTag, type BackplaneKind, type BackplaneStream } from './streams';
import { checkImpairment, type WanImpairment } from './wan-sim';

/** What the host needs of its thread's media (LocalMediaService has it). */
export interface BackplaneMedia {
  routerOf(conference: ConferenceId): BackplaneRouter | undefined;
  allocateRtpPorts(): Promise<RtpSocketPair>;
  onConferenceClosed(fn: (conference: ConferenceId) => void): () => void;
}

export interface BackplaneHostOptions {
  media: BackplaneMedia;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  rtcpIntervalMs?: number;
  /** The address peers send to when it differs from the bound one (NAT): given in each link's address. */
  announceAddress?: string;
}

export type BackplaneHostEvents = {
  /** The streams a link sends changed: the peer must get this list (setRemoteStreams there). */
  localStreams: [conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]];
  /** A link closed without being asked (its conference's router closed, or the thread closed). */
  linkClosed: [conference: ConferenceId, peer: NodeId, reason: string];
};

/** The backplane operations as one typed map (served by a media thread, called by the node). */
export type BackplaneOps = {
  openLink: { req: { conference: ConferenceId; peer: NodeId; options?: LinkOptions }; res: BackplaneAddress };
  connectLink: { req: { conference: ConferenceId; peer: NodeId; remote: BackplaneAddress; keys: LinkKeys }; res: undefined };
  setRemoteStreams: { req: { conference: ConferenceId; peer: NodeId; streams: BackplaneStream[] }; res: undefined };
  closeLink: { req: { conference: ConferenceId; peer: NodeId }; res: undefined };
  links: { req: undefined; res: BackplaneLinkStats[] };
};

/** The host's events as they travel (one object payload each). */
export type BackplaneEventPayloads = {
  localStreams: { conference: ConferenceId; peer: NodeId; streams: BackplaneStream[] };
  linkClosed: { conference: ConferenceId; peer: NodeId; reason: string };
};

/** What kind of link to open, and (tests, benchmarks) the simulated WAN on what it sends. */
export interface LinkOptions {
  kind?: BackplaneKind;
  wan?: WanImpairment;
}

const keyOf = (conference: ConferenceId, peer: NodeId): string => `${conference}\u0000${peer}`;

export class BackplaneHost {
  readonly events: TypedEmitter<BackplaneHostEvents>;
  private readonly links = new Map<string, BackplaneLink>();
  /** Opens in flight: a second caller gets the same link. */
  private readonly opening = new Map<string, Promise<BackplaneLink>>();
  private readonly offClosed: () => void;
  private closed = false;

  constructor(private readonly opts: BackplaneHostOptions) {
    this.events = new TypedEmitter<BackplaneHostEvents>((err, event) => opts.logger.error({ event: String(event), err: errorMessage(err) }, 'backplane event listener failed'));
    this.offClosed = opts.media.onConferenceClosed((conference) => this.conferenceClosed(conference));
  }

  /**
   * The link of (conference, peer): opened on a port of the thread's range, or the one already
   * open. 'not-found' when the conference has no router in this thread.
   */
  async openLink(conference: ConferenceId, peer: NodeId, options: LinkOptions = {}): Promise<BackplaneAddress> {
    if (this.closed) throw new ConfnodeError('closed', 'backplane host is closed');
    backplaneMeshTag(peer); // refuses a bad peer name before any port is taken
    if (options.wan) checkImpairment(options.wan);
    const key = keyOf(conference, peer);
    const open = this.links.get(key);
    if (open) return open.local;
    let pending = this.opening.get(key);
    if (!pending) {
      pending = this.open(conference, peer, options).finally(() => this.opening.delete(key));
      this.opening.set(key, pending);
    }
    const local = (await pending).local;
    return this.opts.announceAddress !== undefined ? { ...local, address: this.opts.announceAddress } : local;
  }

  connectLink(conference: ConferenceId, peer: NodeId, remote: BackplaneAddress, keys: LinkKeys): void {
    // Keys that crossed a thread arrive as plain Uint8Arrays: the link copies what it keeps.
    this.link(conference, peer).connect(remote, keys);
  }

  setRemoteStreams(conference: ConferenceId, peer: NodeId, streams: unknown): void {
    this.link(conference, peer).setRemoteStreams(streams);
  }

  /** Idempotent: an unknown link is already closed. */
  async closeLink(conference: ConferenceId, peer: NodeId): Promise<void> {
    const key = keyOf(conference, peer);
    const pending = this.opening.get(key);
    if (pending) await pending.catch(() => undefined);
    const link = this.links.get(key);
    if (!link) return;
    this.links.delete(key);
    await link.close();
  }

  /** Every link's counters and QoS now. */
  stats(): BackplaneLinkStats[] {
    return [...this.links.values()].map((l) => l.stats());
  }

  /** Idempotent: closes every link. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offClosed();
    await Promise.allSettled([...this.opening.values()]);
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.allSettled(links.map((l) => l.close()));
    for (const l of links) this.events.emit('linkClosed', l.conference, l.peer, 'media thread closed');
  }

  private async open(conference: ConferenceId, peer: NodeId, options: LinkOptions): Promise<BackplaneLink> {
    const router = this.opts.media.routerOf(conference);
    if (!router) throw new ConfnodeError('not-found', `conference ${conference} has no media in this thread`);
    const ports = await this.opts.media.allocateRtpPorts();
    // The conference may have ended (or the host closed) while the port was being bound.
    if (this.closed || this.opts.media.routerOf(conference) !== router) {
      await ports.release();
      throw new ConfnodeError('not-found', `conference ${conference} ended while its backplane to ${peer} was opening`);
    }
    const key = keyOf(conference, peer);
    const link = new BackplaneLink({
      conference,
      peer,
      router,
      ports,
      ...(options.kind ? { kind: options.kind } : {}),
      ...(options.wan ? { wan: options.wan } : {}),
      clock: this.opts.clock,
      logger: this.opts.logger,
      ...(this.opts.random ? { random: this.opts.random } : {}),
      ...(this.opts.rtcpIntervalMs !== undefined ? { rtcpIntervalMs: this.opts.rtcpIntervalMs } : {}),
      onLocalStreams: (streams) => this.events.emit('localStreams', conference, peer, streams),
    });
    this.links.set(key, link);
    return link;
  }

  private link(conference: ConferenceId, peer: NodeId): BackplaneLink {
    const link = this.links.get(keyOf(conference, peer));
    if (!link) throw new ConfnodeError('not-found', `no backplane of conference ${conference} to ${peer} in this thread`);
    return link;
  }

  private conferenceClosed(conference: ConferenceId): void {
    for (const [key, link] of [...this.links]) {
      if (link.conference !== conference) continue;
      this.links.delete(key);
      link.close().catch((err: unknown) => this.opts.logger.warn({ conference, err: errorMessage(err) }, 'backplane close failed'));
      this.events.emit('linkClosed', conference, link.peer, 'conference media ended');
    }
  }
}

/** Serves the backplane operations from a host (the one in this thread). */
export function backplaneOpHandlers(host: BackplaneHost): RpcHandlers<BackplaneOps> {
  return {
    openLink: (d) => host.openLink(d.conference, d.peer, d.options),
    connectLink: (d) => {
      host.connectLink(d.conference, d.peer, d.remote, d.keys);
      return undefined;
    },
    setRemoteStreams: (d) => {
      host.setRemoteStreams(d.conference, d.peer, d.streams);
      return undefined;
    },
    closeLink: async (d) => {
      await host.closeLink(d.conference, d.peer);
      return undefined;
    },
    links: () => host.stats(),
  };
}

/** Forwards a host's events as payloads (to a thread's port). */
export function forwardBackplaneEvents(host: BackplaneHost, emit: <K extends keyof BackplaneEventPayloads>(name: K, data: BackplaneEventPayloads[K]) => void): () => void {
  const offs = [
    host.events.on('localStreams', (conference, peer, streams) => emit('localStreams', { conference, peer, streams })),
    host.events.on('linkClosed', (conference, peer, reason) => emit('linkClosed', { conference, peer, reason })),
  ];
  return () => {
    for (const off of offs) off();
  };
}
