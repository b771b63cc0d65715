/**
 * What a reload (SIGHUP, POST /reload) may change while the agent runs. The node's identity in
 * the DCS (name, scope, namespace) and its data directory are fixed for the life of the process;
 * so is whether the REST API speaks TLS (its listening socket is made once), and fast failover's
 * short lease (the members were promised it). Everything else —
 * tags, timeouts, PostgreSQL parameters, certificates — takes effect at once.
 */
import type { NodeConfig } from './types.ts';

/** Why `next` cannot replace `current` at run time, or null when it can. */
export function reloadRefusal(current: NodeConfig, next: NodeConfig): string | null {
  for (const fixed of ['name', 'scope', 'namespace'] as const) {
    if (next[fixed] !== current[fixed]) return `${fixed} cannot change while running`;
  }
  if (next.postgresql.data_dir !== current.postgresql.data_dir)
    return 'postgresql.data_dir cannot change while running';
  if (Boolean(next.restapi.certfile) !== Boolean(current.restapi.certfile))
    return 'switching the REST API between http and https needs a restart';
  // A longer lease under the same term would outlast what the members were promised: they give
  // the leader up W after its last frame, W computed from the lease its frames named.
  if (next.gossip.shortLeaseMs !== current.gossip.shortLeaseMs)
    return 'gossip.fast_failover and gossip.short_lease need a restart';
  return null;
}
