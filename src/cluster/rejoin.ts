/**
 * What a node may do with a data directory that may have diverged from the leader's, and when it
 * may not stay in the cluster at all (Patroni 3.0's rewind_or_reinitialize and its system
 * identifier check). Pure: the node machine's guards call these.
 *
 * The rule: a data directory is removed only when the operator said so —
 * `remove_data_directory_on_rewind_failure` or `remove_data_directory_on_diverged_timelines` in
 * the local configuration, or a POST /reinitialize. Everything else keeps it.
 */

export interface RejoinSettings {
  use_pg_rewind: boolean;
  remove_data_directory_on_rewind_failure: boolean;
  remove_data_directory_on_diverged_timelines: boolean;
}

/**
 * How a data directory that has diverged from the leader's timeline is mended:
 * - `rewind`: pg_rewind from the leader (`use_pg_rewind`);
 * - `reclone`: remove it and clone the leader again (`remove_data_directory_on_diverged_timelines`
 *   without `use_pg_rewind`, Patroni's "reinitializing due to diverged timelines");
 * - `keep`: neither is allowed, so it runs as it is — a replica that cannot follow until an
 *   operator reinitializes it (Patroni starts it as a secondary and leaves it so).
 */
export type DivergencePath = 'rewind' | 'reclone' | 'keep';

export function divergencePath(s: RejoinSettings): DivergencePath {
  if (s.use_pg_rewind) return 'rewind';
  if (s.remove_data_directory_on_diverged_timelines) return 'reclone';
  return 'keep';
}

/**
 * pg_rewind ran against a reachable leader and could not rewind (no common history, no
 * wal_log_hints or checksums, WAL missing): Patroni removes the data directory when either
 * `remove_data_directory_on_rewind_failure` or `remove_data_directory_on_diverged_timelines` is
 * set, and keeps it otherwise. A pg_rewind that could not reach the leader never counts.
 */
export function mayRemoveAfterFailedRewind(s: RejoinSettings): boolean {
  return s.remove_data_directory_on_rewind_failure || s.remove_data_directory_on_diverged_timelines;
}

/** Patroni's sysid_valid: a system identifier is at least ten decimal digits. */
export function validSystemIdentifier(sysid: string | null | undefined): sysid is string {
  return typeof sysid === 'string' && sysid.length >= 10 && /^\d+$/.test(sysid);
}

/**
 * The data directory belongs to another cluster than the one /initialize names: both known, the
 * cluster's valid, and different. Patroni checks this on every cycle and exits on it.
 */
export function systemIdentifierMismatch(
  local: string | null | undefined,
  initialize: string | null,
): boolean {
  return !!local && validSystemIdentifier(initialize) && local !== initialize;
}

/** What the node says when it leaves a cluster its data directory does not belong to (Patroni's words). */
export function systemIdentifierMismatchMessage(name: string, local: string, initialize: string): string {
  return `system ID mismatch, node ${name} belongs to a different cluster: ${initialize} != ${local}`;
}
