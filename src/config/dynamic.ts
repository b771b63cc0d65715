/** Cluster-wide settings kept in `/config`: load-time checks and the effective DynamicConfig. */
import { permanentSlots } from '../cluster/replication-slots.ts';
import { isStandbySection, standbyClusterOf } from '../cluster/standby-cluster.ts';
import { ConfigError } from './error.ts';
import { optBool, optInt, optString, parameters, section, stringList } from './readers.ts';
import { type Dict, isDict, isScalar, parseBool, type Scalar, toInt } from './scalars.ts';
import { type DynamicConfig, dynamicDefaults, type NodeConfig } from './types.ts';

const DYNAMIC_INT_KEYS = [
  'ttl',
  'loop_wait',
  'retry_timeout',
  'maximum_lag_on_failover',
  'primary_start_timeout',
  'primary_stop_timeout',
  'synchronous_node_count',
] as const;
const DYNAMIC_BOOL_KEYS = [
  'synchronous_mode',
  'synchronous_mode_strict',
  'check_timeline',
  'pause',
  'failsafe_mode',
] as const;

/** Passed on the postgres command line, so a local value could make nodes disagree: dynamic only. */
export const RESTART_ONLY_PARAMETERS: ReadonlySet<string> = new Set([
  'max_connections',
  'max_wal_senders',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'max_replication_slots',
  'track_commit_timestamp',
  'wal_level',
  'wal_log_hints',
  'wal_keep_segments',
  'wal_keep_size',
  'hot_standby',
  'listen_addresses',
  'port',
  'cluster_name',
]);

/** Load-time check of bootstrap.dcs: a typo there would be written to `/config` for the whole cluster. */
export function checkDynamic(dcs: Dict, path: string): void {
  for (const key of [...DYNAMIC_INT_KEYS, 'master_start_timeout']) optInt(dcs, key, `${path}.${key}`);
  for (const key of DYNAMIC_BOOL_KEYS) optBool(dcs, key, `${path}.${key}`);
  checkStandbyCluster(dcs, path);
  checkSlots(dcs, path);
  const pg = section(dcs, 'postgresql', `${path}.postgresql`, false);
  if (!pg) return;
  optBool(pg, 'use_pg_rewind', `${path}.postgresql.use_pg_rewind`);
  optBool(pg, 'use_slots', `${path}.postgresql.use_slots`);
  parameters(pg, 'parameters', `${path}.postgresql.parameters`);
  stringList(pg, 'pg_hba', `${path}.postgresql.pg_hba`);
}

/** bootstrap.dcs.standby_cluster: what a standby leader streams from, checked before it reaches /config. */
function checkStandbyCluster(dcs: Dict, path: string): void {
  const key = `${path}.standby_cluster`;
  const sc = section(dcs, 'standby_cluster', key, false);
  if (!sc || !isStandbySection(sc)) return;
  for (const k of ['host', 'primary_slot_name', 'restore_command', 'archive_cleanup_command'])
    optString(sc, k, `${key}.${k}`);
  stringList(sc, 'create_replica_methods', `${key}.create_replica_methods`);
  if (standbyClusterOf(dcs)?.host === null)
    throw new ConfigError(
      `${key}.host`,
      'a host (and a port from 1 to 65535) is required: a standby cluster that follows an archive alone (restore_command without host) is not supported yet',
    );
}

/**
 * bootstrap.dcs.slots (a mapping of slot names, each empty or a mapping) and ignore_slots (a list
 * of mappings): a shape /config could not use is refused before it gets there. A value Patroni
 * would skip with a log line (a logical slot without a plugin) is refused too.
 */
