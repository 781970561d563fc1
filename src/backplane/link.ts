/**
 * BackplaneLink: one conference's RTP link to one peer node, in the media thread of the
 * conference's router. One UDP socket (RTP and RTCP multiplexed, RFC 5761), SRTP both ways; every
 * local stream out (a sink on the router that never takes what came over a local backplane:
 * split horizon), the peer's announced streams in as remote sources; PLI/FIR and NACK both ways,
 * SR/RR about every second (RTT, jitter, loss). Packets are plain calls and counters: never an
 * await, an event or a log line per packet; packets from anyone but the peer, of unannounced
 * SSRCs or failing SRTP are dropped and counted, and change nothing.
 */
import { isIP } from 'node:net';
import {
  ConfnodeError,
  RTCP_PSFB,
  buildPli,
  buildRtcp,
  emptyRtpView,
  errorMessage,
  isRtcp,
  keyframeRequestTarget,
  parseRtcp,
  parseRtpInto,
  type Clock,
  type ConferenceId,
  type Logger,
  type MediaPacket,
  type MeshTag,
  type NodeId,
  type RemoteSinkHandle,
  type RtcpPacket,
  type RtpSocket,
  type RtpSocketPair,
  type Sink,
  type SourceView,
  SrtpContext,
  type SrtpFailure,
  type TimerHandle,
} from './deps';
import { checkMasterKey, type LinkKeys } from './keys';
import { LinkQos } from './link-qos';
import { InStream, OutStream } from './link-streams';
import { backplaneMeshTag, meshPrefixOf, type BackplaneKind, parseBackplaneStreams, sameCodec, sameStream, type BackplaneStream } from './streams';
import type { BackplaneAddress, BackplaneLinkStats, BackplaneRouter } from './types';
import { impairedSocket, type ImpairedSocket, type WanCounters, type WanImpairment } from './wan-sim';
import { BACKPLANE_PT, MAX_MEDIA_HEADER, RTCP_RTPFB, buildNack, isSilent, readNack, writeMediaHeader } from './wire';

export interface BackplaneLinkOptions {
  conference: ConferenceId;
  peer: NodeId;
  /** Local (same location) or geo (between proxies); default local. */
  kind?: BackplaneKind;
  /** Tests and benchmarks: a simulated WAN on what this link sends (wan-sim.ts). */
  wan?: WanImpairment;
  router: BackplaneRouter;
  /** The link's socket pair: RTP and RTCP go over its RTP socket; the link releases it. */
  ports: RtpSocketPair;
  clock: Clock;
  logger: Logger;
  /** Uniform [0,1): SSRCs, first sequence numbers and the report interval (default Math.random). */
  random?: () => number;
  /** Mean interval of sender/receiver reports (default 1000 ms). */
  rtcpIntervalMs?: number;
  /** Wall-clock ms at clock.now() === 0, for SR NTP times (default performance.timeOrigin). */
  epochMs?: number;
  /** The list of streams this link sends changed (control rate; coalesced per task). */
  onLocalStreams(streams: BackplaneStream[]): void;
}

/** Retransmission ring per stream: about a second of audio, a few hundred ms of video. */
const RING = { audio: 64, video: 256 } as const;

