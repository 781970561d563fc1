/**
 * Our SRTP under werift's DTLS transports. werift keeps ICE, DTLS and the SDP; once a transport's
 * DTLS is connected, its SRTP and SRTCP sessions are replaced by ones on our SrtpContext
 * (media/rtp/srtp.ts): keyed once per session key on native/srtp (no cipher or HMAC object per
 * packet, which is what werift's own sessions cost), with the RFC 3711 replay window werift
 * does not keep. The keys are the ones werift's DTLS exported (RFC 5764 4.2), read once here and
 * never logged.
 *
 * werift prefers AEAD_AES_128_GCM; our contexts do AES_CM_128_HMAC_SHA1_80 (RFC 5764's mandatory
 * profile, what Janus and Chromium both offer), so `offerAesCmOnly` narrows each transport's
 * profile list before its handshake. A transport that negotiated anything else keeps werift's.
 *
 * Seam: werift calls only `srtp.decrypt(buf)`, `srtp.encrypt(payload, header)`,
 * `srtcp.decrypt(buf)` and `srtcp.encrypt(buf)`, and drops a packet whose decrypt throws its
 * SrtpAuthenticationError (werift 0.25.2, transport/dtls.js; checked by the tests).
 */
import { type RTCDtlsTransport, type RTCPeerConnection, type RtpHeader, SrtpAuthenticationError } from 'werift';
import { SrtpContext, type SrtpFailure } from '../rtp/srtp';

/** SRTP_AES128_CM_HMAC_SHA1_80 in the DTLS use_srtp extension (RFC 5764 4.1.2). */
const AES_CM_128_HMAC_SHA1_80 = 1;

/** Packets refused by our contexts, per reason (plain numbers, read by the endpoint's stats). */
export interface SrtpDrops {
  auth: number;
  replay: number;
  malformed: number;
}

interface DtlsInternals {
  srtpProfiles: number[];
  dtls?: {
    srtp: { srtpProfile?: number };
    extractSessionKeys(keyLength: number, saltLength: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
  };
  srtp: unknown;
  srtcp: unknown;
}

function internals(t: RTCDtlsTransport): DtlsInternals {
  return t as unknown as DtlsInternals;
}

/** Before DTLS starts: offer (or accept) only AES_CM_128_HMAC_SHA1_80 on every transport of `pc`. */
export function offerAesCmOnly(pc: RTCPeerConnection): void {
  for (const t of pc.dtlsTransports) {
    const i = internals(t);
    if (t.state === 'new' && Array.isArray(i.srtpProfiles)) i.srtpProfiles = [AES_CM_128_HMAC_SHA1_80];
  }
}

const watched = new WeakSet<RTCDtlsTransport>();

/**
 * offerAesCmOnly, and our SRTP put on each transport of `pc` the moment its DTLS connects (werift
 * starts its own SRTP just before it says so): nothing is sent or received on werift's sessions
 * but what raced the event. `other` hears of a transport that negotiated another profile;
 * `connected` of every transport whose DTLS has connected, after its SRTP is in place.
 */
export function useOurSrtpOnConnect(pc: RTCPeerConnection, drops: SrtpDrops, other: () => void, connected: () => void): void {
  offerAesCmOnly(pc);
  for (const t of pc.dtlsTransports) {
    if (watched.has(t)) continue;
    watched.add(t);
    t.onStateChange.subscribe((state) => {
      if (state !== 'connected') return;
      if (!installOurSrtp(t, drops)) other();
      connected();
    });
  }
}

function refuse(drops: SrtpDrops, why: SrtpFailure): never {
  drops[why]++;
  throw new SrtpAuthenticationError(`SRTP packet refused: ${why}`);
}

class OurSrtpSession {
  constructor(
    readonly tx: SrtpContext,
    private readonly rx: SrtpContext,
    private readonly drops: SrtpDrops,
  ) {}

  decrypt = (buf: Buffer): Buffer => {
    const out = this.rx.unprotectRtp(buf);
    return typeof out === 'string' ? refuse(this.drops, out) : out;
  };

  encrypt(payload: Buffer, header: RtpHeader): Buffer {
    return this.tx.protectRtpParts(header.serialize(header.serializeSize), payload);
  }
}

class OurSrtcpSession {
  constructor(
    private readonly tx: SrtpContext,
    private readonly rx: SrtpContext,
    private readonly drops: SrtpDrops,
  ) {}

  decrypt = (buf: Buffer): Buffer => {
    const out = this.rx.unprotectRtcp(buf);
    return typeof out === 'string' ? refuse(this.drops, out) : out;
  };

  encrypt(buf: Buffer): Buffer {
    return this.tx.protectRtcp(buf);
  }
}

/**
 * Puts our SRTP/SRTCP sessions on a connected transport that negotiated AES_CM_128_HMAC_SHA1_80.
 * True when they are ours (now or already); false leaves werift's in place.
 */
export function installOurSrtp(t: RTCDtlsTransport, drops: SrtpDrops): boolean {
  const i = internals(t);
  if (i.srtp instanceof OurSrtpSession) return true;
  if (t.state !== 'connected' || !i.dtls || i.dtls.srtp.srtpProfile !== AES_CM_128_HMAC_SHA1_80) return false;
  const k = i.dtls.extractSessionKeys(16, 14);
  const local = { key: k.localKey, salt: k.localSalt };
  const remote = { key: k.remoteKey, salt: k.remoteSalt };
  const txRtp = new SrtpContext(local);
  const rxRtp = new SrtpContext(remote);
  i.srtp = new OurSrtpSession(txRtp, rxRtp, drops);
  // SRTCP has its own indices and replay state, but the same contexts (session keys per label).
  i.srtcp = new OurSrtcpSession(txRtp, rxRtp, drops);
  return true;
}

/** The context protecting what `t` sends, when its SRTP is ours (fast-send.ts). */
export function ourSrtpSender(t: RTCDtlsTransport): SrtpContext | undefined {
  const srtp = internals(t).srtp;
  return srtp instanceof OurSrtpSession ? srtp.tx : undefined;
}
