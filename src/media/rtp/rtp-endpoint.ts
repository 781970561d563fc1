/**
 * One plain RTP/AVP (or SDES-keyed RTP/SAVP) media endpoint for a SIP participant: a bound
 * RTP/RTCP socket pair, symmetric RTP latching (NAT), SSRC locking, RTCP SR/RR/SDES/BYE, SRTP and
 * SRTCP when the SDP gave keys, and counters. The packet path is plain function calls and
 * counters: no event, log line, await or callback-bearing send per packet; keys are never logged.
 */
import net from 'node:net';
import crypto from 'node:crypto';
import { ConfnodeError, errorMessage, type Clock, type Logger, type TimerHandle } from '../../common';
import { RTP_HEADER_SIZE, emptyRtpView, isRtcp, parseRtpInto, writeRtpHeader, type RtpView } from './packet';
import { buildPli, keyframeRequestTarget } from './feedback';
import { buildRtcp, ntpFromUnixMs, ntpMiddle32, parseRtcp, type ReportBlock, type RtcpPacket } from './rtcp';
import { RtpReceiveStats, rttFromReportBlock } from './stats';
import type { PortAllocator, RtpSocketPair } from './port-allocator';
import type { RtpSocket } from './udp-io';
import { SrtpStream, type SrtpKeys } from './sdes';
import { RELATCH_SILENCE_MS, SourceLatch } from './source-latch';

export { RELATCH_SILENCE_MS };
/** A locked SSRC may be replaced by another only after this much silence (peer restarted). */
export const SSRC_SWITCH_SILENCE_MS = 500;

export type RtpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type RtpDropReason = 'wrong-source' | 'unknown-ssrc' | 'bad-pt' | 'malformed' | 'before-remote' | 'direction' | 'srtp-auth' | 'srtp-replay';

/** What the SDP of the peer says; `address` must be an IP literal ('0.0.0.0' = hold). */
export interface RtpRemote {
  address: string;
  /** 0 = stream rejected: send nothing. */
  rtpPort: number;
  /** From a=rtcp; default rtpPort + 1. */
  rtcpPort?: number;
  rtcpMux: boolean;
  /** Accepted payload types: audio codec PT, telephone-event PT (video PTs later). */
  payloadTypes: readonly number[];
  /** RTP clock rate for jitter and SR timestamps; default 8000. */
  clockRate?: number;
  /** SDES-SRTP keys (RTP/SAVP): everything both ways is SRTP/SRTCP; plain packets are refused. */
  srtp?: SrtpKeys;
}

export interface RtpEndpointOptions {
  address: string;
  allocator: PortAllocator;
  clock: Clock;
  logger: Logger;
  /** Mean RTCP report interval; default 5000 (RFC 3550 6.2 minimum). */
  rtcpIntervalMs?: number;
  /** SDES CNAME; default a random one. */
  cname?: string;
  /** Uniform [0,1) for the RTCP interval randomisation; default Math.random. */
  random?: () => number;
}

export interface RtpEndpointStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  rtcpDropped: number;
  dropped: Record<RtpDropReason, number>;
  /** Media is SRTP (SDES keys given). */
  srtp: boolean;
  /** SRTCP packets refused (authentication or replay); also counted in rtcpDropped. */
  srtcpRefused: number;
  socketErrors: number;
  callbackErrors: number;
  /** PLI/FIR received for our stream, and sent by requestKeyframe(). */
  keyframeRequestsIn: number;
  keyframeRequestsOut: number;
  localSsrc: number;
  remoteSsrc: number | null;
  latched: { address: string; port: number } | null;
  /** Of the current remote SSRC, RFC 3550 A.3/A.8. */
  lost: number;
  jitter: number;
  jitterMs: number;
  /** From the LSR/DLSR of the peer's last report block about us. */
  rttMs: number | null;
  /** What the peer last reported about our stream. */
  remoteReport: { fractionLost: number; cumulativeLost: number; jitter: number } | null;
}

