/**
 * Invariants that nothing happens before its time or without a cause: a scheduled action never
 * comes due early or twice (by the node's own clock, drift allowed for), and leadership never
 * moves unless a fault or an operator request that can move it came first.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { MAX_DRIFT_PPM } from '../schedule/index.ts';
import type { Invariant } from './types.ts';

const dueSeen = new WeakMap<SimulatedCluster, { next: number; restarts: Set<string> }>();

/**
 * (5) Nothing scheduled runs before its time, or twice: every scheduler that says its action is
 * due says so at or after the time it was scheduled for, by the node's own clock (the one its
 * timers run on), and a node's scheduled restart comes due once. Catches a timer that fires
 * early — Node fires a delay past 2^31 − 1 ms after 1 ms, so a switchover scheduled a month
 * ahead ran at once.
 */
export const nothingScheduledEarly: Invariant = {
  name: 'nothing-scheduled-early',
  check({ cluster }) {
    let seen = dueSeen.get(cluster);
    if (!seen) {
      seen = { next: 0, restarts: new Set() };
      dueSeen.set(cluster, seen);
    }
    const all = cluster.scheduledDue;
    for (; seen.next < all.length; seen.next++) {
      const d = all[seen.next]!;
      // A timer runs on the monotonic clock; the node's wall clock may drift apart from it while
      // it waits (a drift change mid-wait, as NTP slewing): early by at most the drift over the
      // wait, which is shorter than the run so far. And 1 ms of floating point.
      const slack = 1 + (MAX_DRIFT_PPM / 1_000_000) * cluster.now();
      if (d.localNow < d.atMs - slack) {
        return `${d.node}: scheduled ${d.scheduler} ${d.id} came due at ${new Date(d.localNow).toISOString()}, ${((d.atMs - d.localNow) / 1000).toFixed(1)} s before its time ${new Date(d.atMs).toISOString()}`;
      }
      const key = `${d.node} ${d.id}`;
      if (d.scheduler === 'restart') {
        if (seen.restarts.has(key)) return `${d.node}: scheduled restart ${d.id} came due twice`;
        seen.restarts.add(key);
      }
    }
    return null;
  },
};

const leadershipSeen = new WeakMap<
  SimulatedCluster,
  { promotions: number; events: number; leading: Map<string, boolean> }
>();

/**
 * (6) No leadership change nobody asked for: no promotion, and no node losing leadership, unless
 * a fault or an operator request that can cause one came before it (see causes.ts). A PATCH of
 * the ttl, a reload, a restart of PostgreSQL never move leadership.
 */
export const noUnaskedLeadershipChange: Invariant = {
  name: 'no-unasked-leadership-change',
  check({ cluster, causes }) {
    if (!causes) return null;
    let seen = leadershipSeen.get(cluster);
    if (!seen) {
      seen = { promotions: 0, events: 0, leading: new Map() };
      leadershipSeen.set(cluster, seen);
    }
    const promotions = cluster.world.promotions;
    for (; seen.promotions < promotions.length; seen.promotions++) {
      const p = promotions[seen.promotions]!;
      const why = causes.unexplained(p.at);
      if (why !== null) return `${p.node} was promoted to timeline ${p.timeline} ${why}`;
    }
    const events = cluster.events;
    for (; seen.events < events.length; seen.events++) {
      const e = events[seen.events]!;
      const was = seen.leading.get(e.node) ?? false;
      seen.leading.set(e.node, e.isLeader);
      if (!was || e.isLeader) continue;
      const why = causes.unexplained(e.at, e.node);
      if (why !== null) return `${e.node} stopped leading (now ${e.role}, ${e.state}) ${why}`;
    }
    return null;
  },
};