export class BackplaneLink {
  readonly conference: ConferenceId;
  readonly peer: NodeId;
  readonly kind: BackplaneKind;
  readonly meshTag: MeshTag;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly socket: RtpSocket;
  private readonly wan: ImpairedSocket | undefined;
  private readonly wanCounters: WanCounters = { delayed: 0, dropped: 0, overflowed: 0, lateSumMs: 0, lateMaxMs: 0 };
  private readonly rtcpSsrc: number;
  private readonly qos: LinkQos;
  private tx: SrtpContext | undefined;
  private rx: SrtpContext | undefined;
  private remote: BackplaneAddress | undefined;
  private readonly outBySource = new Map<SourceView, OutStream>();
  private readonly outBySsrc = new Map<number, OutStream>();
  private readonly inBySsrc = new Map<number, InStream>();
  private readonly sink: Sink;
  private readonly sinkHandle: RemoteSinkHandle;
  private readonly offChanged: () => void;
  private readonly head = Buffer.alloc(MAX_MEDIA_HEADER);
  private readonly view = emptyRtpView();
  private timer: TimerHandle | undefined;
  private announcePending = false;
  private readonly keyframesOnConnect = new Set<number>();
  private closed = false;
  private readonly c = {
    packetsOut: 0,
    bytesOut: 0,
    packetsIn: 0,
    bytesIn: 0,
    rtcpOut: 0,
    rtcpIn: 0,
    nacksOut: 0,
    nacksIn: 0,
    nacksGivenUp: 0,
    retransmitted: 0,
    keyframeRequestsOut: 0,
    keyframeRequestsIn: 0,
    srtpAuthFailures: 0,
    srtpReplays: 0,
    streamsRefused: 0,
    socketErrors: 0,
  };
  private readonly dropped = { wrongSource: 0, unknownSsrc: 0, malformed: 0, beforeConnect: 0 };
  private readonly isOurs = (ssrc: number): boolean => this.outBySsrc.has(ssrc);

  constructor(private readonly opts: BackplaneLinkOptions) {
    this.conference = opts.conference;
    this.peer = opts.peer;
    this.kind = opts.kind ?? 'local';
    this.meshTag = backplaneMeshTag(opts.peer, this.kind);
    this.log = opts.logger.child({ conference: opts.conference, backplanePeer: opts.peer });
    this.random = opts.random ?? Math.random;
    this.rtcpSsrc = this.newSsrc();
    this.qos = new LinkQos(this.rtcpSsrc, opts.epochMs ?? performance.timeOrigin);
    this.wan = opts.wan ? impairedSocket(opts.ports.rtp, opts.wan, opts.clock, this.random, this.wanCounters) : undefined;
    this.socket = this.wan ?? opts.ports.rtp;
    this.socket.onMessage = (msg, address, port) => this.onDatagram(msg, address, port);
    this.socket.onError = (err) => {
      // Counted always, logged once: a socket that fails does so for every packet.
      if (this.c.socketErrors++ === 0) this.log.warn({ err: err.message }, 'backplane socket error (logged once per link)');
    };
    this.sink = this.makeSink();
    this.sinkHandle = opts.router.addRemoteSink(this.sink);
    this.offChanged = opts.router.on('source-changed', (source) => {
      if (this.outBySource.has(source)) this.scheduleAnnounce();
    });
  }

