/**
 * Session timers (RFC 4028), pure: what a UAS answers to a dialog-creating or refreshing request
 * (INVITE, re-INVITE, UPDATE) and when the session expires. A caller behind a proxy uses them to
 * keep its call alive; a call whose refreshes stop is ended, so a phone gone without a BYE does
 * not hold its seat. No I/O, no clock: the call schedules what this decides.
 */
import { getHeaderLines, type SipHeader, type SipRequest } from './message';
import { splitHeaderList } from './headers';

/** Our Min-SE: RFC 4028 4 and 5 set 90 s as the smallest interval anyone may ask for. */
export const MIN_SE = 90;

export type Refresher = 'uac' | 'uas';

export type SessionTimerDecision =
  /** No session timer for this request (none asked, or none we can keep). */
  | { kind: 'none' }
  /** 422 Session Interval Too Small, with our Min-SE (section 9). */
  | { kind: 'too-small'; minSe: number }
  | { kind: 'timer'; intervalS: number; refresher: Refresher; headers: SipHeader[] };

/** `timer` in Supported or Require: the caller does session timers itself. */
function callerSupportsTimer(req: SipRequest): boolean {
  for (const name of ['Supported', 'Require']) {
    for (const line of getHeaderLines(req, name)) {
      if (splitHeaderList(line).some((t) => t.trim().toLowerCase() === 'timer')) return true;
    }
  }
  return false;
}

/** The UPDATE method in the caller's Allow: we may refresh with an UPDATE without a body. */
export function callerAllowsUpdate(req: SipRequest): boolean {
  return getHeaderLines(req, 'Allow').some((line) => splitHeaderList(line).some((m) => m.trim().toUpperCase() === 'UPDATE'));
}

/** `Session-Expires: 1800;refresher=uac` (compact `x`); undefined when absent, null when malformed. */
export function parseSessionExpires(req: SipRequest): { intervalS: number; refresher?: Refresher } | undefined | null {
  const line = getHeaderLines(req, 'Session-Expires')[0];
  if (line === undefined) return undefined;
  const [delta, ...params] = line.split(';').map((p) => p.trim());
  if (delta === undefined || !/^\d{1,10}$/.test(delta)) return null;
  const out: { intervalS: number; refresher?: Refresher } = { intervalS: Number(delta) };
  for (const p of params) {
    const [k, v] = p.split('=').map((x) => x.trim().toLowerCase());
    if (k === 'refresher') {
      if (v !== 'uac' && v !== 'uas') return null;
      out.refresher = v;
    }
  }
  return out;
}

/** `Min-SE: 90`; undefined when absent, null when malformed. */
export function parseMinSe(req: SipRequest): number | undefined | null {
  const line = getHeaderLines(req, 'Min-SE')[0];
  if (line === undefined) return undefined;
  const delta = line.split(';')[0]?.trim() ?? '';
  return /^\d{1,10}$/.test(delta) ? Number(delta) : null;
}

/**
 * Section 9, the UAS: the interval the request asks for (at least our Min-SE and the request's),
 * who refreshes (the request's choice; `uac` when the caller supports timers and left it to us;
 * `uas` when it does not: then we refresh, which we do with UPDATE only, so without the caller's
 * UPDATE we keep no timer rather than promise refreshes we cannot send), and the headers of the
 * 2xx (`Require: timer` when the caller refreshes). A too small interval from a caller that does
 * timers gets 422; from one that does not (a proxy asked), it is raised to our minimum (RFC 4028
 * errata 1687). A malformed Session-Expires or Min-SE is a 400 (`bad`).
 */
export function negotiateSessionTimer(req: SipRequest): SessionTimerDecision | { kind: 'bad'; reason: string } {
  const se = parseSessionExpires(req);
  const minSe = parseMinSe(req);
  if (se === null) return { kind: 'bad', reason: 'Bad Request (Session-Expires)' };
  if (minSe === null) return { kind: 'bad', reason: 'Bad Request (Min-SE)' };
  if (se === undefined) return { kind: 'none' };
  const supports = callerSupportsTimer(req);
  const floor = Math.max(MIN_SE, minSe ?? 0);
  let interval = se.intervalS;
  if (interval < floor) {
    if (supports) return { kind: 'too-small', minSe: floor };
    interval = floor;
  }
  const refresher: Refresher = supports ? (se.refresher ?? 'uac') : 'uas';
  if (refresher === 'uas' && !callerAllowsUpdate(req)) return { kind: 'none' };
  const headers: SipHeader[] = [{ name: 'Session-Expires', value: `${interval};refresher=${refresher}` }];
  if (refresher === 'uac') headers.push({ name: 'Require', value: 'timer' });
  return { kind: 'timer', intervalS: interval, refresher, headers };
}

/**
 * When the side that does not refresh gives up (section 10): a BYE before the session expires,
 * at the interval minus a third of it or 32 s, whichever is less.
 */
export function expiryMs(intervalS: number): number {
  return (intervalS - Math.min(32, intervalS / 3)) * 1000;
}

/** When the refresher refreshes: half the interval (section 10's recommendation). */
export function refreshMs(intervalS: number): number {
  return (intervalS / 2) * 1000;
}
