/**
 * The node's MediaService when media may live on other nodes (R1): each participant is routed to
 * its media node (set by the placement before any media is created), this node's own media service
 * or a peer's over the control channel. Events of both reach the node as one stream; counters of
 * remote participants come from their media nodes' periodic stats. Never decides placement.
 */
import { ConfnodeError, TypedEmitter, type ConferenceId, type Logger, type ParticipantId } from '../../common';
import {
  type LocalRtpAddress,
  type MediaConferenceRef,
  type MediaService,
  type MediaServiceEvents,
  type MediaServiceStats,
  type RouterParticipantStats,
  type RtpParticipantUpdate,
} from '../../media';
import type { OpName } from '../../common';
import type { ClusterEvents, ClusterOps } from './protocol';
import type { SrtpKeySeal } from './srtp-seal';

/** How this node reaches a peer's media (the control channel). */
export interface PeerCaller {
  call<K extends OpName<ClusterOps>>(node: string, op: K, data: ClusterOps[K]['req']): Promise<ClusterOps[K]['res']>;
}

interface Route {
  node: string;
  conference?: ConferenceId;
}

export class RoutedMediaService implements MediaService {
  readonly events: TypedEmitter<MediaServiceEvents>;
  private readonly routes = new Map<ParticipantId, Route>();
  private readonly remoteStats = new Map<ParticipantId, RouterParticipantStats>();
  private readonly remoteSpeakers = new Map<ConferenceId, ParticipantId | undefined>();
  private readonly offLocal: Array<() => void>;

  constructor(
    private readonly local: MediaService,
    private readonly nodeName: string,
    private readonly peers: PeerCaller,
    private readonly logger: Logger,
    /** Seals SDES keys that go to a peer's media (the control channel does not encrypt). */
    private readonly keySeal: SrtpKeySeal,
  ) {
    this.events = new TypedEmitter<MediaServiceEvents>((err, event) => logger.error({ event: String(event), err: String(err) }, 'media event listener failed'));
    const e = this.events;
    this.offLocal = [
      local.events.on('webrtcOffer', (p, sdp) => e.emit('webrtcOffer', p, sdp)),
      local.events.on('webrtcFailed', (p, reason) => e.emit('webrtcFailed', p, reason)),
      local.events.on('dtmf', (p, digit) => e.emit('dtmf', p, digit)),
      local.events.on('activeSpeaker', (c, p) => e.emit('activeSpeaker', c, p)),
      local.events.on('lost', (ids) => e.emit('lost', ids)),
    ];
  }

  /** Where a participant's media lives; set by the placement before the media is created. */
  route(participant: ParticipantId, node: string): void {
    this.routes.set(participant, { node });
  }

  mediaNodeOf(participant: ParticipantId): string | undefined {
    return this.routes.get(participant)?.node;
  }

  /** An event a peer node sent about media it carries for our participants. */
  onPeerEvent<K extends keyof ClusterEvents>(from: string, name: K, data: ClusterEvents[K]): void {
    const ours = (p: ParticipantId): boolean => this.routes.get(p)?.node === from;
    switch (name) {
      case 'webrtcOffer': {
        const d = data as ClusterEvents['webrtcOffer'];
        if (ours(d.participant)) this.events.emit('webrtcOffer', d.participant, d.sdp);
        return;
      }
      case 'webrtcFailed': {
        const d = data as ClusterEvents['webrtcFailed'];
        if (ours(d.participant)) this.events.emit('webrtcFailed', d.participant, d.reason);
        return;
      }
      case 'dtmf': {
        const d = data as ClusterEvents['dtmf'];
        if (ours(d.participant)) this.events.emit('dtmf', d.participant, d.digit);
        return;
      }
      case 'activeSpeaker': {
        const d = data as ClusterEvents['activeSpeaker'];
        this.remoteSpeakers.set(d.conference, d.participant);
        this.events.emit('activeSpeaker', d.conference, d.participant);
        return;
      }
      case 'mediaStats': {
        for (const [id, s] of (data as ClusterEvents['mediaStats']).participants) if (ours(id)) this.remoteStats.set(id, s);
        return;
      }
      default:
        return;
    }
  }

