/**
 * Joins browsers to conferences: implements the signaling plane's WebRtcSessionHandler port. A
 * join is admitted like a SIP call (admission.ts: VMR by alias, placement, capacity), adds a werift
 * peer through the MediaService, relays SDP both ways and keeps every browser of a conference told
 * who is there and who speaks (the roster's events). A join token (join-token.ts) or a PIN decides
 * who may enter; the joined reply hands the page TURN credentials (turn-credentials.ts). Never
 * touches sockets or SDP contents itself; never decides media (the MediaService does); never logs
 * a token or a secret.
 */
import { ConfnodeError, type Clock, type ConferenceId, type Logger, type ParticipantId } from '../common';
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
import type { Admission } from './conference/admission';
import { participantCost } from './conference/capacity';
import { TOKEN_REFUSAL_TEXT, checkJoinToken, type JoinTokenClaims, type TokenRefusalReason } from './conference/join-token';
import { roleForPin, type PinRole } from './conference/pin-gate';
import { PinLockout } from './conference/pin-lockout';
import type { ConferenceRegistry, ParticipantRecord } from './conference/registry';
import type { Roster } from './conference/roster';
import { turnIceServers } from './conference/turn-credentials';
import type { ClusterConfig, VmrConfig } from './config';

export interface WebRtcHandlerDeps {
  config: ClusterConfig;
  registry: ConferenceRegistry;
  admission: Admission;
  /** Who is in each conference (this node's and peers' participants) and who speaks. */
  roster: Roster;
  media: MediaService;
  clock: Clock;
  logger: Logger;
  adminLog: AdminLog;
  /** Wall-clock ms since the epoch (token expiry, TURN credentials); default Date.now. */
  wallClock?: () => number;
  /** A join refused for its token (metric confnode_join_tokens_refused_total). */
  countTokenRefused?: (reason: TokenRefusalReason) => void;
}

interface Browser {
  session: WebRtcSession;
  participant?: ParticipantRecord;
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
  private readonly pinLockout = new PinLockout();

  constructor(private readonly deps: WebRtcHandlerDeps) {
    const { media, roster } = deps;
    this.unsubscribe.push(
      media.events.on('webrtcOffer', (id, sdp) => this.sendTo(id, { type: 'offer', sdp })),
      media.events.on('webrtcFailed', (id, reason) => this.onMediaFailed(id, reason)),
      media.events.on('lost', (ids) => {
        for (const id of ids) this.onMediaFailed(id, 'its media server stopped');
      }),
      roster.events.on('speaker', (conf, id) => this.broadcast(conf, { type: 'activeSpeaker', participantId: id ?? null })),
      roster.events.on('changed', (conf) => this.syncList(conf)),
    );
  }

  async onJoin(session: WebRtcSession, join: JoinMessage): Promise<JoinedMessage> {
    const { config, admission, registry, media, roster } = this.deps;
    const browser: Browser = { session, closed: false };
    this.bySession.set(session.id, browser);
    const at = join.alias.indexOf('@');
    const vmr = admission.findVmr(at < 0 ? join.alias : join.alias.slice(0, at), at < 0 ? undefined : join.alias.slice(at + 1), 'Browser', session.remote);
    // A valid join token is the operator's word: its name and role stand, and it replaces the PIN.
    const token = await this.checkToken(vmr, join, session.remote);
    const role = token ? token.role : vmr.host_pin === undefined ? 'participant' : this.checkPin(vmr, join, session.remote);
    const displayName = token ? token.name : join.name;
    const video = join.video !== false;
    const cost = participantCost(video ? 'video' : 'audio', config.capacity_costs);
    const participant = await admission.admit(
      vmr,
      { protocol: 'webrtc', displayName, remote: session.remote, cost, role, publishing: { audio: true, video }, hangup: () => this.hangup(browser) },
      'Browser',
      session.remote,
    );
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
      { conference: vmr.name, participant: participant.id, name: displayName, role, byToken: token !== undefined, remote: session.remote, video },
      'browser joined',
    );
    // Sent after the joined reply (the session holds them until then).
    this.lastList.delete(conference.id);
    this.syncList(conference.id);
    session.send({ type: 'activeSpeaker', participantId: roster.activeSpeaker(conference.id) ?? null });
    const joined: JoinedMessage = { type: 'joined', participantId: participant.id, conference: vmr.name, videoCodec: vmr.video_codec };
    // TURN for browsers whose network blocks UDP: credentials derived for this participant, valid ttl_s.
    const iceServers = turnIceServers(config.turn, participant.id, this.wallNow());
    if (iceServers.length > 0) joined.iceServers = iceServers;
    if (displayName !== join.name) joined.name = displayName;
    if (role === 'host' || role === 'guest') joined.role = role;
    return joined;
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
    const p = this.bySession.get(session.id)?.participant;
    if (p) this.deps.registry.update(p.id, { publishing: { audio: state.audio, video: state.video } });
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
  }

  /** Stops listening to media and registry events. Sessions are closed by the signaling server. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** The list every browser of `conf` sees: everyone, including itself, in join order. */
  participantList(conf: ConferenceId): ParticipantEntry[] {
    return this.deps.roster.entries(conf).map((e) => ({ id: e.id, name: e.name, protocol: e.protocol, audio: e.audio, video: e.video }));
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

  /**
   * The join's token, checked against `join_tokens` and the room's `require_token`: its claims
   * when valid, undefined when there is none and none is needed. Otherwise the join is refused
   * with 'token', counted, and written to the admin log (never the token itself).
   */
  private async checkToken(vmr: VmrConfig, join: JoinMessage, remote: string): Promise<JoinTokenClaims | undefined> {
    const d = await checkJoinToken({ token: join.token, config: this.deps.config.join_tokens, vmr, nowMs: this.wallNow() });
    if (d.kind === 'none') return undefined;
    if (d.kind === 'valid') return d.claims;
    this.deps.countTokenRefused?.(d.reason);
    this.deps.adminLog.add('warn', `Browser refused: ${TOKEN_REFUSAL_TEXT[d.reason]}`, { conference: vmr.name, from: remote, reason: d.reason });
    throw new WebRtcRefusal('token', d.message);
  }

  private wallNow(): number {
    return (this.deps.wallClock ?? Date.now)();
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
  private syncList(conf: ConferenceId): void {
    if (!this.byConference.has(conf)) return;
    const participants = this.participantList(conf);
    const text = JSON.stringify(participants);
    if (this.lastList.get(conf) === text) return;
    this.lastList.set(conf, text);
    this.broadcast(conf, { type: 'participants', participants });
  }
}
