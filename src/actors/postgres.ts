import type { FenceOutcome, FenceRule, FenceTarget } from '../cluster/orphans.ts';
import type {
  DataDirState,
  PostgresStatus,
  StartRole,
  StopMode,
  StopResult,
  UpstreamTarget,
} from '../cluster/postgres-state.ts';
import type { BootstrapCommand, ReplicaPlan } from '../cluster/replica-methods.ts';
import type { SlotPlan } from '../cluster/replication-slots.ts';
import type { NodeConfig } from '../config/types.ts';

/**
 * What the node machine can ask of its PostgreSQL instance. The real implementation drives
 * the binaries (postgres-process.ts); the simulated one models WAL positions and timelines.
 * LSNs are byte counts.
 */

export {
  type DataDirState,
  notRunningStatus,
  type PostgresStatus,
  type StartRole,
  type StopMode,
  type StopResult,
  slotNameFromMemberName,
  type UpstreamTarget,
  uninitializedDataDir,
  type WalSender,
} from '../cluster/postgres-state.ts';

export interface Postgres {
  dataDir(): Promise<DataDirState>;
  /** initdb with bootstrap.initdb options, pg_hba and the superuser/replication/rewind roles; leaves it stopped. */
  initdb(): Promise<void>;
  /**
   * bootstrap.method's command (a restore), one recovery as its recovery_conf says (a promotion at
   * its end), the roles made or updated; leaves a new cluster stopped, configured as a primary.
   * Fails without removing anything: what the command left is moved aside.
   */
  customBootstrap(method: BootstrapCommand): Promise<void>;
  /**
   * A replica's data directory by the first of the plan's methods that works (pg_basebackup from
   * `plan.from`, or a user's command); resolves with its name, the directory stopped and configured
   * as a standby. The directory must hold no cluster unless the first method keeps data; before
   * each other method it is emptied, and after the last one failed, what they left is removed.
   */
  createReplica(plan: ReplicaPlan): Promise<string>;
  /**
   * Start as primary, or as a standby streaming from `upstream` (a standby with no upstream
   * waits read-only for one). Resolves once it accepts connections.
   */
  start(role: StartRole, upstream: UpstreamTarget | null, timeoutSeconds: number): Promise<void>;
  /**
   * Stop; resolves with the shutdown checkpoint LSN when it could be read, and whether a running
   * postmaster was signalled (Patroni's on_stop follows only then).
   */
  stop(mode: StopMode, timeoutSeconds: number): Promise<StopResult>;
  /** pg_ctl promote, waiting until it leaves recovery. */
  promote(timeoutSeconds: number): Promise<void>;
  /**
   * Point a running standby at another upstream (rewrites primary_conninfo, reloads); a stopped
   * server starts as a standby. A server running as a primary is refused (followingAsPrimary).
   */
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
  /**
   * The replication slots as the plan says: missing ones created, unwanted physical ones dropped;
   * resolves with the unwanted ones left because they are in use (a later sync drops them).
   */
  syncSlots(plan: SlotPlan): Promise<string[]>;
  /**
   * Fences another member's PostgreSQL (src/cluster/orphans.ts): a writable server there that
   * `rule` allows is made read-only for new transactions and its client sessions end. Rejects
   * when it cannot be reached within the fence's budget.
   */
  fence(target: FenceTarget, rule: FenceRule): Promise<FenceOutcome>;
  /**
   * Lifts a fence put on this server while it runs (the marker is there: the setting reset, a
   * reload, the marker removed), for a leader whose own primary is fenced. Answers what the marker
   * said, or null when there was no fence.
   */
  liftOwnFence(): Promise<string | null>;
  /** Keeps the address book in the data directory (dataDir() reads it back); false while there is none. */
  writeKnownServers(book: readonly FenceTarget[]): Promise<boolean>;
  /** CHECKPOINT (after promotion, so that pg_rewind of the old primary sees the new timeline). */
  checkpoint(): Promise<void>;
  /** Lines of the latest timeline history file: [timeline, switch LSN, reason]. */
  timelineHistory(): Promise<Array<[number, number, string]>>;
  status(): Promise<PostgresStatus>;
  /** Whether the postmaster the data directory names is alive: no SQL (the sampler's cheap check). */
  postmasterRunning(): Promise<boolean>;
  /**
   * Apply a reloaded local configuration (and effective parameters) to a running instance:
   * true when one ran and was told to reload (Patroni's on_reload follows then).
   */
  reload(config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<boolean>;
  /** Server parameters to write into postgresql.conf from the next start or reconfiguration on. */
  setParameters(parameters: Record<string, string | number | boolean>): void;
  /** Kill nothing, just forget connections. */
  close(): Promise<void>;
}

/** follow() of a server running as a primary: the caller's view of it was stale. */
export function followingAsPrimary(name: string): string {
  return `follow: ${name} runs as a primary; only a demotion may turn it into a standby`;
}