  /** A media node is gone: the media of every participant it carried for us is lost. */
  onPeerDown(node: string): void {
    const lost = [...this.routes].filter(([, r]) => r.node === node).map(([id]) => id);
    if (lost.length === 0) return;
    this.logger.warn({ mediaNode: node, participants: lost.length }, 'media node gone: its participants lost their media');
    this.events.emit('lost', lost);
  }

  createRtpParticipant(conference: MediaConferenceRef, participant: ParticipantId, admitted: boolean, video = false): Promise<LocalRtpAddress> {
    const node = this.nodeOf(participant, conference.id);
    if (node === undefined) return this.local.createRtpParticipant(conference, participant, admitted, video);
    return this.peers.call(node, 'createRtp', { conference, participant, admitted, video });
  }

  async createWebRtcParticipant(conference: MediaConferenceRef, participant: ParticipantId, videoCodec: 'H264' | 'VP8'): Promise<void> {
    const node = this.nodeOf(participant, conference.id);
    if (node === undefined) return this.local.createWebRtcParticipant(conference, participant, videoCodec);
    await this.peers.call(node, 'createWebRtc', { conference, participant, videoCodec });
  }

  webrtcOffer(participant: ParticipantId, sdp: string): Promise<string> {
    const node = this.nodeOf(participant);
    return node === undefined ? this.local.webrtcOffer(participant, sdp) : this.peers.call(node, 'webrtcOffer', { participant, sdp });
  }

  async webrtcAnswer(participant: ParticipantId, sdp: string): Promise<void> {
    const node = this.nodeOf(participant);
    if (node === undefined) return this.local.webrtcAnswer(participant, sdp);
    await this.peers.call(node, 'webrtcAnswer', { participant, sdp });
  }

  updateRtpParticipant(participant: ParticipantId, update: RtpParticipantUpdate): void {
    const node = this.nodeOf(participant);
    if (node === undefined) {
      this.local.updateRtpParticipant(participant, update);
      return;
    }
    this.send(participant, 'updateRtp', { participant, update: this.keySeal.sealUpdate(participant, update) }, () => this.local.updateRtpParticipant(participant, update));
  }

  admit(participant: ParticipantId): void {
    this.send(participant, 'admit', { participant }, () => this.local.admit(participant));
  }

  injectDtmf(participant: ParticipantId, digit: string): void {
    this.send(participant, 'dtmf', { participant, digit }, () => this.local.injectDtmf(participant, digit));
  }

  removeParticipant(participant: ParticipantId): void {
    this.send(participant, 'remove', { participant }, () => this.local.removeParticipant(participant));
    this.routes.delete(participant);
    this.remoteStats.delete(participant);
  }

  participantStats(participant: ParticipantId): RouterParticipantStats | undefined {
    const node = this.nodeOf(participant);
    if (node === undefined) return this.local.participantStats(participant);
    return this.remoteStats.get(participant) ?? { packetsIn: 0, packetsOut: 0, packetsDropped: 0, audioCodec: undefined, talker: false, levelDbov: -127 };
  }

  activeSpeaker(conference: ConferenceId): ParticipantId | undefined {
    return this.local.activeSpeaker(conference) ?? this.remoteSpeakers.get(conference);
  }

  stats(): MediaServiceStats {
    return this.local.stats();
  }

  ready(): Promise<void> {
    return this.local.ready();
  }

  async close(): Promise<void> {
    for (const off of this.offLocal.splice(0)) off();
    await this.local.close();
  }

  /** The peer node that carries the participant, or undefined when it is this node. */
  private nodeOf(participant: ParticipantId, conference?: ConferenceId): string | undefined {
    const r = this.routes.get(participant);
    if (r && conference !== undefined) r.conference = conference;
    if (!r || r.node === this.nodeName) return undefined;
    return r.node;
  }

  /** A change nobody waits for: sent in order on the peer's link; a failure is logged. */
  private send<K extends OpName<ClusterOps>>(participant: ParticipantId, op: K, data: ClusterOps[K]['req'], here: () => void): void {
    const node = this.nodeOf(participant);
    if (node === undefined) {
      here();
      return;
    }
    this.peers.call(node, op, data).catch((err: unknown) => {
      const code = err instanceof ConfnodeError ? err.code : 'internal';
      this.logger.warn({ participant, mediaNode: node, op, code, err: String(err) }, 'media request to a peer node failed');
    });
  }
}
