/**
 * A side's fresh random nonce for a new link's keys (see keys.ts). The one place the backplane
 * draws key randomness; never reuses a nonce for a second link.
 */
import { randomBytes } from 'node:crypto';
import { LINK_NONCE_BYTES } from './keys';

export function newLinkNonce(): Buffer {
  return randomBytes(LINK_NONCE_BYTES);
}
