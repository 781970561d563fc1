/**
 * WebRtcEndpoint: one browser's werift RTCPeerConnection. The browser offers first (its own
 * tracks); afterwards we add a sendonly m-line per other participant's stream and renegotiate by
 * offering, one offer in flight at a time, changes made meanwhile coalesced into the next one.
 * We are the impolite peer: a browser offer while ours awaits its answer is refused. How long
 * the browser may take to answer is the signaling session's call, not ours: only it knows whether
 * the browser's socket was up meanwhile (browser-session.ts). Never forwards media itself (the
 * SFU does) and never awaits anything per packet.
 *
 * ICE that fails after it once connected (consent expired: the browser's answers to our checks
 * stopped for 30 s, e.g. its network changed or a busy machine starved it) is restarted from our
 * side: the next offer carries new ICE credentials (RFC 8445 9), the browser answers and the
 * checks run again on the same DTLS session. The call ends only if ICE is not back within
 * connectTimeoutMs of the failure (an unanswered restart offer included).
 */
import {
  MediaStream,
  PictureLossIndication,
  RTCPeerConnection,
  RTCRtpHeaderExtensionParameters,
  RtcpPayloadSpecificFeedback,
  type MediaStreamTrack,
  type RTCRtpTransceiver,
  type RtcpPacket,
  type RtpPacket,
} from 'werift';
import { ConfnodeError, TypedEmitter, errorMessage, type Clock, type Logger, type ParticipantId, type TimerHandle } from '../../common';
import { AUDIO_LEVEL_URI, audioLevelOf, bundleHeaderExtensionIds, dropMdnsCandidates, noStunQuery, peerConfig, preferOpusDtx, type VideoCodecName } from './codecs';
import { tolerateLateConsentAnswers } from './consent';
import { startDtlsAtOnce } from './dtls-start';
import { SendTrack, type MediaKind, type SendCounters } from './send-track';
import { useOurSrtpOnConnect, type SrtpDrops } from './srtp-session';

/** Set once for the process, before any peer connection exists (see consent.ts). */
const consentTolerant = tolerateLateConsentAnswers();
let consentWarned = false;

export interface WebRtcEndpointOptions {
  participant: ParticipantId;
  videoCodec: VideoCodecName;
  /** Address of the one host candidate we offer (127.0.0.1 on loopback). */
  address: string;
  /** Behind NAT: the candidate says this address while the socket stays bound to `address`. */
  announceAddress?: string;
  clock: Clock;
  logger: Logger;
  icePortRange?: [number, number];
  /** How long ICE/DTLS may take to connect after our first answer, or stay disconnected (default 20 s). */
  connectTimeoutMs?: number;
}

/** A stream the browser sends us. Its Source (browser-media.ts) sets `onRtp`. */
export interface PublishedTrack {
  readonly kind: MediaKind;
  /** Negotiated codec of the stream, lower case (`audio/opus`, `video/vp8`). */
  readonly mime: string;
  /** RTP clock rate of that codec. */
  readonly clockRate: number;
  /** `level`: the packet's RFC 6464 audio level (127: digital silence), -1 without one (audio only). */
  onRtp: ((pkt: RtpPacket, level: number) => void) | null;
  requestKeyframe(): void;
}

export type WebRtcEndpointEvents = {
  /** Our (re)offer for the browser; its answer goes to acceptAnswer(). */
  offer: [sdp: string];
  /** ICE/DTLS failed, the browser did not answer in time, or negotiation broke. */
  failed: [reason: string];
  /** The browser started sending a stream. */
  track: [track: PublishedTrack];
  /** ICE restarts: offered by us after ICE failed ('node'), or asked for by the browser's offer. */
  iceRestart: [by: 'node' | 'browser'];
  /** ICE connected again after a restart. */
  iceReconnected: [];
};

export interface WebRtcEndpointStats {
  packetsIn: number;
  packetsOut: number;
  /** Of packetsOut, those our own send path carried (fast-send.ts). */
  packetsFast: number;
  packetsDropped: number;
  sendErrors: number;
}


/** RFC 5104 4.3.1: FIR is payload-specific feedback FMT 4. */
const FIR_FMT = 4;