const randomUint32 = (): number => crypto.randomBytes(4).readUInt32BE(0);

export class RtpEndpoint {
  readonly localAddress: string;
  readonly rtpPort: number;
  readonly rtcpPort: number;
  /** Our outgoing SSRC. */
  readonly ssrc: number;
  /**
   * Called synchronously for each accepted packet. The view object is reused for the next packet
   * (keep fields, not the view); its payload and buffer share the datagram's memory, which the
   * callee owns.
   */
  onRtp: ((pkt: RtpView, endpoint: RtpEndpoint) => void) | null = null;
  /** The remote asked us for a keyframe (RTCP PLI or FIR for our SSRC). Control rate. */
  onKeyframeRequest: ((endpoint: RtpEndpoint) => void) | null = null;

  private readonly pair: RtpSocketPair;
  /** Reused for every received packet and every sent header: nothing allocated per packet here. */
  private readonly view: RtpView = emptyRtpView();
  private readonly header = Buffer.alloc(RTP_HEADER_SIZE);
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly rtcpIntervalMs: number;
  private readonly cname: string;
  private readonly random: () => number;
  /** Unix ms minus clock ms, so NTP times (SR, RTT) follow the injected clock. */
  private readonly epochOffsetMs: number;

  private remote: RtpRemote | null = null;
  private srtp: SrtpStream | null = null;
  private srtcpRefused = 0;
  private clockRate = 8000;
  private readonly acceptedPt = new Uint8Array(128);
  private direction: RtpDirection = 'sendrecv';
  private hold = false;
  private readonly rtpLatch = new SourceLatch();
  private readonly rtcpLatch = new SourceLatch();
  private sendAddress = '';
  private sendPort = 0;

  private remoteSsrc = -1;
  private ssrcLastMs = 0;
  private ssrcOpen = true;
  private recv: RtpReceiveStats | null = null;

  private seq: number;
  private ts: number;
  private lastSentTs = 0;
  private lastSentMs = 0;
  private sentSinceReport = false;

  private packetsIn = 0;
  private bytesIn = 0;
  private packetsOut = 0;
  private bytesOut = 0;
  private payloadOctetsOut = 0;
  private rtcpIn = 0;
  private rtcpOut = 0;
  private rtcpDropped = 0;
  private readonly dropped: Record<RtpDropReason, number> = {
    'wrong-source': 0,
    'unknown-ssrc': 0,
    'bad-pt': 0,
    malformed: 0,
    'before-remote': 0,
    direction: 0,
    'srtp-auth': 0,
    'srtp-replay': 0,
  };
  private socketErrors = 0;
  private callbackErrors = 0;
  private keyframeRequestsIn = 0;
  private keyframeRequestsOut = 0;
  private rttMs: number | null = null;
  private remoteReport: RtpEndpointStats['remoteReport'] = null;

  private timer: TimerHandle | null = null;
  private closing: Promise<void> | null = null;

  static async open(opts: RtpEndpointOptions): Promise<RtpEndpoint> {
    const pair = await opts.allocator.allocate(opts.address);
    return new RtpEndpoint(pair, opts);
  }

  private constructor(pair: RtpSocketPair, opts: RtpEndpointOptions) {
    this.pair = pair;
    this.localAddress = pair.address;
    this.rtpPort = pair.rtpPort;
    this.rtcpPort = pair.rtcpPort;
    this.clock = opts.clock;
    this.logger = opts.logger.child({ rtpPort: pair.rtpPort });
    this.rtcpIntervalMs = opts.rtcpIntervalMs ?? 5000;
    this.cname = opts.cname ?? `confnode-${crypto.randomBytes(6).toString('hex')}`;
    this.random = opts.random ?? Math.random;
    this.epochOffsetMs = Date.now() - opts.clock.now();
    this.ssrc = randomUint32();
    this.seq = crypto.randomInt(0x10000);
    this.ts = randomUint32();
    pair.rtp.onMessage = this.onRtpSocketMessage;
    pair.rtcp.onMessage = this.onRtcpSocketMessage;
    pair.rtp.onError = this.onSocketError;
    pair.rtcp.onError = this.onSocketError;
    this.scheduleReport(0.5);
  }

