/**
 * The WebSocket side of the visualizer on an agent:
 *  - `/journal/stream`: this member's frames (member-stream.ts), for the other members' pages;
 *    the same access checks as every operator-only route (allowlist, client certificate, Basic
 *    auth), read from the upgrade request.
 *  - `/ui/stream?token=…`: what a browser showing this agent's page reads: this member's frames
 *    and every other member's, relayed from their `/journal/stream` (one connection per member
 *    while at least one browser watches, with this node's REST credentials, as the leader race
 *    probes them). A member whose stream ends is announced `gone` and asked again with backoff
 *    while it is still a member.
 * Frames are msgpackr-encoded StreamFrames; a member's own frames are relayed as they come.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pack } from 'msgpackr';
import { WebSocket, WebSocketServer } from 'ws';
import type { Member } from '../cluster/view.ts';
import { refuseUpgrade, type UpgradeHandler } from '../http/upgrades.ts';
import { webSocketUrl } from '../transport/gossip-link.ts';
import type { PeerTls } from '../transport/peer-tls.ts';
import type { MemberStream, StreamFrame } from './member-stream.ts';
import type { StreamTokens } from './tokens.ts';

export interface ClusterStreamHost {
  me: string;
  local: MemberStream;
  tokens: StreamTokens;
  /** The members of the last cluster view. */
  members(): readonly Member[];
  /** `Basic …` for the other members' REST APIs (restapi.authentication), if any. */
  peerAuthorization(): string | undefined;
  /** TLS for wss:// members (config/peer-tls.ts); null when its files cannot be read. */
  peerTls(): PeerTls | null;
  /** restapi.ui: the visualizer and the streams may be turned off. */
  enabled(): boolean;
  log(msg: string): void;
}

const MAX_FRAME = 4 * 1024 * 1024;
const MEMBERS_EVERY_MS = 2000;
const BACKOFF_MS = [500, 1000, 2000, 5000];

/** A connection to one other member's `/journal/stream`, kept while browsers watch. */
interface Upstream {
  url: string;
  ws: WebSocket | null;
  retry: NodeJS.Timeout | null;
  failures: number;
}