function checkSlots(dcs: Dict, path: string): void {
  const slots = section(dcs, 'slots', `${path}.slots`, false) ?? {};
  for (const [name, value] of Object.entries(slots)) {
    const key = `${path}.slots.${name}`;
    if (!/^[a-z0-9_]{1,63}$/.test(name))
      throw new ConfigError(
        key,
        'a slot name may only contain lower case letters, digits and _ (at most 63)',
      );
    if (value !== null && !isDict(value))
      throw new ConfigError(key, 'must be a mapping (type, database, plugin) or empty');
    const permanent = permanentSlots({ slots: { [name]: value } });
    if (permanent.physical.length + permanent.logical.length === 0)
      throw new ConfigError(key, 'must be physical, or logical with a database and a plugin');
  }
  const ignore = dcs['ignore_slots'];
  if (ignore === undefined || ignore === null) return;
  if (!Array.isArray(ignore) || !ignore.every(isDict))
    throw new ConfigError(
      `${path}.ignore_slots`,
      'must be a list of mappings (name, type, database, plugin)',
    );
}

function lenientInt(value: unknown, fallback: number): number {
  const n = toInt(value);
  return n === undefined || n < 0 ? fallback : n;
}

/**
 * Effective dynamic settings from `/config` data (or bootstrap.dcs) over the defaults. Never throws:
 * the data comes from the DCS and a bad value there must not take the node down.
 * Local config wins for use_pg_rewind, pg_hba and non-restart-only parameters. use_slots stays
 * cluster-wide as in Patroni (it ignores a local use_slots), since slots are managed by the leader.
 */
/** /config's `pause` (maintenance mode), read as dynamicConfigFrom reads it. */
export function pausedIn(data: Record<string, unknown> | null | undefined): boolean {
  return (isDict(data) ? parseBool(data['pause']) : undefined) ?? dynamicDefaults.pause;
}

export function dynamicConfigFrom(
  data: Record<string, unknown> | null | undefined,
  local?: NodeConfig,
): DynamicConfig {
  const d: Dict = isDict(data) ? data : {};
  const out = { ...dynamicDefaults } as DynamicConfig;
  for (const key of DYNAMIC_INT_KEYS) out[key] = lenientInt(d[key], dynamicDefaults[key]);
  if (d['primary_start_timeout'] === undefined) {
    out.primary_start_timeout = lenientInt(d['master_start_timeout'], dynamicDefaults.primary_start_timeout);
  }
  for (const key of DYNAMIC_BOOL_KEYS) out[key] = parseBool(d[key]) ?? dynamicDefaults[key];
  out.standby_cluster = standbyClusterOf(d);

  const pg: Dict = isDict(d['postgresql']) ? d['postgresql'] : {};
  const dynParams: Record<string, Scalar> = {};
  if (isDict(pg['parameters'])) {
    for (const [name, value] of Object.entries(pg['parameters']))
      if (isScalar(value)) dynParams[name] = value;
  }
  const localPg = local?.postgresql;
  out.postgresql = {
    use_pg_rewind:
      localPg?.use_pg_rewind ?? parseBool(pg['use_pg_rewind']) ?? dynamicDefaults.postgresql.use_pg_rewind,
    use_slots: parseBool(pg['use_slots']) ?? dynamicDefaults.postgresql.use_slots,
    parameters: mergeParameters(dynParams, localPg?.parameters ?? {}),
  };
  const dynHba = pg['pg_hba'];
  if (localPg && localPg.pg_hba.length > 0) out.postgresql.pg_hba = [...localPg.pg_hba];
  else if (Array.isArray(dynHba) && dynHba.every((l) => typeof l === 'string'))
    out.postgresql.pg_hba = [...dynHba];
  return out;
}

/** Local parameters override dynamic ones (names compared case-insensitively, as PostgreSQL does). */
function mergeParameters(
  dynamic: Record<string, Scalar>,
  local: Record<string, Scalar>,
): Record<string, Scalar> {
  const out = { ...dynamic };
  for (const [name, value] of Object.entries(local)) {
    const lower = name.toLowerCase();
    if (RESTART_ONLY_PARAMETERS.has(lower)) continue;
    for (const existing of Object.keys(out)) if (existing.toLowerCase() === lower) delete out[existing];
    out[name] = value;
  }
  return out;
}
