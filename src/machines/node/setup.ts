/**
 * The node machine's vocabulary: its I/O actors (actors.ts), the
 * delays, and every named guard and action. The states (starting.ts, replica.ts, primary.ts, …)
 * are written against it, and machine.ts assembles them.
 */
import { assign, emit, enqueueActions, raise, sendTo, setup, spawnChild } from 'xstate';
import {
  type CallbackAction,
  callbackRole,
  type PrePromoteOutcome,
  prePromoteAllows,
} from '../../cluster/callbacks.ts';
import { type PeerStatus, someoneFitToTakeOver } from '../../cluster/eligibility.ts';
import { ownScheduledSwitchover } from '../../cluster/failover.ts';
import { type FenceResult, fenceRoundReport } from '../../cluster/orphans.ts';
import type { PostgresStatus, StopResult } from '../../cluster/postgres-state.ts';
import {
  divergencePath,
  mayRemoveAfterFailedRewind,
  systemIdentifierMismatchMessage,
} from '../../cluster/rejoin.ts';
import { scheduledRestart } from '../../cluster/restart.ts';
import { type ClusterView, clusterTimeline, type WireRole } from '../../cluster/view.ts';
import type { WatchdogActivation } from '../../cluster/watchdog.ts';
import { doneOutput } from '../done-output.ts';
import { nodeActors } from './actors.ts';
import { bootstrapGuards } from './bootstrap-guards.ts';
import {
  divergedFromLeader,
  errorText,
  followTarget,
  localFacts,
  localSystemIdentifier,
  mustRejoin,
  REWIND_RETRY_LOOPS,
  systemIdMismatch,
  upstreamOf,
} from './facts.ts';
import { requestGuards } from './request-guards.ts';
import type { NodeContext, NodeEmitted, NodeEvent, NodeInput, NodeSettings } from './types.ts';

