/**
 * The REST server's WebSocket upgrades, one handler per path: the visualizer's streams, the
 * gossip channel. Any other request that merely asks to upgrade (`Upgrade: h2c` on a health
 * check) is answered as the plain HTTP request it also is, as it was before the server had an
 * upgrade listener.
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';

export type UpgradeHandler = (
  app: FastifyInstance,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) => Promise<void>;

/** Routes the server's upgrade requests by path (one listener for every WebSocket path). */
export function attachUpgrades(app: FastifyInstance, handlers: ReadonlyMap<string, UpgradeHandler>): void {
  if (handlers.size === 0) return;
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over without an 'error' listener: a client's reset must not crash us.
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = handlers.get(path);
    if (!handler) return answerAsHttp(app, req, socket);
    void handler(app, req, socket, head).catch(() => socket.destroy());
  });
}

/** An upgrade request for another path, answered by the HTTP routes as a plain request. */
function answerAsHttp(app: FastifyInstance, req: IncomingMessage, socket: Duplex): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.on('finish', () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  app.server.emit('request', req, res);
}

const REASONS: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/** Refuses an upgrade with a plain HTTP answer and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const reason = REASONS[status] ?? 'Error';
  const extra = status === 401 ? 'WWW-Authenticate: Basic realm="Patroni"\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
