/**
 * Orphan primaries: a PostgreSQL left running as a primary after its agent died or froze (kill -9
 * of the agent alone leaves the postmaster writable; Patroni relies on a watchdog for this). The
 * node that takes the lock fences every other server it knows of before it promotes its own: a
 * writable one gets its client sessions ended and every new transaction made read-only, so that
 * no client of an old primary commits after the new primary exists (one in recovery is left
 * alone).
 *
 * The rules here are pure; the fence itself is src/actors/postgres/fence.ts (real) and the
 * simulated PostgreSQL's (tests).
 */
import { memberHostPort } from './topology.ts';
import type { ClusterView } from './view.ts';

/** A member's PostgreSQL, as its member key's conn_url gave it. */
export interface FenceTarget {
  name: string;
  host: string;
  port: number;
}

/** Which writable servers a round may fence (see FenceRound). */
export interface FenceRule {
  /**
   * Only a server on a timeline below this one (null: any). Right after taking the lock, any
   * other primary is an orphan (null). The leader's watch, later, fences only servers behind its
   * own timeline: a primary on its timeline or a newer one may be a leader promoted after it,
   * were it a stale leader frozen past its lease that has not noticed yet — and is never itself.
   */
  belowTimeline: number | null;
  /** Only a server of this cluster: its system identifier (null: not checked). */
  systemIdentifier: string | null;
  /**
   * How long to wait for a session on a server whose host answered the TCP handshake (counted
   * from the first packet: handshake, startup, authentication): FENCE_SESSION_WAIT_MS, by who waits.
   */
  sessionWaitMs: number;
}

/** A round of fencing: the servers, and the rule for all of them. */
export interface FenceRound extends FenceRule {
  targets: readonly FenceTarget[];
}

/** What fencing a server found and did. */
export type FenceOutcome =
  /** In recovery, or not a server we could write to: nothing to fence. */
  | { fenced: false; reason: string }
  /** It was writable: now read-only for new transactions, `terminated` client sessions ended; its WAL ended at `lsn`. */
  | { fenced: true; terminated: number; lsn: number };

/**
 * How long fencing waits for a server, step by step: the TCP handshake, then the session (startup,
 * authentication), then the statements. The handshake is answered by the target's kernel, even
 * when its PostgreSQL is busy or frozen: a host that has not answered it within 250 ms is dead or
 * cut off (a lost SYN is sent again only after 1 s, so a longer wait would not save that case
 * either) — an isolated old leader's agent stopped its server by its lease's end.
 *
 * The session wait depends on who waits. Before a promotion every ms is write outage, and a
 * server that answers the handshake but opens no session within 400 ms (a superuser session opens
 * in a few ms, scram included) is frozen or hung: it acknowledges nothing while it stays so, and
 * the node that promoted looks at it again at once, as its first watch at rest, with time to
 * spare — 2 s, off the failover's path — and every loop after. So a server merely slow to open a
 * session is fenced moments after the promotion rather than never, and a frozen host costs the
 * failover 0.4 s instead of 1 s (the chaos harness's frozen leader: 5.1 s at worst with 1 s).
 */
export const FENCE_HANDSHAKE_MS = 250;
export const FENCE_SESSION_WAIT_MS = { promotion: 400, watch: 2000 } as const;
/** The statements, once in a session (ending each client session waits up to 1 s for it). */
export const FENCE_STATEMENTS_MS = 1500;

/** The whole of a fence's wait on one server, past which it is torn down and not reached. */
export function fenceBudgetMs(rule: Pick<FenceRule, 'sessionWaitMs'>): number {
  return rule.sessionWaitMs + FENCE_STATEMENTS_MS;
}

/** The longest a round may take (the watch's). */
export const MAX_FENCE_BUDGET_MS = FENCE_SESSION_WAIT_MS.watch + FENCE_STATEMENTS_MS;
/** The address book keeps this many servers (members of the latest view first, then the most recently learned). */
export const MAX_KNOWN_SERVERS = 16;

/**
 * The address book a node fences from when it takes the lock: every other member whose
 * PostgreSQL address it has known — each member key of each view, the latest name per address —
 * on top of the book it started with (kept in its data directory, so that an agent started after
 * the old leader's keys expired still knows where that leader's PostgreSQL is). Members keep
 * their place in the book after their keys expire: an orphan's keys expire with its lease.
 * Unchanged (the same array) when the view adds nothing.
 */
export function knownServersOf(
  prev: readonly FenceTarget[],
  view: ClusterView,
  me: string,
): readonly FenceTarget[] {
  let next: FenceTarget[] | null = null;
  for (const m of view.members) {
    if (m.name === me) continue;
    const at = memberHostPort(m);
    if (!at) continue;
    const book = next ?? prev;
    const i = book.findIndex((t) => t.host === at.host && t.port === at.port);
    if (i >= 0 && book[i]!.name === m.name) continue;
    next ??= [...prev];
    if (i >= 0) next.splice(i, 1);
    next.push({ name: m.name, host: at.host, port: at.port });
  }
  if (next === null) return prev;
  // Over the bound, the oldest entries that are not members of this view go first: a member that
  // is here now (the leader among them) must stay known for when its key expires.
  while (next.length > MAX_KNOWN_SERVERS) {
    const gone = next.findIndex((t) => !view.members.some((m) => m.name === t.name));
    next.splice(Math.max(gone, 0), 1);
  }
  return next;
}