export const nodeSetup = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput,
    emitted: {} as NodeEmitted,
  },
  actors: nodeActors,
  delays: {
    loopWait: ({ context }) => context.settings.loop_wait * 1000,
    shortRetry: ({ context }) => Math.min(2000, context.settings.loop_wait * 1000),
    demotionRetry: 200,
    /**
     * From this agent's start, how long a running primary waits for a first DCS answer before it
     * stops accepting writes (as Patroni demotes on a DCS error). Not a ttl: the lock its previous
     * process held may have run out minutes before this start, another node promoted meanwhile.
     */
    noDcsAnswerInRetryTimeout: ({ context }) => context.settings.retry_timeout * 1000,
    /** A data directory kept after pg_rewind could not rewind it: try again this much later. */
    rewindRetry: ({ context }) => REWIND_RETRY_LOOPS * context.settings.loop_wait * 1000,
  },
  guards: {
    /** No leader (nor replicatefrom member) to stream from: the streaming settings stay as they are. */
    nothingToFollow: ({ context }) => upstreamOf(context) === null,
    historyBehindOurTimeline: ({ context }) =>
      (context.pg?.timeline ?? 0) > 1 && clusterTimeline(context.view) < context.pg!.timeline!,
    /**
     * Running as primary without the lock (not paused, the key not ours either): it must go now.
     * Checked at rest and in the states whose DCS writes can take retry_timeout (afterPromotion,
     * clearingFailover) while the next leader is being promoted.
     */
    lockLostAsPrimary: ({ context }) =>
      !context.isLeader && context.settings.paused !== true && context.view.leader?.name !== context.name,
    dcsAnswered: ({ context }) => context.lifecycle.dcsSeen,
    /** postgresql.pre_promote said no (cluster/callbacks.ts, prePromoteAllows). */
    prePromoteRefused: ({ event }) =>
      !prePromoteAllows((event as { output?: PrePromoteOutcome }).output ?? null),
    /** A member probed before a switchover is fit to take over (reachable, in recovery, no limitation, on our timeline or streaming). */
    someoneCanTakeOver: ({ context, event }) =>
      someoneFitToTakeOver(
        doneOutput<PeerStatus[]>(event),
        context.view,
        context.pg?.timeline ?? null,
        context.settings.check_timeline,
      ),
    slotsOn: ({ context }) => context.settings.use_slots,
    /** claimSync wrote /sync (false: its index had moved on). */
    syncClaimed: ({ event }) => doneOutput<boolean>(event),
    synchronousMode: ({ context }) => context.settings.synchronous_mode,
    /** pg_rewind did its job (false: it found rewinding impossible). */
    rewound: ({ event }) => doneOutput<boolean>(event),
    sampleRunning: ({ event }) => event.type === 'PG_STATUS' && event.status.running,
    sampleDown: ({ event }) => event.type === 'PG_STATUS' && !event.status.running,
    sampleDownWhilePaused: ({ context, event }) =>
      event.type === 'PG_STATUS' && !event.status.running && context.settings.paused === true,
    sampleInRecovery: ({ event }) => event.type === 'PG_STATUS' && event.status.inRecovery,
    isLeader: ({ context }) => context.isLeader,
    notLeader: ({ context }) => !context.isLeader,
    paused: ({ context }) => context.settings.paused === true,
    pgRunning: ({ context }) => context.pg?.running ?? false,
    pgDown: ({ context }) => context.pg !== null && !context.pg.running,
    /** We know of other servers, one of which may be an orphan primary. */
    serversToFence: ({ context }) => context.election.fenceTargets.length > 0,
    pgIsPrimary: ({ context }) => (context.pg?.running ?? false) && !context.pg!.inRecovery,
    /** `required`, and no safe watchdog could be armed: no leadership without one. */
    watchdogRefused: ({ event }) => doneOutput<WatchdogActivation>(event).refused,
    watchdogRequired: ({ context }) => context.settings.watchdog?.mode === 'required',
    /** A replica stuck on a timeline that diverged from the leader's (divergedFromLeader), pg_rewind on. */
    divergedMayRewind: ({ context }) =>
      divergedFromLeader(context) && divergencePath(context.settings) === 'rewind',
    /** Diverged, no pg_rewind, and remove_data_directory_on_diverged_timelines: clone it again. */
    divergedMayReclone: ({ context }) =>
      divergedFromLeader(context) && divergencePath(context.settings) === 'reclone',
    /**
     * The status sample shows a replica that diverged and may be neither rewound nor removed: it
     * keeps running as it is (as Patroni leaves it), and says so.
     */
    divergedKeptAsIs: ({ context, event }) =>
      divergencePath(context.settings) === 'keep' &&
      divergedFromLeader({ ...context, pg: (event as Extract<NodeEvent, { type: 'PG_STATUS' }>).status }),
    /**
     * May have diverged from the leader, the leader is known well enough to rewind from, and
     * use_pg_rewind is on. Without it the node starts as a replica with its data as it is: only a
     * divergence seen while it runs (divergedMayReclone) may cost the data directory.
     */
    mustRewind: ({ context }) => mustRejoin(context) && divergencePath(context.settings) === 'rewind',
    /** pg_rewind could not rewind, and the operator configured the data directory to go then. */
    mayRemoveAfterFailedRewind: ({ context }) => mayRemoveAfterFailedRewind(context.settings),
    /** The view that arrives names another leader than the one we had (or none). */
    leaderChanges: ({ context, event }) =>
      (event as Extract<NodeEvent, { type: 'CLUSTER' }>).view.leader?.name !== context.view.leader?.name,
    /** The data directory is not the one /initialize names (checked on every change, not only at start). */
    foreignCluster: ({ context }) => context.settings.paused !== true && systemIdMismatch(context),
    /** The same while paused: Patroni only warns, and gives the lock up if it holds it. */
    foreignClusterWhilePausedLeading: ({ context }) =>
      context.settings.paused === true && context.isLeader && systemIdMismatch(context),
    foreignClusterWhilePaused: ({ context }) => context.settings.paused === true && systemIdMismatch(context),
    sameCluster: ({ context }) => !systemIdMismatch(context),
    upstreamChanged: ({ context }) => followTarget(context) !== context.following,
    ...bootstrapGuards,
    ...requestGuards,
  },
  actions: {
    /**
     * Patroni's user callback after this step (cluster/callbacks.ts), told with `role` or the
     * node's own; `replicaStart`: the one the replica start under way decided on.
     */
    callback: emit(({ context }, params: { action: CallbackAction | 'replicaStart'; role?: WireRole }) => ({
      type: 'callback' as const,
      action: params.action === 'replicaStart' ? context.lifecycle.replicaStartCallback : params.action,
      role: callbackRole(params.role ?? context.role),
    })),
    /** on_stop, after a stop that stopped a running server (Patroni: only when it signalled one). */
    stopCallback: enqueueActions(({ context, event, enqueue }) => {
      if ((event as { output?: StopResult }).output?.signalled)
        enqueue.emit({ type: 'callback', action: 'on_stop', role: callbackRole(context.role) });
    }),
    /**
     * A primary stopped to stop leading: its next start as a replica is a role change for the
     * callbacks (Patroni's follow after a demotion), not a start.
     */
    nextReplicaStartIsRoleChange: assign({
      lifecycle: ({ context }) => ({ ...context.lifecycle, replicaStartCallback: 'on_role_change' as const }),
    }),
    /** The replica start told its callback: later starts are plain starts again. */
    replicaStartTold: assign({
      lifecycle: ({ context }) => ({ ...context.lifecycle, replicaStartCallback: 'on_start' as const }),
    }),
    /** on_role_change standby_leader, when a replica became it (not after its bootstrap or an agent restart). */
    standbyLeaderCallback: enqueueActions(({ context, enqueue }) => {
      if (context.role === 'replica')
        enqueue.emit({ type: 'callback', action: 'on_role_change', role: callbackRole('standby_leader') });
    }),
    /** What a replica was made with (Patroni logs "replica has been created using <method>"). */
    noteReplicaMethod: emit(({ event }) => ({
      type: 'notice' as const,
      message: `replica has been created using ${doneOutput<string>(event)}`,
    })),
    /** A step of publishing a new cluster failed: the node gives up, saying why. */
    noteBootstrapFailure: assign({
      fatal: ({ event }) =>
        `could not publish the new cluster: ${errorText((event as unknown as { error: unknown }).error)}`,
    }),
    /**
     * Takes a new cluster view in, and keeps the switchover scheduler holding exactly this node's
     * scheduled switchover (ownScheduledSwitchover): armed when one names it as leader, replaced
     * when /failover is rewritten, cancelled when it goes or the node no longer leads.
     */
    storeView: enqueueActions(({ context, event, enqueue }) => {
      const view = (event as { view: ClusterView }).view;
      const before = ownScheduledSwitchover(context.view, context.name, context.isLeader);
      const now = ownScheduledSwitchover(view, context.name, context.isLeader);
      enqueue.assign(
        context.lifecycle.dcsSeen ? { view } : { view, lifecycle: { ...context.lifecycle, dcsSeen: true } },
      );
      if (now && now.index !== before?.index) {
        const at = Date.parse(now.scheduled_at!);
        enqueue.sendTo('switchoverScheduler', {
          type: 'SCHEDULE' as const,
          replace: true,
          id: now.index,
          atMs: Number.isNaN(at) ? 0 : at,
          payload: now,
        });
      } else if (!now && before) {
        enqueue.sendTo('switchoverScheduler', { type: 'CANCEL' as const });
      }
    }),
    /**
     * New settings. use_slots turned on or off: whom a replica follows is the same, the slot it
     * streams through is not — the upstream is forgotten, so a running replica re-points
     * (upstreamChanged) and the leader can drop (or make) its slot.
     */
    storeSettings: assign(({ context, event }) => {
      const settings = (event as { settings: NodeSettings }).settings;
      return settings.use_slots === context.settings.use_slots ? { settings } : { settings, following: null };
    }),
    storePg: assign({ pg: ({ event }) => (event as { status: PostgresStatus }).status }),
    /** Its WAL went past the leader's history: from here on it is treated as an old primary. */
    mayHaveDiverged: assign({ wasPrimary: true }),
    /**
     * Running as a replica: the divergence question is settled if it was started following a
     * leader (`following`, fixed when the start began). A leader that appeared while it was
     * starting does not settle it: the WAL may still fork from that leader's (stoppingToRejoin).
     */
    startedAsReplica: assign({
      pgState: 'running',
      wasPrimary: ({ context }) => context.wasPrimary && context.following === null,
    }),
    acceptRestart: assign(({ context, event }) => {
      const e = event as Extract<NodeEvent, { type: 'RESTART' }>;
      return {
        restart: { ...context.restart, timeoutSeconds: e.timeoutSeconds, requestId: e.requestId ?? null },
      };
    }),
    acceptReinitialize: assign({
      reinitialize: ({ context, event }) => ({
        queued: context.reinitialize.queued,
        requestId: (event as Extract<NodeEvent, { type: 'REINITIALIZE' }>).requestId ?? null,
      }),
    }),
    forwardView: sendTo('election', ({ context }) => ({ type: 'CLUSTER' as const, view: context.view })),
    forwardFacts: sendTo('election', ({ context }) => ({
      type: 'FACTS' as const,
      facts: localFacts(context),
    })),
    forwardSettings: sendTo('election', ({ context }) => ({
      type: 'SETTINGS' as const,
      settings: context.settings,
    })),
    say: assign({ message: (_, params: { message: string }) => params.message }),
    /** The watchdog step's outcome: logged when new, and the election told while one is armed or when that changed. */
    noteWatchdog: enqueueActions(({ event, enqueue }) => {
      const out = doneOutput<WatchdogActivation>(event);
      if (out.message !== null) enqueue.emit({ type: 'notice', message: out.message });
      if (out.changed) enqueue.emit({ type: 'watchdog.changed' as const });
      if (out.armed || out.changed)
        enqueue.sendTo('election', {
          type: 'WATCHDOG' as const,
          windowMs: out.armed ? out.windowMs : null,
          reopened: out.changed,
        });
    }),
    /**
     * PostgreSQL stopped without the lock (or left running in maintenance mode): the watchdog is
     * closed, not left to fire, and the election told that none bounds its trust any more.
     */
    disarmWatchdog: enqueueActions(({ enqueue }) => {
      enqueue.emit({ type: 'watchdog.disarm' as const });
      enqueue.sendTo('election', { type: 'WATCHDOG' as const, windowMs: null, reopened: false });
    }),
    /** The same on the way out of `active`, whose election is stopped with it: nobody to tell. */
    closeWatchdog: emit({ type: 'watchdog.disarm' as const }),
    reportOwnFenceLifted: enqueueActions(({ event, enqueue }) => {
      const note = doneOutput<string | null>(event);
      if (note) enqueue.emit({ type: 'notice', message: `lifted the fence on our own primary (${note})` });
    }),
    reportFence: enqueueActions(({ event, enqueue }, params: { quiet: boolean }) => {
      const report = fenceRoundReport(doneOutput<FenceResult[]>(event), params.quiet);
      if (report.line !== null) enqueue.emit({ type: 'notice', message: report.line });
      for (const o of report.orphans) enqueue.emit({ type: 'orphan.fenced', ...o });
    }),
    /** A log line for the runtime, without changing what the node says about itself. */
    notice: emit((_, params: { message: string }) => ({ type: 'notice' as const, message: params.message })),
    /** What etcd's silence is, as the node's message says it. */
    noteDcsUnavailable: assign({
      message: ({ event }) => (event as Extract<NodeEvent, { type: 'DCS_UNAVAILABLE' }>).message,
    }),
    /** The operator is told the restart failed, with why. */
    reportRestartFailed: emit(({ context }) => ({
      type: 'restart.done' as const,
      ok: false,
      message: context.message,
      requestId: context.restart.requestId,
    })),
    refuseRestart: emit(({ event }) => ({
      type: 'restart.refused' as const,
      requestId: (event as Extract<NodeEvent, { type: 'RESTART' }>).requestId ?? null,
    })),
    /** Hand the restart to the scheduler and keep what the member key shows. */
    scheduleRestart: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Extract<NodeEvent, { type: 'SCHEDULE_RESTART' }>;
      const scheduled = scheduledRestart(e.request, context.pg);
      const atMs = e.request.schedule!.getTime();
      enqueue.sendTo('restartScheduler', {
        type: 'SCHEDULE' as const,
        id: `restart@${atMs}`,
        atMs,
        nowMs: e.nowMs,
        payload: scheduled,
      });
      enqueue.assign({ restart: { ...context.restart, scheduled } });
      enqueue.emit({ type: 'restart.scheduled' as const, requestId: e.requestId ?? null });
      enqueue.emit({ type: 'scheduledRestart.changed' as const });
    }),
    refuseSecondRestart: emit(({ event }) => ({
      type: 'restart.conflict' as const,
      requestId: (event as Extract<NodeEvent, { type: 'SCHEDULE_RESTART' }>).requestId ?? null,
    })),
    cancelScheduledRestart: enqueueActions(({ context, event, enqueue }) => {
      enqueue.sendTo('restartScheduler', { type: 'CANCEL' as const });
      enqueue.assign({ restart: { ...context.restart, scheduled: null } });
      enqueue.emit({
        type: 'restart.cancelled' as const,
        requestId: (event as Extract<NodeEvent, { type: 'CANCEL_SCHEDULED_RESTART' }>).requestId ?? null,
      });
      enqueue.emit({ type: 'scheduledRestart.changed' as const });
    }),
    sayNothingToCancel: emit(({ event }) => ({
      type: 'restart.nothingToCancel' as const,
      requestId: (event as Extract<NodeEvent, { type: 'CANCEL_SCHEDULED_RESTART' }>).requestId ?? null,
    })),
    /** The scheduler fired: the restart is no longer scheduled, whatever happens to it now. */
    forgetScheduledRestart: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ restart: { ...context.restart, scheduled: null } });
      enqueue.emit({ type: 'scheduledRestart.changed' as const });
    }),
    /** Its time has come: /failover rewritten without scheduled_at, an ordinary switchover for every node. */
    startScheduledSwitchover: spawnChild('writeFailover', {
      input: ({ event }) => {
        const {
          scheduled_at: _,
          index,
          ...request
        } = (event as Extract<NodeEvent, { type: 'SWITCHOVER_DUE' }>).payload;
        return { value: request, index };
      },
    }),
    /** Too late: /failover emptied, so that nobody carries it out. */
    dropScheduledSwitchover: spawnChild('writeFailover', {
      input: ({ event }) => ({
        value: {},
        index: (event as Extract<NodeEvent, { type: 'SWITCHOVER_DUE' }>).payload.index,
      }),
    }),
    /** A due scheduled restart, restarted as an operator's RESTART without anyone waiting. */
    restartAsScheduled: raise(({ event }) => ({
      type: 'RESTART' as const,
      timeoutSeconds: (event as Extract<NodeEvent, { type: 'RESTART_DUE' }>).payload.request.timeout ?? null,
    })),
    /** The data directory belongs to another cluster: leave it (and the cluster) alone, and exit. */
    leaveForeignCluster: assign(({ context }) => {
      const fatal = systemIdentifierMismatchMessage(
        context.name,
        localSystemIdentifier(context)!,
        context.view.initialize!,
      );
      return { fatal, message: fatal };
    }),
    sayDivergedKept: assign({
      message: ({ context }) =>
        `timeline diverged from the leader (${context.following ?? 'none'}): use_pg_rewind is off and remove_data_directory_on_diverged_timelines is not set, so the data directory is kept as it is; POST /reinitialize to clone it again`,
    }),
  },
});