  /** Sets or changes (re-INVITE) the peer; the next accepted packet may latch from anywhere. */
  setRemote(r: RtpRemote): void {
    if (net.isIP(r.address) === 0) throw new ConfnodeError('bad-request', `RTP address is not an IP: ${r.address}`);
    const badPort = (p: number): boolean => !Number.isInteger(p) || p < 0 || p > 65535;
    if (badPort(r.rtpPort) || (r.rtcpPort !== undefined && badPort(r.rtcpPort))) {
      throw new ConfnodeError('bad-request', `bad RTP port ${r.rtpPort}/${String(r.rtcpPort)}`);
    }
    // Before any state changes: malformed keys leave the endpoint as it was.
    const srtp = r.srtp ? SrtpStream.create(r.srtp, this.srtp) : null;
    const prev = this.remote;
    const moved = !prev || prev.address !== r.address || prev.rtpPort !== r.rtpPort || prev.rtcpPort !== r.rtcpPort;
    this.srtp = srtp;
    this.remote = { ...r, payloadTypes: [...r.payloadTypes], ...(r.srtp ? { srtp: { ...r.srtp } } : {}) };
    this.clockRate = r.clockRate ?? 8000;
    this.acceptedPt.fill(0);
    for (const pt of r.payloadTypes) if (pt >= 0 && pt < 128) this.acceptedPt[pt] = 1;
    this.hold = r.address === '0.0.0.0' || r.address === '::' || r.rtpPort === 0;
    for (const latch of [this.rtpLatch, this.rtcpLatch]) {
      // A new SDP address is where to send until the peer's media shows where it really is.
      if (moved) latch.clear();
      else latch.open = true;
    }
    this.ssrcOpen = true;
    this.updateSendTarget();
  }

  setDirection(direction: RtpDirection): void {
    this.direction = direction;
  }

  /** The timestamp the next sendRtp() will carry (for RFC 4733 events that start "now"). */
  get timestamp(): number {
    return this.ts;
  }

  /** Advances the timeline without sending (silence suppressed, or time spent sending events). */
  skipTimestamp(step: number): void {
    this.ts = (this.ts + step) >>> 0;
  }

  /** Sends one packet stamped with our timeline, then advances it by `timestampStep`. */
  sendRtp(payloadType: number, payload: Buffer, timestampStep: number, marker = false): boolean {
    const ts = this.ts;
    this.ts = (ts + timestampStep) >>> 0;
    return this.transmit(payloadType, payload, ts, marker);
  }

  /** Sends one packet with an explicit timestamp (RFC 4733 events); the timeline is unchanged. */
  sendRtpRaw(payloadType: number, payload: Buffer, timestamp: number, marker: boolean): boolean {
    return this.transmit(payloadType, payload, timestamp >>> 0, marker);
  }

  stats(): RtpEndpointStats {
    const recv = this.recv;
    return {
      packetsIn: this.packetsIn,
      bytesIn: this.bytesIn,
      packetsOut: this.packetsOut,
      bytesOut: this.bytesOut,
      rtcpIn: this.rtcpIn,
      rtcpOut: this.rtcpOut,
      rtcpDropped: this.rtcpDropped,
      dropped: { ...this.dropped },
      srtp: this.srtp !== null,
      srtcpRefused: this.srtcpRefused,
      socketErrors: this.socketErrors,
      callbackErrors: this.callbackErrors,
      keyframeRequestsIn: this.keyframeRequestsIn,
      keyframeRequestsOut: this.keyframeRequestsOut,
      localSsrc: this.ssrc,
      remoteSsrc: this.remoteSsrc < 0 ? null : this.remoteSsrc,
      latched: this.rtpLatch.address === null ? null : { address: this.rtpLatch.address, port: this.rtpLatch.port },
      lost: recv ? recv.lost : 0,
      jitter: recv ? recv.jitter : 0,
      jitterMs: recv ? recv.jitterMs : 0,
      rttMs: this.rttMs,
      remoteReport: this.remoteReport && { ...this.remoteReport },
    };
  }

