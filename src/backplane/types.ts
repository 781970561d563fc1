/**
 * The backplane's public shapes: a link's address, what a link needs of its conference's router,
 * and the counters and QoS a link reports (plain data: they cross threads and nodes as they are).
 * Types only.
 */
import type { ConferenceId, MediaRouter, NodeId } from './deps';

/** What a link needs of the conference's router. */
export type BackplaneRouter = Pick<MediaRouter, 'addRemoteSource' | 'addRemoteSink' | 'on'>;

export interface BackplaneAddress {
  address: string;
  port: number;
}

/** What GET /api/v1/backplanes shows of a link (plain data: crosses threads as is). */
export interface BackplaneLinkStats {
  kind: 'local' | 'geo';
  conference: ConferenceId;
  peer: NodeId;
  local: BackplaneAddress;
  remote: BackplaneAddress | undefined;
  streamsOut: number;
  streamsIn: number;
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  rtcpOut: number;
  rtcpIn: number;
  nacksOut: number;
  nacksIn: number;
  /** Missing packets of the peer's streams asked for MAX_NACK_TRIES times in vain. */
  nacksGivenUp: number;
  retransmitted: number;
  keyframeRequestsOut: number;
  keyframeRequestsIn: number;
  srtpAuthFailures: number;
  srtpReplays: number;
  /** Datagrams dropped: from another address, of an unannounced SSRC, malformed, before connect. */
  dropped: { wrongSource: number; unknownSsrc: number; malformed: number; beforeConnect: number };
  /** Streams of the peer that this conference refused (e.g. an owner that is local here). */
  streamsRefused: number;
  /** Send or receive errors of the link's socket. */
  socketErrors: number;
  /** From the last report block about our SR (RFC 3550 6.4.1); undefined until one came. */
  rttMs: number | undefined;
  /** Worst interarrival jitter of the peer's streams, ms. */
  jitterMs: number;
  /** Fraction of the peer's packets that never arrived (cumulative, all its streams). */
  lossIn: number;
  /** Fraction of ours the peer last reported lost (worst stream of its last report). */
  lossOut: number;
  /** Tests and benchmarks: what the simulated WAN did to what this link sent. */
  wanSim?: { delayed: number; dropped: number; overflowed: number; lateSumMs: number; lateMaxMs: number };
}
