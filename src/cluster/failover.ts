/**
 * The `/failover` key from the leader's side: carry out a requested switchover, ignore it, or
 * clear it because it can never apply (Patroni's process_manual_failover_from_leader).
 */
import { type ClusterView, type Failover, type Member, memberByName } from './view.ts';

export type LeaderFailoverDecision =
  | { kind: 'none' }
  /** Step down for `candidate` (null: any healthy member). */
  | { kind: 'execute'; candidate: string | null }
  | { kind: 'clear'; reason: string }
  /** A scheduled switchover, not due yet (its time is checked by the scheduler). */
  | { kind: 'scheduled'; at: string };

export function leaderFailoverDecision(view: ClusterView, me: string): LeaderFailoverDecision {
  const f = view.failover;
  if (!f || (!f.leader && !f.member)) return { kind: 'none' };
  if (f.leader && f.leader !== me)
    return { kind: 'clear', reason: `leader name does not match: ${f.leader}` };
  if (f.member === me) return { kind: 'clear', reason: 'the candidate is already the leader' };
  if (f.member && !memberByName(view, f.member))
    return { kind: 'clear', reason: `candidate ${f.member} does not exist` };
  if (f.scheduled_at) return { kind: 'scheduled', at: f.scheduled_at };
  return { kind: 'execute', candidate: f.member ?? null };
}

/**
 * Whether the member that just took the lock consumes /failover: a switchover or failover
 * request (leader or member named) that is not scheduled — a scheduled one stays until its time.
 */
export function consumedByNewLeader(f: Failover | null): boolean {
  return f !== null && Boolean(f.leader || f.member) && !f.scheduled_at;
}

/**
 * Whom the leader asks before a switchover (Patroni's is_failover_possible from the leader): the
 * named candidate, or every other member; it goes ahead if one of them is fit to take over.
 */
export function switchoverCandidatesToAsk(view: ClusterView, me: string): Member[] {
  const d = leaderFailoverDecision(view, me);
  const candidate = d.kind === 'execute' ? d.candidate : null;
  return view.members.filter((m) => m.name !== me && (candidate === null || m.name === candidate));
}

/**
 * The scheduled switchover this node's switchover scheduler should hold: one that names this
 * node as leader (or no leader) while this node holds the lock. null: none is ours.
 */
export function ownScheduledSwitchover(view: ClusterView, me: string, isLeader: boolean): Failover | null {
  const f = view.failover;
  if (!isLeader || !f?.scheduled_at || (f.leader && f.leader !== me)) return null;
  return f;
}

/**
 * A scheduled switchover that comes due this late (the agent was stopped, or its clock stepped)
 * is not what was asked for: dropped, as Patroni does, beyond one and a half loops.
 */
export function staleScheduledSwitchover(lateMs: number, loopWaitSeconds: number): boolean {
  return lateMs > 1.5 * loopWaitSeconds * 1000;
}

/** A switchover or failover request that is due now (not scheduled), if any. */
export function activeFailover(view: ClusterView): { leader?: string; member?: string } | null {
  const f = view.failover;
  if (!f || (!f.leader && !f.member) || f.scheduled_at) return null;
  return { leader: f.leader, member: f.member };
}
