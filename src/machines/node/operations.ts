/** Operator requests served from a settled state: POST /restart and POST /reinitialize. */
import { assign, emit } from 'xstate';
import { errorText, leadsStandbyCluster, stopInput, upstreamOf } from './facts.ts';
import { nodeSetup } from './setup.ts';

/**
 * POST /restart whose filters (role, version, pending restart) do not hold here and now: refused
 * (the first alternative of RESTART in every state that takes it, as Patroni checks first).
 */
export const refuseUnmetRestart = {
  guard: 'restartConditionsUnmet',
  actions: 'refuseRestart',
  description: 'POST /restart whose filters (role, version, pending restart) do not hold here: refused.',
} as const;

export const restarting = nodeSetup.createStateConfig({
  description: 'An operator asked for a restart: stop fast and start again in the same role.',
  entry: [
    assign({ pgState: 'restarting' }),
    { type: 'say', params: { message: 'restarting postgres on request' } },
  ],
  initial: 'stopping',
  states: {
    stopping: {
      invoke: {
        src: 'stopPostgres',
        input: stopInput('fast'),
        onDone: { target: 'starting', description: 'Stopped: start again, as primary if the lock is ours.' },
        onError: {
          target: 'stopFailed',
          actions: assign({ message: ({ event }) => errorText(event.error) }),
          description:
            'Could not stop: the restart failed, and the operator is told so. PostgreSQL most likely runs as it did.',
        },
      },
    },
    starting: {
      invoke: {
        src: 'startPostgres',
        input: ({ context }) => {
          // The lock holder starts as a primary, unless it leads a standby cluster: then it is
          // a standby of the remote primary again (found by review: it came back writable).
          const primary = context.isLeader && !leadsStandbyCluster(context);
          return {
            role: primary ? ('primary' as const) : ('replica' as const),
            upstream: primary ? null : upstreamOf(context),
            timeoutSeconds: context.restart.timeoutSeconds ?? context.settings.pg_ctl_timeout,
          };
        },
        onDone: {
          target: 'done',
          actions: { type: 'callback', params: { action: 'on_restart' } },
          description: 'Running again: the operator is told it restarted.',
        },
        onError: {
          target: 'failed',
          actions: assign({ message: ({ event }) => errorText(event.error) }),
          description: 'It did not come back: the restart failed, and the operator is told so.',
        },
      },
    },
    done: {
      entry: emit(({ context }) => ({
        type: 'restart.done' as const,
        ok: true,
        message: 'restarted successfully',
        requestId: context.restart.requestId,
      })),
      always: {
        target: '#node.active.running.boot',
        description: 'Answered: boot checks the role PostgreSQL came back in against the lock.',
      },
    },
    stopFailed: {
      entry: [assign({ pgState: 'restart failed' }), 'reportRestartFailed'],
      always: {
        target: '#node.active.running.boot',
        description:
          'Answered: boot looks at PostgreSQL as it is — a primary still running keeps the lock (never released while it may take writes: sweep seed 11, --sync); one that did stop is started again.',
      },
    },
    failed: {
      entry: [assign({ pgState: 'restart failed' }), 'reportRestartFailed'],
      always: {
        target: '#node.active.running.crashed',
        description: 'Answered: PostgreSQL may be down; crashed gives the lock up or starts it again.',
      },
    },
  },
});

export const reinitializing = nodeSetup.createStateConfig({
  description: 'An operator asked to rebuild this replica: stop, wipe, clone again from the leader.',
  entry: [
    assign({
      pgState: 'creating replica',
      reinitialize: ({ context }) => ({ ...context.reinitialize, queued: false }),
    }),
    { type: 'say', params: { message: 'reinitializing on request' } },
    emit(({ context }) => ({
      type: 'reinitialize.started' as const,
      requestId: context.reinitialize.requestId,
    })),
  ],
  invoke: {
    src: 'stopPostgres',
    input: stopInput('immediate'),
    onDone: {
      target: 'recloning',
      actions: [assign({ wasPrimary: false }), 'stopCallback'],
      description: 'Stopped (immediate: its data is going anyway): remove it and clone from the leader.',
    },
    onError: {
      target: 'recloning',
      actions: assign({ wasPrimary: false }),
      description:
        'The stop failed: the data directory goes all the same, as the operator asked for a new copy.',
    },
  },
});
