import type { NodeConfig } from '../config/types.ts';

/**
 * What the node machine can ask of its PostgreSQL instance. The real implementation drives
 * the binaries (postgres-process.ts); the simulated one models WAL positions and timelines.
 * LSNs are byte counts.
 */

export type StopMode = 'smart' | 'fast' | 'immediate';

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
}

/** Where to stream from. */
export interface UpstreamTarget {
  /** libpq connection string of the upstream's PostgreSQL (host/port only; credentials are added from config). */
  host: string;
  port: number;
  /** The member name of this node: application_name, and the slot name derived from it. */
  applicationName: string;
  slotName: string | null;
}

export interface Postgres {
  dataDir(): Promise<DataDirState>;
  /** initdb with bootstrap.initdb options, pg_hba and the superuser/replication/rewind roles; leaves it stopped. */
  initdb(): Promise<void>;
  /** pg_basebackup from the upstream into an empty data dir; leaves it stopped and configured as a standby. */
  basebackup(from: UpstreamTarget): Promise<void>;
  /**
   * Start as primary, or as a standby streaming from `upstream` (a standby with no upstream
   * waits read-only for one). Resolves once it accepts connections.
   */
  start(role: StartRole, upstream: UpstreamTarget | null, timeoutSeconds: number): Promise<void>;
  /** Stop; resolves with the shutdown checkpoint LSN when it could be read. */
  stop(mode: StopMode, timeoutSeconds: number): Promise<{ checkpointLsn: number | null }>;
  /** pg_ctl promote, waiting until it leaves recovery. */
  promote(timeoutSeconds: number): Promise<void>;
  /** Point a running standby at another upstream (rewrites primary_conninfo, reloads or restarts as needed). */
  follow(upstream: UpstreamTarget, timeoutSeconds: number): Promise<void>;
  /** pg_rewind against the upstream (stopped data dir). Resolves false when rewind is impossible. */
  rewind(from: UpstreamTarget): Promise<boolean>;
  /** Remove the data directory (before a re-clone). */
  removeDataDir(): Promise<void>;
  /**
   * The last /config this node applied, kept in its data directory (Patroni's
   * patroni.dynamic.json): what it starts with while etcd is away. null when there is none.
   */
  readDynamicConfigCache(): Promise<Record<string, unknown> | null>;
  /** Keeps `data` as that cache; false (nothing written) while the data directory is not initialized. */
  writeDynamicConfigCache(data: Record<string, unknown>): Promise<boolean>;
  /** Create missing physical slots and drop stale ones that pgwarden manages. */
  syncSlots(slotNames: string[]): Promise<void>;
  /** CHECKPOINT (after promotion, so that pg_rewind of the old primary sees the new timeline). */
  checkpoint(): Promise<void>;
  /** Lines of the latest timeline history file: [timeline, switch LSN, reason]. */
  timelineHistory(): Promise<Array<[number, number, string]>>;
  status(): Promise<PostgresStatus>;
  /** Apply a reloaded local configuration (and effective parameters) to a running instance. */
  reload(config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<void>;
  /** Server parameters to write into postgresql.conf from the next start or reconfiguration on. */
  setParameters(parameters: Record<string, string | number | boolean>): void;
  /** Kill nothing, just forget connections. */
  close(): Promise<void>;
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
