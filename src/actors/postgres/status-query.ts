/** The single round-trip status query and the mapping of its row to PostgresStatus. */
import { parseLsn } from '../../cluster/lsn.ts';
import type { PostgresStatus, WalSender } from '../postgres.ts';

/** Python `str(datetime)` with a UTC offset, as Patroni's REST API prints timestamps. */
const PY_DATETIME = `'YYYY-MM-DD HH24:MI:SS.US'`;
const ts = (expr: string) => `pg_catalog.to_char((${expr}) AT TIME ZONE 'UTC', ${PY_DATETIME}) || '+00:00'`;

/**
 * Functions that raise in the wrong role (pg_current_wal_lsn, pg_walfile_name during recovery,
 * pg_is_wal_replay_paused outside it) are guarded by CASE on the recovery flag. The primary's
 * timeline comes from its current WAL file name: pg_control's checkpoint timeline lags behind
 * a promotion until the next checkpoint. A replica reports the timeline its WAL receiver is
 * on, or, when not streaming, the newer of checkpoint and minimum-recovery timelines.
 */
export const STATUS_SQL = `
WITH r AS (SELECT pg_catalog.pg_is_in_recovery() AS rec),
     w AS (SELECT status, received_tli FROM pg_catalog.pg_stat_wal_receiver LIMIT 1)
SELECT r.rec AS in_recovery,
  CASE WHEN r.rec THEN NULL ELSE pg_catalog.pg_current_wal_lsn()::text END AS current_lsn,
  CASE WHEN r.rec THEN
    COALESCE(NULLIF((SELECT received_tli FROM w), 0), GREATEST(
      (pg_catalog.pg_control_checkpoint()).timeline_id,
      (pg_catalog.pg_control_recovery()).min_recovery_end_timeline))
  ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS timeline,
  pg_catalog.pg_last_wal_receive_lsn()::text AS received_lsn,
  pg_catalog.pg_last_wal_replay_lsn()::text AS replayed_lsn,
  ${ts('pg_catalog.pg_last_xact_replay_timestamp()')} AS replayed_timestamp,
  CASE WHEN r.rec THEN pg_catalog.pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  (SELECT status FROM w) AS wal_receiver_status,
  ${ts('pg_catalog.pg_postmaster_start_time()')} AS postmaster_start_time,
  pg_catalog.current_setting('server_version_num')::int AS server_version,
  (pg_catalog.pg_control_system()).system_identifier::text AS system_identifier,
  EXISTS (SELECT 1 FROM pg_catalog.pg_settings WHERE pending_restart) AS pending_restart,
  pg_catalog.current_setting('synchronous_standby_names') AS synchronous_standby_names,
  (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'usename', usename, 'application_name', application_name, 'client_addr', pg_catalog.host(client_addr),
      'state', state, 'sync_state', sync_state, 'sync_priority', sync_priority,
      'flush_lsn', flush_lsn::text, 'replay_lsn', replay_lsn::text) ORDER BY pid)
   FROM pg_catalog.pg_stat_replication) AS replication
FROM r`;

export interface StatusRow {
  in_recovery: boolean;
  current_lsn: string | null;
  timeline: number | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  replayed_timestamp: string | null;
  replay_paused: boolean;
  wal_receiver_status: string | null;
  postmaster_start_time: string | null;
  server_version: number | null;
  system_identifier: string | null;
  pending_restart: boolean;
  synchronous_standby_names: string;
  replication: Array<Record<string, unknown>> | null;
}

/** Python leaves out the fraction when microseconds are zero. */
function pyDatetime(text: string | null): string | null {
  return text === null ? null : text.replace(/\.000000(?=[+-])/, '');
}

const lsnOrNull = (v: unknown): number | null => (typeof v === 'string' ? parseLsn(v) : null);

function walSender(row: Record<string, unknown>): WalSender {
  return {
    usename: String(row['usename'] ?? ''),
    application_name: String(row['application_name'] ?? ''),
    client_addr: typeof row['client_addr'] === 'string' ? row['client_addr'] : null,
    state: String(row['state'] ?? ''),
    sync_state: String(row['sync_state'] ?? ''),
    sync_priority: Number(row['sync_priority'] ?? 0),
    flush_lsn: lsnOrNull(row['flush_lsn']),
    replay_lsn: lsnOrNull(row['replay_lsn']),
  };
}

export function statusFromRow(row: StatusRow): PostgresStatus {
  return {
    running: true,
    inRecovery: row.in_recovery,
    timeline: row.timeline,
    currentLsn: lsnOrNull(row.current_lsn),
    receivedLsn: lsnOrNull(row.received_lsn),
    replayedLsn: lsnOrNull(row.replayed_lsn),
    replayedTimestamp: pyDatetime(row.replayed_timestamp),
    replayPaused: row.replay_paused,
    replicationState: row.in_recovery
      ? row.wal_receiver_status === 'streaming'
        ? 'streaming'
        : 'in archive recovery'
      : null,
    postmasterStartTime: pyDatetime(row.postmaster_start_time),
    serverVersion: row.server_version,
    systemIdentifier: row.system_identifier,
    replication: (row.replication ?? []).map(walSender),
    pendingRestart: row.pending_restart,
    synchronousStandbyNames: row.synchronous_standby_names,
  };
}

export { notRunningStatus } from '../postgres.ts';
