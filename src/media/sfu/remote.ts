/**
 * Streams that cross a link to another node, on the SFU's side: a remote source (a participant
 * of the peer, published here as if it were local) and a remote sink (every stream taken out to
 * the peer except those that came from it: split horizon). Checks the mesh tags; never opens a
 * link nor sends anything itself.
 */
import { ConfnodeError, type ParticipantId } from '../../common';
import { PacketSource } from './packet-source';
import type { ConferenceSfu } from './sfu';
import { LOCAL_MESH, type MediaKind, type MediaPacket, type MeshTag, type Sink, type SourceCodec, type SourceView } from './types';

/** A stream of a participant of another node, as a backplane publishes it into this conference. */
export interface RemoteSourceOptions {
  owner: ParticipantId;
  kind: MediaKind;
  codec: SourceCodec;
  /** The link it came in over (never `local`): it is never sent back over that link. */
  meshTag: MeshTag;
  /** Video: asks the far publisher for a keyframe (over the link); throttled here per stream. */
  requestKeyframe?: () => void;
}

export interface RemoteSourceHandle {
  readonly source: SourceView;
  /** One packet; the object is read during the call only (the caller may reuse it). */
  push(packet: MediaPacket): void;
  /** The far side changed the stream's codec. */
  setCodec(codec: SourceCodec): void;
  /** Idempotent: the stream leaves the conference (its 'source-removed' is emitted). */
  close(): void;
}

export interface RemoteSinkHandle {
  readonly sink: Sink;
  /** Idempotent: the sink stops receiving. */
  close(): void;
}

export class RemoteStreams {
  private readonly sources = new Set<RemoteSourceHandle>();
  private readonly sinks = new Set<RemoteSinkHandle>();

  constructor(private readonly sfu: ConferenceSfu) {}

  addSource(options: RemoteSourceOptions): RemoteSourceHandle {
    if (options.meshTag === LOCAL_MESH) throw new ConfnodeError('bad-request', 'a remote source carries the mesh tag of its link, not local');
    const source = new PacketSource(options);
    const sfu = this.sfu;
    const handle: RemoteSourceHandle = {
      source,
      push: (packet) => source.push(packet),
      setCodec: (codec) => sfu.setCodec(source, codec),
      close: () => {
        if (this.sources.delete(handle)) sfu.removeSource(source);
      },
    };
    this.sources.add(handle);
    sfu.addSource(source);
    return handle;
  }

  /** The sink must name the link it sends over: what came in over that link never goes back. */
  addSink(sink: Sink): RemoteSinkHandle {
    const tag = sink.excludeMeshTag;
    if (tag === undefined || tag === LOCAL_MESH) throw new ConfnodeError('bad-request', 'a remote sink names the link it sends over (its excluded mesh tag)');
    const sfu = this.sfu;
    const handle: RemoteSinkHandle = {
      sink,
      close: () => {
        if (this.sinks.delete(handle)) sfu.removeSink(sink);
      },
    };
    this.sinks.add(handle);
    sfu.addSink(sink);
    return handle;
  }

  /** Idempotent: every remote source leaves (onlookers are told), every remote sink stops. */
  close(): void {
    for (const handle of [...this.sources]) handle.close();
    for (const handle of [...this.sinks]) handle.close();
  }
}
