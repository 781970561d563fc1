/**
 * The SRTP forwarding bench's load generator, one child process for every WebRTC peer: a
 * publisher and V viewers, werift RTCPeerConnections that join a node's room through its real
 * `/ws` signaling (the join page's protocol: join -> joined -> our offer -> answer, then the
 * node's offers answered). The publisher sends synthetic video RTP when told; viewers only count
 * the video packets they receive. Every peer offers AES_CM_128_HMAC_SHA1_80 only and, once DTLS
 * is up, protects with our keyed contexts (native/srtp when built) instead of werift's cipher
 * objects per packet, so a viewer costs the generator less than it costs the node.
 * Driven over IPC by srtp-forwarding.ts (request/reply with ids; counters only, no per-packet
 * messages). Loopback only; exits when the parent goes away.
 */
import {
  MediaStream,
  MediaStreamTrack,
  PictureLossIndication,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  SrtpAuthenticationError,
  type RTCDtlsTransport,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift';
import WebSocket from 'ws';
import { srtpEngineInfo } from '../../src/media/rtp/srtp-engine';
import { noStunQuery, peerConfig, videoCodecParameters, type VideoCodecName } from '../../src/media/werift/codecs';
import { installOurSrtp, offerAesCmOnly, type SrtpDrops } from '../../src/media/werift/srtp-session';
import { rtpPacket, SyntheticH264, type SynthPacket } from './h264-synth';
import { Traffic } from './traffic';

export interface JoinRequest {
  op: 'join';
  wsUrl: string;
  alias: string;
  viewers: number;
  packetsPerFrame: number;
  fps: number;
  payloadBytes: number;
  /**
   * Viewers count each video packet right after our SRTP context authenticated and decrypted it,
   * and hand werift nothing further (no RTP parse, receiver, NACK or track event per packet).
   * false: counted at werift's track.onReceiveRtp, the whole werift receive path run.
   */
  lightViewers: boolean;
}

export type PeersOp = JoinRequest | { op: 'video'; on: boolean } | { op: 'counters' } | { op: 'leave' };
export type PeersRequest = { id: number } & PeersOp;

export interface PeersCounters {
  /** Video packets the publisher handed to werift since the start. */
  videoSent: number;
  keyframesSent: number;
  /** PLI/FIR the node sent the publisher. */
  keyframeRequests: number;
  /** Pacer ticks that could not catch up within one burst. */
  lateTicks: number;
  /** Video packets each viewer received (werift track onReceiveRtp), in join order. */
  viewersVideoIn: number[];
  /** Peers whose DTLS transports run our SRTP contexts (all of them when the profile matched). */
  peersOnOurSrtp: number;
  peers: number;
  /** Packets the generator's SRTP/SRTCP contexts refused, per reason. */
  srtpDrops: SrtpDrops;
}

export interface JoinReport {
  videoCodec: VideoCodecName;
  /** Each peer's join: WebSocket open -> DTLS connected, ms (publisher first). */
  joinMs: number[];
}

export type PeersReply =
  | { id: number; ok: true; counters?: PeersCounters; joined?: JoinReport }
  | { id: number; ok: false; error: string };

/** Sent once at start: which SRTP engine this process's contexts use. */
export interface PeersReady {
  ready: true;
  srtp: string;
}

const JOIN_BATCH = 4;
/** Thrown by light viewers after counting a packet: werift drops it quietly. */
const COUNTED = new SrtpAuthenticationError('counted by the bench viewer');
const CONNECT_TIMEOUT_MS = 20_000;
const GATHER_TIMEOUT_MS = 3000;

type ServerMessage = { type: string; sdp?: unknown; videoCodec?: unknown; code?: unknown; message?: unknown };

function parse(data: WebSocket.RawData): ServerMessage | undefined {
  try {
    const v: unknown = JSON.parse(data.toString());
    return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' ? (v as ServerMessage) : undefined;
  } catch {
    return undefined;
  }
}

function until<T>(what: string, ms: number, start: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    start(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** One participant: its signaling socket and its peer connection, negotiating as the page does. */
class Peer {
  pc: RTCPeerConnection | undefined;
  videoCodec: VideoCodecName = 'H264';
  videoIn = 0;
  onOurSrtp = false;
  keyframeRequests = 0;
  onKeyframeRequest: (() => void) | null = null;
  videoTx: RTCRtpTransceiver | undefined;
  private ws: WebSocket | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: string | undefined;

  constructor(
    readonly name: string,
    readonly publisher: boolean,
    private readonly drops: SrtpDrops,
    private readonly light = false,
  ) {}

  /** Joins and resolves once DTLS is connected (our SRTP installed), with the time it took. */
  async join(wsUrl: string, alias: string): Promise<number> {
    const t0 = performance.now();
    const ws = new WebSocket(wsUrl);
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', alias, name: this.name, video: this.publisher })));
    ws.on('message', (data) => this.onMessage(parse(data)));
    ws.on('close', (code, reason) => {
      if (!this.failure) this.failure = `signaling closed ${code} ${reason.toString()}`;
    });
    ws.on('error', (e) => {
      this.failure = `signaling error: ${e.message}`;
    });
    await until<void>(`${this.name} connect`, CONNECT_TIMEOUT_MS, (resolve, reject) => {
      const poll = setInterval(() => {
        if (this.failure) {
          clearInterval(poll);
          reject(new Error(`${this.name}: ${this.failure}`));
        } else if (this.pc?.connectionState === 'connected') {
          // DTLS of every transport may finish a moment after the peer says connected.
          if (!this.onOurSrtp) this.useOurSrtp();
          if (this.onOurSrtp || performance.now() - t0 > CONNECT_TIMEOUT_MS / 2) {
            clearInterval(poll);
            resolve();
          }
        }
      }, 10);
    });
    return Math.round(performance.now() - t0);
  }

  private onMessage(msg: ServerMessage | undefined): void {
    if (!msg) return;
    if (msg.type === 'joined') {
      this.videoCodec = msg.videoCodec === 'VP8' ? 'VP8' : 'H264';
      this.startPeer();
    } else if (msg.type === 'answer' && typeof msg.sdp === 'string') {
      const sdp = msg.sdp;
      this.queue(async () => {
        if (this.pc?.signalingState === 'have-local-offer') await this.pc.setRemoteDescription({ type: 'answer', sdp });
      });
    } else if (msg.type === 'offer' && typeof msg.sdp === 'string') {
      const sdp = msg.sdp;
      this.queue(() => this.answer(sdp));
    } else if (msg.type === 'error') {
      this.failure = `node error ${String(msg.code)}: ${String(msg.message)}`;
    }
  }

  private startPeer(): void {
    const pc = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec: this.videoCodec }));
    this.pc = pc;
    if (this.publisher) {
      const stream = new MediaStream({ id: `${this.name}-camera` });
      pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendrecv', streams: [stream] });
      this.videoTx = pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendrecv', streams: [stream] });
      // werift may route a PLI to a receiver sharing the sender SSRC: count it wherever it lands.
      const onRtcp = (p: RtcpPacket): void => this.onRtcp(p);
      this.videoTx.sender.onRtcp.subscribe(onRtcp);
      this.videoTx.receiver.onRtcp.subscribe(onRtcp);
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    if (!this.light) {
      pc.onTrack.subscribe((track) => {
        if (track.kind === 'video') track.onReceiveRtp.subscribe(() => this.videoIn++);
      });
    }
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.useOurSrtp();
      if (state === 'failed') this.failure = 'ICE/DTLS failed';
    });
    this.queue(() => this.offer());
  }

  private onRtcp(p: RtcpPacket): void {
    if (!(p instanceof RtcpPayloadSpecificFeedback) || !this.videoTx) return;
    const fb = p.feedback;
    const ours = this.videoTx.sender.ssrc;
    const fir = (fb as { fir?: unknown }).fir;
    const asked = fb instanceof PictureLossIndication ? fb.mediaSsrc === ours : Array.isArray(fir) && fir.some((e: { ssrc?: unknown }) => e.ssrc === ours);
    if (!asked) return;
    this.keyframeRequests++;
    this.onKeyframeRequest?.();
  }

  private useOurSrtp(): void {
    const pc = this.pc;
    if (!pc) return;
    let all = pc.dtlsTransports.length > 0;
    for (const t of pc.dtlsTransports) all = installOurSrtp(t, this.drops) && all;
    this.onOurSrtp = all;
    if (all && this.light && !this.publisher) for (const t of pc.dtlsTransports) this.countAndDrop(t);
  }

  /**
   * Light viewer: our context authenticates and decrypts each packet (what a receiver must do),
   * then the packet is counted and dropped the way werift drops one that fails authentication
   * (it catches SrtpAuthenticationError and returns). One error object thrown again and again:
   * no stack captured per packet. RTCP (SRTCP) still goes through werift.
   */
  private countAndDrop(t: RTCDtlsTransport): void {
    const holder = t as unknown as { srtp: { decrypt(buf: Buffer): Buffer } };
    const inner = holder.srtp;
    const decrypt = inner.decrypt.bind(inner);
    const videoPt = videoCodecParameters(this.videoCodec)[0]?.payloadType ?? 96;
    holder.srtp = Object.assign(Object.create(inner) as object, {
      decrypt: (buf: Buffer): Buffer => {
        const rtp = decrypt(buf);
        if (((rtp[1] ?? 0) & 0x7f) === videoPt) this.videoIn++;
        throw COUNTED;
      },
    }) as { decrypt(buf: Buffer): Buffer };
  }

  private async offer(): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    const offer = await pc.createOffer();
    noStunQuery(pc);
    offerAesCmOnly(pc);
    await pc.setLocalDescription(offer);
    await this.gathered(pc);
    this.send({ type: 'offer', sdp: pc.localDescription?.sdp ?? '' });
  }

  private async answer(sdp: string): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await pc.createAnswer();
    noStunQuery(pc);
    offerAesCmOnly(pc);
    await pc.setLocalDescription(answer);
    await this.gathered(pc);
    this.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
  }

  private async gathered(pc: RTCPeerConnection): Promise<void> {
    const end = Date.now() + GATHER_TIMEOUT_MS;
    while (pc.iceGatheringState !== 'complete' && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private queue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((e: unknown) => {
      this.failure = `negotiation: ${e instanceof Error ? e.message : String(e)}`;
    });
  }

  async leave(): Promise<void> {
    this.send({ type: 'leave' });
    this.ws?.close(1000, 'left');
    await this.pc?.close().catch(() => undefined);
  }
}