  /** Accepted RTP packets (what stats() counts as packetsIn), without building a stats object. */
  get packetsReceived(): number {
    return this.packetsIn;
  }

  get packetsSent(): number {
    return this.packetsOut;
  }

  /** Accepted RTCP compound packets: a phone that sends no RTP (silence suppression) still sends these. */
  get rtcpReceived(): number {
    return this.rtcpIn;
  }

  /** RTP packets dropped for any reason (the sum of stats().dropped). */
  get packetsDiscarded(): number {
    const d = this.dropped;
    return d['wrong-source'] + d['unknown-ssrc'] + d['bad-pt'] + d.malformed + d['before-remote'] + d.direction + d['srtp-auth'] + d['srtp-replay'];
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Sends RTCP BYE, closes both sockets and frees the ports. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.onRtp = null;
    const target = this.rtcpTarget();
    if (target) {
      const bye = buildRtcp([this.makeReport(), { type: 'bye', ssrcs: [this.ssrc] }]);
      // release() sends what is queued before it closes the sockets.
      target.socket.send(this.protectRtcp(bye), target.port, target.address);
      this.rtcpOut++;
    }
    await this.pair.release();
  }

  // ---------------------------------------------------------------- receive path

  private readonly onRtpSocketMessage = (data: Buffer, address: string, port: number): void => {
    // RFC 5761: demultiplex on every packet; RTP payload types 64-95 are never negotiated.
    if (isRtcp(data)) {
      this.handleRtcp(data, address, port, true);
      return;
    }
    if (this.remote === null) {
      this.dropped['before-remote']++;
      return;
    }
    let msg = data;
    const srtp = this.srtp;
    if (srtp !== null) {
      // Authenticated before anything else: without the key a packet can latch or lock nothing.
      const plain = srtp.rx.unprotectRtp(data);
      if (typeof plain === 'string') {
        this.dropped[plain === 'replay' ? 'srtp-replay' : plain === 'auth' ? 'srtp-auth' : 'malformed']++;
        return;
      }
      msg = plain;
    }
    const pkt = this.view;
    if (!parseRtpInto(msg, pkt)) {
      this.dropped.malformed++;
      return;
    }
    if (this.acceptedPt[pkt.payloadType] !== 1) {
      this.dropped['bad-pt']++;
      return;
    }
    const now = this.clock.now();
    const latched = this.rtpLatch.accept(address, port, now);
    if (latched < 0) {
      this.dropped['wrong-source']++;
      return;
    }
    if (latched > 0) {
      this.ssrcOpen = true; // a new source is a new stream
      this.updateSendTarget();
    }
    if (pkt.ssrc !== this.remoteSsrc && !this.switchSsrc(pkt.ssrc, now)) {
      this.dropped['unknown-ssrc']++;
      return;
    }
    this.ssrcLastMs = now;
    this.packetsIn++;
    this.bytesIn += msg.length;
    this.recv?.update(pkt.sequence, pkt.timestamp, now);
    if (this.direction === 'sendonly' || this.direction === 'inactive') {
      this.dropped.direction++;
      return;
    }
    const cb = this.onRtp;
    if (cb === null) return;
    try {
      cb(pkt, this);
    } catch (err) {
      if (this.callbackErrors++ === 0) this.logger.error({ err: errorMessage(err) }, 'onRtp callback threw');
    }
  };

  private switchSsrc(ssrc: number, now: number): boolean {
    if (this.remoteSsrc >= 0 && !this.ssrcOpen && now - this.ssrcLastMs < SSRC_SWITCH_SILENCE_MS) return false;
    this.remoteSsrc = ssrc;
    this.ssrcOpen = false;
    this.recv = new RtpReceiveStats({ clockRate: this.clockRate });
    return true;
  }

