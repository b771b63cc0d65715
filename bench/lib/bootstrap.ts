/** Start every agent of a fresh LocalCluster and time it until one leader and streaming replicas. */
import { LocalCluster } from '../../src/local/cluster.ts';

export const READY_POLL_MS = 100;
export const BOOTSTRAP_TIMEOUT_MS = 120_000;

/** Milliseconds from starting the agents to a ready cluster; throws if an agent dies or time runs out. */
export async function bootstrapCluster(cluster: LocalCluster): Promise<number> {
  const startedAt = performance.now();
  await cluster.startAll();
  const ready = await cluster.waitFor(
    (nodes) => {
      const dead = nodes.filter((n) => !cluster.isRunning(n.name));
      if (dead.length > 0) throw new Error(`agent exited during bootstrap: ${dead.map((n) => n.name)}`);
      return LocalCluster.isReady(nodes, () => true);
    },
    BOOTSTRAP_TIMEOUT_MS,
    READY_POLL_MS,
  );
  if (!ready) throw new Error(`not ready within ${BOOTSTRAP_TIMEOUT_MS / 1000} s`);
  return performance.now() - startedAt;
}
