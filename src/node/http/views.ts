/**
 * The JSON shapes of the admin API and the `NodeApi` port the node implements to fill them.
 * Plain data only (strings, numbers, booleans, arrays): what the API sends is exactly these
 * objects serialised. No logic here and no imports of the node's internals.
 */

export type Awaitable<T> = T | Promise<T>;

/** Lifecycle of a node as the cluster sees it. */
export type NodeStateView = 'starting' | 'active' | 'draining' | 'stopping';

export interface HealthView {
  /** 'draining' makes /healthz answer 503 so a load balancer stops sending new calls. */
  status: 'ok' | 'draining';
}

export interface SocketAddressView {
  address: string;
  port: number;
}

export interface NodeStatusView {
  node: string;
  location: string;
  /** Units, from the config. */
  capacity: number;
  /** Units in use (participants and backplanes, by the capacity costs). */
  load: number;
  state: NodeStateView;
  /** `port` is UDP and TCP; `tlsPort` (with 'tls' in transports) is SIP over TLS. */
  sip: SocketAddressView & { transports: ('udp' | 'tcp' | 'tls')[]; tlsPort?: number };
  /** `scheme` and `url` (the join page) in /api/v1/status: https when the node has a certificate. */
  http: SocketAddressView & { scheme?: 'http' | 'https'; url?: string };
  control: SocketAddressView;
  uptimeSeconds: number;
  version: string;
}

export interface ConferenceView {
  /** Conference instance id (stable while it runs). */
  id: string;
  /** VMR name; also the key of DELETE /api/v1/conferences/{name}. */
  name: string;
  aliases?: string[];
  /** ISO 8601. */
  startedAt: string;
  participants: number;
  /** Location names the conference spans. */
  locations: string[];
  /** Names of the nodes carrying its media. */
  mediaNodes: string[];
  /** Names of its proxy nodes, one per location (when it spans locations). */
  proxyNodes: string[];
  /** Participant id of the current speaker. */
  activeSpeaker?: string;
}

export interface RemoteView {
  transport: string;
  address: string;
  port: number;
}

export interface ParticipantView {
  id: string;
  /** Conference (VMR) name. */
  conference: string;
  protocol: 'sip' | 'webrtc';
  displayName: string;
  /** Where its signaling comes from. */
  remote: RemoteView;
  signalingNode: string;
  mediaNode: string;
  mediaLocation: string;
  /** Why its media went where it did: 'affinity', 'least-loaded', 'overflow-primary', ... */
  placementReason: string;
  /** 'participant', or with PINs 'waiting-for-pin' until the caller keys one, then 'host' / 'guest'. */
  role: string;
  /** A SIP phone holding the call: what it sends (music on hold) is kept out of the conference. */
  onHold?: boolean;
  audioCodec: string;
  videoCodec?: string;
  /** Why it has no video, e.g. 'no common video codec (conference uses H264 packetization-mode=1)'. */
  videoUnavailableReason?: string;
  /** SIP endpoints with video: the participant whose video they are shown (voice switching). */
  videoShowing?: string;
  videoPacketsIn?: number;
  videoPacketsOut?: number;
  packetsIn: number;
  packetsOut: number;
  packetsDropped: number;
  currentSpeaker: boolean;
  /** ISO 8601. */
  joinedAt: string;
}

export interface BackplaneView {
  id: string;
  conference: string;
  kind: 'local' | 'geo';
  peerNode: string;
  peerLocation: string;
  /** Streams on the link, both ways, and each way. */
  streams: number;
  streamsIn?: number;
  streamsOut?: number;
  rttMs?: number;
  jitterMs?: number;
  /** 0..1 */
  lossFraction?: number;
  packetsIn: number;
  packetsOut: number;
  /** Backplane packets refused by SRTP authentication (forged, corrupted or keyed wrong). */
  srtpAuthFailures?: number;
  /** NACKs this link sent (for the peer's streams) and got (for its own), packets it sent again, and packets given up after three NACKs. */
  nacksOut?: number;
  nacksIn?: number;
  retransmitted?: number;
  nacksGivenUp?: number;
  /** Tests and benchmarks (`wan_sim`): what the simulated WAN did to what this link sent. */
  wanSim?: { delayed: number; dropped: number; lateMeanMs: number; lateMaxMs: number };
}

export interface AdminLogEntryView {
  /** ISO 8601. */
  time: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  conference?: string;
  /** Further structured fields (e.g. originalLocation, overflowLocation for rule R7). */
  [field: string]: unknown;
}

export interface AdminLogQuery {
  /** Most recent entries first is the api's choice; at most this many (1..1000). */
  limit?: number;
  /** Only entries of this conference. */
  conference?: string;
}

/**
 * What the HTTP layer needs from the node. Every method may be sync or async; a thrown
 * ConfnodeError('not-found') becomes 404, 'bad-request' 400, anything else 500 (and is logged).
 */
export interface NodeApi {
  health(): Awaitable<HealthView>;
  status(): Awaitable<NodeStatusView>;
  /** Every live node of the cluster (this one included), from the cluster store. */
  nodes(): Awaitable<NodeStatusView[]>;
  conferences(): Awaitable<ConferenceView[]>;
  participants(): Awaitable<ParticipantView[]>;
  backplanes(): Awaitable<BackplaneView[]>;
  adminLog(query: AdminLogQuery): Awaitable<AdminLogEntryView[]>;
  /** Hangs up everyone (SIP BYE, WebRTC close); undefined when no such conference runs here. */
  endConference(name: string): Promise<{ participants: number } | undefined>;
  /** Hangs up one participant; false when unknown. */
  hangupParticipant(id: string): Promise<boolean>;
}
