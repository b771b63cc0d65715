/**
 * Patroni 3.0's failsafe mode, as pure rules. While the DCS answers, the leader names in
 * /failsafe every member (`{name: api_url}`). When it cannot refresh its lock, it asks each of
 * them to confirm it (POST /failsafe, or over gossip); a member that is not running as a primary
 * accepts and, for a ttl, takes that node for the leader even if the DCS shows none: it does not
 * race. If every named member accepted, the leader keeps its lock for another ttl (less the
 * margin, counted from when it began asking); otherwise its own deadline stands.
 *
 * Why no two primaries: a member that accepted does not race until a ttl after it accepted, which
 * is after the leader began asking; the leader trusts itself for less than a ttl from then. A
 * member that could not be asked makes the leader demote by its deadline. A node missing from
 * /failsafe never wins a race while failsafe mode is on (it could not have been asked) — unless
 * every member named there answers the race's probe as a running replica: then no primary is
 * being kept that way (noPrimaryFailsafeKeeps).
 */
import { GOSSIP_ASK_MS } from '../runtime/gossip/rules.ts';
import type { PeerStatus } from './eligibility.ts';
import type { ClusterView, Member } from './view.ts';

export interface FailsafeSettings {
  failsafe_mode?: boolean;
}

/**
 * What the leader writes to /failsafe: every member key's name and api_url, and itself with its
 * own api_url if its member key is missing (Patroni's `_failsafe_config`).
 */
export function failsafeTopology(view: ClusterView, me: string, myApiUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of view.members) {
    const url = m.data.api_url;
    if (typeof url === 'string') out[m.name] = url;
  }
  if (!(me in out)) out[me] = myApiUrl;
  return out;
}

/** The same members with the same addresses (Patroni writes /failsafe only when it changed). */
export function sameTopology(
  a: Readonly<Record<string, string>> | null | undefined,
  b: Readonly<Record<string, string>> | null | undefined,
): boolean {
  if (!a || !b) return a === b;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** The other members /failsafe names, whom the leader must hear confirm it. */
export function membersToConfirm(
  failsafe: Readonly<Record<string, string>> | null | undefined,
  me: string,
): Array<{ name: string; apiUrl: string }> {
  if (!failsafe) return [];
  return Object.entries(failsafe)
    .filter(([name]) => name !== me)
    .map(([name, apiUrl]) => ({ name, apiUrl }));
}

/**
 * Whether the leader may ask at all: /failsafe must exist and name it (Patroni's
 * check_failsafe_topology answers false otherwise, and the leader demotes).
 */
export function failsafeNamesMe(
  failsafe: Readonly<Record<string, string>> | null | undefined,
  me: string,
): boolean {
  return failsafe !== null && failsafe !== undefined && me in failsafe;
}

/**
 * With failsafe mode on and a non-empty /failsafe that does not name this node, it may not race
 * (it could not have been asked to confirm the leader).
 */
export function excludedByFailsafe(view: ClusterView, me: string, settings: FailsafeSettings): boolean {
  const f = view.failsafe;
  return settings.failsafe_mode === true && !!f && Object.keys(f).length > 0 && !(me in f);
}

/**
 * Whether every member /failsafe names (this node aside) just answered the race's probe as a
 * running replica: then none of them is a primary that failsafe mode keeps (a leader kept so is
 * always named there: failsafeNamesMe), and the rule above has nothing left to protect — a node
 * /failsafe leaves out may race. Without this, a /failsafe naming only a member that has fallen
 * behind (written by the last leader while the others were down) leaves the cluster leaderless
 * for good: the named one yields to those ahead, and they may not race (sweep seed 156,
 * --failsafe; Patroni 3.0.2's rule has the same hole).
 */
export function noPrimaryFailsafeKeeps(
  view: ClusterView,
  me: string,
  peers: readonly Pick<PeerStatus, 'name' | 'reachable' | 'inRecovery'>[],
): boolean {
  const named = Object.keys(view.failsafe ?? {}).filter((name) => name !== me);
  return named.every((name) => peers.some((p) => p.name === name && p.reachable && p.inRecovery));
}

/**
 * Whom the race asks: the view's members, and with failsafe mode on also the members /failsafe
 * names that have no member key any more (Patroni races among both).
 */
export function raceMembers(view: ClusterView, settings: FailsafeSettings): readonly Member[] {
  const f = view.failsafe;
  if (settings.failsafe_mode !== true || !f) return view.members;
  const known = new Set(view.members.map((m) => m.name));
  const extra: Member[] = Object.entries(f)
    .filter(([name]) => !known.has(name))
    // Only the api_url is known (Patroni's RemoteMember): the probe reads nothing else.
    .map(
      ([name, apiUrl]): Member => ({
        name,
        index: '0',
        session: '0',
        data: { api_url: apiUrl, conn_url: '', state: 'unknown', role: 'replica', version: '' },
      }),
    );
  return extra.length === 0 ? view.members : [...view.members, ...extra];
}

/** Patroni's POST /failsafe: 2 s, one retry (runtime/failsafe.ts). */
export const FAILSAFE_POST_TIMEOUT_MS = 2000;

/** The longest a confirmation takes: a gossip ask, then POST /failsafe twice, all members at once. */
export const FAILSAFE_CONFIRM_BUDGET_MS = GOSSIP_ASK_MS + 2 * FAILSAFE_POST_TIMEOUT_MS;