  private readonly onRtcpSocketMessage = (msg: Buffer, address: string, port: number): void => {
    this.handleRtcp(msg, address, port, false);
  };

  private handleRtcp(data: Buffer, address: string, port: number, muxed: boolean): void {
    if (this.remote === null) {
      this.rtcpDropped++;
      return;
    }
    let msg = data;
    if (this.srtp !== null) {
      const plain = this.srtp.rx.unprotectRtcp(data);
      if (typeof plain === 'string') {
        this.rtcpDropped++;
        this.srtcpRefused++;
        return;
      }
      msg = plain;
    }
    if (!this.acceptRtcpSource(address, port, muxed)) {
      this.rtcpDropped++;
      return;
    }
    const packets = parseRtcp(msg);
    if (packets.length === 0) {
      this.rtcpDropped++;
      return;
    }
    this.rtcpIn++;
    const now = this.clock.now();
    for (const p of packets) this.applyRtcp(p, now);
  }

  /** Muxed RTCP must come from the latched RTP source; separate RTCP latches on its own port. */
  private acceptRtcpSource(address: string, port: number, muxed: boolean): boolean {
    const rtp = this.rtpLatch;
    if (muxed) return rtp.address === address && rtp.port === port;
    if (rtp.address !== null && rtp.address !== address) return false;
    const latched = this.rtcpLatch.accept(address, port, this.clock.now());
    if (latched > 0) this.updateSendTarget();
    return latched >= 0;
  }

  private applyRtcp(p: RtcpPacket, now: number): void {
    if (p.type === 'unknown') {
      const target = keyframeRequestTarget(p, this.ssrc);
      // Some endpoints send media SSRC 0 in a PLI: it can only mean our stream.
      if (target !== undefined && (target === this.ssrc || target === 0)) {
        this.keyframeRequestsIn++;
        const cb = this.onKeyframeRequest;
        if (cb) {
          try {
            cb(this);
          } catch (err) {
            if (this.callbackErrors++ === 0) this.logger.error({ err: errorMessage(err) }, 'onKeyframeRequest callback threw');
          }
        }
      }
      return;
    }
    if (p.type === 'sr' || p.type === 'rr') {
      if (p.type === 'sr' && p.ssrc === this.remoteSsrc) this.recv?.onSenderReport(p.ntpSec, p.ntpFrac, now);
      for (const block of p.reports) if (block.ssrc === this.ssrc) this.applyReportBlock(block, now);
    } else if (p.type === 'bye' && p.ssrcs.includes(this.remoteSsrc)) {
      this.ssrcOpen = true; // the stream ended; a new SSRC may take over at once
    }
  }

  private applyReportBlock(block: ReportBlock, now: number): void {
    this.remoteReport = {
      fractionLost: block.fractionLost / 256,
      cumulativeLost: block.cumulativeLost,
      jitter: block.jitter,
    };
    const ntp = ntpFromUnixMs(now + this.epochOffsetMs);
    const rtt = rttFromReportBlock(block, ntpMiddle32(ntp.sec, ntp.frac));
    if (rtt !== undefined) this.rttMs = rtt;
  }

  private readonly onSocketError = (err: Error): void => {
    if (this.socketErrors++ === 0) this.logger.warn({ err: errorMessage(err) }, 'RTP socket error (logged once)');
  };

  // ---------------------------------------------------------------- send path

  private updateSendTarget(): void {
    const r = this.remote;
    if (r === null || this.hold) {
      this.sendPort = 0;
      return;
    }
    const latch = this.rtpLatch;
    this.sendAddress = latch.address ?? r.address;
    this.sendPort = latch.address === null ? r.rtpPort : latch.port;
  }

