/** The node machine's settings, input, context, events and emitted answers. */
import type { CallbackAction } from '../../cluster/callbacks.ts';
import type { Verdict } from '../../cluster/eligibility.ts';
import type { FenceTarget } from '../../cluster/orphans.ts';
import type { DataDirState, PostgresStatus } from '../../cluster/postgres-state.ts';
import type { BootstrapCommand, ReplicaMethod } from '../../cluster/replica-methods.ts';
import type { RestartConditions, RestartRequest, ScheduledRestart } from '../../cluster/restart.ts';
import type { StandbySettings } from '../../cluster/standby-cluster.ts';
import type { ClusterView, Failover, WireRole } from '../../cluster/view.ts';
import type { WatchdogPlan } from '../../cluster/watchdog.ts';
import type { ElectionSettings } from '../election/index.ts';

export interface NodeSettings extends ElectionSettings {
  synchronous_mode_strict: boolean;
  synchronous_node_count: number;
  use_pg_rewind: boolean;
  use_slots: boolean;
  primary_start_timeout: number;
  pg_ctl_timeout: number;
  remove_data_directory_on_rewind_failure: boolean;
  remove_data_directory_on_diverged_timelines: boolean;
  /** Patroni's watchdog, as planned for this ttl (src/cluster/watchdog.ts); absent: off. */
  watchdog?: WatchdogPlan;
  /** How a replica is made (postgresql.create_replica_methods); absent or empty: pg_basebackup. */
  create_replica_methods?: readonly ReplicaMethod[];
  /** bootstrap.method's command (a restore); absent or null: initdb. */
  bootstrap_method?: BootstrapCommand | null;
  /** /config's standby_cluster, with the methods its clones use; absent or null: a cluster of its own. */
  standby_cluster?: StandbySettings | null;
}

export interface NodeTags {
  nofailover: boolean;
  clonefrom: boolean;
  replicatefrom?: string;
  /** Patroni 3.3's nostream: no upstream, the archive only (absent: false). */
  nostream?: boolean;
  /** Patroni 3.2's failover_priority (absent: 1). */
  failoverPriority?: number;
}

export interface NodeInput {
  name: string;
  tags: NodeTags;
  /** Settings before any /config is seen (local config + bootstrap.dcs). */
  settings: NodeSettings;
}

/** Patroni's PostgreSQL state strings, as shown in member keys and REST. */
export type PgState =
  | 'stopped'
  | 'stopping'
  | 'starting'
  | 'running'
  | 'crashed'
  | 'start failed'
  | 'initializing new cluster'
  | 'initdb failed'
  | 'running custom bootstrap script'
  | 'custom bootstrap failed'
  | 'creating replica'
  | 'restarting'
  | 'restart failed';

export type NodeEvent =
  | { type: 'CLUSTER'; view: ClusterView }
  | { type: 'SETTINGS'; settings: NodeSettings }
  | { type: 'PG_STATUS'; status: PostgresStatus }
  | { type: 'DCS_UNAVAILABLE'; message: string }
  | { type: 'STOP' }
  /** Run the HA decisions now (REST wrote /config or /failover). */
  | { type: 'WAKE' }
  /** requestId: echoed in the answer, so that concurrent requests each get their own. */
  /** conditions: Patroni's restart filters (role, version, pending restart); refused unless they hold. */
  | { type: 'RESTART'; timeoutSeconds: number | null; conditions?: RestartConditions; requestId?: number }
  /** POST /restart with a schedule: the restart scheduler (a child) holds it; nowMs is the clock's reading. */
  | { type: 'SCHEDULE_RESTART'; request: RestartRequest; nowMs: number; requestId?: number }
  | { type: 'CANCEL_SCHEDULED_RESTART'; requestId?: number }
  /** From the restart scheduler: the scheduled restart's time has come. */
  | { type: 'RESTART_DUE'; id: string; payload: ScheduledRestart; lateMs: number }
  /** From the switchover scheduler: a scheduled switchover's time has come (id: /failover's index). */
  | { type: 'SWITCHOVER_DUE'; id: string; payload: Failover; lateMs: number }
  /** `force`: if another action is under way, reinitialize as soon as it is over. */
  | { type: 'REINITIALIZE'; force?: boolean; requestId?: number }
  /** `fenceTargets`: every other server the election knows of, fenced before ours is promoted. */
  | { type: 'LEADERSHIP_ACQUIRED'; fenceTargets: readonly FenceTarget[] }
  | { type: 'LEADERSHIP_LOST'; reason: string }
  | { type: 'LEADERSHIP_RELEASED' }
  | { type: 'ELECTION_VERDICT'; verdict: Verdict }
  | { type: 'FAILSAFE_ACTIVE'; active: boolean };

