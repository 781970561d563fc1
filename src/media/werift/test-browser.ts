/**
 * Test support only: a werift peer connection that plays a browser against a MediaService
 * (offers first, answers the server's renegotiation offers, sends Opus and video, records what it
 * receives per remote stream id). Never used by production code.
 */
import {
  MediaStream,
  MediaStreamTrack,
  PictureLossIndication,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  RtpHeader,
  RtpPacket,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift';
import type { ParticipantId } from '../../common';
import type { MediaConferenceRef, MediaService } from '../service';
import { createAudioCodec } from '../codecs/codec';
import { sineTone } from '../codecs/tone';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from '../codecs/types';
import { noStunQuery, peerConfig, type VideoCodecName } from './codecs';

export interface ReceivedStream {
  audio: RtpPacket[];
  video: RtpPacket[];
  transceivers: RTCRtpTransceiver[];
  /** SSRCs the remote video arrives with (for PLI towards it). */
  videoSsrc: number | undefined;
}

/** Polls until `cond` holds; bounded so a broken path fails instead of hanging. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A synthetic video payload that carries its sequence number, so forwarding can be checked byte for byte. */
export function videoPayload(seq: number): Buffer {
  const b = Buffer.alloc(300, seq & 0xff);
  b.writeUInt16BE(seq, 0);
  return b;
}

export class TestBrowser {
  readonly pc: RTCPeerConnection;
  readonly audio = new MediaStreamTrack({ kind: 'audio' });
  readonly video = new MediaStreamTrack({ kind: 'video' });
  readonly received = new Map<string, ReceivedStream>();
  readonly videoSender;
  offersAnswered = 0;
  /** Off: server offers are left for the test to handle. */
  autoAnswer = true;
  /** PLIs the server sent us for our own video. */
  plisReceived = 0;
  /** At each of those PLIs, the sequence number of the next video packet we send (a real encoder's keyframe). */
  readonly videoSeqAtPli: number[] = [];
  /** Every DTLS datagram we send is held this long (ICE goes at once): a slow handshake, set before join(). */
  dtlsDelayMs = 0;
  private nextVideoSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private networkCut = false;
  private readonly wrappedTransports = new WeakSet<object>();
  /** Signaling steps run one after another, as a page must (an offer never overtakes an answer). */
  private signaling: Promise<void> = Promise.resolve();
  readonly errors: unknown[] = [];
  private readonly offOffer: () => void;

  constructor(
    readonly id: ParticipantId,
    private readonly media: MediaService,
    private readonly videoCodec: VideoCodecName = 'VP8',
    private readonly toneHz = 440,
  ) {
    this.pc = new RTCPeerConnection(peerConfig({ address: '127.0.0.1', videoCodec }));
    const stream = new MediaStream({ id: `${id}-camera` });
    // werift may hand a PLI to a receiver that shares the PLI's sender SSRC (see
    // WebRtcEndpoint.watchFeedback): count it wherever it lands, by media SSRC.
    const countPli = (p: RtcpPacket): void => {
      if (p instanceof RtcpPayloadSpecificFeedback && p.feedback instanceof PictureLossIndication && p.feedback.mediaSsrc === this.videoSender.ssrc) {
        this.plisReceived++;
        this.videoSeqAtPli.push(this.nextVideoSeq);
      }
    };
    const watch = (t: RTCRtpTransceiver): void => {
      t.sender.onRtcp.subscribe(countPli);
      t.receiver.onRtcp.subscribe(countPli);
    };
    this.pc.onTransceiverAdded.subscribe(watch);
    this.pc.onRemoteTransceiverAdded.subscribe(watch);
    this.pc.addTransceiver(this.audio, { direction: 'sendrecv', streams: [stream] });
    const videoTx = this.pc.addTransceiver(this.video, { direction: 'sendrecv', streams: [stream] });
    this.videoSender = videoTx.sender;
    this.pc.ontrack = (ev): void => {
      const streamId = ev.streams[0]?.id ?? '?';
      const r = this.stream(streamId);
      r.transceivers.push(ev.transceiver);
      const kind = ev.track.kind;
      ev.track.onReceiveRtp.subscribe((pkt) => {
        if (kind === 'video') {
          r.video.push(pkt);
          r.videoSsrc = pkt.header.ssrc;
        } else r.audio.push(pkt);
      });
    };
    this.offOffer = media.events.on('webrtcOffer', (p, sdp) => {
      if (p === this.id && this.autoAnswer) this.inOrder(() => this.answerServerOffer(sdp));
    });
  }

  stream(id: string): ReceivedStream {
    let r = this.received.get(id);
    if (!r) {
      r = { audio: [], video: [], transceivers: [], videoSsrc: undefined };
      this.received.set(id, r);
    }
    return r;
  }

  /** Makes its offer its local description (and gathers, as a browser does before sending it). */
  async setLocalOffer(): Promise<void> {
    const offer = await this.pc.createOffer();
    noStunQuery(this.pc);
    await this.pc.setLocalDescription(offer);
  }

  /** Creates the participant and runs the browser-first negotiation; returns our offer and the answer. */
  async join(conference: MediaConferenceRef): Promise<{ offer: string; answer: string }> {
    await this.media.createWebRtcParticipant(conference, this.id, this.videoCodec);
    await this.setLocalOffer();
    await waitFor(() => this.pc.iceGatheringState === 'complete', 3000, 'client ICE gathering');
    if (this.dtlsDelayMs > 0) this.wrapSends((data) => (data.length > 0 && (data[0] ?? 0) >= 20 && (data[0] ?? 0) <= 63 ? this.dtlsDelayMs : 0));
    const offer = this.pc.localDescription?.sdp ?? '';
    let answer = '';
    await this.inOrder(async () => {
      answer = await this.media.webrtcOffer(this.id, offer);
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    });
    return { offer, answer };
  }

  /** Sends a 20 ms Opus frame of a tone and, every other tick, a video packet. */
  startSending(): void {
    const opus = createAudioCodec('opus');
    let seq = 0;
    this.timer = setInterval(() => {
      const pcm = sineTone(this.toneHz, MIX_SAMPLE_RATE, MIX_FRAME_SAMPLES, 8000, seq * MIX_FRAME_SAMPLES);
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq & 0xffff, timestamp: (seq * 960) >>> 0, ssrc: 1111 });
      this.audio.writeRtp(new RtpPacket(header, opus.encode(pcm)));
      if (seq % 2 === 0) {
        const videoSeq = this.nextVideoSeq++;
        const vh = new RtpHeader({ payloadType: 96, marker: true, sequenceNumber: videoSeq, timestamp: (videoSeq * 3600) >>> 0, ssrc: 2222 });
        this.video.writeRtp(new RtpPacket(vh, videoPayload(videoSeq)));
      }
      seq++;
    }, 20);
  }

  stopSending(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Cuts (or restores) this browser's network: every datagram it would send, STUN and media, is
   * dropped, as when a laptop changes network or a starved browser stops answering. Covers the
   * UDP sockets ICE has now (call again after an ICE restart opened new ones).
   */
  cutNetwork(cut: boolean): void {
    this.networkCut = cut;
    this.wrapSends(() => 0);
  }

  /** Puts our drop (networkCut) and delay (ms per datagram) in front of every UDP socket ICE has now. */
  private wrapSends(delayMs: (data: Buffer) => number): void {
    for (const t of this.pc.iceTransports) {
      // werift keeps its sockets private: reached by shape (test support, pinned werift).
      const protocols = (t.connection as unknown as { protocols: Array<{ transport?: { send: (data: Buffer, addr: unknown) => Promise<void> } }> }).protocols;
      for (const protocol of protocols) {
        const transport = protocol.transport;
        if (!transport || this.wrappedTransports.has(transport)) continue;
        this.wrappedTransports.add(transport);
        const send = transport.send.bind(transport);
        transport.send = (data, addr) => {
          if (this.networkCut) return Promise.resolve();
          const ms = delayMs(data);
          if (ms <= 0) return send(data, addr);
          return new Promise((resolve) => setTimeout(resolve, ms)).then(() => (this.networkCut ? undefined : send(data, addr)));
        };
      }
    }
  }

  async close(): Promise<void> {
    this.stopSending();
    this.offOffer();
    await this.pc.close();
  }

  /** Answers a server offer the test held back (autoAnswer off). */
  answer(sdp: string): Promise<void> {
    return this.inOrder(() => this.answerServerOffer(sdp));
  }

  private inOrder(step: () => Promise<void>): Promise<void> {
    const run = this.signaling.then(step);
    this.signaling = run.catch((err: unknown) => {
      this.errors.push(err);
    });
    return run;
  }

  private async answerServerOffer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    noStunQuery(this.pc);
    await this.pc.setLocalDescription(answer);
    await this.media.webrtcAnswer(this.id, this.pc.localDescription?.sdp ?? '');
    this.offersAnswered++;
  }
}