/** A minimal VP8 payload (RFC 7741 descriptor + payload header) around a synthetic packet. */
function vp8Payload(p: SynthPacket, firstOfFrame: boolean, keyframe: boolean): Buffer {
  if (!firstOfFrame) return Buffer.concat([Buffer.from([0x00]), p.payload.subarray(1)]);
  // S=1, PID 0; frame tag: show_frame=1, P=0 for a keyframe (then start code and 320x240).
  const head = keyframe ? [0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00] : [0x10, 0x11, 0x02, 0x00];
  return Buffer.concat([Buffer.from(head), p.payload.subarray(head.length)]);
}

class Generator {
  private readonly drops: SrtpDrops = { auth: 0, replay: 0, malformed: 0 };
  private publisher: Peer | undefined;
  private viewers: Peer[] = [];
  private traffic: Traffic | undefined;
  private synth: SyntheticH264 | undefined;
  private videoSent = 0;
  /** Kept across pauses: a restart at 0 would replay SRTP indices the node already saw. */
  private seq = 0;

  async join(r: JoinRequest): Promise<JoinReport> {
    const synth = new SyntheticH264({ packetsPerFrame: r.packetsPerFrame, fps: r.fps, payloadBytes: r.payloadBytes, keyframeEverySeconds: 1 });
    this.synth = synth;
    this.traffic = new Traffic(synth, () => []);
    const publisher = new Peer('publisher', true, this.drops);
    this.publisher = publisher;
    publisher.onKeyframeRequest = () => synth.requestKeyframe();
    const joinMs = [await publisher.join(r.wsUrl, r.alias)];
    for (let i = 0; i < r.viewers; i += JOIN_BATCH) {
      const batch: Peer[] = [];
      for (let k = i; k < Math.min(r.viewers, i + JOIN_BATCH); k++) batch.push(new Peer(`viewer${k + 1}`, false, this.drops, r.lightViewers));
      this.viewers.push(...batch);
      joinMs.push(...(await Promise.all(batch.map((p) => p.join(r.wsUrl, r.alias)))));
    }
    return { videoCodec: publisher.videoCodec, joinMs };
  }

