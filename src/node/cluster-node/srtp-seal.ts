/**
 * SDES-SRTP keys of a SIP call whose media runs on another node cross the control channel sealed:
 * the channel authenticates its frames but does not encrypt them, and a key must never cross the
 * operator's network in clear (the backplanes' keys never cross it at all). AES-256-GCM under a
 * key derived from the cluster secret (HKDF), bound to the participant and to which key it is.
 * Never logs a key; a seal that does not open is refused without saying more.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfnodeError } from '../../common';
import type { RtpParticipantUpdate, RtpRemote, SrtpKeys } from '../../media';

const INFO = 'confnode control sdes seal v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** base64 of iv 12 || sealed key 30 || tag 16 = 58 bytes. */
export const SEALED_KEY_RE = /^[A-Za-z0-9+/]{78}==$/;

type Which = 'audio-local' | 'audio-remote' | 'video-local' | 'video-remote';

export class SrtpKeySeal {
  private readonly key: Buffer;

  constructor(clusterSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(clusterSecret, 'utf8'), Buffer.alloc(0), INFO, 32));
  }

  /** The update with every SRTP key sealed (what goes to the media node). */
  sealUpdate(participant: string, u: RtpParticipantUpdate): RtpParticipantUpdate {
    return this.map(u, (which, key) => this.seal(participant, which, key));
  }

  /** The update with every SRTP key opened (on the media node); throws bad-request when one does not open. */
  openUpdate(participant: string, u: RtpParticipantUpdate): RtpParticipantUpdate {
    return this.map(u, (which, key) => this.open(participant, which, key));
  }

  private map(u: RtpParticipantUpdate, f: (which: Which, key: string) => string): RtpParticipantUpdate {
    const remote = (r: RtpRemote, kind: 'audio' | 'video'): RtpRemote => {
      if (!r.srtp) return r;
      const srtp: SrtpKeys = { suite: r.srtp.suite, localKey: f(`${kind}-local`, r.srtp.localKey), remoteKey: f(`${kind}-remote`, r.srtp.remoteKey) };
      return { ...r, srtp };
    };
    return { ...u, remote: remote(u.remote, 'audio'), ...(u.video ? { video: { ...u.video, remote: remote(u.video.remote, 'video') } } : {}) };
  }

  private seal(participant: string, which: Which, key: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${participant}\0${which}`, 'utf8'));
    const body = Buffer.concat([cipher.update(Buffer.from(key, 'base64')), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  private open(participant: string, which: Which, sealed: string): string {
    const raw = Buffer.from(sealed, 'base64');
    if (!SEALED_KEY_RE.test(sealed) || raw.length <= IV_BYTES + TAG_BYTES) throw new ConfnodeError('bad-request', 'a sealed SRTP key is malformed');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${participant}\0${which}`, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('base64');
    } catch {
      throw new ConfnodeError('bad-request', 'a sealed SRTP key does not open (another cluster secret, or tampered)');
    }
  }
}
