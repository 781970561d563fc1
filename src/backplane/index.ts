/**
 * Local backplanes (DESIGN.md section 6): SRTP links between the media nodes of a conference,
 * their keys, stream announcements and per-thread host. Other folders import only this file.
 */
export { deriveLinkKeys, deriveDirectionKey, LINK_NONCE_BYTES, SRTP_MASTER_KEY_BYTES, SRTP_MASTER_SALT_BYTES, type LinkKeys, type LinkKeyInput, type SrtpMasterKey } from './keys';
export { newLinkNonce } from './nonce';
export { SrtpContext, type SrtpFailure } from './deps';
export { backplaneStreamsSchema, parseBackplaneStreams, backplaneMeshTag, meshPrefixOf, BACKPLANE_MESH_PREFIX, type BackplaneKind, MAX_LINK_STREAMS, type BackplaneStream } from './streams';
export { BackplaneLink, type BackplaneLinkOptions } from './link';
export type { BackplaneLinkStats, BackplaneAddress, BackplaneRouter } from './types';
export {
  BackplaneHost,
  backplaneOpHandlers,
  forwardBackplaneEvents,
  type BackplaneHostOptions,
  type BackplaneHostEvents,
  type BackplaneMedia,
  type BackplaneOps,
  type BackplaneEventPayloads,
  type LinkOptions,
} from './host';
export { impairedSocket, checkImpairment, type WanImpairment, type WanCounters } from './wan-sim';