  video(on: boolean): void {
    const p = this.publisher;
    const tx = p?.videoTx;
    if (!this.traffic || !p || !tx) throw new Error('not joined');
    if (!on) {
      this.traffic.video(null);
      return;
    }
    let firstOfFrame = true;
    let key = false;
    const vp8 = p.videoCodec === 'VP8';
    this.traffic.video((pkt) => {
      if (firstOfFrame) key = pkt.keyframe;
      const payload = vp8 ? vp8Payload(pkt, firstOfFrame, key) : pkt.payload;
      firstOfFrame = pkt.marker;
      this.videoSent++;
      tx.sender.sendRtp(rtpPacket(96, pkt.marker, this.seq++ & 0xffff, pkt.timestamp, 0x5eed, payload)).catch(() => undefined);
    });
  }

  counters(): PeersCounters {
    const all = [...(this.publisher ? [this.publisher] : []), ...this.viewers];
    return {
      videoSent: this.videoSent,
      keyframesSent: this.synth?.keyframesSent ?? 0,
      keyframeRequests: this.publisher?.keyframeRequests ?? 0,
      lateTicks: this.traffic?.lateTicks ?? 0,
      viewersVideoIn: this.viewers.map((v) => v.videoIn),
      peersOnOurSrtp: all.filter((p) => p.onOurSrtp).length,
      peers: all.length,
      srtpDrops: { ...this.drops },
    };
  }

  async leave(): Promise<void> {
    this.traffic?.stop();
    await Promise.all([...this.viewers, ...(this.publisher ? [this.publisher] : [])].map((p) => p.leave()));
  }
}

async function handle(g: Generator, r: PeersRequest): Promise<PeersReply> {
  switch (r.op) {
    case 'join':
      return { id: r.id, ok: true, joined: await g.join(r) };
    case 'video':
      g.video(r.on);
      return { id: r.id, ok: true };
    case 'counters':
      return { id: r.id, ok: true, counters: g.counters() };
    case 'leave':
      await g.leave();
      return { id: r.id, ok: true };
  }
}

function main(): void {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('webrtc-peers runs as a child of the SRTP forwarding bench (IPC channel)\n');
    process.exit(2);
  }
  const g = new Generator();
  process.on('message', (m: PeersRequest) => {
    handle(g, m).then(
      (reply) => send(reply),
      (e: unknown) => send({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies PeersReply),
    );
  });
  const quit = (): void => {
    g.leave().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('disconnect', quit);
  process.on('SIGTERM', quit);
  const info = srtpEngineInfo();
  send({ ready: true, srtp: info.kind + (info.reason ? ` (${info.reason})` : '') } satisfies PeersReady);
}

main();
