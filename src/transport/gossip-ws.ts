/**
 * Gossip over WebSockets: the dialer (one socket to each other member's REST port, path
 * `/gossip`, naming itself in two headers and sending this node's REST credentials, as the race's
 * probes do) and the accepting side (the REST server's upgrade of `/gossip`, under the same
 * allowlist, client-certificate and Basic-auth rules as every guarded route, then the hub's
 * admission: same scope, a member of the latest view).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import { refuseUpgrade, type UpgradeHandler } from '../http/upgrades.ts';
import {
  type GossipDialer,
  type GossipLink,
  type LinkEvents,
  MEMBER_HEADER,
  SCOPE_HEADER,
  webSocketUrl,
} from './gossip-link.ts';
import type { PeerTls } from './peer-tls.ts';

/** Gossip frames are small (a few hundred bytes); anything near this is not one. */
const MAX_FRAME_BYTES = 16 * 1024;
/** A peer that stopped reading is let go rather than buffered for. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface DialerIdentity {
  me(): string;
  scope(): string;
  /** `Basic …` (restapi.authentication), if any. */
  authorization(): string | undefined;
  /** TLS for wss:// peers (config/peer-tls.ts); null when its files cannot be read. */
  tls(): PeerTls | null;
  handshakeTimeoutMs: number;
}

function linkOf(ws: WebSocket): GossipLink {
  return {
    send: (data) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) ws.terminate();
      else ws.send(data);
    },
    close: () => ws.terminate(),
  };
}

/** Wires a socket's events to the hub's, close told once. */
function wire(ws: WebSocket, events: LinkEvents): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    events.close();
  };
  ws.on('open', () => events.open());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) events.message(data);
    else events.message(new Uint8Array(0)); // a text frame is not ours: counted as undecodable
  });
  ws.on('error', () => ws.terminate()); // 'close' follows
  ws.on('close', close);
}

export function webSocketDialer(id: DialerIdentity): GossipDialer {
  return {
    dial(target, events) {
      const url = webSocketUrl(target.apiUrl, '/gossip');
      const tls = url?.startsWith('wss:') ? id.tls() : undefined;
      if (!url || tls === null) {
        // Not an address we can dial: closed at once (the hub backs off, as for a refusal).
        let alive = true;
        queueMicrotask(() => alive && events.close());
        return {
          send: () => undefined,
          close: () => {
            alive = false;
            events.close();
          },
        };
      }
      const headers: Record<string, string> = { [MEMBER_HEADER]: id.me(), [SCOPE_HEADER]: id.scope() };
      const auth = id.authorization();
      if (auth) headers['authorization'] = auth;
      const ws = new WebSocket(url, {
        headers,
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: id.handshakeTimeoutMs,
        perMessageDeflate: false,
        ...tls,
      });
      wire(ws, events);
      return linkOf(ws);
    },
  };
}

/** What the accepting side asks of the hub. */
export interface GossipAcceptor {
  /** Why this member may not gossip with us, null when it may. */
  refusal(peer: { scope: string | undefined; name: string | undefined }): string | null;
  accept(name: string, link: GossipLink): LinkEvents;
}

/** The REST server's `/gossip` upgrade. */
export class GossipServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
  });

  constructor(private readonly hub: GossipAcceptor) {}

  upgrades(): Map<string, UpgradeHandler> {
    return new Map([['/gossip', (app, req, socket, head) => this.upgrade(app, req, socket, head)]]);
  }

  private async upgrade(
    app: FastifyInstance,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    // Agents connect without an Origin: a browser page must not open gossip with cached credentials.
    if (req.headers.origin !== undefined) return refuseUpgrade(socket, 403, 'Access is denied');
    const denied = await app.checkAccess(req as never);
    if (denied) return refuseUpgrade(socket, denied.status, denied.text);
    const name = header(req, MEMBER_HEADER);
    const refusal = this.hub.refusal({ name, scope: header(req, SCOPE_HEADER) });
    if (refusal) return refuseUpgrade(socket, 403, refusal);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const link = linkOf(ws);
      const events = this.hub.accept(name!, link);
      wire(ws, events);
    });
  }

  /** Every accepted socket: an open one would keep the HTTP server, and the shutdown, waiting. */
  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