  /** Where the peer sends to (this node's address and the link's port). */
  get local(): BackplaneAddress {
    return { address: this.opts.ports.address, port: this.opts.ports.rtpPort };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The streams this link sends now (the peer publishes these). */
  localStreams(): BackplaneStream[] {
    return [...this.outBySource.values()].map((o) => o.describe());
  }

  /**
   * Starts media both ways with the peer's address and this side's keys. Connecting again (the
   * peer reopened its side) replaces both and starts SRTP afresh.
   */
  connect(remote: BackplaneAddress, keys: LinkKeys): void {
    if (this.closed) throw new ConfnodeError('closed', `backplane to ${this.peer} is closed`);
    if (isIP(remote.address) === 0 || !Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) {
      throw new ConfnodeError('bad-request', `bad backplane address ${remote.address}:${remote.port}`);
    }
    checkMasterKey(keys.send, 'backplane send key');
    checkMasterKey(keys.receive, 'backplane receive key');
    this.tx = new SrtpContext(keys.send);
    this.rx = new SrtpContext(keys.receive);
    this.remote = { address: remote.address, port: remote.port };
    if (!this.timer) this.scheduleReport(0.5);
    for (const ssrc of this.keyframesOnConnect) this.requestKeyframe(ssrc);
    this.keyframesOnConnect.clear();
    this.log.info({ remote: `${remote.address}:${remote.port}` }, 'backplane connected');
  }

  /** The peer's whole list of streams (validated first): new ones join the conference, gone ones leave. */
  setRemoteStreams(value: unknown): void {
    if (this.closed) throw new ConfnodeError('closed', `backplane to ${this.peer} is closed`);
    const list = parseBackplaneStreams(value);
    const next = new Map(list.map((s) => [s.ssrc, s]));
    for (const [ssrc, s] of this.inBySsrc) {
      const now = next.get(ssrc);
      if (!now || !sameStream(s.announced, now)) this.dropInStream(ssrc, s);
    }
    for (const announced of list) {
      const current = this.inBySsrc.get(announced.ssrc);
      if (!current) {
        this.addInStream(announced);
      } else if (!sameCodec(current.announced, announced)) {
        current.announced = announced;
        current.handle.setCodec({ mime: announced.mime, clockRate: announced.clockRate });
      }
    }
  }

  stats(): BackplaneLinkStats {
    const c = this.c;
    let jitterMs = 0;
    let expected = 0;
    let lost = 0;
    for (const s of this.inBySsrc.values()) {
      jitterMs = Math.max(jitterMs, s.stats.jitterMs);
      expected += s.stats.expected;
      lost += Math.max(0, s.stats.lost);
    }
    return {
      kind: this.kind,
      conference: this.conference,
      peer: this.peer,
      local: this.local,
      remote: this.remote ? { ...this.remote } : undefined,
      streamsOut: this.outBySource.size,
      streamsIn: this.inBySsrc.size,
      packetsOut: c.packetsOut,
      bytesOut: c.bytesOut,
      packetsIn: c.packetsIn,
      bytesIn: c.bytesIn,
      rtcpOut: c.rtcpOut,
      rtcpIn: c.rtcpIn,
      nacksOut: c.nacksOut,
      nacksIn: c.nacksIn,
      nacksGivenUp: c.nacksGivenUp,
      retransmitted: c.retransmitted,
      keyframeRequestsOut: c.keyframeRequestsOut,
      keyframeRequestsIn: c.keyframeRequestsIn,
      srtpAuthFailures: c.srtpAuthFailures,
      srtpReplays: c.srtpReplays,
      dropped: { ...this.dropped },
      streamsRefused: c.streamsRefused,
      socketErrors: c.socketErrors,
      rttMs: this.qos.rttMs,
      jitterMs,
      lossIn: expected > 0 ? lost / expected : 0,
      lossOut: this.qos.lossOut,
      ...(this.wan ? { wanSim: { ...this.wanCounters } } : {}),
    };
  }

  /**
   * Idempotent: the peer's streams leave the conference, ours stop, the socket closes. The list of
   * what this link sends becomes empty (told once more, so the peer can be told to retract).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.offChanged();
    this.sinkHandle.close();
    for (const [ssrc, s] of [...this.inBySsrc]) this.dropInStream(ssrc, s);
    this.outBySource.clear();
    this.outBySsrc.clear();
    this.socket.onMessage = null;
    this.wan?.discard();
    this.tell([]);
    await this.opts.ports.release();
  }

  // ------------------------------------------------------------------ sending

  private makeSink(): Sink {
    return {
      kind: 'any',
      owner: undefined,
      excludeMeshTag: this.meshTag,
      // Split horizon over the full mesh of this link's kind, decided by the SFU's policy: a stream
      // that came over a link of the same kind is never offered to this sink (each node of that
      // mesh has a link of its own to the stream's sender), so none of its packets reaches it only
      // to be dropped. Streams of the other kind are relayed: that is what a proxy does (R9).
      excludeMeshPrefix: meshPrefixOf(this.kind),
      onKeyframeRequest: null,
      send: (packet, source) => this.sendMedia(packet, source),
      sourceAdded: (source) => this.addOutStream(source),
      sourceRemoved: (source) => this.removeOutStream(source),
    };
  }

  private addOutStream(source: SourceView): void {
    if (this.closed || this.outBySource.has(source)) return;
    const ssrc = this.newSsrc();
    // A first sequence number in the lower half: the peer, whose state for the stream starts
    // with ROC 0, meets the first wrap only after 32768 packets.
    const out = new OutStream(ssrc, source, Math.floor(this.random() * 0x8000), RING[source.kind]);
    this.outBySource.set(source, out);
    this.outBySsrc.set(ssrc, out);
    this.scheduleAnnounce();
  }

  private removeOutStream(source: SourceView): void {
    const out = this.outBySource.get(source);
    if (!out) return;
    this.outBySource.delete(source);
    this.outBySsrc.delete(out.ssrc);
    this.scheduleAnnounce();
  }

  /** The packet path out: one header write, one SRTP protect, one send. */
  private sendMedia(p: MediaPacket, source: SourceView): boolean {
    const out = this.outBySource.get(source);
    const remote = this.remote;
    const tx = this.tx;
    if (!out || !remote || !tx) return false;
    const seq = out.mapSeq(p.sequence, p.ssrc);
    if (seq < 0) return false;
    const hl = writeMediaHeader(this.head, BACKPLANE_PT[source.kind], p.marker, seq, p.timestamp, out.ssrc, p.silent);
    const wire = tx.protectRtpParts(this.head.subarray(0, hl), p.payload);
    this.socket.send(wire, remote.port, remote.address);
    out.sent(seq, wire, p.payload.length, p.timestamp);
    this.c.packetsOut++;
    this.c.bytesOut += wire.length;
    return true;
  }

  private sendRtcp(packets: RtcpPacket[]): void {
    const remote = this.remote;
    const tx = this.tx;
    if (!remote || !tx || this.closed) return;
    this.socket.send(tx.protectRtcp(buildRtcp(packets)), remote.port, remote.address);
    this.c.rtcpOut++;
  }

  /** A keyframe request of the peer's stream (from this conference's throttle): a PLI to the peer. */
  private requestKeyframe(ssrc: number): void {
    if (!this.inBySsrc.has(ssrc)) return;
    if (!this.remote) {
      // A viewer attached before the link connected: asked once media can flow.
      this.keyframesOnConnect.add(ssrc);
      return;
    }
    this.c.keyframeRequestsOut++;
    this.sendRtcp([buildPli(this.rtcpSsrc, ssrc)]);
  }

  private scheduleAnnounce(): void {
    if (this.announcePending || this.closed) return;
    this.announcePending = true;
    // Sources come and go in bursts (a router adds the sink with every current source): one list.
    queueMicrotask(() => {
      this.announcePending = false;
      if (!this.closed) this.tell(this.localStreams());
    });
  }

  private tell(streams: BackplaneStream[]): void {
    try {
      this.opts.onLocalStreams(streams);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'backplane stream-list listener failed');
    }
  }

