/**
 * The cluster bench's SIP callers: one minimal UAC (bench/load/sip-uac.ts) per node, INVITE with a
 * PCMU offer, ACK, BYE over UDP. Records each call's INVITE -> 200 OK time, the node whose RTP
 * range the 200's audio port is in, and on request what /api/v1/participants says of it. One
 * bound socket swallows the node's RTP for every call. Loopback only; every wait is bounded.
 */
import { createSocket, type Socket } from 'node:dgram';
import { z } from 'zod';
import { SipUac, type Call } from '../load/sip-uac';
import type { BenchCluster, ClusterNodeHandle } from './cluster-procs';
import { nodeOfPort } from './figures';

/** local: media on the node that received the call; remote: received by A, media on B. */
export type CallKind = 'local' | 'remote';

const ParticipantListSchema = z.array(
  z.object({
    conference: z.string(),
    /** The SIP source: which of our UACs sent the call. */
    remote: z.object({ port: z.number() }).optional(),
    joinedAt: z.string().optional(),
    signalingNode: z.string().optional(),
    mediaNode: z.string().optional(),
    placementReason: z.string().optional(),
  }),
);

export interface ApiView {
  signalingNode?: string;
  mediaNode?: string;
  placementReason?: string;
}

export interface CallRecord {
  kind: CallKind;
  vmr: string;
  /** INVITE sent -> 200 OK received, ms (undefined when the call failed). */
  setupMs?: number;
  /** The node whose RTP range holds the 200 OK's audio port. */
  mediaNodeBySdp?: string;
  /** What the signaling node's /api/v1/participants said while the call was up. */
  api?: ApiView;
  error?: string;
}

export interface HeldCall {
  record: CallRecord;
  call?: Call;
  uac: SipUac;
}

/** Anchors (the calls that keep a conference running) come from their own UAC, so the API tells them apart. */
type Uac = CallKind | 'anchor';

export class ClusterCallers {
  private constructor(
    private readonly cluster: BenchCluster,
    private readonly uacs: Record<Uac, SipUac>,
    private readonly rtpSink: Socket,
  ) {}

  static async open(cluster: BenchCluster): Promise<ClusterCallers> {
    const sink = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sink.once('error', reject);
      sink.bind(0, '127.0.0.1', () => resolve());
    });
    sink.on('message', () => undefined);
    sink.on('error', () => undefined);
    // Local calls go to B (media stays there), remote ones to A (media goes to B).
    const local = await SipUac.open({ host: '127.0.0.1', port: cluster.b.sipPort });
    const remote = await SipUac.open({ host: '127.0.0.1', port: cluster.a.sipPort });
    const anchor = await SipUac.open({ host: '127.0.0.1', port: cluster.b.sipPort });
    return new ClusterCallers(cluster, { local, remote, anchor }, sink);
  }

  signalingNode(kind: CallKind): ClusterNodeHandle {
    return kind === 'local' ? this.cluster.b : this.cluster.a;
  }

  /** INVITE `vmr` at the kind's signaling node; the call stays up until `hangUp`. */
  place(kind: CallKind, vmr: string, timeoutMs = 8000): Promise<HeldCall> {
    return this.invite(kind, kind, vmr, timeoutMs);
  }

  /** A local call that keeps `vmr` running (media on B), from a UAC of its own. */
  anchor(vmr: string): Promise<HeldCall> {
    return this.invite('anchor', 'local', vmr, 8000);
  }

  private async invite(from: Uac, kind: CallKind, vmr: string, timeoutMs: number): Promise<HeldCall> {
    const uac = this.uacs[from];
    const record: CallRecord = { kind, vmr };
    try {
      const call = await uac.invite(vmr, this.rtpSink.address().port, 'PCMU', timeoutMs);
      record.setupMs = call.setupMs;
      const by = nodeOfPort(call.media.port, { [this.cluster.a.name]: this.cluster.a.rtp, [this.cluster.b.name]: this.cluster.b.rtp });
      if (by !== undefined) record.mediaNodeBySdp = by;
      return { record, call, uac };
    } catch (e) {
      record.error = e instanceof Error ? e.message : String(e);
      return { record, uac };
    }
  }

  /**
   * Reads what the call's signaling node lists for it: the conference's latest participant that
   * came from the call's UAC (a running conference also holds its anchor and maybe other callers).
   */
  async checkApi(held: HeldCall): Promise<void> {
    const node = this.signalingNode(held.record.kind);
    try {
      const res = await fetch(`${node.baseUrl}/api/v1/participants`, { signal: AbortSignal.timeout(3000) });
      const list = ParticipantListSchema.safeParse(await res.json());
      const candidates = list.success ? list.data.filter((p) => p.conference === held.record.vmr && p.remote?.port === held.uac.localPort) : [];
      const mine = candidates.sort((x, y) => ((x.joinedAt ?? '') < (y.joinedAt ?? '') ? 1 : -1))[0];
      if (mine) {
        held.record.api = {
          ...(mine.signalingNode !== undefined ? { signalingNode: mine.signalingNode } : {}),
          ...(mine.mediaNode !== undefined ? { mediaNode: mine.mediaNode } : {}),
          ...(mine.placementReason !== undefined ? { placementReason: mine.placementReason } : {}),
        };
      }
    } catch {
      // A missing answer leaves the call unchecked; the report counts checked calls.
    }
  }

  async hangUp(held: HeldCall): Promise<void> {
    if (held.call) await held.uac.bye(held.call, 5000);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.uacs).map((u) => u.close()));
    await new Promise<void>((resolve) => {
      try {
        this.rtpSink.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
