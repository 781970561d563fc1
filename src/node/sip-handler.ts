/**
 * Joins SIP calls to conferences: implements the signaling plane's SessionHandler port. For each
 * INVITE it finds the VMR from the Request-URI, reserves capacity, negotiates SDP (SDES-SRTP per
 * media.sip_srtp, with a fresh key of ours per m-line), opens an RtpEndpoint and adds it to the
 * conference's MediaRouter. A call whose phone stops sending (media.rtp_timeout_s, media-watch.ts)
 * is ended with a BYE. Never parses SIP itself; never logs an SRTP key.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ConfnodeError, errorMessage, type Clock, type Logger, type TimerHandle } from '../common';
import type { AudioFormat, LocalRtpAddress, MediaService, RtpDirection, RtpVideoUpdate, SrtpKeys } from '../media';
import {
  answerDirection,
  buildAnswer,
  buildOffer,
  negotiateAnswer,
  negotiateOffer,
  type CallEndReason,
  type CodecCapability,
  type LocalAudio,
  type LocalSdesKey,
  type LocalVideo,
  type SdesCrypto,
  type OfferNegotiation,
  type NegotiatedAudio,
  type SdpResult,
  type SessionHandler,
  type SipCall,
} from '../signaling';
import type { AdminLog } from './admin-log';
import { participantCost } from './conference/capacity';
import { MediaWatch } from './conference/media-watch';
import { PinGate } from './conference/pin-gate';
import type { Admission } from './conference/admission';
import type { ConferenceRegistry, ParticipantRecord } from './conference/registry';
import type { ClusterConfig, NodeConfig } from './config';

/** What we terminate, in the order we offer it (an answer follows the caller's preference). */
export const AUDIO_CAPABILITIES: readonly CodecCapability[] = [
  { name: 'opus', clockRate: 48000, channels: 2, dynamicPayloadType: 111, fmtp: 'minptime=10;useinbandfec=1' },
  // RTP clock 8000 for 16 kHz audio: RFC 3551 section 4.5.2.
  { name: 'G722', clockRate: 8000, channels: 1, staticPayloadType: 9 },
  { name: 'PCMU', clockRate: 8000, channels: 1, staticPayloadType: 0 },
  { name: 'PCMA', clockRate: 8000, channels: 1, staticPayloadType: 8 },
];

interface CallState {
  call: SipCall;
  participant?: ParticipantRecord;
  local?: LocalRtpAddress;
  sessionId: string;
  sdpVersion: number;
  /** Our offer awaiting the answer in the ACK (offerless INVITE or re-INVITE). */
  pendingOffer: boolean;
  ended: boolean;
  /** Set while the caller must enter the VMR's PIN. */
  pin?: { gate: PinGate; timer: TimerHandle; off: () => void };
  /** The phone's SDP says it sends audio now (not on hold, not recvonly or inactive). */
  phoneSends: boolean;
  /** The next check for a phone gone without a BYE. */
  mediaTimer?: TimerHandle;
  /** Why the node hung up, when it did so on its own (counted instead of 'local-bye'). */
  endCause?: 'media-timeout' | 'pin-timeout' | 'pin-rejected';
  /**
   * Our SRTP keys per m-line kind, kept across re-INVITEs (same suite: same key, so the phone's
   * decryption goes on); the media is SRTP while the last negotiation keyed the line.
   */
  srtpKeys: { audio?: LocalSdesKey; video?: LocalSdesKey };
  /** The last negotiation of the audio line was SRTP (our offers then stay SRTP). */
  audioSrtp: boolean;
  /** Our pending offer is RTP/SAVP: the answer in the ACK must be SRTP too. */
  offeredSrtp: boolean;
}

/** How long a caller has to enter a PIN before we hang up. */
export const PIN_ENTRY_TIMEOUT_MS = 60_000;
/** A call's media is checked this often at most (more often for a short media.rtp_timeout_s). */
const MEDIA_CHECK_MS = 5000;