  // ------------------------------------------------------------------ receiving

  private onDatagram(msg: Buffer, address: string, port: number): void {
    const remote = this.remote;
    const rx = this.rx;
    if (!remote || !rx) {
      this.dropped.beforeConnect++;
      return;
    }
    if (port !== remote.port || address !== remote.address) {
      this.dropped.wrongSource++;
      return;
    }
    if (isRtcp(msg)) {
      this.onRtcp(rx, msg);
      return;
    }
    if (msg.length < 22 || (msg[0] as number) >> 6 !== 2) {
      this.dropped.malformed++;
      return;
    }
    const stream = this.inBySsrc.get(msg.readUInt32BE(8));
    if (!stream) {
      this.dropped.unknownSsrc++;
      return;
    }
    const plain = rx.unprotectRtp(msg);
    if (typeof plain === 'string') {
      this.refused(plain);
      return;
    }
    const view = this.view;
    if (!parseRtpInto(plain, view)) {
      this.dropped.malformed++;
      return;
    }
    this.c.packetsIn++;
    this.c.bytesIn += msg.length;
    const now = this.opts.clock.now();
    if (stream.receive(view, isSilent(view), now) > 0) this.nack(stream, view.ssrc, stream.missing);
    // A NACK or its resend lost too (a lossy WAN): ask again after about one and a half round
    // trips, a few times; a video packet given up needs a keyframe, asked at once rather than
    // after the viewers' own requests time out.
    if (!stream.awaiting) return; // the common case: nothing lost, nothing more to do per packet
    const lost = stream.due(now, this.retryMs());
    if (stream.again.length > 0) this.nack(stream, view.ssrc, stream.again);
    if (lost > 0) {
      this.c.nacksGivenUp += lost;
      if (stream.announced.kind === 'video') this.requestKeyframe(view.ssrc);
    }
  }

