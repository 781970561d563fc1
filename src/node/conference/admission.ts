/**
 * One admission path for every protocol (SIP calls and browsers): find the VMR by alias, check the
 * room's size, place the media (the placer holds capacity on the chosen node), record the
 * participant, and write refusals to the admin log. Handlers keep only what is theirs (SDP, PINs,
 * sockets). Never touches media or sockets itself.
 */
import { randomUUID } from 'node:crypto';
import { ConfnodeError, asParticipantId, errorMessage } from '../../common';
import type { AdminLog } from '../admin-log';
import { findVmrByAlias, type ClusterConfig, type VmrConfig } from '../config';
import type { Placer } from './placer';
import type { ConferenceRegistry, JoinRequest, ParticipantRecord } from './registry';

export interface AdmissionDeps {
  config: ClusterConfig;
  registry: ConferenceRegistry;
  placer: Placer;
  adminLog: AdminLog;
  /** The node is draining (SIGTERM with nodes[].drain_timeout_s): new calls go elsewhere. */
  draining?: () => boolean;
}

/** How refusals are worded in the admin log: "Call rejected: ..." or "Browser rejected: ...". */
export type Caller = 'Call' | 'Browser';

export class Admission {
  constructor(private readonly deps: AdmissionDeps) {
    // Capacity follows the participant: whoever ends the call, its media node gets the units back.
    deps.registry.events.on('participant-left', (rec) => deps.placer.left(rec.id, rec.mediaNode));
  }

  /** The VMR an alias dials (`user`, `user@host`); 'not-found' (SIP 404) otherwise. */
  findVmr(user: string, host: string | undefined, caller: Caller, from: string): VmrConfig {
    const vmr = findVmrByAlias(this.deps.config, user, host);
    if (vmr) return vmr;
    const alias = host === undefined || caller === 'Call' ? user : `${user}@${host}`;
    this.deps.adminLog.add('info', `${caller} rejected: no conference alias '${alias}'`, { from });
    throw new ConfnodeError('not-found', caller === 'Call' ? `no conference with alias '${user}'` : `there is no room '${alias}'`);
  }

  /**
   * Places the participant's media and records it. Throws 'capacity' when the room or every node
   * that may carry it is full (SIP 503), 'unavailable' when the cluster cannot decide now.
   */
  async admit(vmr: VmrConfig, req: JoinRequest, caller: Caller, from: string): Promise<ParticipantRecord> {
    const refuse = (err: unknown): never => {
      this.deps.adminLog.add('warn', `${caller} rejected: ${errorMessage(err)}`, { conference: vmr.name, from });
      throw err;
    };
    if (this.deps.draining?.()) refuse(new ConfnodeError('capacity', 'this node is draining (shutting down): call another node'));
    const size = this.deps.registry.conference(vmr.name)?.participants.size ?? 0;
    if (vmr.max_participants !== undefined && size >= vmr.max_participants) {
      refuse(new ConfnodeError('capacity', `conference ${vmr.name} is full (${vmr.max_participants} participants)`));
    }
    // The id exists before the placement: a media node on another node holds capacity under it.
    const participant = asParticipantId(randomUUID());
    let placement;
    try {
      placement = await this.deps.placer.place({ vmr, cost: req.cost, participant });
    } catch (err) {
      return refuse(err);
    }
    try {
      const rec = this.deps.registry.join(vmr, req, placement, participant);
      placement.commit(participant);
      return rec;
    } catch (err) {
      placement.release();
      throw err;
    }
  }
}