export class WebRtcEndpoint extends TypedEmitter<WebRtcEndpointEvents> {
  readonly participant: ParticipantId;
  private readonly pc: RTCPeerConnection;
  private readonly log: Logger;
  private readonly counters: SendCounters = { packetsOut: 0, packetsFast: 0, fastDeclined: { state: 0, srtp: 0, consent: 0, socket: 0 }, dropped: 0, sendErrors: 0 };
  /** Packets our SRTP contexts refused (srtp-session.ts). */
  private readonly srtpDrops: SrtpDrops = { auth: 0, replay: 0, malformed: 0 };
  private srtpWarned = false;
  private packetsIn = 0;
  private emptyIn = 0;
  private readonly sendTracks = new Set<SendTrack>();
  /** Our send SSRC -> its track, to map a viewer's PLI/FIR to the source it wants a keyframe of. */
  private readonly bySendSsrc = new Map<number, SendTrack>();
  /** Tracks waiting for an m-line, and m-lines waiting to be stopped, in the next offer. */
  private readonly toAdd: SendTrack[] = [];
  private readonly toStop: RTCRtpTransceiver[] = [];
  /** Video tracks whose m-line is in the offer in flight: they want a keyframe once answered. */
  private awaitingKeyframe: SendTrack[] = [];
  private answeredFirstOffer = false;
  private applyingOffer = false;
  private offerInFlight = false;
  /** The next offer restarts ICE (new ufrag/pwd). */
  private iceRestartWanted = false;
  /** ICE failed and has not reconnected yet. */
  private restarting = false;
  private iceRestarts = 0;
  private failed = false;
  private negotiationScheduled = false;
  private readonly keyframesOnConnect = new Set<() => void>();
  /** Runs while we wait for the connection (after the first answer, or after a disconnect). */
  private connectTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: WebRtcEndpointOptions) {
    super((err, event) => opts.logger.error({ event: String(event), err: errorMessage(err) }, 'webrtc endpoint listener failed'));
    this.participant = opts.participant;
    this.log = opts.logger;
    if (!consentTolerant && !consentWarned) {
      consentWarned = true;
      this.log.warn({ werift: 'iceBase' }, 'werift consent answer wait not found: slow browsers may lose ICE consent after 30 s');
    }
    this.pc = new RTCPeerConnection(
      peerConfig({ address: opts.address, announceAddress: opts.announceAddress, videoCodec: opts.videoCodec, icePortRange: opts.icePortRange }),
    );
    this.pc.onTrack.subscribe((track) => this.onRemoteTrack(track));
    this.pc.onRemoteTransceiverAdded.subscribe((t) => this.watchFeedback(t));
    // ICE failing after it once connected is restarted (see the header). werift reports the ICE
    // state here; its connectionState says 'connected' again as soon as a restart begins (DTLS is
    // still up), so only the ICE state says when a restart has reconnected.
    this.pc.iceConnectionStateChange.subscribe((state) => {
      if (state === 'failed') this.restartIce();
      if (state === 'connected' && this.restarting) {
        this.restarting = false;
        this.log.info({ iceRestarts: this.iceRestarts }, 'ICE reconnected');
        this.emit('iceReconnected');
        this.connectTimer?.cancel();
        this.connectTimer = undefined;
        this.flushOnConnect();
      }
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' && this.pc.iceConnectionState !== 'failed') this.fail('ICE/DTLS connection failed');
      if (state === 'disconnected') this.expectConnection('ICE connection lost');
      if (state === 'connected') this.flushOnConnect();
    });
  }

  /**
   * Media can flow: ICE and every DTLS transport connected. werift's connectionState alone is not
   * enough: it says 'connected' when a later negotiation finds ICE up while the first DTLS
   * handshake still runs, and its senders drop what they get until that handshake is done (a new
   * viewer's keyframes were lost that way, issue 13 item 3).
   */
  private get mediaUp(): boolean {
    return this.pc.connectionState === 'connected' && this.pc.dtlsTransports.every((t) => t.state === 'connected');
  }

  /** Transports new since the last call: our SRTP when DTLS connects (then flushOnConnect), DTLS started at once. */
  private watchTransports(): void {
    useOurSrtpOnConnect(this.pc, this.srtpDrops, this.weriftSrtp, this.flushOnConnect);
    startDtlsAtOnce(this.pc.dtlsTransports);
  }

  /** Once media is up, the connect timer ends and what waited for it (keyframe requests, PLIs) goes. */
  private readonly flushOnConnect = (): void => {
    if (this.restarting || !this.mediaUp) return;
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    const pending = [...this.keyframesOnConnect];
    this.keyframesOnConnect.clear();
    for (const send of pending) send();
  };

  get closed(): boolean {
    return this.closing !== undefined;
  }

  private readonly weriftSrtp = (): void => {
    if (this.srtpWarned) return;
    this.srtpWarned = true;
    this.log.info({ srtp: 'werift' }, 'DTLS negotiated an SRTP profile other than AES_CM_128_HMAC_SHA1_80: werift protects this transport');
  };

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /** The browser's offer (first or later); resolves with our answer. */
  async acceptOffer(sdp: string): Promise<string> {
    this.assertOpen();
    if (this.offerInFlight) {
      throw new ConfnodeError('busy', 'the server offer awaits its answer: answer it first (the server is the impolite peer)');
    }
    if (this.applyingOffer) throw new ConfnodeError('busy', 'a browser offer is being applied');
    this.applyingOffer = true;
    let local: string | undefined;
    try {
      await this.applyRemote('offer', sdp);
      const answer = await this.pc.createAnswer();
      noStunQuery(this.pc);
      this.watchTransports();
      await this.pc.setLocalDescription(answer);
      local = this.pc.localDescription?.sdp;
    } finally {
      this.applyingOffer = false;
    }
    if (!local) throw new ConfnodeError('internal', 'werift produced no local answer');
    this.startRestartedIce();
    local = preferOpusDtx(local);
    if (!this.answeredFirstOffer) this.expectConnection('ICE/DTLS did not connect');
    this.answeredFirstOffer = true;
    for (const t of this.sendTracks) t.renegotiated();
    // Scheduled, so our answer reaches the caller first: an offer must never overtake it.
    this.negotiate();
    return local;
  }

  /** The browser's answer to our last offer event. */
  async acceptAnswer(sdp: string): Promise<void> {
    this.assertOpen();
    if (!this.offerInFlight) throw new ConfnodeError('bad-request', 'no server offer awaits an answer');
    await this.applyRemote('answer', sdp);
    this.offerInFlight = false;
    this.startRestartedIce();
    for (const t of this.sendTracks) t.renegotiated();
    const fresh = this.awaitingKeyframe;
    this.awaitingKeyframe = [];
    for (const t of fresh) {
      const ask = (): void => {
        if (!t.closed) t.askFirstKeyframe(this.opts.clock.now());
      };
      // A new viewer's keyframe is asked for once its DTLS is up: one that arrived before would be
      // dropped by werift, and the throttle would hold the next request back (issue 13 item 3).
      if (this.mediaUp) ask();
      else this.keyframesOnConnect.add(ask);
    }
    this.negotiate();
  }

  /**
   * The browser's description, as werift takes it. werift refuses SDP it cannot use with plain
   * Errors and TypeErrors ("m line not found", a missing rtpmap): those are the browser's fault
   * (bad-request, what the page is told), not ours (internal).
   */
  private async applyRemote(type: 'offer' | 'answer', sdp: string): Promise<void> {
    try {
      await this.pc.setRemoteDescription({ type, sdp: dropMdnsCandidates(sdp) });
    } catch (err) {
      throw new ConfnodeError('bad-request', `the browser's ${type} cannot be used: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * A stream of another participant for this browser: its m-line (msid `<streamId> <trackId>`)
   * comes with the next offer. Close the returned track to remove the m-line again.
   */
  addSendTrack(kind: MediaKind, streamId: string): SendTrack {
    this.assertOpen();
    const track = new SendTrack(kind, streamId, this.counters, (t) => this.releaseSendTrack(t));
    this.sendTracks.add(track);
    this.toAdd.push(track);
    this.negotiate();
    return track;
  }

  stats(): WebRtcEndpointStats {
    return {
      packetsIn: this.packetsIn,
      packetsOut: this.counters.packetsOut,
      packetsFast: this.counters.packetsFast,
      packetsDropped: this.counters.dropped + this.emptyIn + this.srtpDrops.auth + this.srtpDrops.replay + this.srtpDrops.malformed,
      sendErrors: this.counters.sendErrors,
    };
  }

  /** Idempotent; closes every send track and the peer connection. */
  close(): Promise<void> {
    if (!this.closing) {
      this.connectTimer?.cancel();
      for (const t of [...this.sendTracks]) t.close();
      const st = this.stats();
      this.log.info(
        {
          packetsIn: st.packetsIn,
          packetsOut: st.packetsOut,
          packetsFast: st.packetsFast,
          fastDeclined: this.counters.fastDeclined,
          packetsDropped: st.packetsDropped,
          srtpRefused: this.srtpDrops,
        },
        'browser media closed',
      );
      this.toAdd.length = 0;
      this.toStop.length = 0;
      this.removeAllListeners();
      this.closing = this.pc.close().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'peer connection close failed'));
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new ConfnodeError('closed', `webrtc endpoint of ${this.participant} is closed`);
  }

  private releaseSendTrack(track: SendTrack): void {
    if (!this.sendTracks.delete(track)) return;
    if (track.transceiver) this.bySendSsrc.delete(track.transceiver.sender.ssrc);
    const pending = this.toAdd.indexOf(track);
    if (pending >= 0) {
      this.toAdd.splice(pending, 1);
      return;
    }
    if (track.transceiver && !this.closing) {
      this.toStop.push(track.transceiver);
      this.negotiate();
    }
  }

  /**
   * Starts an offer when there is something to say and nothing in flight, on a later turn of the
   * event loop so that every change made in this one (a browser's audio and video) shares it.
   */
  private negotiate(): void {
    if (this.negotiationScheduled) return;
    this.negotiationScheduled = true;
    setImmediate(() => {
      this.negotiationScheduled = false;
      this.startOffer();
    });
  }

  private startOffer(): void {
    if (this.closing || !this.answeredFirstOffer || this.applyingOffer || this.offerInFlight) return;
    if (this.toAdd.length === 0 && this.toStop.length === 0 && !this.iceRestartWanted) return;
    this.offerInFlight = true;
    this.sendOffer().catch((err: unknown) => this.fail(`renegotiation failed: ${errorMessage(err)}`));
  }

  private async sendOffer(): Promise<void> {
    for (const transceiver of this.toStop.splice(0)) transceiver.stop();
    for (const track of this.toAdd.splice(0)) {
      const transceiver = this.pc.addTransceiver(track.kind, { direction: 'sendonly', streams: [new MediaStream({ id: track.streamId })] });
      track.transceiver = transceiver;
      // werift numbers a new m-line's header extensions 1..n; under BUNDLE they must keep the ids
      // the browser's offer set up (Chromium refuses "a codec collision for header extension").
      const inUse = this.pc.getTransceivers().flatMap((t) => (t === transceiver ? [] : t.headerExtensions));
      const wanted = this.pc.config.headerExtensions[track.kind] ?? [];
      transceiver.headerExtensions = bundleHeaderExtensionIds(wanted, inUse).map((e) => new RTCRtpHeaderExtensionParameters(e));
      this.bySendSsrc.set(transceiver.sender.ssrc, track);
      this.watchFeedback(transceiver);
      if (track.kind === 'video') this.awaitingKeyframe.push(track);
    }
    const iceRestart = this.iceRestartWanted;
    this.iceRestartWanted = false;
    const offer = await this.pc.createOffer({ iceRestart });
    noStunQuery(this.pc);
    this.watchTransports();
    await this.pc.setLocalDescription(offer);
    const sdp = this.pc.localDescription?.sdp;
    if (this.closing) return;
    if (!sdp) throw new ConfnodeError('internal', 'werift produced no local offer');
    this.emit('offer', sdp);
  }

  /**
   * werift 0.25.2 routes a PLI/FIR to whatever registered its *sender* SSRC first (router.js
   * routeRtcp), which is one of our receivers when the viewer's RTCP SSRC is the SSRC it sends
   * with (Chromium does that): sender.onPictureLossIndication then never fires. So we read
   * PSFB on every sender and receiver and map the media SSRC (FIR: the FCI entries) ourselves.
   */
  private watchFeedback(transceiver: RTCRtpTransceiver): void {
    const handler = (p: RtcpPacket): void => this.onFeedback(p);
    const subs = [transceiver.sender.onRtcp.subscribe(handler), transceiver.receiver.onRtcp.subscribe(handler)];
    transceiver.onRelease.subscribe(() => {
      for (const s of subs) s.unSubscribe();
    });
  }

  private onFeedback(p: RtcpPacket): void {
    if (!(p instanceof RtcpPayloadSpecificFeedback)) return;
    const fb = p.feedback;
    if (fb instanceof PictureLossIndication) {
      this.bySendSsrc.get(fb.mediaSsrc)?.viewerAsked(this.opts.clock.now());
    } else if (fb.count === FIR_FMT) {
      // FullIntraRequest is not exported by werift: read its FCI entries by shape.
      const entries = (fb as { fir?: unknown }).fir;
      if (!Array.isArray(entries)) return;
      for (const entry of entries as Array<{ ssrc?: unknown }>) {
        if (typeof entry.ssrc === 'number') this.bySendSsrc.get(entry.ssrc)?.viewerAsked(this.opts.clock.now());
      }
    }
  }

  private onRemoteTrack(track: MediaStreamTrack): void {
    const transceiver = this.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
    if (!transceiver || this.closing) return;
    const kind: MediaKind = track.kind === 'video' ? 'video' : 'audio';
    const fallback = kind === 'audio' ? 'audio/opus' : `video/${this.opts.videoCodec.toLowerCase()}`;
    const receiver = transceiver.receiver;
    const published: PublishedTrack = {
      kind,
      mime: (track.codec?.mimeType ?? fallback).toLowerCase(),
      clockRate: track.codec?.clockRate ?? (kind === 'audio' ? 48000 : 90000),
      onRtp: null,
      requestKeyframe: () => {
        if (track.ssrc === undefined || this.closing) return;
        const ssrc = track.ssrc;
        const send = (): void => {
          receiver.sendRtcpPLI(ssrc).catch(() => undefined);
        };
        // A PLI before DTLS is up cannot be encrypted and is lost: send it once connected.
        if (this.mediaUp) send();
        else this.keyframesOnConnect.add(send);
      },
    };
    // The audio-level extension id is known once the offer with this m-line was applied.
    let levelId = -1;
    track.onReceiveRtp.subscribe((pkt) => {
      this.packetsIn++;
      // Padding-only packets are bandwidth probes for this hop: never forwarded.
      if (pkt.payload.length === 0) {
        this.emptyIn++;
        return;
      }
      if (levelId < 0) levelId = kind === 'audio' ? (transceiver.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id ?? 0) : 0;
      published.onRtp?.(pkt, audioLevelOf(pkt.header.extensions, levelId));
    });
    this.log.info({ kind, mime: published.mime, ssrc: track.ssrc }, 'browser track');
    this.emit('track', published);
  }

  /**
   * ICE failed after it had connected: offer new ICE credentials (a browser that is still there
   * answers and reconnects; one that is gone never does, and the deadline ends the call).
   */
  private restartIce(): void {
    if (this.closing || this.failed) return;
    if (!this.answeredFirstOffer || !this.pc.dtlsTransports.some((t) => t.state === 'connected')) {
      this.fail('ICE/DTLS connection failed');
      return;
    }
    this.restarting = true;
    this.expectConnection('ICE restart did not reconnect');
    if (this.iceRestartWanted) return;
    this.iceRestarts++;
    this.iceRestartWanted = true;
    this.log.warn({ iceRestarts: this.iceRestarts }, 'ICE failed (no answers from the browser): restarting ICE');
    this.emit('iceRestart', 'node');
    this.negotiate();
  }

  /**
   * werift 0.25 runs no connectivity checks after an ICE restart (either side's) while DTLS is
   * up: its connect() returns early on a connected DTLS transport. Start them here, once both
   * sides' new credentials are known.
   */
  private startRestartedIce(): void {
    const byBrowser = !this.restarting;
    for (const dtls of this.pc.dtlsTransports) {
      const ice = dtls.iceTransport;
      // After a restart werift's ICE state is 'new', or 'completed' once it gathered (its word for
      // gathering done); 'checking'/'connected' mean checks run or ran.
      if (dtls.state !== 'connected' || (ice.state !== 'new' && ice.state !== 'completed') || !ice.connection.remoteUsername) continue;
      this.restarting = true;
      if (byBrowser) {
        this.log.info({}, 'ICE restart asked for by the browser');
        this.emit('iceRestart', 'browser');
      }
      this.expectConnection('ICE restart did not reconnect');
      ice.start().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'ICE checks after restart failed'));
    }
  }

  /** Fails the endpoint unless the connection is (back) up in time. */
  private expectConnection(reason: string): void {
    if (this.connectTimer || this.closing) return;
    const ms = this.opts.connectTimeoutMs ?? 20000;
    this.connectTimer = this.opts.clock.setTimeout(() => {
      this.connectTimer = undefined;
      if (this.restarting || !this.mediaUp) this.fail(`${reason} within ${ms} ms`);
    }, ms);
  }

  private fail(reason: string): void {
    if (this.closing || this.failed) return;
    this.failed = true;
    this.log.warn({ reason }, 'webrtc endpoint failed');
    this.emit('failed', reason);
  }
}
