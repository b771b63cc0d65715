/**
 * Pure readings of the node's context that guards, actions and actor inputs share: what this
 * node may tell the election, whom it follows, whether its data directory may have diverged.
 */

import type { LocalFacts } from '../../cluster/eligibility.ts';
import { divergedFromHistory } from '../../cluster/history.ts';
import type { DataDirState, StopMode, UpstreamTarget } from '../../cluster/postgres-state.ts';
import { systemIdentifierMismatch } from '../../cluster/rejoin.ts';
import { type ReplicaPlan, replicaPlan } from '../../cluster/replica-methods.ts';
import { remoteTarget } from '../../cluster/standby-cluster.ts';
import { cloneSourceFor, memberToFollow, upstreamFor } from '../../cluster/topology.ts';
import { type WatchdogPlan, watchdogFailed, watchdogWanted } from '../../cluster/watchdog.ts';
import type { NodeContext } from './types.ts';

/** The data directory state strings of a cluster that last ran as a primary (not a standby). */
export function ranAsPrimary(dataDir: DataDirState | null): boolean {
  const s = dataDir?.clusterState ?? '';
  return s === 'in production' || s === 'shut down' || s === 'shutting down' || s === 'in crash recovery';
}

export function localFacts(ctx: Pick<NodeContext, 'name' | 'pg' | 'tags' | 'settings'>): LocalFacts {
  const pg = ctx.pg;
  const wal = pg
    ? pg.inRecovery
      ? Math.max(pg.receivedLsn ?? 0, pg.replayedLsn ?? 0)
      : (pg.currentLsn ?? null)
    : null;
  return {
    name: ctx.name,
    running: pg?.running ?? false,
    inRecovery: pg?.inRecovery ?? true,
    walPosition: wal,
    timeline: pg?.timeline ?? null,
    nofailover: ctx.tags.nofailover,
    failoverPriority: ctx.tags.failoverPriority ?? 1,
    streaming: pg?.replicationState === 'streaming',
    ...(watchdogFailed(ctx.settings.watchdog) ? { watchdogFailed: true } : {}),
  };
}

/**
 * How a replica would be made now: the member to copy (a clonefrom member, else the leader) and
 * the configured methods, or, with no leader, only the methods that need nobody to copy (as
 * Patroni clones "without leader": never from a replica while the cluster has no leader).
 */
export function replicaPlanOf(ctx: Pick<NodeContext, 'name' | 'view' | 'settings'>): ReplicaPlan {
  const from = ctx.view.leader ? cloneSourceFor(ctx.view, ctx.name) : null;
  const standby = ctx.settings.standby_cluster;
  return replicaPlan(standby ? standby.methods : (ctx.settings.create_replica_methods ?? []), from);
}

/**
 * The standby leader's first copy, at the bootstrap of a standby cluster: from the remote primary,
 * by the standby cluster's methods.
 */
export function remotePlanOf(ctx: Pick<NodeContext, 'name' | 'settings'>): ReplicaPlan {
  const standby = ctx.settings.standby_cluster!;
  return { ...replicaPlan(standby.methods, remoteTarget(standby, ctx.name)), foreign: true };
}

/** The lock is ours in a standby cluster: PostgreSQL follows the remote primary, never promoted. */
export function leadsStandbyCluster(ctx: Pick<NodeContext, 'isLeader' | 'settings'>): boolean {
  return ctx.isLeader && !!ctx.settings.standby_cluster;
}

/** pg_rewind is tried again on a kept data directory after this many loop_waits (100 s by default). */
export const REWIND_RETRY_LOOPS = 10;

/** The system identifier of our data directory: the running server's, else pg_controldata's. */
export function localSystemIdentifier(ctx: Pick<NodeContext, 'pg' | 'dataDir'>): string | null {
  return ctx.pg?.systemIdentifier ?? ctx.dataDir?.systemIdentifier ?? null;
}

export function systemIdMismatch(ctx: NodeContext): boolean {
  return systemIdentifierMismatch(localSystemIdentifier(ctx), ctx.view.initialize);
}

/**
 * A running replica that does not stream and has replayed WAL past where the leader's history
 * left its timeline (see divergedFromHistory). Only a stuck one: a streaming replica follows
 * fine, and its timeline and position, sampled a moment apart, may straddle the switch. The
 * timeline a non-streaming replica reports is the one it replays (IDENTIFY_SYSTEM), so it pairs
 * with the replayed position, not with WAL received on a newer timeline and not yet replayed.
 */
export function divergedFromLeader(ctx: Pick<NodeContext, 'view' | 'name' | 'pg'>): boolean {
  return (
    ctx.view.leader !== null &&
    ctx.view.leader.name !== ctx.name &&
    !!ctx.pg?.running &&
    ctx.pg.inRecovery &&
    ctx.pg.replicationState !== 'streaming' &&
    divergedFromHistory(ctx.view.history, ctx.pg.timeline, ctx.pg.replayedLsn)
  );
}

/** May have diverged from the leader, and the leader is known well enough to rewind from. */
export function mustRejoin(ctx: NodeContext): boolean {
  return (
    ctx.wasPrimary &&
    ctx.view.leader !== null &&
    ctx.view.leader.name !== ctx.name &&
    upstreamOf(ctx) !== null
  );
}

/**
 * The member this node should stream from, by name (the same answer `upstreamOf` resolves); none
 * for a nostream node (Patroni 3.3): it replays from the archive only (postgresql.recovery_conf).
 */
export function followTarget(ctx: NodeContext): string | null {
  if (ctx.tags.nostream) return null;
  return memberToFollow(ctx.view, ctx.name, ctx.tags.replicatefrom, ctx.settings.standby_cluster ?? null);
}

export function upstreamOf(ctx: NodeContext): UpstreamTarget | null {
  if (ctx.tags.nostream) return null;
  return upstreamFor(
    ctx.view,
    ctx.name,
    ctx.tags.replicatefrom,
    ctx.settings.use_slots,
    ctx.settings.standby_cluster ?? null,
  );
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A startPostgres input for a standby of whoever it follows now (upstreamOf): null without anyone,
 * PostgreSQL then a standby of nobody until one is known; in a new standby cluster, the remote.
 */
export function replicaStartInput({ context }: { context: NodeContext }) {
  return {
    role: 'replica' as const,
    upstream: upstreamOf(context),
    timeoutSeconds: context.settings.pg_ctl_timeout,
  };
}

/** A stopPostgres input: `mode`, within pg_ctl_timeout (every stop of the node machine is bounded so). */
export function stopInput(mode: StopMode) {
  return ({ context }: { context: NodeContext }) => ({
    mode,
    timeoutSeconds: context.settings.pg_ctl_timeout,
  });
}

/**
 * The election holds the lock: a fence found on our own running primary is stale (put while it
 * was an orphan, before it led again) and is lifted. Never without the lock: an orphan's fence
 * stays (a primary without it, paused, keeps it too).
 */
export function mayLiftOwnFence(ctx: Pick<NodeContext, 'isLeader'>): boolean {
  return ctx.isLeader;
}

/** What the watchdog step is asked (promoting, and the leader each loop): the plan, and whether it is wanted now. */
export function watchdogStepInput(ctx: Pick<NodeContext, 'settings'>): {
  plan: WatchdogPlan | null;
  wanted: boolean;
} {
  return {
    plan: ctx.settings.watchdog ?? null,
    wanted: watchdogWanted(ctx.settings.watchdog, ctx.settings.paused === true),
  };
}