export class ClusterStream {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly browsers = new Set<WebSocket>();
  private readonly upstreams = new Map<string, Upstream>();
  private unsubscribeLocal: (() => void) | null = null;
  private membersTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly h: ClusterStreamHost) {}

  /** The two stream paths, for the REST server's upgrade router (http/upgrades.ts). */
  upgrades(): Map<string, UpgradeHandler> {
    const handler: UpgradeHandler = (app, req, socket, head) => this.upgrade(app, req, socket, head);
    return new Map([
      ['/journal/stream', handler],
      ['/ui/stream', handler],
    ]);
  }

  private async upgrade(
    app: FastifyInstance,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!this.h.enabled() || this.closed) return refuseUpgrade(socket, 404, 'Not Found');
    if (url.pathname === '/journal/stream') {
      // Agents connect without an Origin; a browser page elsewhere must not read the stream
      // with the operator's cached credentials.
      if (req.headers.origin !== undefined) return refuseUpgrade(socket, 403, 'Access is denied');
      const denied = await app.checkAccess(req as never);
      if (denied) return refuseUpgrade(socket, denied.status, denied.text);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.serveMember(ws));
    } else {
      // A browser: the page's own origin, a token from GET /ui/token (a page elsewhere cannot
      // read one), and the allowlist and client certificate as for every guarded route.
      if (!sameOrigin(req)) return refuseUpgrade(socket, 403, 'Access is denied');
      if (!this.h.tokens.valid(url.searchParams.get('token')))
        return refuseUpgrade(socket, 401, 'not authenticated');
      const denied = await app.checkAccess(req as never, { basicAuth: false });
      if (denied) return refuseUpgrade(socket, denied.status, denied.text);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.serveBrowser(ws));
    }
  }

  /** Another member's page (through its agent) reads this member's frames. */
  private serveMember(ws: WebSocket): void {
    const stop = this.h.local.subscribe((frame) => sendFrame(ws, pack(frame)));
    ws.on('close', stop);
    ws.on('error', () => ws.terminate());
    ws.on('message', () => undefined); // nothing is expected from the reader
  }

  private serveBrowser(ws: WebSocket): void {
    this.browsers.add(ws);
    if (this.browsers.size === 1) {
      this.startRelaying();
    } else {
      // The others' snapshots come when their streams connect: ask them again for this browser.
      for (const name of [...this.upstreams.keys()]) this.dropUpstream(name);
      this.followMembers();
    }
    for (const frame of this.h.local.snapshot()) sendFrame(ws, pack(frame));
    ws.on('close', () => {
      this.browsers.delete(ws);
      if (this.browsers.size === 0) this.stopRelaying();
    });
    ws.on('error', () => ws.terminate());
  }

  private broadcast(data: Buffer | Uint8Array): void {
    for (const b of this.browsers) sendFrame(b, data);
  }

  private startRelaying(): void {
    // The local member's frames reach the browsers directly (each gets its snapshot on arrival).
    // What subscribe() sends at once is the snapshot each browser gets on arrival, snapshot first.
    let subscribing = true;
    this.unsubscribeLocal = this.h.local.subscribe((frame) => {
      if (!subscribing) this.broadcast(pack(frame));
    });
    subscribing = false;
    this.followMembers();
    this.membersTimer = setInterval(() => this.followMembers(), MEMBERS_EVERY_MS);
    this.membersTimer.unref();
  }

  private stopRelaying(): void {
    this.unsubscribeLocal?.();
    this.unsubscribeLocal = null;
    if (this.membersTimer) clearInterval(this.membersTimer);
    this.membersTimer = null;
    for (const name of [...this.upstreams.keys()]) this.dropUpstream(name);
  }

  /** One upstream per other member of the view: new ones asked, departed ones dropped (gone). */
  private followMembers(): void {
    const wanted = new Map<string, string>();
    for (const m of this.h.members()) {
      if (m.name === this.h.me) continue;
      const url = webSocketUrl(m.data.api_url, '/journal/stream');
      if (url) wanted.set(m.name, url);
    }
    for (const name of [...this.upstreams.keys()]) {
      if (!wanted.has(name)) {
        this.dropUpstream(name);
        this.broadcast(pack(gone(name)));
      }
    }
    for (const [name, url] of wanted) {
      const up = this.upstreams.get(name);
      if (!up) {
        this.upstreams.set(name, { url, ws: null, retry: null, failures: 0 });
        this.connect(name);
      } else if (up.url !== url) {
        this.dropUpstream(name);
        this.upstreams.set(name, { url, ws: null, retry: null, failures: 0 });
        this.connect(name);
      }
    }
  }

  private connect(name: string): void {
    const up = this.upstreams.get(name);
    if (!up || this.browsers.size === 0) return;
    up.retry = null;
    const auth = this.h.peerAuthorization();
    const tls = up.url.startsWith('wss:') ? (this.h.peerTls() ?? {}) : {};
    const ws = new WebSocket(up.url, {
      headers: auth ? { authorization: auth } : {},
      maxPayload: MAX_FRAME,
      handshakeTimeout: 3000,
      ...tls,
    });
    up.ws = ws;
    ws.on('open', () => {
      up.failures = 0;
    });
    ws.on('message', (data: Buffer) => this.broadcast(data));
    ws.on('error', () => undefined); // 'close' follows
    ws.on('close', () => {
      if (this.upstreams.get(name) !== up) return;
      up.ws = null;
      this.broadcast(pack(gone(name)));
      this.retry(name, up);
    });
  }

  private retry(name: string, up: Upstream): void {
    const delay = BACKOFF_MS[Math.min(up.failures++, BACKOFF_MS.length - 1)]!;
    up.retry = setTimeout(() => this.connect(name), delay);
    up.retry.unref();
  }

  private dropUpstream(name: string): void {
    const up = this.upstreams.get(name);
    if (!up) return;
    this.upstreams.delete(name);
    if (up.retry) clearTimeout(up.retry);
    up.ws?.terminate();
  }

  close(): void {
    this.closed = true;
    this.stopRelaying();
    // Every socket this server upgraded (browsers and other members' agents): an open one would
    // keep the HTTP server, and so the agent's shutdown, waiting.
    for (const c of this.wss.clients) c.terminate();
    this.browsers.clear();
    this.wss.close();
  }
}

function gone(member: string): StreamFrame {
  return { type: 'gone', member };
}

/** A browser's WebSocket comes from a page this server served: its Origin names this host. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** A frame to a reader that keeps up; one that has fallen a whole frame budget behind is let go. */
function sendFrame(ws: WebSocket, data: Buffer | Uint8Array): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  if (ws.bufferedAmount > MAX_FRAME) {
    ws.terminate();
    return;
  }
  ws.send(data);
}
