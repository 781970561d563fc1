/**
 * What we negotiate with browsers and how a werift peer connection is configured: every audio
 * codec a source may carry on each send m-line (so SIP audio is forwarded untouched), the
 * conference's one video codec, host candidates on the configured address only. Never offers
 * transport-cc (Chromium's send estimate collapsed towards us) nor RED (werift would wrap in it).
 */
import { RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, type PeerConfig, type RTCPeerConnection } from 'werift';
import type { AudioCodecName } from '../codecs/types';

export type VideoCodecName = 'H264' | 'VP8';

/** Payload types we offer; the static ones are RFC 3551's, Opus and video follow Chromium's habits. */
export const AUDIO_PAYLOAD_TYPES: Readonly<Record<AudioCodecName, number>> = { opus: 111, PCMU: 0, PCMA: 8, G722: 9 };
const VIDEO_PT = 96;
const VIDEO_RTX_PT = 97;

/** H.264 constrained baseline 3.1, packetization-mode=1: what Chromium, baresip and room systems share. */
export const H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f';

const MIME_OF: Readonly<Record<AudioCodecName, string>> = {
  opus: 'audio/opus',
  PCMU: 'audio/PCMU',
  PCMA: 'audio/PCMA',
  G722: 'audio/G722',
};

export function audioMimeType(codec: AudioCodecName): string {
  return MIME_OF[codec];
}

export function audioCodecParameters(): RTCRtpCodecParameters[] {
  return [
    new RTCRtpCodecParameters({
      mimeType: MIME_OF.opus,
      clockRate: 48000,
      channels: 2,
      payloadType: AUDIO_PAYLOAD_TYPES.opus,
      parameters: 'minptime=10;useinbandfec=1',
    }),
    new RTCRtpCodecParameters({ mimeType: MIME_OF.PCMU, clockRate: 8000, channels: 1, payloadType: AUDIO_PAYLOAD_TYPES.PCMU }),
    new RTCRtpCodecParameters({ mimeType: MIME_OF.PCMA, clockRate: 8000, channels: 1, payloadType: AUDIO_PAYLOAD_TYPES.PCMA }),
    // RFC 3551 4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
    new RTCRtpCodecParameters({ mimeType: MIME_OF.G722, clockRate: 8000, channels: 1, payloadType: AUDIO_PAYLOAD_TYPES.G722 }),
  ];
}

export function videoCodecParameters(codec: VideoCodecName): RTCRtpCodecParameters[] {
  const rtcpFeedback = [
    { type: 'nack' },
    { type: 'nack', parameter: 'pli' },
    { type: 'ccm', parameter: 'fir' },
    { type: 'goog-remb' },
  ];
  const primary =
    codec === 'H264'
      ? new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: VIDEO_PT, rtcpFeedback, parameters: H264_FMTP })
      : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: VIDEO_PT, rtcpFeedback });
  const rtx = new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: VIDEO_RTX_PT, parameters: `apt=${VIDEO_PT}` });
  return [primary, rtx];
}

/**
 * werift 0.25.2 asks a STUN server for a server-reflexive candidate whenever it gathers, and when
 * the configuration names none it asks stun.l.google.com:19302 (ice.js DEFAULT_STUN_SERVER):
 * every media node would look Google up and query it for every browser, and gathering (so the
 * answer) waited 5 s whenever the lookup hung. We offer only the configured host address, so that
 * candidate is of no use. Call before each setLocalDescription (it gathers; a transport made
 * since, or an ICE restart, has the default again).
 */
export function noStunQuery(pc: RTCPeerConnection): void {
  for (const t of pc.iceTransports) t.connection.stunServer = undefined;
}

export interface PeerConfigOptions {
  /** The only address we gather host candidates on (and bind ICE sockets to). */
  address: string;
  /** The address the host candidate announces, when peers reach us at another one (1:1 NAT). */
  announceAddress?: string | undefined;
  videoCodec: VideoCodecName;
  /** UDP ports for ICE sockets; werift picks free ephemeral ports when absent. */
  icePortRange?: [number, number];
}

/**
 * werift's host gathering lists every non-loopback interface address (useIpv4/useIpv6) and then
 * prepends `iceAdditionalHostAddresses`; `iceInterfaceAddresses` only picks the bind address. So
 * both families off + the one additional address = exactly one host candidate, on a socket bound
 * to that address (checked in werift 0.25.2 ice.js gatherCandidates and UdpTransport.init).
 */
