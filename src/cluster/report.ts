/**
 * What a node says about itself: the member key value (DCS) and the status document
 * (GET /patroni and health checks). Both come from one in-memory NodeReport, so the REST
 * API never runs SQL or reads the DCS per request.
 */

import type { NodeConfig } from '../config/types.ts';
import type { Alarm } from './orphans.ts';
import type { PostgresStatus } from './postgres-state.ts';
import type { ClusterView, MemberData, WireRole } from './view.ts';

/** The Patroni version pgwarden speaks on the wire (member keys, /patroni, metrics). */
export const PATRONI_WIRE_VERSION = '3.0.2';
export const PGWARDEN_VERSION = '0.1.0';

/** The member key's api_url: where this node's REST API is reached (https with restapi.certfile). */
export function apiUrlOf(config: Pick<NodeConfig, 'restapi'>): string {
  const api = config.restapi;
  return `${api.certfile ? 'https' : 'http'}://${api.connect_address}/patroni`;
}

/** The member key's conn_url. */
export function connUrlOf(config: Pick<NodeConfig, 'postgresql'>): string {
  return `postgres://${config.postgresql.connect_address}/postgres`;
}

export interface NodeReport {
  name: string;
  scope: string;
  connUrl: string;
  apiUrl: string;
  tags: Record<string, unknown>;
  /** Patroni's PostgreSQL state string (running, starting, creating replica, ...). */
  state: string;
  /** The node's own role (master, replica, demoted, uninitialized, promoted). */
  role: WireRole;
  pg: PostgresStatus | null;
  systemIdentifier: string | null;
  /** True while the election says we hold the lock. */
  isLeader: boolean;
  view: ClusterView | null;
  /** Epoch seconds of the last DCS view received. */
  dcsLastSeen: number | null;
  paused: boolean;
  /** `synchronous_mode` from the dynamic configuration: without it nobody is a sync standby. */
  synchronousMode: boolean;
  /** Failsafe mode is active here (Patroni's `failsafe_mode_is_active`). */
  failsafeActive?: boolean;
  /** A restart waiting for its time, as published (schedule ISO, filters, postmaster_start_time). */
  scheduledRestart?: Record<string, unknown> | null;
  /** A watchdog is required and cannot be used here (Patroni's watchdog_failed, GET /patroni only). */
  watchdogFailed?: boolean;
  /** This agent's alarms of the last hour (pgwarden's; published in its member key). */
  alarms?: readonly Alarm[];
}

/**
 * pg_is_in_recovery decides the reported role when PostgreSQL answers (a standby leader says so,
 * as Patroni's does); otherwise our own role.
 */
export function reportedRole(r: NodeReport): WireRole {
  if (r.pg?.running) return r.pg.inRecovery ? (r.role === 'standby_leader' ? r.role : 'replica') : 'master';
  return r.role;
}

/** Where this instance's WAL ends: current LSN on a primary, received or replayed on a replica. */
export function walPosition(pg: PostgresStatus | null): number | undefined {
  if (!pg?.running) return undefined;
  if (!pg.inRecovery) return pg.currentLsn ?? undefined;
  const v = Math.max(pg.receivedLsn ?? 0, pg.replayedLsn ?? 0);
  return v > 0 ? v : undefined;
}

export function memberData(r: NodeReport): MemberData {
  const data: MemberData = {
    conn_url: r.connUrl,
    api_url: r.apiUrl,
    state: r.state,
    role: r.pg?.running ? reportedRole(r) : r.role,
    version: PATRONI_WIRE_VERSION,
  };
  const wal = r.state === 'running' || r.state === 'starting' ? walPosition(r.pg) : undefined;
  if (wal !== undefined) data.xlog_location = wal;
  if (r.pg?.running && r.pg.timeline) data.timeline = r.pg.timeline;
  if (r.pg?.running && r.pg.inRecovery && r.pg.replicationState)
    data.replication_state = r.pg.replicationState;
  if (Object.keys(r.tags).length > 0) data.tags = r.tags;
  if (r.pg?.pendingRestart) data.pending_restart = true;
  if (r.scheduledRestart) data.scheduled_restart = r.scheduledRestart;
  if (r.paused) data.pause = true;
  // pgwarden's own key (Patroni ignores keys it does not know): every member's GET /cluster shows them.
  if (r.alarms?.length) data['alarms'] = r.alarms;
  return data;
}

/** Patroni: role replica, synchronous_mode on and our name among the /sync members. */
export function isSyncStandby(r: NodeReport): boolean {
  return (
    r.synchronousMode &&
    reportedRole(r) === 'replica' &&
    (r.view?.sync?.sync_standby.includes(r.name) ?? false)
  );
}

/** The JSON document of GET /patroni and of GET health checks (Patroni's field names and types). */
export function statusDocument(r: NodeReport): Record<string, unknown> {
  const pg = r.pg;
  const doc: Record<string, unknown> = { state: r.state };
  if (pg?.running) {
    if (pg.postmasterStartTime) doc['postmaster_start_time'] = pg.postmasterStartTime;
    doc['role'] = reportedRole(r);
    if (pg.serverVersion) doc['server_version'] = pg.serverVersion;
    doc['xlog'] = pg.inRecovery
      ? {
          received_location: pg.receivedLsn ?? pg.replayedLsn ?? 0,
          replayed_location: pg.replayedLsn ?? 0,
          replayed_timestamp: pg.replayedTimestamp,
          paused: pg.replayPaused,
        }
      : { location: pg.currentLsn ?? 0 };
    if (pg.timeline) doc['timeline'] = pg.timeline;
    if (isSyncStandby(r)) doc['sync_standby'] = true;
    if (pg.replication.length > 0) {
      doc['replication'] = pg.replication.map((w) => ({
        usename: w.usename,
        application_name: w.application_name,
        client_addr: w.client_addr,
        state: w.state,
        sync_state: w.sync_state,
        sync_priority: w.sync_priority,
      }));
    }
    if (pg.inRecovery && pg.replicationState) doc['replication_state'] = pg.replicationState;
  } else {
    doc['role'] = r.role;
  }
  if (!r.view || r.view.leader === null) doc['cluster_unlocked'] = true;
  if (r.failsafeActive) doc['failsafe_mode_is_active'] = true;
  if (r.dcsLastSeen !== null) doc['dcs_last_seen'] = r.dcsLastSeen;
  if (Object.keys(r.tags).length > 0) doc['tags'] = r.tags; // Patroni: only when there are any
  if (r.systemIdentifier) doc['database_system_identifier'] = r.systemIdentifier;
  if (pg?.pendingRestart) doc['pending_restart'] = true;
  if (r.scheduledRestart) {
    const { postmaster_start_time: _, ...shown } = r.scheduledRestart;
    doc['scheduled_restart'] = shown;
  }
  doc['patroni'] = { version: PATRONI_WIRE_VERSION, scope: r.scope, name: r.name };
  if (r.watchdogFailed) doc['watchdog_failed'] = true;
  if (r.paused) doc['pause'] = true;
  doc['pgwarden'] = { version: PGWARDEN_VERSION, is_leader: r.isLeader };
  return doc;
}

const serialized = new WeakMap<NodeReport, string>();

/** statusDocument as JSON text, computed once per report object (reports are rebuilt on change). */
export function statusJson(r: NodeReport): string {
  let text = serialized.get(r);
  if (text === undefined) {
    text = JSON.stringify(statusDocument(r));
    serialized.set(r, text);
  }
  return text;
}
