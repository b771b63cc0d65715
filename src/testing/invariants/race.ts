/**
 * The leader race picks the most advanced candidate: a replica whose agent judges itself the
 * healthiest (not an operator's named candidate) has, at that moment, no member it can reach
 * that is a replica fit to take over, on its own timeline, and further ahead in WAL. What the
 * race knows of its peers comes from gossip or GET /patroni; a stale or wrong position there
 * makes a worse node win and loses writes needlessly (asynchronous replication) — the one check
 * that sees it. The race asks members only: a node whose member key expired is not one, as in
 * Patroni. In synchronous mode only /sync's standbys are candidates, and its last leader may be
 * ahead by WAL nobody saw committed (Patroni's rule), as the race itself allows.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { CandidateWitness, RaceWitness } from '../cluster/race-witness.ts';
import type { Invariant } from './types.ts';

const checked = new WeakMap<SimulatedCluster, number>();

/** A member the racer should have deferred to, if any. */
export function passedOver(w: RaceWitness): CandidateWitness | null {
  if (w.requested) return null;
  for (const o of w.others) {
    if (!o.reachable || !o.member || !o.replica || o.nofailover || o.moving) continue;
    if (o.timeline !== w.timeline || o.lsn === null || o.lsn <= w.lsn) continue;
    if (w.sync && (!w.sync.standbys.includes(o.name) || o.name === w.sync.leader)) continue;
    return o;
  }
  return null;
}

export const noBetterCandidatePassedOver: Invariant = {
  name: 'no-better-candidate-passed-over',
  check({ cluster }) {
    const witnesses = cluster.raceWitnesses;
    let next = checked.get(cluster) ?? 0;
    for (; next < witnesses.length; next++) {
      const w = witnesses[next]!;
      const better = passedOver(w);
      if (better) {
        checked.set(cluster, next + 1);
        return `${w.node} judged itself the healthiest at ${(w.at / 1000).toFixed(1)} s with lsn ${w.lsn} on timeline ${w.timeline}, while ${better.name}, a replica and member it could reach, had lsn ${better.lsn}`;
      }
    }
    checked.set(cluster, next);
    return null;
  },
};