/** A book read back from a data directory: well-formed entries only, never this node. */
export function readAddressBook(data: unknown, me: string): FenceTarget[] {
  if (!Array.isArray(data)) return [];
  return data
    .filter(
      (t): t is FenceTarget =>
        typeof t === 'object' &&
        t !== null &&
        typeof t.name === 'string' &&
        typeof t.host === 'string' &&
        Number.isInteger(t.port) &&
        t.name !== me,
    )
    .slice(-MAX_KNOWN_SERVERS)
    .map((t) => ({ name: t.name, host: t.host, port: t.port }));
}

/**
 * The servers the leader looks at again every loop: those of the book (as it was when the lock
 * was taken) that the view does not show as a running replica — a member whose key expired (its
 * agent dead or frozen, its server perhaps reachable again after a partition), or one that says
 * it runs as a primary. Empty in a healthy cluster, so the watch costs nothing there, and in
 * maintenance mode, where nothing touches PostgreSQL (a server promoted by hand is the operator's).
 */
export function orphanWatchTargets(
  book: readonly FenceTarget[],
  view: ClusterView,
  me: string,
  paused: boolean,
): readonly FenceTarget[] {
  if (paused) return [];
  const healthy = (t: FenceTarget) =>
    view.members.some((m) => m.name === t.name && m.data.role === 'replica' && m.data.state === 'running');
  const targets = book.filter((t) => t.name !== me && !healthy(t));
  return targets.length === book.length ? book : targets;
}

/** What fencing one server came to: its outcome, or why it could not be reached. */
export type FenceResult =
  | { target: FenceTarget; outcome: FenceOutcome }
  | { target: FenceTarget; error: string };

/** The orphan primaries a round of fencing found writable and fenced. */
export function orphansFenced(
  results: readonly FenceResult[],
): Array<{ member: string; terminated: number }> {
  return results.flatMap((r) =>
    'outcome' in r && r.outcome.fenced ? [{ member: r.target.name, terminated: r.outcome.terminated }] : [],
  );
}

/**
 * What a round of fencing is worth saying (reportFence): a log line — always before a promotion,
 * and for the leader's every-loop watch (`quiet`) only when an orphan was fenced — and one alarm
 * per orphan fenced.
 */
export function fenceRoundReport(
  results: readonly FenceResult[],
  quiet: boolean,
): { line: string | null; orphans: Array<{ member: string; terminated: number }> } {
  const orphans = orphansFenced(results);
  return { line: quiet && orphans.length === 0 ? null : fenceReport(results), orphans };
}

/** One log line for a round of fencing before a promotion. */
export function fenceReport(results: readonly FenceResult[]): string {
  const parts = results.map((r) => {
    if ('error' in r) return `${r.target.name}: not reached (${r.error})`;
    if (!r.outcome.fenced) return `${r.target.name}: ${r.outcome.reason}`;
    return `${r.target.name}: FENCED, an orphan primary at ${r.target.host}:${r.target.port} (new transactions read-only, ${r.outcome.terminated} client session(s) ended)`;
  });
  return `before promoting, fenced every other known server: ${parts.join('; ')}`;
}

/** An alarm this agent raised (an orphan it fenced): GET /cluster's `alarms`. */
export interface Alarm {
  /** ISO time the alarm was raised. */
  at: string;
  member: string;
  message: string;
  /** The member that raised it (in GET /cluster, which shows every member's). */
  by?: string;
}

/** How long an alarm is shown (and published in its member key): an hour. */
export const ALARM_SHOWN_MS = 60 * 60 * 1000;
/** At most this many, the newest. */
export const ALARMS_SHOWN = 10;

function isAlarm(a: unknown): a is Alarm {
  const x = a as Alarm;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.at === 'string' &&
    typeof x.member === 'string' &&
    typeof x.message === 'string'
  );
}

/** This agent's alarms of the last hour (what its member key publishes). */
export function recentAlarms(own: readonly Alarm[], nowMs: number): Alarm[] {
  return own.filter((a) => nowMs - Date.parse(a.at) < ALARM_SHOWN_MS);
}

/**
 * Every member's alarms of the last hour, from their member keys (and this node's own, which its
 * key may not show yet), each with who raised it, oldest first, the newest ALARMS_SHOWN: any
 * member's GET /cluster shows an orphan fenced anywhere in the cluster.
 */
export function clusterAlarms(
  view: ClusterView | null,
  me: string,
  own: readonly Alarm[],
  nowMs: number,
): Alarm[] {
  const all = new Map<string, Alarm>();
  const add = (by: string, list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const a of list) {
      if (!isAlarm(a)) continue;
      all.set(`${by}|${a.at}|${a.member}`, { at: a.at, member: a.member, message: a.message, by });
    }
  };
  for (const m of view?.members ?? []) if (m.name !== me) add(m.name, m.data['alarms']);
  add(me, own);
  return [...all.values()]
    .filter((a) => nowMs - Date.parse(a.at) < ALARM_SHOWN_MS)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
    .slice(-ALARMS_SHOWN);
}

/** What the REST API reads of the alarms (GET /cluster, GET /metrics). */
export interface AlarmsReading {
  orphansFenced: number;
  list: readonly Alarm[];
}
