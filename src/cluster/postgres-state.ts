/**
 * What the agent knows of a PostgreSQL instance and where it streams from, as plain data: the
 * status sample, the data directory's control data, the upstream. Domain types, shared by the
 * pure modules (cluster/, machines/) and the actors that fill them (actors/postgres*.ts).
 * LSNs are byte counts.
 */
import type { FenceTarget } from './orphans.ts';

export type StopMode = 'smart' | 'fast' | 'immediate';

/** A stop's outcome: the shutdown checkpoint LSN when it could be read, and whether a running postmaster was signalled. */
export interface StopResult {
  checkpointLsn: number | null;
  signalled: boolean;
}

export type StartRole = 'primary' | 'replica';

export interface WalSender {
  usename: string;
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
  flush_lsn: number | null;
  replay_lsn: number | null;
}

export interface PostgresStatus {
  running: boolean;
  inRecovery: boolean;
  timeline: number | null;
  /** Primary: pg_current_wal_lsn. */
  currentLsn: number | null;
  /** Replica: pg_last_wal_receive_lsn (null when nothing streamed yet). */
  receivedLsn: number | null;
  replayedLsn: number | null;
  replayedTimestamp: string | null;
  replayPaused: boolean;
  /** `streaming` when a WAL receiver is connected, `in archive recovery` otherwise (replicas). */
  replicationState: 'streaming' | 'in archive recovery' | null;
  postmasterStartTime: string | null;
  serverVersion: number | null;
  /** pg_control_system().system_identifier, as decimal text. */
  systemIdentifier: string | null;
  replication: WalSender[];
  /** Parameters whose change waits for a restart. */
  pendingRestart: boolean;
  /** The running postmaster's synchronous_standby_names (null: not running). */
  synchronousStandbyNames: string | null;
}

/** What a stopped (or never started) instance reports. */
export function notRunningStatus(): PostgresStatus {
  return {
    running: false,
    inRecovery: false,
    timeline: null,
    currentLsn: null,
    receivedLsn: null,
    replayedLsn: null,
    replayedTimestamp: null,
    replayPaused: false,
    replicationState: null,
    postmasterStartTime: null,
    serverVersion: null,
    systemIdentifier: null,
    replication: [],
    pendingRestart: false,
    synchronousStandbyNames: null,
  };
}

export interface DataDirState {
  /** false: missing or empty (a bootstrap or clone is needed). */
  initialized: boolean;
  systemIdentifier: string | null;
  /** `Database cluster state` from pg_controldata, e.g. `in production`, `shut down`, `shut down in recovery`. */
  clusterState: string | null;
  timeline: number | null;
  /** REDO location of the latest checkpoint, and where it ended (for a stopped primary). */
  checkpointLsn: number | null;
  /** The address book kept here (src/cluster/orphans.ts): the servers this node knew of. */
  knownServers?: FenceTarget[];
}

/** A missing or empty data directory: a bootstrap or a clone is needed. */
export function uninitializedDataDir(): DataDirState {
  return {
    initialized: false,
    systemIdentifier: null,
    clusterState: null,
    timeline: null,
    checkpointLsn: null,
  };
}

/** Where to stream from. */
export interface UpstreamTarget {
  /** libpq connection string of the upstream's PostgreSQL (host/port only; credentials are added from config). */
  host: string;
  port: number;
  /** The member name of this node: application_name, and the slot name derived from it. */
  applicationName: string;
  slotName: string | null;
  /** Recovery settings that come with this upstream (a standby cluster's restore_command, …). */
  recovery?: Readonly<Record<string, string>>;
}

/** Patroni's slot_name_from_member_name: lower-case, `-`/`.` → `_`, others → `u%04d` (decimal code point), ≤ 63 chars. */
export function slotNameFromMemberName(name: string): string {
  let out = '';
  for (const ch of name.toLowerCase()) {
    if (/[a-z0-9_]/.test(ch)) out += ch;
    else if (ch === '-' || ch === '.') out += '_';
    else out += `u${String(ch.codePointAt(0)!).padStart(4, '0')}`;
  }
  return out.slice(0, 63);
}
