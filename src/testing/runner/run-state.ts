/**
 * What the runner tracks while a schedule plays, beyond the cluster itself: the statistics, the
 * causes that may move leadership, and the writes an operator gave up by a lossy manual failover
 * (to a member /sync did not name), which the lost-write invariant must then not count.
 */
import type { LeadershipCauses } from '../causes.ts';
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Commit } from '../simulated-postgres/index.ts';
import type { RunStats } from './types.ts';

/** What the runner tracks while a schedule plays, beyond the cluster itself. */
export interface RunState {
  stats: RunStats;
  synchronousMode: boolean;
  /** Manual failovers to a member /sync does not name, still unanswered. */
  lossyFailovers: number;
  /** Their candidates: the request stays in effect while /failover names one of them. */
  lossyCandidates: Set<string>;
  /** Writes such a failover gave up: acknowledged or in flight before it was answered. */
  givenUp: Set<Commit>;
  /** Acknowledged writes looked at by giveUpUnfenced so far. */
  unfencedSeen: number;
  causes: LeadershipCauses;
}

/**
 * After a lossy failover (to a member /sync did not name), writes the old primary acknowledged
 * while its agent could not act (dead or frozen: nothing can demote it without fencing) are
 * given up too: /sync named nobody or another member, so that primary committed without waiting
 * for the new leader, which is what the operator accepted. A running agent's primary that keeps
 * acknowledging is caught by no-split-brain-writes.
 */
export function giveUpUnfenced(c: SimulatedCluster, run: RunState): void {
  const acked = c.world.acknowledged;
  for (; run.unfencedSeen < acked.length; run.unfencedSeen++) {
    const w = acked[run.unfencedSeen]!;
    const n = c.node(w.node);
    if (run.lossyCandidates.size > 0 && (!n.alive() || n.frozen())) run.givenUp.add(w);
  }
}

/** Everything written so far is given up (a lossy failover is pending or just answered). */
export function giveUpWrites(c: SimulatedCluster, run: RunState): void {
  for (const w of c.world.acknowledged) run.givenUp.add(w);
  for (const w of c.world.waiting()) run.givenUp.add(w);
}
