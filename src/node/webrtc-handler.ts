/**
 * Joins browsers to conferences: implements the signaling plane's WebRtcSessionHandler port. A
 * join finds the VMR by alias, reserves capacity, adds a werift peer through the MediaService,
 * relays SDP both ways and keeps every browser of a conference told who is there and who speaks.
 * Never touches sockets or SDP contents itself; never decides media (the MediaService does).
 */
import {
  ConfnodeError,
  errorMessage,
  type Clock,
  type ConferenceId,
  type Logger,
  type ParticipantId,
  type TimerHandle,
} from '../common';
import type { MediaService } from '../media';
import {
  WebRtcRefusal,
  type JoinMessage,
  type JoinedMessage,
  type MediaState,
  type ParticipantEntry,
  type ServerMessage,
  type WebRtcEndReason,
  type WebRtcSession,
  type WebRtcSessionHandler,
} from '../signaling';
import type { AdminLog } from './admin-log';
import { participantCost } from './conference/capacity';
import { roleForPin, type PinRole } from './conference/pin-gate';
import { PinLockout } from './conference/pin-lockout';
import type { Conference, ConferenceRegistry, ParticipantRecord } from './conference/registry';
import { findVmrByAlias, type ClusterConfig, type VmrConfig } from './config';

export interface WebRtcHandlerDeps {
  config: ClusterConfig;
  registry: ConferenceRegistry;
  media: MediaService;
  clock: Clock;
  logger: Logger;
  adminLog: AdminLog;
}

/**
 * How often the participant list is compared with what browsers were last told, so SIP callers
 * joining or leaving (which this handler does not see) reach the page too.
 */
export const PARTICIPANT_SYNC_MS = 1000;

interface Browser {
  session: WebRtcSession;
  participant?: ParticipantRecord;
  media: MediaState;
  closed: boolean;
}

export class WebRtcConferenceHandler implements WebRtcSessionHandler {
  private readonly bySession = new Map<string, Browser>();
  private readonly byParticipant = new Map<ParticipantId, Browser>();
  /** Browsers per conference instance (by id: a VMR's next instance is another conference). */
  private readonly byConference = new Map<ConferenceId, Set<Browser>>();
  /** What each conference's browsers were last sent, so unchanged lists are not resent. */
  private readonly lastList = new Map<ConferenceId, string>();
  private readonly unsubscribe: Array<() => void> = [];
  private syncTimer: TimerHandle | undefined;
  private readonly pinLockout = new PinLockout();

  constructor(private readonly deps: WebRtcHandlerDeps) {
    const { media, registry } = deps;
    this.unsubscribe.push(
      media.events.on('webrtcOffer', (id, sdp) => this.sendTo(id, { type: 'offer', sdp })),
      media.events.on('webrtcFailed', (id, reason) => this.onMediaFailed(id, reason)),
      media.events.on('activeSpeaker', (conf, id) => this.broadcast(conf, { type: 'activeSpeaker', participantId: id ?? null })),
      // Emitted inside registry.leave(), before the participant is gone from the conference.
      registry.events.on('participant-left', (rec) => queueMicrotask(() => this.syncList(rec.conference))),
    );
  }