export interface SipHandlerDeps {
  config: ClusterConfig;
  node: NodeConfig;
  registry: ConferenceRegistry;
  /** Finds the VMR and places the caller's media (one path for SIP and browsers). */
  admission: Admission;
  media: MediaService;
  clock: Clock;
  logger: Logger;
  adminLog: AdminLog;
  /** Outcome of every initial INVITE: 'answered' or the error code it was refused with. */
  countCall?: (result: string) => void;
  /** Why an answered call ended: its CallEndReason, or why the node hung up (`endCause`). */
  countCallEnd?: (reason: string) => void;
}

function audioFormat(a: NegotiatedAudio): AudioFormat {
  return {
    name: a.codec.name,
    payloadType: a.codec.payloadType,
    clockRate: a.codec.clockRate,
    channels: a.codec.channels,
    ...(a.telephoneEvent ? { telephoneEventPayloadType: a.telephoneEvent.payloadType } : {}),
  };
}

export class SipConferenceHandler implements SessionHandler {
  private readonly calls = new Map<string, CallState>();

  constructor(private readonly deps: SipHandlerDeps) {}

  async onInvite(call: SipCall, offerSdp: string | undefined): Promise<SdpResult> {
    try {
      const result = await this.setUpCall(call, offerSdp);
      this.deps.countCall?.('answered');
      return result;
    } catch (err) {
      this.deps.countCall?.(err instanceof ConfnodeError ? err.code : 'internal');
      throw err;
    }
  }

  private async setUpCall(call: SipCall, offerSdp: string | undefined): Promise<SdpResult> {
    const { config, registry, logger } = this.deps;
    const log = logger.child({ callId: call.info.callId, call: call.id });
    const state: CallState = {
      call,
      sessionId: String(randomInt(1, 2 ** 47)),
      sdpVersion: 1,
      pendingOffer: false,
      ended: false,
      phoneSends: false,
      srtpKeys: {},
      audioSrtp: false,
      offeredSrtp: false,
    };
    this.calls.set(call.id, state);

    const user = call.info.requestUser ?? '';
    const vmr = this.deps.admission.findVmr(user, call.info.requestHost, 'Call', call.info.fromUri);
    // Negotiate before touching capacity or sockets: a 488 must cost nothing.
    const videoOptions = { videoCodec: vmr.video_codec, srtp: config.media.sip_srtp };
    const negotiation = offerSdp !== undefined ? negotiateOffer(offerSdp, AUDIO_CAPABILITIES, videoOptions) : undefined;
    const cost = participantCost(negotiation?.video ? 'video' : 'audio', config.capacity_costs);
    const participant = await this.deps.admission.admit(
      vmr,
      {
        protocol: 'sip',
        displayName: call.info.fromDisplayName ?? call.info.fromUri,
        remote: `${call.info.remote.transport}:${call.info.remote.address}:${call.info.remote.port}`,
        cost,
        hangup: () => call.hangup(),
      },
      'Call',
      call.info.fromUri,
    );
    // A failure from here on rejects the INVITE; the call's onEnded then releases what was set up.
    state.participant = participant;
    if (vmr.host_pin !== undefined) this.startPinEntry(state, vmr.host_pin, vmr.guest_pin, log);
    const conference = participant.conference;
    if (negotiation?.videoRejectedReason) registry.update(participant.id, { videoUnavailableReason: negotiation.videoRejectedReason });
    state.local = await this.deps.media.createRtpParticipant(
      { id: conference.id, name: vmr.name, videoCodec: vmr.video_codec },
      participant.id,
      state.pin === undefined,
      negotiation?.video !== undefined,
    );
    const local = this.localAudio(state.local);
    if (negotiation?.audio) {
      this.applyMedia(state, negotiation);
      log.info(
        {
          conference: vmr.name,
          participant: participant.id,
          codec: negotiation.audio.codec.name,
          video: negotiation.video?.codec.name ?? negotiation.videoRejectedReason ?? 'none',
          srtp: negotiation.audio.crypto?.suite ?? false,
        },
        'SIP participant joined',
      );
      return { sdp: buildAnswer({ origin: this.origin(state), local, negotiation, localKeys: state.srtpKeys, ...this.localVideo(state.local) }) };
    }
    // Offerless INVITE: offer everything; the media starts when the answer arrives in the ACK.
    state.pendingOffer = true;
    log.info({ conference: vmr.name, participant: participant.id }, 'SIP participant joined (offer in 200)');
    return { sdp: this.offer(state, local) };
  }

