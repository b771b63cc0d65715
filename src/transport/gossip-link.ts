/**
 * A gossip link between two agents, as the hub sees it: bytes in, bytes out, open and closed.
 * Production links are WebSockets (gossip-ws.ts); the simulator's live in memory on its clock
 * (src/testing/cluster/gossip-net.ts). The hub is the same for both.
 */

/** One end of a link. */
export interface GossipLink {
  send(data: Uint8Array): void;
  /** Closes the link; the other end learns it (if the network lets the news through). */
  close(): void;
}

/** What happens on a link, told to its owner. */
export interface LinkEvents {
  /** The link is open: frames may flow (a dialed link only; an accepted one starts open). */
  open(): void;
  message(data: Uint8Array): void;
  /** The link is gone (refused, timed out, closed by either end): never called twice. */
  close(): void;
}

/** Whom a link is dialed to. */
export interface GossipTarget {
  name: string;
  /** The member key's api_url (`http://host:8008/patroni`). */
  apiUrl: string;
}

/** Opens links to other members, announcing who dials (name and scope). */
export interface GossipDialer {
  dial(target: GossipTarget, events: LinkEvents): GossipLink;
}

/**
 * `http://host:8008/patroni` → `ws://host:8008<path>` (https → wss); null for anything else a
 * member key may hold (it is the DCS's data, not ours).
 */
export function webSocketUrl(apiUrl: unknown, path: string): string | null {
  if (typeof apiUrl !== 'string') return null;
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = path;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** The headers a dialing agent names itself with. */
export const MEMBER_HEADER = 'x-pgwarden-member';
export const SCOPE_HEADER = 'x-pgwarden-scope';
