/**
 * SDES-keyed SRTP (RFC 4568) of one plain-RTP stream: the two contexts (ours to protect what we
 * send, the peer's to unprotect what it sends) built from the base64 key||salt strings of the
 * SDP's a=crypto lines. Keys arrive as strings because they cross worker threads and the cluster
 * control channel; they are decoded once here and never logged, printed or put in an error.
 */
import { ConfnodeError } from '../../common';
import { SRTP_MASTER_KEY_BYTES, SRTP_MASTER_SALT_BYTES, SrtpContext, type SrtpMasterKey } from './srtp';

/** The SDES crypto suites we speak (RFC 4568 6.2). */
export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';
export const SRTP_SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** base64 of 30 bytes (key 16 || salt 14): 40 characters, no padding needed. */
export const SDES_KEY_BASE64_LENGTH = 40;
const SDES_KEY_RE = /^[A-Za-z0-9+/]{40}$/;

/** SRTP of one stream as negotiated: the suite, our key (what we send) and the peer's (what it sends). */
export interface SrtpKeys {
  suite: SrtpSuite;
  /** base64 key||salt we protect with (in our a=crypto). */
  localKey: string;
  /** base64 key||salt the peer protects with (in its a=crypto). */
  remoteKey: string;
}

/** True for a well-formed SDES inline key (40 base64 characters = 30 bytes). */
export function isSdesKey(text: string): boolean {
  return SDES_KEY_RE.test(text);
}

/** The master key and salt of an inline key; throws (without the key in the message) when malformed. */
export function decodeSdesKey(text: string, what: string): SrtpMasterKey {
  if (!isSdesKey(text)) throw new ConfnodeError('bad-request', `${what}: an SDES key is ${SDES_KEY_BASE64_LENGTH} base64 characters`);
  const raw = Buffer.from(text, 'base64');
  return { key: raw.subarray(0, SRTP_MASTER_KEY_BYTES), salt: raw.subarray(SRTP_MASTER_KEY_BYTES, SRTP_MASTER_KEY_BYTES + SRTP_MASTER_SALT_BYTES) };
}

export class SrtpStream {
  private constructor(
    readonly suite: SrtpSuite,
    private readonly localKey: string,
    private readonly remoteKey: string,
    readonly tx: SrtpContext,
    readonly rx: SrtpContext,
  ) {}

  /**
   * The contexts for `keys`. With `previous` (a re-INVITE), a direction whose key and suite did
   * not change keeps its context, so its rollover counter and replay window go on.
   */
  static create(keys: SrtpKeys, previous?: SrtpStream | null): SrtpStream {
    if (!(SRTP_SUITES as readonly string[]).includes(keys.suite)) throw new ConfnodeError('bad-request', 'unsupported SRTP crypto suite');
    const rtpTagBytes = keys.suite === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
    const same = previous?.suite === keys.suite ? previous : undefined;
    // The default SSRC bound (1024): only packets that authenticate make state, and a phone may
    // start a new SSRC at every re-INVITE of a long call.
    const opts = { rtpTagBytes } as const;
    const tx = same && same.localKey === keys.localKey ? same.tx : new SrtpContext(decodeSdesKey(keys.localKey, 'local SRTP key'), opts);
    const rx = same && same.remoteKey === keys.remoteKey ? same.rx : new SrtpContext(decodeSdesKey(keys.remoteKey, 'remote SRTP key'), opts);
    return new SrtpStream(keys.suite, keys.localKey, keys.remoteKey, tx, rx);
  }
}