  private nack(stream: InStream, ssrc: number, seqs: number[]): void {
    stream.nacksSent++;
    this.c.nacksOut++;
    this.sendRtcp([buildNack(this.rtcpSsrc, ssrc, seqs)]);
  }

  /** How long a NACK waits for its packet before it is sent again: 1.5 RTT plus a margin, bounded. */
  private retryMs(): number {
    const rtt = this.qos.rttMs;
    return rtt === undefined ? 120 : Math.min(1000, Math.max(30, 1.5 * rtt + 10));
  }

  private refused(why: SrtpFailure): void {
    if (why === 'auth') this.c.srtpAuthFailures++;
    else if (why === 'replay') this.c.srtpReplays++;
    else this.dropped.malformed++;
  }

  private onRtcp(rx: SrtpContext, msg: Buffer): void {
    const plain = rx.unprotectRtcp(msg);
    if (typeof plain === 'string') {
      this.refused(plain);
      return;
    }
    this.c.rtcpIn++;
    const now = this.opts.clock.now();
    for (const p of parseRtcp(plain)) {
      if (p.type === 'sr' || p.type === 'rr') {
        this.qos.onPacket(p, now, this.isOurs);
      } else if (p.type === 'unknown' && p.packetType === RTCP_PSFB) {
        this.onKeyframeRequest(p);
      } else if (p.type === 'unknown' && p.packetType === RTCP_RTPFB) {
        this.onNack(p);
      }
    }
  }

  private onKeyframeRequest(p: RtcpPacket): void {
    const target = keyframeRequestTarget(p);
    const out = target === undefined ? undefined : this.outBySsrc.get(target);
    if (!out || out.source.kind !== 'video') return;
    this.c.keyframeRequestsIn++;
    // Through the conference's throttle for that source, shared with every other viewer.
    this.sink.onKeyframeRequest?.(out.source);
  }

  /** Resends the asked packets as they went out (same SRTP bytes: the peer has not accepted them). */
  private onNack(p: RtcpPacket): void {
    const nack = readNack(p);
    const out = nack ? this.outBySsrc.get(nack.mediaSsrc) : undefined;
    const remote = this.remote;
    if (!nack || !out || !remote) return;
    this.c.nacksIn++;
    for (const seq of nack.seqs) {
      const wire = out.ring.get(seq);
      if (!wire) continue;
      this.socket.send(wire, remote.port, remote.address);
      out.retransmitted++;
      this.c.retransmitted++;
    }
  }

  // ------------------------------------------------------------------ reports

  /** RFC 3550 6.2: randomised around the mean, so two links never settle into lockstep. */
  private scheduleReport(factor = 1): void {
    const mean = this.opts.rtcpIntervalMs ?? 1000;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      this.sendReport();
      this.scheduleReport();
    }, mean * factor * (0.5 + this.random()));
  }

  private sendReport(): void {
    this.sendRtcp(this.qos.report(this.opts.clock.now(), this.inBySsrc.values(), this.c.packetsOut, this.c.bytesOut));
  }

  // ------------------------------------------------------------------ streams in

  private addInStream(announced: BackplaneStream): void {
    const ssrc = announced.ssrc;
    try {
      const handle = this.opts.router.addRemoteSource({
        owner: announced.owner,
        kind: announced.kind,
        codec: { mime: announced.mime, clockRate: announced.clockRate },
        meshTag: this.meshTag,
        ...(announced.kind === 'video' ? { requestKeyframe: () => this.requestKeyframe(ssrc) } : {}),
      });
      this.inBySsrc.set(ssrc, new InStream(announced, handle));
    } catch (err) {
      this.c.streamsRefused++;
      this.log.warn({ owner: announced.owner, kind: announced.kind, err: errorMessage(err) }, 'backplane stream refused by the conference');
    }
  }

  private dropInStream(ssrc: number, s: InStream): void {
    this.inBySsrc.delete(ssrc);
    s.handle.close();
    this.rx?.forget(ssrc);
  }

  private newSsrc(): number {
    for (;;) {
      const ssrc = Math.floor(this.random() * 0xffffffff) >>> 0;
      if (ssrc !== 0 && ssrc !== this.rtcpSsrc && !this.outBySsrc.has(ssrc)) return ssrc;
    }
  }
}
