/**
 * The orphan invariant: a node that becomes the primary leaves no other PostgreSQL accepting
 * client writes that it could have fenced first (src/cluster/orphans.ts).
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';

const promotionsSeen = new WeakMap<SimulatedCluster, { next: number }>();

/**
 * (12) No orphan left writable beside a new primary: when a promotion completes, no other server
 * accepts client writes that was already writable, running and reachable from the promoting node
 * for the whole fence budget before the promotion began (the world records them at each
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
