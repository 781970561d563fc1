/**
 * Time-limited TURN credentials for browsers (the TURN REST convention that coturn's
 * `use-auth-secret` / `static-auth-secret` implements): username `<expiry unix seconds>:<user>`,
 * credential base64(HMAC-SHA1(secret, username)). Pure: the time comes in as an argument. The
 * secret never leaves this module: only the derived credentials go to the page.
 */
import { createHmac } from 'node:crypto';
import type { TurnServerConfig } from '../config';

/** One RTCIceServer as the page hands it to its RTCPeerConnection. */
export interface TurnIceServer {
  urls: string[];
  username: string;
  credential: string;
}

/** The REST-convention password for `username`: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/**
 * Credentials for every configured TURN server, valid `ttl_s` from `nowMs` (wall-clock ms since
 * the epoch). `user` names who they are for (a participant id); a ':' in it would be read as the
 * end of the expiry by nobody, but it is replaced anyway to keep the username unambiguous.
 */
export function turnIceServers(servers: readonly TurnServerConfig[], user: string, nowMs: number): TurnIceServer[] {
  const who = user.replace(/:/g, '_');
  return servers.map((s) => {
    const expiry = Math.floor(nowMs / 1000) + s.ttl_s;
    const username = `${expiry}:${who}`;
    return { urls: [...s.urls], username, credential: turnPassword(s.secret, username) };
  });
}
