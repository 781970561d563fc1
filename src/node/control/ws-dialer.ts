/**
 * Dials a peer's control port: sends the handshake headers, checks the acceptor's proof in the 101
 * reply before the socket is used, and hands the open socket to its owner in the same tick (no
 * frame can slip past). Never retries: the peer slot decides when to dial again.
 */
import { isIPv6 } from 'node:net';
import { WebSocket } from 'ws';
import { ConfnodeError, errorMessage } from '../../common';
import type { IncomingHeaders } from './auth';
import { CONTROL_PATH } from './ws-server';

export interface DialOptions<T> {
  /** For messages: the node being dialed. */
  peer: string;
  address: string;
  port: number;
  headers: Record<string, string>;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  /** Checks the 101 reply's headers; a string says why the acceptor is not the node we meant. */
  checkReply(headers: IncomingHeaders): string | undefined;
  onOpen(ws: WebSocket): T;
}

/** Resolves with `onOpen`'s value; rejects with ConfnodeError('unavailable') saying why. */
export function dialControl<T>(opts: DialOptions<T>): Promise<T> {
  const host = isIPv6(opts.address) ? `[${opts.address}]` : opts.address;
  const where = `node ${opts.peer} at ${host}:${opts.port}`;
  return new Promise<T>((resolve, reject) => {
    let refusal: string | undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(`ws://${host}:${opts.port}${CONTROL_PATH}`, {
        headers: opts.headers,
        handshakeTimeout: opts.handshakeTimeoutMs,
        maxPayload: opts.maxFrameBytes,
        perMessageDeflate: false,
        followRedirects: false,
      });
    } catch (err) {
      reject(new ConfnodeError('unavailable', `cannot dial ${where}: ${errorMessage(err)}`, { cause: err }));
      return;
    }
    const onUpgrade = (res: { headers: IncomingHeaders }): void => {
      refusal = opts.checkReply(res.headers);
      if (refusal !== undefined) ws.terminate();
    };
    const onError = (err: Error): void => {
      cleanup();
      ws.on('error', () => undefined); // a late second error must not go unhandled
      reject(new ConfnodeError('unavailable', `cannot reach ${where}: ${refusal ?? errorMessage(err)}`, { cause: err }));
    };
    const onOpen = (): void => {
      cleanup();
      try {
        resolve(opts.onOpen(ws));
      } catch (err) {
        ws.terminate();
        reject(err);
      }
    };
    const cleanup = (): void => {
      ws.off('upgrade', onUpgrade);
      ws.off('error', onError);
      ws.off('open', onOpen);
    };
    ws.on('upgrade', onUpgrade);
    ws.on('error', onError);
    ws.on('open', onOpen);
  });
}
