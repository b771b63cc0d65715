/**
 * The node machine's I/O actors, as the runtime (or the simulator) must provide them: each does
 * one thing on the input it is given and answers what it found. Children that are machines (the
 * election, the schedulers) are given here too.
 */

import type { PrePromoteOutcome } from '../../cluster/callbacks.ts';
import type { PeerStatus } from '../../cluster/eligibility.ts';
import type { FenceResult, FenceRound } from '../../cluster/orphans.ts';
import type {
  DataDirState,
  StartRole,
  StopMode,
  StopResult,
  UpstreamTarget,
} from '../../cluster/postgres-state.ts';
import type { BootstrapCommand, ReplicaPlan } from '../../cluster/replica-methods.ts';
import type { SlotPlan } from '../../cluster/replication-slots.ts';
import type { ScheduledRestart } from '../../cluster/restart.ts';
import type { ClusterView, Failover, HistoryLine, Member } from '../../cluster/view.ts';
import type { WatchdogActivation, WatchdogPlan } from '../../cluster/watchdog.ts';
import { type AcquireResult, electionMachine } from '../election/index.ts';
import { notProvided } from '../not-provided.ts';
import { scheduledActionMachine } from '../scheduled-action.ts';

/** The node's restart scheduler (a child): the runtime provides it with its clock (readClock). */
export const restartSchedulerMachine = scheduledActionMachine<ScheduledRestart>();
/** The node's switchover scheduler (a child), likewise: holds the leader's scheduled switchover. */
export const switchoverSchedulerMachine = scheduledActionMachine<Failover>();

export const nodeActors = {
  election: electionMachine,
  inspectDataDir: notProvided<DataDirState, unknown>(),
  raceInitialize: notProvided<boolean, unknown>(),
  cancelInitialization: notProvided<void, unknown>(),
  writeInitialize: notProvided<void, { sysid: string }>(),
  initdb: notProvided<void, unknown>(),
  /** bootstrap.method's command, the recovery it configures, the roles: a new cluster, stopped. */
  customBootstrap: notProvided<void, { method: BootstrapCommand }>(),
  /** A lease for this node (granted now if there is none), with this ttl. */
  ensureLease: notProvided<void, { ttl: number }>(),
  /** /config = the YAML's bootstrap.dcs. */
  writeBootstrapConfig: notProvided<void, unknown>(),
  /** Our lease kept alive now (a fresh grant if it is gone), with this ttl. */
  freshLease: notProvided<void, { ttl: number }>(),
  /** The create_revision == 0 transaction on /leader: never overwrites a key already there. */
  acquireLeader: notProvided<AcquireResult, { name: string }>(),
  /** A replica's data directory by the first of the plan's methods that works: that method's name. */
  createReplica: notProvided<string, ReplicaPlan>(),
  startPostgres: notProvided<
    void,
    { role: StartRole; upstream: UpstreamTarget | null; timeoutSeconds: number }
  >(),
  stopPostgres: notProvided<StopResult, { mode: StopMode; timeoutSeconds: number }>(),
  followUpstream: notProvided<void, { upstream: UpstreamTarget; timeoutSeconds: number }>(),
  /** Each server made read-only and its client sessions ended if it is writable, all at once, within the fence budget (src/cluster/orphans.ts). */
  fenceServers: notProvided<FenceResult[], FenceRound>(),
  /** The watchdog armed (wanted) or disarmed, per plan (src/cluster/watchdog.ts); idempotent. */
  setWatchdog: notProvided<WatchdogActivation, { plan: WatchdogPlan | null; wanted: boolean }>(),
  /** A fence on our own running primary lifted (what its marker said; null: none, or not `mayLift`). */
  liftOwnFence: notProvided<string | null, { mayLift: boolean }>(),
  promote: notProvided<void, { timeoutSeconds: number }>(),
  /** postgresql.pre_promote, waited for up to `timeoutSeconds` (null output: none configured). */
  runPrePromote: notProvided<PrePromoteOutcome, { timeoutSeconds: number }>(),
  /** Compare-and-set /sync to name `leader` and no standby (false: somebody changed it first). */
  claimSync: notProvided<boolean, { leader: string; index: string | null }>(),
  /** Set synchronous_standby_names to `value` and reload PostgreSQL. */
  setSynchronousStandbyNames: notProvided<void, { value: string }>(),
  /** The replication slots the leader keeps: these, and no other member's. */
  /** The unwanted slots left because they are in use (the leader's duties drop them later). */
  syncSlots: notProvided<string[], { slots: SlotPlan }>(),
  /** pg_control's timeline history files, as (timeline, switch LSN, reason) lines. */
  readTimelineHistory: notProvided<Array<[number, number, string]>, unknown>(),
  /** /history = the previous one with our switch added, stamped with the time of the write. */
  writeHistory: notProvided<
    void,
    { previous: readonly HistoryLine[] | null; lines: Array<[number, number, string]> }
  >(),
  /** The member key (and the leader's /status) written now, not at the next loop. */
  publishMember: notProvided<void, unknown>(),
  rewind: notProvided<boolean, { from: UpstreamTarget }>(),
  removeDataDir: notProvided<void, unknown>(),
  /** GET <api_url> of each member given (2 s each, in parallel): their statuses. */
  probeMembers: notProvided<PeerStatus[], { members: Member[] }>(),
  /** CHECKPOINT, bounded by timeoutSeconds (null: as long as it takes). */
  checkpoint: notProvided<void, { timeoutSeconds: number | null }>(),
  /** Overwrite /failover with `{}` (compare-and-set on the index we saw). */
  clearFailover: notProvided<void, { view: ClusterView }>(),
  /** Holds a scheduled restart until its time (the runtime provides its readClock). */
  restartScheduler: restartSchedulerMachine,
  switchoverScheduler: switchoverSchedulerMachine,
  /** Write /failover (compare-and-set on `index`): a due scheduled switchover, or {} to drop it. */
  writeFailover: notProvided<void, { value: Record<string, unknown>; index: string }>(),
};