  async onJoin(session: WebRtcSession, join: JoinMessage): Promise<JoinedMessage> {
    const { config, registry, media, adminLog } = this.deps;
    const browser: Browser = { session, media: { audio: true, video: join.video !== false }, closed: false };
    this.bySession.set(session.id, browser);
    const at = join.alias.indexOf('@');
    const user = at < 0 ? join.alias : join.alias.slice(0, at);
    const vmr = findVmrByAlias(config, user, at < 0 ? undefined : join.alias.slice(at + 1));
    if (!vmr) {
      adminLog.add('info', `Browser rejected: no conference alias '${join.alias}'`, { from: session.remote });
      throw new ConfnodeError('not-found', `there is no room '${join.alias}'`);
    }
    const role = vmr.host_pin === undefined ? 'participant' : this.checkPin(vmr, join, session.remote);
    const cost = participantCost(join.video === false ? 'audio' : 'video', config.capacity_costs);
    let reservation: { release(): void };
    try {
      reservation = registry.reserve(vmr, cost);
    } catch (err) {
      adminLog.add('warn', `Browser rejected: ${errorMessage(err)}`, { conference: vmr.name, from: session.remote });
      throw err;
    }
    let participant: ParticipantRecord;
    try {
      participant = registry.join(
        vmr,
        { protocol: 'webrtc', displayName: join.name, remote: session.remote, cost, hangup: () => this.hangup(browser) },
        reservation,
      );
    } catch (err) {
      reservation.release();
      throw err;
    }
    participant.role = role;
    browser.participant = participant;
    this.byParticipant.set(participant.id, browser);
    const conference = participant.conference;
    try {
      await media.createWebRtcParticipant({ id: conference.id, name: vmr.name }, participant.id, vmr.video_codec);
    } catch (err) {
      this.forget(browser);
      registry.leave(participant.id);
      throw err;
    }
    let set = this.byConference.get(conference.id);
    if (!set) this.byConference.set(conference.id, (set = new Set()));
    set.add(browser);
    this.deps.logger.info(
      { conference: vmr.name, participant: participant.id, name: join.name, remote: session.remote, video: join.video !== false },
      'browser joined',
    );
    // Sent after the joined reply (the session holds them until then).
    this.lastList.delete(conference.id);
    this.syncList(conference);
    session.send({ type: 'activeSpeaker', participantId: media.activeSpeaker(conference.id) ?? null });
    this.ensureSyncTimer();
    return { type: 'joined', participantId: participant.id, conference: vmr.name, videoCodec: vmr.video_codec };
  }

  async onOffer(session: WebRtcSession, sdp: string): Promise<string | undefined> {
    const id = this.joined(session).id;
    try {
      return await this.deps.media.webrtcOffer(id, sdp);
    } catch (err) {
      // Glare: our offer is in flight and wins (we are the impolite peer); the page rolls back
      // its own, answers ours and offers again.
      if (err instanceof ConfnodeError && err.code === 'busy') {
        this.deps.logger.debug({ participant: id }, 'browser offer ignored: a server offer is in flight');
        return undefined;
      }
      throw err;
    }
  }

  async onAnswer(session: WebRtcSession, sdp: string): Promise<void> {
    await this.deps.media.webrtcAnswer(this.joined(session).id, sdp);
  }

  onMediaState(session: WebRtcSession, state: MediaState): void {
    const browser = this.bySession.get(session.id);
    if (!browser?.participant) return;
    browser.media = { audio: state.audio, video: state.video };
    this.syncList(browser.participant.conference);
  }

  onClosed(session: WebRtcSession, reason: WebRtcEndReason): void {
    const browser = this.bySession.get(session.id);
    if (!browser) return;
    browser.closed = true;
    this.forget(browser);
    const p = browser.participant;
    if (!p) return;
    const stats = this.deps.media.participantStats(p.id);
    this.deps.logger.info(
      { conference: p.conference.vmr.name, participant: p.id, reason, packetsIn: stats?.packetsIn, packetsOut: stats?.packetsOut },
      'browser left',
    );
    this.deps.registry.leave(p.id);
    this.syncList(p.conference);
  }

  /** Stops listening to media and registry events. Sessions are closed by the signaling server. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.syncTimer?.cancel();
    this.syncTimer = undefined;
  }

  /** The list every browser of `conf` sees: everyone, including itself, in join order. */
  participantList(conf: Conference): ParticipantEntry[] {
    return [...conf.participants.values()].map((p) => {
      const browser = p.protocol === 'webrtc' ? this.byParticipant.get(p.id) : undefined;
      const waiting = p.role === 'waiting-for-pin';
      return {
        id: p.id,
        name: p.displayName,
        protocol: p.protocol,
        audio: browser ? browser.media.audio : !waiting,
        video: browser ? browser.media.video : p.videoCodec !== undefined && !waiting,
      };
    });
  }

