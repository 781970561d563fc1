/**
 * Who is in each conference, for the pages' participant lists: this node's participants (from the
 * registry's joined/updated/left events) merged with those that peer nodes announce, and the
 * conference's active speaker. Raises `changed` once per conference per burst of changes (a
 * microtask), never polls. Never touches sockets: the webrtc handler sends what it reads here.
 */
import { TypedEmitter, type ConferenceId, type ParticipantId } from '../../common';
import type { ConferenceRegistry, ParticipantRecord, Protocol } from './registry';

export interface RosterEntry {
  id: ParticipantId;
  name: string;
  protocol: Protocol;
  /** Sends audio / video that others can receive now. */
  audio: boolean;
  video: boolean;
  /** The node whose signaling holds the participant. */
  node: string;
}

export type RosterEvents = {
  /** The list of `conference` changed (someone came, went, muted, was admitted...). */
  changed: [conference: ConferenceId];
  speaker: [conference: ConferenceId, participant: ParticipantId | undefined];
};

/** What a participant shows in a list: waiting callers (PIN entry) are neither heard nor seen. */
export function rosterEntry(p: ParticipantRecord, node: string): RosterEntry {
  const waiting = p.role === 'waiting-for-pin';
  return {
    id: p.id,
    name: p.displayName,
    protocol: p.protocol,
    audio: p.publishing ? p.publishing.audio : !waiting,
    video: p.publishing ? p.publishing.video : p.videoCodec !== undefined && !waiting,
    node,
  };
}

export class Roster {
  readonly events = new TypedEmitter<RosterEvents>();
  /** conference -> node -> entries announced by that peer node. */
  private readonly remote = new Map<ConferenceId, Map<string, RosterEntry[]>>();
  private readonly speakers = new Map<ConferenceId, ParticipantId>();
  private readonly dirty = new Set<ConferenceId>();
  private readonly offs: Array<() => void>;

  constructor(
    private readonly registry: ConferenceRegistry,
    private readonly nodeName: string,
  ) {
    const touch = (p: ParticipantRecord): void => this.touch(p.conference.id);
    this.offs = [
      registry.events.on('participant-joined', touch),
      registry.events.on('participant-updated', touch),
      // Emitted inside leave(), before the participant is gone: the list is read a microtask later.
      registry.events.on('participant-left', touch),
    ];
  }

  /** Everyone in the conference, this node's participants first, each list in join order. */
  entries(conference: ConferenceId): RosterEntry[] {
    const local = this.registry.conferences().find((c) => c.id === conference);
    const out = local ? [...local.participants.values()].map((p) => rosterEntry(p, this.nodeName)) : [];
    for (const list of this.remote.get(conference)?.values() ?? []) out.push(...list);
    return out;
  }

  size(conference: ConferenceId): number {
    return this.entries(conference).length;
  }

  /** A peer node's participants of a conference (its whole list each time; [] when none are left). */
  setRemote(node: string, conference: ConferenceId, entries: RosterEntry[]): void {
    let byNode = this.remote.get(conference);
    if (!byNode) this.remote.set(conference, (byNode = new Map()));
    if (entries.length === 0) byNode.delete(node);
    else byNode.set(node, entries);
    if (byNode.size === 0) this.remote.delete(conference);
    this.touch(conference);
  }

  /** A peer node is gone: its participants leave every list. */
  dropNode(node: string): void {
    for (const [conference, byNode] of this.remote) {
      if (!byNode.delete(node)) continue;
      if (byNode.size === 0) this.remote.delete(conference);
      this.touch(conference);
    }
  }

  activeSpeaker(conference: ConferenceId): ParticipantId | undefined {
    return this.speakers.get(conference);
  }

  setActiveSpeaker(conference: ConferenceId, participant: ParticipantId | undefined): void {
    if (this.speakers.get(conference) === participant) return;
    if (participant === undefined) this.speakers.delete(conference);
    else this.speakers.set(conference, participant);
    this.events.emit('speaker', conference, participant);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private touch(conference: ConferenceId): void {
    if (this.dirty.has(conference)) return;
    this.dirty.add(conference);
    queueMicrotask(() => {
      this.dirty.delete(conference);
      if (!this.registry.conferences().some((c) => c.id === conference) && !this.remote.has(conference)) this.speakers.delete(conference);
      this.events.emit('changed', conference);
    });
  }
}
