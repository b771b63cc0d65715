/**
 * The simulated PostgreSQL's vocabulary, shared by the world and its servers: how long each
 * operation takes, what a world is created with, and a client's commit with its outcome. Kept
 * apart so that the harness (the cluster, the runner, the invariants) can name a commit or a
 * duration without reaching into the model itself.
 */
import type { Clock } from '../../actors/clock.ts';
import type { WalSenderTiming } from './walsenders.ts';

/** How long each operation takes, in ms of the world's clock. */
export interface SimulatedDurations {
  initdbMs: number;
  startMs: number;
  stopMs: number;
  promoteMs: number;
  basebackupMs: number;
  rewindMs: number;
  /** CHECKPOINT (0: at once). */
  checkpointMs: number;
  /** Fencing another server once connected (a few statements). */
  fenceMs: number;
  /** Opening a session on this server from another host (startup, authentication): a fence's wait. */
  sessionMs: number;
  /**
   * From a reload of primary_conninfo (a re-pointed standby) to its WAL receiver streaming again.
   * Measured on PostgreSQL 15 (session 20, sampled every 50 ms after a switchover): a bystander
   * re-pointed at the new leader showed a receiver in its own pg_stat_wal_receiver about 1 s
   * later (the leader listed its WAL sender 0.7 s before that); meanwhile it replays the old
   * timeline's end and does not stream.
   */
  repointMs: number;
}

export const defaultDurations: SimulatedDurations = Object.freeze({
  initdbMs: 300,
  startMs: 200,
  stopMs: 100,
  promoteMs: 200,
  basebackupMs: 500,
  rewindMs: 300,
  checkpointMs: 0,
  fenceMs: 20,
  sessionMs: 5,
  repointMs: 1000,
});

export interface SimulatedWorldOptions {
  clock: Clock;
  /** The only source of randomness (system identifiers). */
  seed?: number;
  /** Replication runs in steps of this many ms (default 100). */
  tickMs?: number;
  /** How many bytes a standby receives per tick at most (default: all there is). */
  bytesPerTick?: number;
  durations?: Partial<SimulatedDurations>;
  /** A standby whose primary_slot_name does not exist on its primary does not stream (default true). */
  enforceSlots?: boolean;
  /** server_version_num reported (default 150004). */
  serverVersion?: number;
  /** wal_sender_timeout and how long a walsender outlives an unseen disconnection (see walsenders.ts). */
  walSenders?: Partial<WalSenderTiming>;
  /**
   * Report a standby that does not stream on pg_control's checkpoint timeline, as pgwarden's
   * status query did before it asked IDENTIFY_SYSTEM (it lags a switch). Off: the replayed
   * timeline, as the agent reports it now. On only to show that the invariants catch it.
   */
  checkpointTimelineWhenNotStreaming?: boolean;
  /**
   * A clean stop of a primary waits for its ghost walsenders to be reaped, and the server answers
   * no query while it stops, as PostgreSQL does (default true). Off: the older, kinder model.
   */
  ghostsHoldShutdown?: boolean;
}

export type CommitState = 'rejected' | 'waiting' | 'acknowledged' | 'failed';

/** One client write: where it went and what the client was told. */
export interface Commit {
  node: string;
  bytes: number;
  /** The commit's end position on the primary (-1 when rejected). */
  lsn: number;
  timeline: number | null;
  /**
   * rejected: not a writable primary, nothing written; waiting: written, the client waits for
   * synchronous standbys; acknowledged: the client was told it committed; failed: written
   * locally but the connection died before the acknowledgement (outcome unknown to the client).
   */
  state: CommitState;
  /** Clock ms when it was sent, and when it was acknowledged (null: not acknowledged). */
  at: number;
  ackedAt: number | null;
  /** Resolves true once acknowledged, false once rejected or failed. */
  done: Promise<boolean>;
  /** @internal */
  segment: number;
  /** @internal */
  sysid: string;
}

/** A promotion: which instance, when (clock ms), onto which timeline. */
export interface Promotion {
  node: string;
  at: number;
  timeline: number;
  segment: number;
  /**
   * Other servers still accepting writes when it completed that were already writable, running
   * and reachable from it for the whole fence budget before the promotion began: orphans its
   * agent could have fenced (see the orphan-fenced invariant).
   */
  writableBeside: string[];
}