export function peerConfig(opts: PeerConfigOptions): Partial<PeerConfig> {
  // A wildcard bind address names no interface: then gather on every interface as werift does.
  const wildcard = opts.address === '0.0.0.0' || opts.address === '::';
  const v6 = opts.address.includes(':');
  return {
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceFilterCandidatePair: (pair) => pairableHosts(pair.protocol.localCandidate?.host ?? '', pair.remoteCandidate.host),
    iceUseIpv4: wildcard,
    iceUseIpv6: false,
    iceUseTcp: false,
    iceAdditionalHostAddresses: wildcard ? undefined : [opts.announceAddress ?? opts.address],
    iceInterfaceAddresses: wildcard ? undefined : v6 ? { udp6: opts.address } : { udp4: opts.address },
    icePortRange: opts.icePortRange,
    codecs: { audio: audioCodecParameters(), video: videoCodecParameters(opts.videoCodec) },
    headerExtensions: {
      audio: [
        new RTCRtpHeaderExtensionParameters({ id: 1, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }),
        new RTCRtpHeaderExtensionParameters({ id: 3, uri: AUDIO_LEVEL_URI }),
      ],
      video: [
        new RTCRtpHeaderExtensionParameters({ id: 1, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }),
        new RTCRtpHeaderExtensionParameters({ id: 2, uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time' }),
      ],
    },
  };
}

/**
 * Drops mDNS (`.local`) candidates from a browser's SDP: werift would try to resolve them itself,
 * and on loopback they never lead anywhere. Also drops candidate lines of unknown shape.
 */
/**
 * Whether an ICE pair can work at all: a loopback address reaches only loopback, and a host
 * address never reaches another host's loopback. A browser on the same machine also offers its
 * LAN addresses; pairing our 127.0.0.1 with them would only waste checks (and send to an
 * address a loopback-only node must not use). Pure.
 */
export function pairableHosts(local: string, remote: string): boolean {
  return isLoopback(local) === isLoopback(remote);
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h.startsWith('127.') || h === '::1' || h === 'localhost' || h.startsWith('::ffff:127.');
}

/** RFC 6464 client-to-mixer audio level: one byte, V flag and level in -dBov (127 = digital silence). */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/**
 * Whether a packet's RFC 6464 audio level (extension `id`, 0 = not negotiated) says digital
 * silence (-127 dBov): a muted microphone or a silent source. Such packets carry nothing a
 * viewer could hear; an SFU need not forward them (the mix still gets them). Pure.
 */
export function isDigitalSilence(extensions: readonly { id: number; payload: Buffer }[], id: number): boolean {
  return audioLevelOf(extensions, id) === 127;
}

/** The RFC 6464 level (0 = 0 dBov .. 127 = digital silence) of extension `id`, or -1 when absent. */
export function audioLevelOf(extensions: readonly { id: number; payload: Buffer }[], id: number): number {
  if (id <= 0) return -1;
  for (let i = 0; i < extensions.length; i++) {
    const e = extensions[i];
    if (e && e.id === id) return e.payload.length >= 1 ? (e.payload[0] ?? 0) & 0x7f : -1;
  }
  return -1;
}

export function dropMdnsCandidates(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(/\r?\n/)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = line.split(' ')[4];
      return address !== undefined && !address.toLowerCase().endsWith('.local');
    })
    .join(eol);
}

/**
 * Adds `usedtx=1` to every Opus fmtp of our answer (werift copies the offer's fmtp): a browser's
 * microphone in a quiet room then sends one comfort-noise frame per 400 ms instead of 50 frames a
 * second (LiveKit's default too), so every viewer gets that much less to decrypt, forward and
 * decode. RFC 7587 7.1: usedtx is the receiver's preference, so it belongs in what we send. Pure.
 */
export function preferOpusDtx(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const opus = new Set<string>();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (m?.[1]) opus.add(m[1]);
  }
  return lines
    .map((line) => {
      const m = /^a=fmtp:(\d+) (.*)$/.exec(line);
      if (!m?.[1] || !opus.has(m[1]) || /(^|;)\s*usedtx=/.test(m[2] ?? '')) return line;
      return `${line};usedtx=1`;
    })
    .join(eol);
}

/**
 * Header extension ids for a new m-line in a BUNDLE group: an extension the session already uses
 * keeps its id (Chromium refuses one URI with two ids, or one id with two URIs); a new one takes
 * the smallest free one-byte id (1-14). Pure.
 */
export function bundleHeaderExtensionIds(
  wanted: readonly { uri: string }[],
  inUse: readonly { id: number; uri: string }[],
): Array<{ id: number; uri: string }> {
  const byUri = new Map(inUse.map((e) => [e.uri, e.id]));
  const taken = new Set(inUse.map((e) => e.id));
  const out: Array<{ id: number; uri: string }> = [];
  for (const w of wanted) {
    let id = byUri.get(w.uri);
    if (id === undefined) {
      id = 1;
      while (taken.has(id) && id <= 14) id++;
      if (id > 14) continue; // no room: leave the extension out rather than collide
      taken.add(id);
      byUri.set(w.uri, id);
    }
    out.push({ id, uri: w.uri });
  }
  return out;
}
