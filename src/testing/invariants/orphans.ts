/**
 * The orphan invariant: a node that becomes the primary leaves no other PostgreSQL accepting
 * client writes that it could have fenced first (src/cluster/orphans.ts).
 */
import { FENCE_SESSION_WAIT_MS, MAX_FENCE_BUDGET_MS } from '../../cluster/orphans.ts';
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';
import { actsOnItsPrimary } from './writers.ts';

const promotionsSeen = new WeakMap<SimulatedCluster, { next: number }>();

/**
 * (12) No orphan left writable beside a new primary: when a promotion completes, no other server
 * accepts client writes that was already writable, running and reachable from the promoting node
 * for the whole fence budget before the promotion began, and opened sessions within the
 * promotion's wait (FENCE_SESSION_WAIT_MS.promotion; the world records them at each
 * promotion: Promotion.writableBeside). Such a server is an orphan — a primary whose agent was
 * killed or frozen — that nothing stopped: its clients would commit on a history the new
 * timeline throws away. One the new leader could not reach (its host cut off, refusing, just
 * restarted) is not counted here; its windows stay measured by single-writable-node.
 */
export const noOrphanBesideNewPrimary: Invariant = {
  name: 'no-orphan-beside-new-primary',
  check({ cluster }) {
    let seen = promotionsSeen.get(cluster);
    if (!seen) {
      seen = { next: 0 };
      promotionsSeen.set(cluster, seen);
    }
    const promotions = cluster.world.promotions;
    for (; seen.next < promotions.length; seen.next++) {
      const p = promotions[seen.next]!;
      if (p.writableBeside.length === 0) continue;
      return `${p.node} was promoted to timeline ${p.timeline} while ${p.writableBeside.join(', ')} still accepted writes, reachable from it all along: an orphan primary left unfenced`;
    }
    return null;
  },
};

/** Per node: writable since, and fenceable (writable, opening sessions within the watch's wait) since. */
const writableSince = new WeakMap<
  SimulatedCluster,
  { writable: Map<string, number>; fenceable: Map<string, number> }
>();

/**
 * (13) No orphan left writable beside the leader for longer than the leader's watch needs: a
 * server that accepts writes while its agent cannot act (dead, frozen, just woken), beside a
 * leader that can, both so — and reachable from the leader — for two loops and the fence budget,
 * is an orphan the leader's watch (every loop_wait) should have fenced: one left unreachable at
 * the promotion and reachable since, one too slow to open a session for the promotion's wait but
 * not for the watch's, or one woken after it. Not in maintenance mode, where nothing touches
 * PostgreSQL; nor a server that opens no session within the watch's wait either (hung past it:
 * only a watchdog on its host ends those writes).
 */
export const noOrphanLeftBesideLeader: Invariant = {
  name: 'no-orphan-left-beside-leader',
  check({ cluster }) {
    let seen = writableSince.get(cluster);
    if (!seen) {
      seen = { writable: new Map(), fenceable: new Map() };
      writableSince.set(cluster, seen);
    }
    const { writable: since, fenceable } = seen;
    const now = cluster.now();
    for (const n of cluster.nodes) {
      if (!n.postgres.writable()) {
        since.delete(n.name);
        fenceable.delete(n.name);
        continue;
      }
      if (!since.has(n.name)) since.set(n.name, now);
      // Hung past the watch's wait, it cannot be fenced: counted from when it can again.
      if (!fenceable.has(n.name) || n.postgres.duration('sessionMs') > FENCE_SESSION_WAIT_MS.watch)
        fenceable.set(n.name, now);
    }
    const leader = cluster.nodes.find(
      (n) => since.has(n.name) && actsOnItsPrimary(n, now) && n.report()?.isLeader === true,
    );
    const ctx = leader?.agent?.actor.getSnapshot().context;
    if (!leader || !ctx || ctx.settings.paused === true) return null;
    const bound = now - (2 * ctx.settings.loop_wait * 1000 + MAX_FENCE_BUDGET_MS + 1000);
    if (since.get(leader.name)! > bound) return null;
    for (const x of cluster.nodes) {
      if (x === leader || (fenceable.get(x.name) ?? now) > bound || actsOnItsPrimary(x, now)) continue;
      const reachable = cluster.world.reachableSince(x.name, leader.name);
      if (reachable === null || reachable > bound) continue;
      return `${x.name} has accepted writes beside the leader ${leader.name} since ${(fenceable.get(x.name)! / 1000).toFixed(1)} s with no agent able to act, reachable from the leader all along: an orphan its watch left unfenced`;
    }
    return null;
  },
};

const fenceSeen = new WeakMap<SimulatedCluster, { fenced: Set<string>; leadingSince: Map<string, number> }>();

/**
 * (14) Never fence the lock holder, and never leave a leader's own primary fenced: a fence that
 * lands on the primary of a node whose agent can act and holds the lock fails at once (a stale
 * leader's watch fencing the one promoted after it); a leader whose primary is fenced anyway (a
 * fence from before it led) has it lifted within a loop and the fence budget.
 */
export const noFencedLeader: Invariant = {
  name: 'no-fenced-leader',
  check({ cluster }) {
    let seen = fenceSeen.get(cluster);
    if (!seen) {
      seen = { fenced: new Set(), leadingSince: new Map() };
      fenceSeen.set(cluster, seen);
    }
    const now = cluster.now();
    for (const n of cluster.nodes) {
      const fenced = n.postgres.data?.fenced === true && n.postgres.proc?.role === 'primary';
      const leading = actsOnItsPrimary(n, now) && n.report()?.isLeader === true;
      const newly = fenced && !seen.fenced.has(n.name);
      if (fenced) seen.fenced.add(n.name);
      else seen.fenced.delete(n.name);
      if (newly && leading) return `${n.name}'s primary was fenced while its agent held the lock`;
      if (!(fenced && leading)) {
        seen.leadingSince.delete(n.name);
        continue;
      }
      if (!seen.leadingSince.has(n.name)) seen.leadingSince.set(n.name, now);
      const loopWait = n.agent?.actor.getSnapshot().context.settings.loop_wait ?? 10;
      const from = seen.leadingSince.get(n.name)!;
      if (now - from > 2 * loopWait * 1000 + MAX_FENCE_BUDGET_MS + 1000)
        return `${n.name} leads with its own primary fenced (read-only) since ${(from / 1000).toFixed(1)} s`;
    }
    return null;
  },
};
