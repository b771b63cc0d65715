/**
 * Patroni's preconditions for POST /reinitialize: there is a leader to clone from, and it is not
 * this node. Judged on a fresh read of the DCS, not the watch: a node cut off from etcd still
 * sees the leader it last knew, and wiping a data directory with nobody to clone from — perhaps
 * the only copy /sync allows to take over — cannot be undone.
 */
import type { ClusterView } from './view.ts';

/** Patroni's refusal text, or null when the node may be reinitialized. */
export function reinitializeRefusal(view: ClusterView, me: string, iHoldTheLock: boolean): string | null {
  if (!view.leader) return 'Cluster has no leader, can not reinitialize';
  if (iHoldTheLock || view.leader.name === me) return 'I am the leader, can not reinitialize';
  return null;
}