  /** Our offer: RTP/SAVP with a key when SRTP is required or the call is SRTP already, else plain. */
  private offer(state: CallState, local: LocalAudio): string {
    const srtp = this.deps.config.media.sip_srtp === 'required' || state.audioSrtp;
    state.offeredSrtp = srtp;
    const srtpKey = srtp ? this.localKey(state, 'audio', 'AES_CM_128_HMAC_SHA1_80') : undefined;
    return buildOffer({ origin: this.origin(state), local, caps: AUDIO_CAPABILITIES, ...(srtpKey ? { srtpKey } : {}) });
  }

  /** Our key of a line: kept while the suite stays, fresh (CSPRNG, 30 bytes) otherwise. */
  private localKey(state: CallState, kind: 'audio' | 'video', suite: LocalSdesKey['suite']): LocalSdesKey {
    const kept = state.srtpKeys[kind];
    if (kept?.suite === suite) return kept;
    const key: LocalSdesKey = { suite, key: randomBytes(30).toString('base64') };
    state.srtpKeys[kind] = key;
    return key;
  }

  /** The media's SRTP keys of a line the peer keyed (crypto), or undefined for plain RTP. */
  private srtpFor(state: CallState, kind: 'audio' | 'video', crypto: SdesCrypto | undefined): SrtpKeys | undefined {
    if (!crypto) return undefined;
    const local = this.localKey(state, kind, crypto.suite);
    return { suite: crypto.suite, localKey: local.key, remoteKey: crypto.key };
  }

  onAck(call: SipCall, answerSdp: string | undefined): void {
    const state = this.calls.get(call.id);
    if (!state || !state.pendingOffer) return;
    state.pendingOffer = false;
    if (answerSdp === undefined) {
      this.deps.logger.warn({ callId: call.info.callId }, 'ACK without the answer to our offer: hanging up');
      void call.hangup();
      return;
    }
    try {
      // The answer must match our offer: SRTP if we offered RTP/SAVP, plain otherwise.
      const srtp = state.offeredSrtp ? 'required' : 'off';
      this.applyAudio(state, negotiateAnswer(answerSdp, AUDIO_CAPABILITIES, { srtp }).audio);
    } catch (err) {
      this.deps.logger.warn({ callId: call.info.callId, err: errorMessage(err) }, 'unusable answer in ACK: hanging up');
      void call.hangup();
    }
  }

  async onReinvite(call: SipCall, offerSdp: string | undefined): Promise<SdpResult> {
    const state = this.calls.get(call.id);
    if (!state?.local || !state.participant) throw new ConfnodeError('closed', 'no such call');
    state.sdpVersion++;
    const local = this.localAudio(state.local);
    if (offerSdp === undefined) {
      state.pendingOffer = true;
      return { sdp: this.offer(state, local) };
    }
    const negotiation = negotiateOffer(offerSdp, AUDIO_CAPABILITIES, { videoCodec: state.participant.conference.vmr.video_codec, srtp: this.deps.config.media.sip_srtp });
    if (negotiation.audio) {
      this.applyMedia(state, negotiation);
      this.deps.logger.info(
        { callId: call.info.callId, participant: state.participant.id, hold: negotiation.audio.onHold, codec: negotiation.audio.codec.name, srtp: negotiation.audio.crypto?.suite ?? false },
        're-INVITE applied',
      );
    }
    return { sdp: buildAnswer({ origin: this.origin(state), local, negotiation, localKeys: state.srtpKeys, ...this.localVideo(state.local) }) };
  }

