/**
 * POST /switchover and /failover as Patroni's api.py judges them, without the I/O: which
 * members must be asked before the request is written (is_failover_possible), what their answers
 * mean, and what each cluster view seen afterwards says about the outcome. The route does the
 * asking, the writing and the waiting; every decision is here.
 */
import { dynamicConfigFrom } from '../config/load.ts';
import {
  failoverLimitation,
  newestTimeline,
  type PeerStatus,
  timelineChecked,
  timelineLimitation,
} from './eligibility.ts';
import { isStandbySection } from './standby-cluster.ts';
import type { ClusterView, Member } from './view.ts';

export type ManualAction = 'switchover' | 'failover';

export interface ManualRequest {
  action: ManualAction;
  leader: string | undefined;
  candidate: string | undefined;
  /** synchronous_mode as this node runs it: only /sync's standbys may be candidates. */
  synchronousMode: boolean;
}

/** The refusal of a switchover or failover while a standby cluster has its standby leader. */
export const standbyLeaderStays = (action: ManualAction) =>
  `${action} is not possible: a standby leader does not hand over in pgwarden yet (stop it to fail over)`;

/** `switchover` → `Switchover`: Patroni's answers start with the action's name capitalised. */
export const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The members whose status decides whether the request can succeed, or why it cannot (412). */
export function membersToAsk(
  view: ClusterView,
  r: ManualRequest,
): { members: Member[] } | { refused: string } {
  if (r.leader && view.leader?.name !== r.leader) return { refused: 'leader name does not match' };
  // A standby leader does not hand its lock over yet (Patroni's does): the request would wait out
  // its deadline unanswered. Without a standby leader a failover's candidate takes the lock.
  if (view.leader && isStandbySection(view.config?.data['standby_cluster']))
    return { refused: standbyLeaderStays(r.action) };
  const sync = r.synchronousMode ? (view.sync?.sync_standby ?? []) : null;
  if (r.candidate) {
    if (r.action === 'switchover' && sync && !sync.includes(r.candidate)) {
      return { refused: 'candidate name does not match with sync_standby' };
    }
    const members = view.members.filter((m) => m.name === r.candidate);
    return members.length === 0 ? { refused: 'candidate does not exists' } : { members };
  }
  if (sync) {
    const members = view.members.filter((m) => sync.includes(m.name));
    return members.length === 0
      ? { refused: `${r.action} is not possible: can not find sync_standby` }
      : { members };
  }
  const members = view.members.filter((m) => m.name !== view.leader?.name && m.data.api_url);
  return members.length === 0
    ? { refused: `${r.action} is not possible: cluster does not have members except leader` }
    : { members };
}

/**
 * With check_timeline (pgwarden's default), a candidate whose timeline is older than the cluster's
 * is refused: its promotion would start a second timeline with the number of one that exists,
 * and a replica of the first could neither stream from it nor be rewound against it safely.
 */
function timelineBehind(view: ClusterView, candidate: PeerStatus | undefined): string | null {
  // With a leader running, the candidate follows it and the leader's switchover decides.
  if (view.leader !== null || !candidate?.reachable) return null;
  if (!dynamicConfigFrom(view.config?.data).check_timeline) return null;
  const timeline = newestTimeline(view, []);
  if (candidate.timeline === null || candidate.timeline >= timeline) return null;
  return `candidate ${candidate.name} is on timeline ${candidate.timeline}, older than the cluster's ${timeline} (check_timeline)`;
}

/** Patroni's is_failover_possible, given the asked members' answers: null when one can take over. */
export function failoverImpossible(
  view: ClusterView,
  r: ManualRequest,
  statuses: PeerStatus[],
): string | null {
  const behind = r.candidate ? timelineBehind(view, statuses[0]) : null;
  if (behind !== null) return `${r.action} is not possible: ${behind}`;
  // The leader's own check (someoneFitToTakeOver) would refuse it later: say so now, and why.
  const timeline = timelineChecked(
    newestTimeline(view, []),
    dynamicConfigFrom(view.config?.data).check_timeline,
  );
  const usable = statuses.filter((s) => failoverLimitation(s) === null);
  if (usable.some((s) => timelineLimitation(s, timeline) === null)) return null;
  const named = r.candidate ? usable[0] : undefined;
  if (named)
    return `${r.action} is not possible: candidate ${named.name} is ${timelineLimitation(named, timeline)}`;
  return `${r.action} is not possible: no good candidates have been found`;
}

export interface Awaiting {
  action: ManualAction;
  /** The leader when the request was written (or the one it named). */
  oldLeader: string | undefined;
  candidate: string | undefined;
  /** Whether a view has shown the request in /failover yet. */
  requestSeen: boolean;
}

export type ManualOutcome = { status: 200 | 503; text: string };

/** How long after writing the request its absence means "cleared" even if no view showed it. */
export const FIRST_LOOK_MS = 1000;

/** How long the route waits for the outcome: two HA loops, at least 20 s (Patroni's wait). */
export function outcomeDeadlineMs(loopWaitSeconds: number): number {
  return 2 * Math.max(10, loopWaitSeconds) * 1000;
}

/**
 * One look at the cluster after the request was written: the answer, or null (wait on), with
 * whether the request has been seen. Done when the new leader runs writable (its member key says
 * master), not merely holds the key. The watch may not show our own write at once: "cleared"
 * counts once the request was seen, or FIRST_LOOK_MS after writing (Patroni's first look) — a
 * leader named as the candidate clears it within milliseconds, before any view shows it.
 */
export function lookAtOutcome(
  view: ClusterView,
  a: Awaiting,
  sinceWriteMs: number,
): { outcome: ManualOutcome | null; requestSeen: boolean } {
  const done = a.action === 'switchover' ? 'switched over' : 'failed over';
  const now = view.leader?.name;
  const promoted = view.members.find((m) => m.name === now)?.data.role === 'master';
  if (now && now !== a.oldLeader && promoted) {
    const text =
      !a.candidate || a.candidate === now
        ? `Successfully ${done} to "${now}"`
        : `${title(done)} to "${now}" instead of "${a.candidate}"`;
    return { outcome: { status: 200, text }, requestSeen: a.requestSeen };
  }
  const pending = !!view.failover && !!(view.failover.leader || view.failover.member);
  const requestSeen = a.requestSeen || pending;
  if (!pending && (requestSeen || sinceWriteMs >= FIRST_LOOK_MS) && now && now === a.oldLeader) {
    return { outcome: { status: 503, text: `${title(a.action)} failed` }, requestSeen };
  }
  return { outcome: null, requestSeen };
}

/** The answer when the deadline passes with no outcome. */
export function outcomeUnknown(action: ManualAction): ManualOutcome {
  return { status: 503, text: `${title(action)} status unknown` };
}
