/**
 * SRTP master keys of a backplane link (pure): per link and direction, HKDF-SHA256 over the
 * cluster secret, salted with both sides' random nonces, bound to the conference instance and to
 * the direction (sender node -> receiver node). Keys never leave the nodes' memory: only the
 * nonces cross the control channel. Never logs, stores or compares keys itself.
 */
import { hkdfSync } from 'node:crypto';
import { ConfnodeError, SRTP_MASTER_KEY_BYTES, SRTP_MASTER_SALT_BYTES, type SrtpMasterKey } from './deps';

export { SRTP_MASTER_KEY_BYTES, SRTP_MASTER_SALT_BYTES, checkMasterKey, type SrtpMasterKey } from './deps';
/** Each side's contribution to a link's keys (fresh per link). */
export const LINK_NONCE_BYTES = 16;
/** Versioned, so a later key schedule cannot be confused with this one. */
const INFO_LABEL = 'confnode backplane srtp v1';

/** A link's keys, as one side sees them: what it protects with, and what it unprotects with. */
export interface LinkKeys {
  readonly send: SrtpMasterKey;
  readonly receive: SrtpMasterKey;
}

export interface LinkKeyInput {
  /** The cluster secret (config `cluster.secret`). */
  secret: string | Uint8Array;
  /** The conference instance id (the cluster's, the same on every node). */
  conference: string;
  localNode: string;
  peerNode: string;
  localNonce: Uint8Array;
  peerNonce: Uint8Array;
}

/**
 * The keys of one direction. Both nonces salt it (a replayed old nonce of one side cannot recreate
 * an old key); `info` names the direction so the two directions never share a keystream.
 */
export function deriveDirectionKey(
  secret: string | Uint8Array,
  conference: string,
  sender: string,
  receiver: string,
  senderNonce: Uint8Array,
  receiverNonce: Uint8Array,
): SrtpMasterKey {
  const ikm = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  const salt = Buffer.concat([Buffer.from(senderNonce), Buffer.from(receiverNonce)]);
  // NUL-separated: node names and conference ids never contain NUL, so fields cannot run together.
  const info = Buffer.from([INFO_LABEL, conference, sender, receiver].join('\0'), 'utf8');
  const okm = Buffer.from(hkdfSync('sha256', ikm, salt, info, SRTP_MASTER_KEY_BYTES + SRTP_MASTER_SALT_BYTES));
  return { key: okm.subarray(0, SRTP_MASTER_KEY_BYTES), salt: okm.subarray(SRTP_MASTER_KEY_BYTES) };
}

/** A side's keys of a link: its send key is the peer's receive key, and the reverse. */
export function deriveLinkKeys(input: LinkKeyInput): LinkKeys {
  checkInput(input);
  const { secret, conference, localNode, peerNode, localNonce, peerNonce } = input;
  return {
    send: deriveDirectionKey(secret, conference, localNode, peerNode, localNonce, peerNonce),
    receive: deriveDirectionKey(secret, conference, peerNode, localNode, peerNonce, localNonce),
  };
}

function checkInput(input: LinkKeyInput): void {
  const secretBytes = typeof input.secret === 'string' ? Buffer.byteLength(input.secret) : input.secret.length;
  if (secretBytes === 0) throw new ConfnodeError('config', 'backplane keys need the cluster secret');
  if (input.localNode === input.peerNode) throw new ConfnodeError('bad-request', `a backplane joins two nodes, not ${input.localNode} to itself`);
  if (input.conference.length === 0) throw new ConfnodeError('bad-request', 'backplane keys are bound to a conference instance');
  for (const [name, nonce] of [['local', input.localNonce], ['peer', input.peerNonce]] as const) {
    if (nonce.length !== LINK_NONCE_BYTES) throw new ConfnodeError('bad-request', `the ${name} link nonce must be ${LINK_NONCE_BYTES} bytes, not ${nonce.length}`);
  }
}