  onInfo(call: SipCall, contentType: string | undefined, body: Buffer): void {
    const state = this.calls.get(call.id);
    if (!state?.participant) return;
    // application/dtmf-relay: "Signal=5\r\nDuration=160"; application/dtmf: "5".
    const text = body.toString('utf8', 0, Math.min(body.length, 256));
    const m = /^\s*signal\s*=\s*([0-9*#A-Da-d])/im.exec(text) ?? (contentType?.toLowerCase() === 'application/dtmf' ? /^\s*([0-9*#A-Da-d])/.exec(text) : null);
    if (m?.[1]) this.deps.media.injectDtmf(state.participant.id, m[1].toUpperCase());
  }

  onEnded(call: SipCall, reason: CallEndReason): void {
    const state = this.calls.get(call.id);
    this.calls.delete(call.id);
    if (!state || state.ended) return;
    state.ended = true;
    this.stopPinEntry(state);
    state.mediaTimer?.cancel();
    if (state.participant) {
      this.deps.countCallEnd?.(state.endCause ?? reason);
      const media = this.deps.media.participantStats(state.participant.id);
      this.deps.logger.info(
        { callId: call.info.callId, participant: state.participant.id, conference: state.participant.conference.vmr.name, reason, ...media },
        'SIP participant left',
      );
      if (reason === 'session-expired') {
        this.deps.adminLog.add('warn', 'No session refresh from the phone (SIP session timer): call ended', { conference: state.participant.conference.vmr.name, participant: state.participant.id });
      }
      this.deps.registry.leave(state.participant.id);
    }
  }

  /** Audio plus, when both sides have it, video; re-INVITEs go through here too. */
  private applyMedia(state: CallState, negotiation: OfferNegotiation): void {
    const v = negotiation.video;
    const videoSrtp = v && state.local?.video ? this.srtpFor(state, 'video', v.crypto) : undefined;
    const video: RtpVideoUpdate | undefined =
      v && state.local?.video
        ? {
            remote: {
              address: v.remote.address,
              rtpPort: v.remote.rtpPort,
              ...(v.remote.rtcpPort !== undefined ? { rtcpPort: v.remote.rtcpPort } : {}),
              rtcpMux: v.remote.rtcpMux,
              clockRate: 90000,
              payloadTypes: [v.codec.payloadType],
              ...(videoSrtp ? { srtp: videoSrtp } : {}),
            },
            direction: answerDirection(v.remoteDirection),
            payloadType: v.codec.payloadType,
          }
        : undefined;
    if (state.participant) this.deps.registry.update(state.participant.id, { videoCodec: video ? v?.codec.name : undefined });
    this.applyAudio(state, negotiation.audio, video);
  }

  private applyAudio(state: CallState, audio: NegotiatedAudio, video?: RtpVideoUpdate): void {
    const { participant } = state;
    if (!participant || !state.local) return;
    const format = audioFormat(audio);
    const direction: RtpDirection = answerDirection(audio.remoteDirection);
    const srtp = this.srtpFor(state, 'audio', audio.crypto);
    state.audioSrtp = srtp !== undefined;
    this.deps.media.updateRtpParticipant(participant.id, {
      remote: {
        address: audio.remote.address,
        rtpPort: audio.remote.rtpPort,
        ...(audio.remote.rtcpPort !== undefined ? { rtcpPort: audio.remote.rtcpPort } : {}),
        rtcpMux: audio.remote.rtcpMux,
        clockRate: audio.codec.clockRate,
        payloadTypes: [format.payloadType, ...(format.telephoneEventPayloadType !== undefined ? [format.telephoneEventPayloadType] : [])],
        ...(srtp ? { srtp } : {}),
      },
      direction,
      format,
      onHold: audio.onHold,
      ...(video ? { video } : {}),
    });
    this.deps.registry.update(participant.id, { audioCodec: audio.codec.name, onHold: audio.onHold });
    state.phoneSends = !audio.onHold && audio.remoteDirection !== 'recvonly' && audio.remoteDirection !== 'inactive';
    this.watchMedia(state, participant);
  }

  /** From the first media on: a phone silent for media.rtp_timeout_s while it should send is hung up. */
  private watchMedia(state: CallState, participant: ParticipantRecord): void {
    const timeoutS = this.deps.config.media.rtp_timeout_s;
    if (timeoutS === 0 || state.mediaTimer) return;
    const { clock, media, logger, adminLog } = this.deps;
    const timeoutMs = timeoutS * 1000;
    const everyMs = Math.min(MEDIA_CHECK_MS, Math.max(250, timeoutMs / 4));
    const watch = new MediaWatch(timeoutMs, clock.now());
    const check = (): void => {
      if (state.ended) return;
      const s = media.participantStats(participant.id);
      const received = (s?.packetsIn ?? 0) + (s?.rtcpIn ?? 0) + (s?.videoPacketsIn ?? 0);
      if (!watch.update(received, state.phoneSends, clock.now())) {
        state.mediaTimer = clock.setTimeout(check, everyMs);
        return;
      }
      const conference = participant.conference.vmr.name;
      const silentS = Math.round(watch.silentMs(clock.now()) / 1000);
      logger.warn({ callId: state.call.info.callId, participant: participant.id, conference, silentS }, 'no RTP or RTCP from the phone: hanging up');
      adminLog.add('warn', `No media from the phone for ${silentS} s: call ended`, { conference, participant: participant.id });
      state.endCause = 'media-timeout';
      void state.call.hangup();
    };
    state.mediaTimer = clock.setTimeout(check, everyMs);
  }

  /**
   * The caller stays outside the mix until it keys the host or guest PIN and '#' (RFC 4733 or
   * SIP INFO); three wrong PINs or the timeout end the call.
   */
  private startPinEntry(state: CallState, hostPin: string, guestPin: string | undefined, log: Logger): void {
    const participant = state.participant;
    if (!participant) return;
    const media = this.deps.media;
    const gate = new PinGate({ hostPin, ...(guestPin !== undefined ? { guestPin } : {}) });
    const conference = participant.conference.vmr.name;
    const timer = this.deps.clock.setTimeout(() => {
      log.info({ participant: participant.id, conference }, 'PIN not entered in time: hanging up');
      this.deps.adminLog.add('warn', 'PIN entry timed out', { conference, participant: participant.id });
      state.endCause = 'pin-timeout';
      void state.call.hangup();
    }, PIN_ENTRY_TIMEOUT_MS);
    const off = media.events.on('dtmf', (id, digit) => {
      if (id !== participant.id) return;
      const outcome = gate.input(digit);
      if (outcome.kind === 'admitted') {
        this.stopPinEntry(state);
        this.deps.registry.update(participant.id, { role: outcome.role });
        media.admit(participant.id);
        log.info({ participant: participant.id, conference, role: outcome.role }, 'PIN accepted');
      } else if (outcome.kind === 'rejected') {
        this.stopPinEntry(state);
        this.deps.adminLog.add('warn', 'Wrong PIN entered three times: call ended', { conference, participant: participant.id });
        state.endCause = 'pin-rejected';
        void state.call.hangup();
      } else if (outcome.kind === 'wrong') {
        log.info({ participant: participant.id, conference, attemptsLeft: outcome.attemptsLeft }, 'wrong PIN');
      }
    });
    state.pin = { gate, timer, off };
    this.deps.registry.update(participant.id, { role: 'waiting-for-pin' });
  }

  private stopPinEntry(state: CallState): void {
    if (!state.pin) return;
    state.pin.timer.cancel();
    state.pin.off();
    state.pin = undefined;
  }

  private localVideo(local: LocalRtpAddress | undefined): { localVideo?: LocalVideo } {
    return local?.video ? { localVideo: { address: local.address, port: local.video.rtpPort, rtcpPort: local.video.rtcpPort } } : {};
  }

  private localAudio(local: LocalRtpAddress): LocalAudio {
    return { address: local.address, port: local.rtpPort, rtcpPort: local.rtcpPort, rtcpMux: true };
  }

  private origin(state: CallState): { sessionId: string; version: number } {
    return { sessionId: state.sessionId, version: state.sdpVersion };
  }
}
