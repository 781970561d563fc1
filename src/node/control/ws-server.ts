/**
 * The control port: an HTTP server that takes WebSocket upgrades on CONTROL_PATH only after the
 * handshake headers pass (401 otherwise, before any WebSocket exists), adds the acceptor's proof
 * to the 101 reply, and hands the socket to its owner. Never reads a frame itself.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../common';
import type { HandshakeClaims, IncomingHeaders } from './auth';

export const CONTROL_PATH = '/confnode/control/v1';

/** What the owner decides for an upgrade: refuse with a status, or accept with reply headers. */
export type UpgradeDecision<T> = { accept: false; status: 401 | 503; reason: string } | { accept: true; claims: HandshakeClaims; replyHeaders: Record<string, string>; context: T };

export interface ControlListenerOptions<T> {
  address: string;
  port: number;
  maxFrameBytes: number;
  logger: Logger;
  decide(headers: IncomingHeaders, remote: string): UpgradeDecision<T>;
  onSocket(ws: WebSocket, claims: HandshakeClaims, context: T): void;
}

export interface ControlListener {
  /** Where it listens (the real port when 0 was asked). */
  readonly address: { address: string; port: number };
  /** Stops accepting and cuts sockets still upgrading; links are closed by their owner. Idempotent. */
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 404: 'Not Found', 426: 'Upgrade Required', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  // A client that never closes its side does not keep the socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export async function listenControl<T>(opts: ControlListenerOptions<T>): Promise<ControlListener> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  // The acceptor's proof rides on the 101 reply of the request it answers.
  const proofs = new WeakMap<IncomingMessage, Record<string, string>>();
  wss.on('headers', (headers, req) => {
    for (const [name, value] of Object.entries(proofs.get(req) ?? {})) headers.push(`${name}: ${value}`);
  });
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { Connection: 'close', 'Content-Length': '0' }).end();
  });
  // Slow or silent clients of the open port do not hold sockets for long.
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    if ((req.url ?? '').split('?')[0] !== CONTROL_PATH) {
      refuse(socket, 404);
      return;
    }
    const decision = opts.decide(req.headers, remote);
    if (!decision.accept) {
      refuse(socket, decision.status);
      return;
    }
    proofs.set(req, decision.replyHeaders);
    wss.handleUpgrade(req, socket, head, (ws) => opts.onSocket(ws, decision.claims, decision.context));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error({ err: err.message }, 'control listener error'));
  const info = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address: { address: info.address, port: info.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Upgraded sockets belong to their links; only plain HTTP keep-alives are cut here.
        server.closeAllConnections();
        wss.close();
      });
      return closing;
    },
  };
}
