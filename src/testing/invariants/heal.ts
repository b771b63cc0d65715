/**
 * What the runner requires once every fault is undone: a writable leader, and then every member
 * back as a standby streaming on the leader's timeline. Checked after the heal phase, not every
 * tick, since getting there takes rewinds, clones and restarts.
 */
import type { SimulatedCluster } from '../cluster/index.ts';

/**
 * (7) The cluster heals: once every fault is undone and a leader runs writable, every other
 * member runs as a standby on the leader's timeline with its WAL receiver connected. null when
 * so, else who is not and why. A third node left on the old timeline, its receiver waiting, was
 * seen on real clusters after the leader's agent alone was killed.
 */
export function clusterNotHealed(cluster: SimulatedCluster): string | null {
  const leader = cluster.leader();
  if (leader === null) return 'no leader';
  const timeline = cluster.node(leader).postgres.wal()?.timeline ?? null;
  const streaming = new Set(cluster.streamingReplicas());
  const leaderSegments = new Set(cluster.node(leader).postgres.data?.segments.map((s) => s.id) ?? []);
  const behind: string[] = [];
  for (const n of cluster.nodes) {
    if (n.name === leader) continue;
    const tl = n.postgres.wal()?.timeline ?? null;
    // On a timeline that a promotion cut off from etcd created and nobody could learn of: the
    // next leader forked its own, and only a new clone (when configured, or asked) rejoins it.
    const unrecorded = n.postgres.data?.segments.some(
      (s) => cluster.unrecordedPromotions.has(s.id) && !leaderSegments.has(s.id),
    );
    if (!n.alive()) behind.push(`${n.name} agent down`);
    else if (!streaming.has(n.name) && unrecorded) continue;
    else if (!streaming.has(n.name))
      behind.push(`${n.name} not streaming (timeline ${tl}, ${n.report()?.state ?? '?'})`);
    else if (tl !== timeline) behind.push(`${n.name} on timeline ${tl}`);
  }
  return behind.length === 0 ? null : `${behind.join('; ')} (leader ${leader} on timeline ${timeline})`;
}

/** (3) After every fault heals, a leader whose PostgreSQL accepts writes. */
export function leaderAfterHeal(cluster: SimulatedCluster): boolean {
  const l = cluster.leader();
  return l !== null && cluster.node(l).postgres.writable() && cluster.primaries().length === 1;
}
