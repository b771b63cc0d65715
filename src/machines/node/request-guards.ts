/**
 * The guards of operator requests — restarts (now or scheduled), reinitialize, switchovers
 * (requested, scheduled, stale) — as pure predicates, given to setup() with the others (setup.ts).
 */
import {
  leaderFailoverDecision,
  ownScheduledSwitchover,
  staleScheduledSwitchover,
} from '../../cluster/failover.ts';
import { restartConditionsMet, restartedSinceScheduled } from '../../cluster/restart.ts';
import type { NodeContext, NodeEvent } from './types.ts';

type Args = { context: NodeContext; event: NodeEvent };

export const requestGuards = {
  reinitializeQueued: ({ context }: Args) => context.reinitialize.queued,
  /** A forced reinitialize is served on a replica even while something else runs. */
  forcedOnReplica: ({ context, event }: Args) =>
    event.type === 'REINITIALIZE' && event.force === true && !context.isLeader,
  /** A restart whose filters (role, version, pending restart) do not hold here and now. */
  restartConditionsUnmet: ({ context, event }: Args) =>
    event.type === 'RESTART' &&
    event.conditions !== undefined &&
    !restartConditionsMet(event.conditions, context.isLeader, context.pg),
  restartScheduled: ({ context }: Args) => context.restart.scheduled !== null,
  /** The postmaster restarted since the restart was scheduled: nothing left to restart. */
  restartedSinceScheduled: ({ context, event }: Args) =>
    event.type === 'RESTART_DUE' && restartedSinceScheduled(event.payload, context.pg),
  /** A due scheduled switchover that is no longer this node's (lock lost, /failover rewritten). */
  switchoverNoLongerOurs: ({ context, event }: Args) =>
    event.type === 'SWITCHOVER_DUE' &&
    ownScheduledSwitchover(context.view, context.name, context.isLeader)?.index !== event.id,
  switchoverDueTooLate: ({ context, event }: Args) =>
    event.type === 'SWITCHOVER_DUE' && staleScheduledSwitchover(event.lateMs, context.settings.loop_wait),
  dueRestartConditionsUnmet: ({ context, event }: Args) =>
    event.type === 'RESTART_DUE' &&
    !restartConditionsMet(event.payload.request, context.isLeader, context.pg),
  switchoverRequested: ({ context }: Args) =>
    leaderFailoverDecision(context.view, context.name).kind === 'execute',
  failoverKeyToClear: ({ context }: Args) =>
    leaderFailoverDecision(context.view, context.name).kind === 'clear',
};
