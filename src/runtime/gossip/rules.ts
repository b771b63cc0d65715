/**
 * The gossip channel's rules, as pure functions: whom to admit, when a link is dead, how long to
 * wait before dialing again, and what the leader race learns from a member (gossip first, REST
 * with the time left). The hub (hub.ts) only carries them out.
 */
import type { Member } from '../../cluster/view.ts';

/** How long the race's probe waits for a member, whichever channel answers (Patroni's 2 s). */
export const PROBE_BUDGET_MS = 2000;
/** Of that budget, how long an ask over an open gossip link may take before REST is tried. */
export const GOSSIP_ASK_MS = 1000;
/** An opening handshake that takes longer than this has failed (a frozen or cut-off member). */
export const HANDSHAKE_TIMEOUT_MS = 2000;
/** A link whose sender hears this many frames in a row it cannot read is closed. */
export const MAX_BAD_FRAMES_IN_A_ROW = 10;

const BACKOFF_MS = [500, 1000, 2000, 5000] as const;

/** Pause before the next dial after `failures` failed ones in a row (0.5, 1, 2, 5 s, capped). */
export function reconnectDelayMs(failures: number): number {
  return BACKOFF_MS[Math.min(Math.max(0, failures), BACKOFF_MS.length - 1)]!;
}

/**
 * An open link on which nothing (no ack, no frame) came back for this long is dead, even though
 * the socket looks open (a partition drops packets silently; TCP would notice only minutes
 * later): four frames' worth, and never under 2 s.
 */
export function staleAfterMs(intervalMs: number): number {
  return Math.max(2000, 4 * intervalMs);
}

/**
 * Whether a member that dials in may gossip with us, null when it may: the same scope, and a
 * member key in our latest view (a node that is not, or no longer, a member of this cluster is
 * refused; so is anyone before we have a view to check against).
 */
export function admissionRefusal(
  scope: string,
  members: readonly Member[] | null,
  peer: { scope: string | undefined; name: string | undefined },
): string | null {
  if (!peer.name || !peer.scope) return 'the gossip handshake names no member or scope';
  if (peer.scope !== scope) return `${peer.name} belongs to scope ${peer.scope}, not ${scope}`;
  if (members === null) return 'no cluster view yet';
  if (!members.some((m) => m.name === peer.name)) return `${peer.name} is not a member of ${scope}`;
  return null;
}

/** The members a node gossips with: every other member key with an api_url. */
export function gossipPeers(members: readonly Member[], me: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of members) {
    const url = m.data.api_url;
    if (m.name !== me && typeof url === 'string' && url) out.set(m.name, url);
  }
  return out;
}