/** Answers to operator requests, for whoever asked (the REST API through the agent). */
export type NodeEmitted =
  | { type: 'restart.done'; ok: boolean; message: string; requestId: number | null }
  | { type: 'restart.busy'; action: string; requestId: number | null }
  /** The restart's conditions do not hold (Patroni's 503 "restart conditions are not satisfied"). */
  | { type: 'restart.refused'; requestId: number | null }
  | { type: 'restart.scheduled'; requestId: number | null }
  /** Another restart is already scheduled. */
  | { type: 'restart.conflict'; requestId: number | null }
  | { type: 'restart.cancelled'; requestId: number | null }
  | { type: 'restart.nothingToCancel'; requestId: number | null }
  /** The scheduled restart was set, cancelled or came due: the member key shows it (or no longer). */
  | { type: 'scheduledRestart.changed' }
  /** Something worth a log line that is no state change (a scheduled restart dropped, and why). */
  | { type: 'notice'; message: string }
  | { type: 'reinitialize.started'; requestId: number | null }
  | { type: 'reinitialize.busy'; action: string; requestId: number | null }
  | { type: 'switchover.abandoned'; reason: string }
  /** Close the watchdog the way that stops it (PostgreSQL is stopped, or the agent exits cleanly). */
  | { type: 'watchdog.disarm' }
  /** The watchdog was armed, re-armed with another timeout, or closed: fast failover's frames say so at once. */
  | { type: 'watchdog.changed' }
  /** The former leader's PostgreSQL was writable and is fenced now (an alarm, and a metric). */
  | { type: 'orphan.fenced'; member: string; terminated: number }
  /** A step Patroni runs a user callback after (postgresql.callbacks): run it, wait for nothing. */
  | { type: 'callback'; action: CallbackAction; role: string };

/** At most 19 keys (a test says why): group new fields into an existing object. */
export interface NodeContext {
  name: string;
  tags: NodeTags;
  settings: NodeSettings;
  view: ClusterView;
  /**
   * Whether the first DCS view has arrived, and which user callback the next start as a replica
   * calls: on_role_change after a demotion, else on_start (cluster/callbacks.ts).
   */
  lifecycle: { dcsSeen: boolean; replicaStartCallback: CallbackAction };
  dataDir: DataDirState | null;
  pg: PostgresStatus | null;
  pgState: PgState;
  role: WireRole;
  /** The election says we hold the lock. */
  isLeader: boolean;
  /**
   * We took the lock ourselves right after initdb, so the election starts as holder: ms since
   * the lease under that key was refreshed (null: we did not bootstrap the cluster).
   */
  bootstrapLeaseAgeMs: number | null;
  /**
   * The data directory may have diverged from the leader: it last ran as a primary, or its WAL
   * went past the leader's history. Cleared once pg_rewind or a clone has settled it, or once it
   * started following a leader.
   */
  wasPrimary: boolean;
  /** Member name we stream from (null: none). */
  following: string | null;
  /** The last thing the node decided or noticed, in Patroni's words where there are any. */
  message: string;
  /**
   * What the election last told: the verdict of its last race, and whether failsafe mode is active
   * here (kept by the members, or holding back for a confirmed leader), and the servers to fence
   * before ours is promoted, as known when we took the lock. One object: see the context size test.
   */
  election: { verdict: Verdict | null; failsafeActive: boolean; fenceTargets: readonly FenceTarget[] };
  fatal: string | null;
  /** Shutdown checkpoint of a stopping leader, passed to the lock release. */
  lastLsn: number | null;
  /**
   * The restart being served: seconds it may take to start PostgreSQL again (null:
   * pg_ctl_timeout) and the operator request to answer (null: scheduled, nobody waits).
   */
  restart: { timeoutSeconds: number | null; requestId: number | null; scheduled: ScheduledRestart | null };
  /** The reinitialize being served, and whether a forced one waits for the action under way. */
  reinitialize: { queued: boolean; requestId: number | null };
}
