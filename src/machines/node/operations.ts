/** Operator requests served from a settled state: POST /restart and POST /reinitialize. */
import { assign, emit } from 'xstate';
import { errorText, stopInput, upstreamOf } from './facts.ts';
import { nodeSetup } from './setup.ts';

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
        onDone: 'starting',
        onError: {
          target: 'failed',
          actions: assign({ message: ({ event }) => errorText(event.error) }),
        },
      },
    },
    starting: {
      invoke: {
        src: 'startPostgres',
        input: ({ context }) => ({
          role: context.isLeader ? ('primary' as const) : ('replica' as const),
          upstream: context.isLeader ? null : upstreamOf(context),
          timeoutSeconds: context.restart.timeoutSeconds ?? context.settings.pg_ctl_timeout,
        }),
        onDone: 'done',
        onError: {
          target: 'failed',
          actions: assign({ message: ({ event }) => errorText(event.error) }),
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
      always: '#node.active.running.boot',
    },
    failed: {
      entry: [
        assign({ pgState: 'restart failed' }),
        emit(({ context }) => ({
          type: 'restart.done' as const,
          ok: false,
          message: context.message,
          requestId: context.restart.requestId,
        })),
      ],
      always: '#node.active.running.crashed',
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
    onDone: { target: 'recloning', actions: assign({ wasPrimary: false }) },
    onError: { target: 'recloning', actions: assign({ wasPrimary: false }) },
  },
});
