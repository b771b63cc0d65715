/** After a failure: pg_rewind, a new clone, or a look at the data directory before trying again. */
import { assign } from 'xstate';
import { errorText, ranAsPrimary, replicaPlanOf, upstreamOf } from './facts.ts';
import { nodeSetup } from './setup.ts';

export const rewinding = nodeSetup.createStateConfig({
  description:
    'pg_rewind from the leader (use_pg_rewind). The data directory goes only if the operator configured it: remove_data_directory_on_rewind_failure or remove_data_directory_on_diverged_timelines.',
  entry: [
    assign({ pgState: 'stopped', role: 'replica' }),
    { type: 'say', params: { message: 'running pg_rewind from the leader' } },
  ],
  invoke: {
    src: 'rewind',
    input: ({ context }) => ({ from: upstreamOf(context)! }),
    onDone: [
      {
        guard: 'rewound',
        description: 'pg_rewind succeeded: start as a standby of the leader.',
        target: 'startingReplica',
        actions: assign({ wasPrimary: false }),
      },
      {
        // pg_rewind ran against a reachable leader and could not rewind.
        guard: 'mayRemoveAfterFailedRewind',
        description: 'pg_rewind failed and remove_data_directory_on_rewind_failure is set: clone again.',
        target: 'recloning',
        actions: {
          type: 'say',
          params: {
            message:
              'pg_rewind is not possible; remove_data_directory_on_rewind_failure is set: removing the data directory and cloning again from the leader',
          },
        },
      },
      {
        target: 'rewindFailed',
        description: 'pg_rewind could not, and nobody let the data directory go: keep it, stopped.',
      },
    ],
    // pg_rewind broke off (the leader unreachable, the run cut short): nothing is known
    // about the data directory, so it is kept whatever the configuration, and tried again.
    onError: {
      target: 'crashed',
      actions: assign({
        message: ({ event }) => `pg_rewind failed, data directory kept: ${errorText(event.error)}`,
      }),
      description: 'pg_rewind broke off: nothing is known of the data directory, so it is kept; try again.',
    },
  },
});

export const rewindFailed = nodeSetup.createStateConfig({
  description:
    'pg_rewind could not rewind and nobody configured the data directory to go: it stays as it is, PostgreSQL stopped (its timeline diverged from the leader, so it could not follow). pg_rewind is tried again when another node leads, and every REWIND_RETRY_LOOPS loops; POST /reinitialize clones it again.',
  tags: ['resting'],
  entry: [
    assign({ pgState: 'stopped', role: 'replica' }),
    assign({
      message: ({ context }) =>
        `pg_rewind from ${context.view.leader?.name ?? 'the leader'} is not possible; remove_data_directory_on_rewind_failure is not set, so the data directory is kept and postgres stays stopped: POST /reinitialize to clone it again`,
    }),
  ],
  always: [
    {
      guard: 'isLeader',
      target: 'releasing',
      description: 'A node that cannot run PostgreSQL gives the lock up (defensive: it never races stopped).',
    },
    {
      guard: 'reinitializeQueued',
      target: 'reinitializing',
      description: 'An operator asked for a fresh copy: that is the way out.',
    },
  ],
  on: {
    CLUSTER: [
      {
        guard: 'leaderChanges',
        target: 'boot',
        actions: ['storeView', 'forwardView'],
        description: 'A new leader may be one pg_rewind can rewind from: try again.',
      },
      {
        actions: ['storeView', 'forwardView'],
        description: 'The same leader: kept; pg_rewind is tried again on its timer, not on every view.',
      },
    ],
    REINITIALIZE: {
      target: 'reinitializing',
      actions: 'acceptReinitialize',
      description: 'POST /reinitialize, the way out the message offers: a new clone from the leader.',
    },
  },
  after: {
    rewindRetry: {
      target: 'boot',
      description:
        'Every REWIND_RETRY_LOOPS loops, pg_rewind again even under the same leader: a refusal need not last.',
    },
  },
});

export const recloning = nodeSetup.createStateConfig({
  entry: assign({ pgState: 'creating replica' }),
  initial: 'removing',
  states: {
    removing: {
      always: {
        guard: 'replicaPlanKeepsData',
        target: 'cloning',
        description:
          'The first replica method keeps the data directory (keep_data: a delta restore over it): nothing is removed first.',
      },
      invoke: {
        src: 'removeDataDir',
        onDone: {
          target: 'cloning',
          actions: assign({ dataDir: null }),
          description: 'The old data directory is gone: clone from the leader.',
        },
        onError: {
          target: '#node.active.running.crashed',
          description: 'Could not remove it: look again shortly, from the data directory as it is.',
        },
      },
    },
    cloning: {
      always: {
        guard: 'noWayToClone',
        description:
          'The leader went away while the old copy was removed, and no replica method needs nobody: wait as crashed until there is one to clone from.',
        target: '#node.active.running.crashed',
      },
      invoke: {
        src: 'createReplica',
        input: ({ context }) => replicaPlanOf(context),
        onDone: {
          target: '#node.active.running.startingReplica',
          actions: [assign({ wasPrimary: false }), 'noteReplicaMethod'],
          description: "A fresh copy of the leader's: start it as a standby; a copy cannot have diverged.",
        },
        onError: {
          target: '#node.active.running.crashed',
          actions: assign({ message: ({ event }) => `clone failed: ${errorText(event.error)}` }),
          description:
            'The clone failed: after a pause, recovering looks at what it left and clones again if need be.',
        },
      },
    },
  },
});

export const crashed = nodeSetup.createStateConfig({
  description: 'PostgreSQL is down or an action failed: look again shortly.',
  entry: assign({
    pgState: ({ context }) => (context.pgState === 'start failed' ? 'start failed' : 'crashed'),
  }),
  always: [
    {
      guard: 'isLeader',
      target: 'releasing',
      description: 'Holding the lock with PostgreSQL down: give it up, so a healthy replica can take over.',
    },
    {
      guard: 'reinitializeQueued',
      target: 'reinitializing',
      description: 'A forced POST /reinitialize queued while something else ran: served now.',
    },
  ],
  on: {
    REINITIALIZE: {
      target: 'reinitializing',
      actions: 'acceptReinitialize',
      description: 'POST /reinitialize while PostgreSQL is down: nothing else runs, served at once.',
    },
  },
  after: {
    shortRetry: {
      target: 'recovering',
      description: 'A short pause, then a look at the data directory before anything is tried again.',
    },
  },
});

export const recovering = nodeSetup.createStateConfig({
  description: 'After a crash: an empty data dir must be cloned again; otherwise start as it was.',
  invoke: {
    src: 'inspectDataDir',
    onDone: [
      {
        guard: 'dataDirEmpty',
        target: 'recloning',
        description: 'Nothing left to start from: clone again from the leader.',
        actions: assign({ dataDir: ({ event }) => event.output }),
      },
      {
        target: 'boot',
        actions: assign({
          dataDir: ({ event }) => event.output,
          wasPrimary: ({ context, event }) => context.wasPrimary || ranAsPrimary(event.output),
        }),
        description: 'Something to start from: boot picks the path, an old primary remembered as one.',
      },
    ],
    onError: {
      target: 'crashed',
      description: 'The data directory could not be read: nothing is started; look again after a pause.',
    },
  },
});