  private transmit(payloadType: number, payload: Buffer, timestamp: number, marker: boolean): boolean {
    if (this.sendPort === 0 || this.closing !== null) return false;
    if (this.direction === 'recvonly' || this.direction === 'inactive') return false;
    writeRtpHeader(this.header, 0, payloadType, marker, this.seq, timestamp, this.ssrc);
    this.seq = (this.seq + 1) & 0xffff;
    const srtp = this.srtp;
    if (srtp === null) this.pair.rtp.sendParts(this.header, payload, this.sendPort, this.sendAddress);
    else this.pair.rtp.send(srtp.tx.protectRtpParts(this.header, payload), this.sendPort, this.sendAddress);
    this.packetsOut++;
    this.bytesOut += RTP_HEADER_SIZE + payload.length;
    this.payloadOctetsOut += payload.length;
    this.lastSentTs = timestamp;
    this.lastSentMs = this.clock.now();
    this.sentSinceReport = true;
    return true;
  }

  private rtcpTarget(): { socket: RtpSocket; address: string; port: number } | null {
    const r = this.remote;
    if (r === null || this.hold) return null;
    if (r.rtcpMux) return this.sendPort === 0 ? null : { socket: this.pair.rtp, address: this.sendAddress, port: this.sendPort };
    const latch = this.rtcpLatch;
    if (latch.address !== null) return { socket: this.pair.rtcp, address: latch.address, port: latch.port };
    return { socket: this.pair.rtcp, address: r.address, port: r.rtcpPort ?? r.rtpPort + 1 };
  }

  /** RFC 3550 6.2: interval randomised over [0.5, 1.5] x the mean; the first one shorter. */
  private scheduleReport(factor = 1): void {
    const delay = this.rtcpIntervalMs * factor * (0.5 + this.random());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.closing !== null) return;
      this.sendReport();
      this.scheduleReport();
    }, delay);
  }

  /**
   * Asks the remote for a keyframe (RFC 4585 PLI in a compound with an empty RR). Throttling is
   * the caller's business: a video switch and a new viewer each call this once.
   */
  requestKeyframe(): boolean {
    const target = this.rtcpTarget();
    if (!target || this.remoteSsrc < 0) return false;
    const buf = buildRtcp([{ type: 'rr', ssrc: this.ssrc, reports: [] }, buildPli(this.ssrc, this.remoteSsrc)]);
    target.socket.send(this.protectRtcp(buf), target.port, target.address);
    this.rtcpOut++;
    this.keyframeRequestsOut++;
    return true;
  }

  private sendReport(): void {
    const target = this.rtcpTarget();
    if (!target) return;
    const buf = buildRtcp([this.makeReport(), { type: 'sdes', chunks: [{ ssrc: this.ssrc, cname: this.cname }] }]);
    target.socket.send(this.protectRtcp(buf), target.port, target.address);
    this.rtcpOut++;
  }

  /** SRTCP when the stream is keyed (RFC 3711 3.4: every RTCP packet is authenticated). */
  private protectRtcp(buf: Buffer): Buffer {
    return this.srtp === null ? buf : this.srtp.tx.protectRtcp(buf);
  }

  /** SR when we sent RTP since the last report, else RR; one block about the remote SSRC. */
  private makeReport(): RtcpPacket {
    const now = this.clock.now();
    const reports = this.recv && this.remoteSsrc >= 0 ? [this.recv.makeReportBlock(this.remoteSsrc, now)] : [];
    if (!this.sentSinceReport) return { type: 'rr', ssrc: this.ssrc, reports };
    this.sentSinceReport = false;
    const ntp = ntpFromUnixMs(now + this.epochOffsetMs);
    const elapsedUnits = Math.round(((now - this.lastSentMs) * this.clockRate) / 1000);
    return {
      type: 'sr',
      ssrc: this.ssrc,
      ntpSec: ntp.sec,
      ntpFrac: ntp.frac,
      rtpTimestamp: (this.lastSentTs + elapsedUnits) >>> 0,
      packetCount: this.packetsOut >>> 0,
      octetCount: this.payloadOctetsOut >>> 0,
      reports,
    };
  }
}
