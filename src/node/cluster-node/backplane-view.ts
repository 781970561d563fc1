/**
 * One backplane link as GET /api/v1/backplanes shows it: the link's counters and QoS (from its
 * media thread), named by conference (VMR) and the peer's location. Pure.
 */
import type { BackplaneLinkStats } from '../../backplane';
import type { BackplaneView } from '../http';

const r2 = (v: number): number => Math.round(v * 100) / 100;

export function backplaneView(l: BackplaneLinkStats, conference: string, peerLocation: string): BackplaneView {
  return {
    id: `${l.conference}/${l.peer}`,
    conference,
    kind: l.kind,
    peerNode: l.peer,
    peerLocation,
    streams: l.streamsIn + l.streamsOut,
    streamsIn: l.streamsIn,
    streamsOut: l.streamsOut,
    ...(l.rttMs !== undefined ? { rttMs: r2(l.rttMs) } : {}),
    jitterMs: r2(l.jitterMs),
    lossFraction: l.lossIn,
    packetsIn: l.packetsIn,
    packetsOut: l.packetsOut,
    srtpAuthFailures: l.srtpAuthFailures,
    nacksOut: l.nacksOut,
    nacksIn: l.nacksIn,
    retransmitted: l.retransmitted,
    nacksGivenUp: l.nacksGivenUp,
    ...(l.wanSim
      ? {
          wanSim: {
            delayed: l.wanSim.delayed,
            dropped: l.wanSim.dropped,
            lateMeanMs: l.wanSim.delayed > 0 ? r2(l.wanSim.lateSumMs / l.wanSim.delayed) : 0,
            lateMaxMs: r2(l.wanSim.lateMaxMs),
          },
        }
      : {}),
  };
}