  /**
   * A VMR with PINs admits a browser whose join carries the host PIN (role host) or the guest PIN
   * (guest). No PIN: pin-required (the page asks for one). A wrong one: pin-invalid; after a few
   * from one address (PinLockout) that address is refused for the room for a while: a refused
   * join is a new WebSocket each time, so there is no call to hang up as SIP does.
   */
  private checkPin(vmr: VmrConfig, join: JoinMessage, remote: string): PinRole {
    const { adminLog, clock } = this.deps;
    const address = remote.slice(0, remote.lastIndexOf(':'));
    const now = clock.now();
    const wait = this.pinLockout.retryAfterMs(vmr.name, address, now);
    if (wait > 0) {
      adminLog.add('warn', 'Browser refused: too many wrong PINs from its address', { conference: vmr.name, from: remote });
      throw new WebRtcRefusal('pin-invalid', `too many wrong PINs from your address: try again in ${Math.ceil(wait / 60_000)} min`);
    }
    if (join.pin === undefined) throw new WebRtcRefusal('pin-required', `room '${join.alias}' needs a PIN`);
    const role = roleForPin(join.pin, { hostPin: vmr.host_pin ?? '', guestPin: vmr.guest_pin });
    if (role) {
      this.pinLockout.succeeded(vmr.name, address);
      return role;
    }
    const left = this.pinLockout.failed(vmr.name, address, now);
    adminLog.add('warn', 'Browser refused: wrong PIN', { conference: vmr.name, from: remote });
    throw new WebRtcRefusal('pin-invalid', left > 0 ? `wrong PIN (${left} more before a pause)` : 'wrong PIN: too many wrong PINs, try again later');
  }

  private hangup(browser: Browser): Promise<void> {
    return browser.session.close({ reason: 'removed by the administrator' });
  }

  private onMediaFailed(id: ParticipantId, reason: string): void {
    const browser = this.byParticipant.get(id);
    if (!browser || browser.closed) return;
    this.deps.logger.warn({ participant: id, reason }, 'browser media failed: closing its session');
    void browser.session.close({ error: { code: 'media-failed', message: `media connection failed: ${reason}` }, reason: 'media connection failed' });
  }

  private joined(session: WebRtcSession): ParticipantRecord {
    const p = this.bySession.get(session.id)?.participant;
    if (!p) throw new ConfnodeError('closed', 'not joined');
    return p;
  }

  private forget(browser: Browser): void {
    this.bySession.delete(browser.session.id);
    const p = browser.participant;
    if (!p) return;
    this.byParticipant.delete(p.id);
    const set = this.byConference.get(p.conference.id);
    set?.delete(browser);
    if (set && set.size === 0) {
      this.byConference.delete(p.conference.id);
      this.lastList.delete(p.conference.id);
    }
  }

  private sendTo(id: ParticipantId, msg: ServerMessage): void {
    const browser = this.byParticipant.get(id);
    if (browser && !browser.closed) browser.session.send(msg);
  }

  private broadcast(conf: ConferenceId, msg: ServerMessage): void {
    for (const b of this.byConference.get(conf) ?? []) if (!b.closed) b.session.send(msg);
  }

  /** Sends the conference's list to its browsers when it differs from what they last got. */
  private syncList(conf: Conference): void {
    if (!this.byConference.has(conf.id)) return;
    const participants = this.participantList(conf);
    const text = JSON.stringify(participants);
    if (this.lastList.get(conf.id) === text) return;
    this.lastList.set(conf.id, text);
    this.broadcast(conf.id, { type: 'participants', participants });
  }

  private ensureSyncTimer(): void {
    if (this.syncTimer) return;
    this.syncTimer = this.deps.clock.setTimeout(() => {
      this.syncTimer = undefined;
      if (this.byConference.size === 0) return;
      for (const set of this.byConference.values()) {
        const first = set.values().next().value;
        if (first?.participant) this.syncList(first.participant.conference);
      }
      this.ensureSyncTimer();
    }, PARTICIPANT_SYNC_MS);
  }
}
