/** The replica side of `running`: pick the path at boot, start as a standby, follow the leader, and leave for a rewind or a new clone when the data directory may have diverged. */
import { assign } from 'xstate';
import { errorText, followTarget, replicaStartInput, stopInput, upstreamOf } from './facts.ts';
import { refuseUnmetRestart } from './operations.ts';
import { nodeSetup } from './setup.ts';

export const boot = nodeSetup.createStateConfig({
  description: 'Look at PostgreSQL as it is and pick the path to a consistent role.',
  always: [
    {
      guard: 'pgIsPrimary',
      target: 'primary',
      description: 'Running as a primary: the primary state decides whether it may stay one.',
    },
    // Not the primary: a watchdog armed while it led is closed (Patroni disables it once
    // PostgreSQL is stopped after a demotion).
    {
      guard: 'leadsStandbyClusterRunning',
      target: 'standbyLeader',
      actions: 'disarmWatchdog',
      description:
        'Running, and the lock of a standby cluster is ours: lead it as a standby of the remote primary.',
    },
    {
      guard: 'pgRunning',
      target: 'replica',
      actions: 'disarmWatchdog',
      description: 'Running as a standby: carry on as a replica.',
    },
    {
      guard: 'mustRewind',
      target: 'rewinding',
      actions: 'disarmWatchdog',
      description: 'Stopped, and an old primary of a timeline the leader left: pg_rewind before it starts.',
    },
    {
      target: 'startingReplica',
      actions: 'disarmWatchdog',
      description: 'Stopped: start it as a standby of the leader.',
    },
  ],
});

export const startingReplica = nodeSetup.createStateConfig({
  entry: assign({
    pgState: 'starting',
    role: 'replica',
    following: ({ context }) => followTarget(context),
  }),
  invoke: {
    src: 'startPostgres',
    input: replicaStartInput,
    // Started with no leader to compare with, an ex-primary may still have diverged from
    // whoever leads next: the check waits for that leader (replica → stoppingToRejoin).
    onDone: {
      target: 'replica',
      actions: [
        'startedAsReplica',
        { type: 'callback', params: { action: 'replicaStart' } },
        'replicaStartTold',
      ],
      description:
        'Running as a standby; an ex-primary started with no leader to follow stays suspect of divergence.',
    },
    onError: {
      target: 'crashed',
      actions: assign({
        pgState: 'start failed',
        message: ({ event }) => `postgres failed to start: ${errorText(event.error)}`,
      }),
      description: 'It did not start: look at the data directory again shortly, then try again.',
    },
  },
});

export const replica = nodeSetup.createStateConfig({
  description: 'At rest: status samples every second and the DCS watch bring changes.',
  tags: ['resting'],
  entry: [
    assign({ pgState: 'running', role: 'replica' }),
    assign({
      message: ({ context }) =>
        context.following
          ? `no action. I am (${context.name}), a secondary, and following a leader (${context.following})`
          : `no action. I am (${context.name}), a secondary, and there is no leader to follow`,
    }),
  ],
  always: [
    {
      guard: 'reinitializeQueued',
      target: 'reinitializing',
      description: 'A POST /reinitialize waited for a state that may serve it.',
    },
    {
      guard: 'leadsStandbyCluster',
      target: 'standbyLeader',
      description:
        'The election took the lock of a standby cluster: this replica leads it, still a standby (of the remote primary).',
    },
    {
      guard: 'isLeader',
      target: 'promoting',
      description: 'The election took the lock: this replica becomes the primary.',
    },
    {
      guard: 'pgIsPrimary',
      target: 'demoting',
      description: 'Writable without the lock (promoted by hand, or started as a primary): stop it now.',
    },
    {
      guard: 'mustRewind',
      target: 'stoppingToRejoin',
      description: 'An old primary with a leader to rewind from may have diverged: pg_rewind first.',
    },
    {
      guard: 'divergedMayRewind',
      target: 'stoppingToRejoin',
      actions: 'mayHaveDiverged',
      description: "Stuck past the point where its timeline left the leader's: rewind it.",
    },
    {
      guard: 'divergedMayReclone',
      target: 'stoppingToReclone',
      description: 'Diverged, no pg_rewind, remove_data_directory_on_diverged_timelines: clone again.',
    },
    {
      guard: 'upstreamChanged',
      target: 'following',
      description: 'Another member to stream from (a new leader, replicatefrom): re-point.',
    },
  ],
  on: {
    PG_STATUS: [
      {
        guard: 'sampleDownWhilePaused',
        target: 'stoppedWhilePaused',
        actions: ['storePg', 'forwardFacts'],
        description: 'Stopped in maintenance mode: left stopped, as the operator may intend.',
      },
      {
        guard: 'sampleDown',
        target: 'crashed',
        description: 'Stopped behind our back: look again shortly, then start it.',
        actions: ['storePg', 'forwardFacts', assign({ message: 'postgres is not running' })],
      },
      {
        guard: 'divergedKeptAsIs',
        target: 'replica',
        description: 'Diverged, and neither pg_rewind nor removal allowed: kept as it is, and said why.',
        reenter: false,
        actions: ['storePg', 'forwardFacts', 'sayDivergedKept'],
      },
      {
        target: 'replica',
        reenter: false,
        actions: ['storePg', 'forwardFacts'],
        description: 'Running as a standby: kept, and the WAL position given to the election for its race.',
      },
    ],
    RESTART: [
      refuseUnmetRestart,
      {
        target: 'restarting',
        actions: 'acceptRestart',
        description: 'POST /restart on a replica at rest: stop fast, start again as a standby.',
      },
    ],
    REINITIALIZE: {
      target: 'reinitializing',
      actions: 'acceptReinitialize',
      description: 'POST /reinitialize on a replica at rest: wipe it and clone again from the leader.',
    },
  },
});

export const stoppingToRejoin = nodeSetup.createStateConfig({
  description:
    'An ex-primary running as a replica since before there was a leader: its WAL may have diverged from the new one, and only pg_rewind (or a clone) can tell and mend it, on a stopped data directory.',
  entry: assign({ pgState: 'stopping' }),
  invoke: {
    src: 'stopPostgres',
    input: stopInput('fast'),
    // boot takes it to rewinding (mustRejoin) once the leader can be rewound from.
    onDone: {
      target: 'boot',
      actions: [assign({ pgState: 'stopped', pg: null }), 'stopCallback'],
      description:
        'Stopped: boot runs pg_rewind against the leader, or starts it as it is if there is none to rewind from.',
    },
    onError: {
      target: 'crashed',
      actions: assign({
        message: ({ event }) => `could not stop to rejoin: ${errorText(event.error)}`,
      }),
      description: 'Could not stop: look again shortly; back in replica, the same check sends it here again.',
    },
  },
});

export const stoppingToReclone = nodeSetup.createStateConfig({
  description:
    'A replica whose timeline diverged from the leader, with use_pg_rewind off and remove_data_directory_on_diverged_timelines on: the operator chose a new clone over the data directory.',
  entry: [
    assign({ pgState: 'stopping' }),
    { type: 'say', params: { message: 'reinitializing due to diverged timelines' } },
  ],
  invoke: {
    src: 'stopPostgres',
    input: stopInput('immediate'),
    onDone: {
      target: 'recloning',
      actions: [assign({ pg: null, wasPrimary: false }), 'stopCallback'],
      description: 'Stopped: the diverged data directory goes, and a new clone of the leader replaces it.',
    },
    onError: {
      target: 'crashed',
      actions: assign({
        message: ({ event }) => `could not stop to clone again: ${errorText(event.error)}`,
      }),
      description: 'Could not stop: look again shortly; back in replica, the same check sends it here again.',
    },
  },
});

export const following = nodeSetup.createStateConfig({
  entry: assign({ following: ({ context }) => followTarget(context) }),
  always: {
    guard: 'nothingToFollow',
    target: 'replica',
    description: 'No leader (nor replicatefrom member) to stream from: the streaming settings stay.',
  },
  invoke: {
    src: 'followUpstream',
    input: ({ context }) => ({
      upstream: upstreamOf(context)!, // nothingToFollow left before the invocation starts
      timeoutSeconds: context.settings.pg_ctl_timeout,
    }),
    onDone: {
      target: 'replica',
      // Patroni re-points a running standby by a reload, and says so with on_reload.
      actions: { type: 'callback', params: { action: 'on_reload' } },
      description: 'PostgreSQL is re-pointed at the new upstream: at rest again as a replica.',
    },
    // PostgreSQL may still follow the old upstream: forget the new one, so that the
    // replica state sees the upstream change again and retries (upstreamChanged).
    onError: {
      target: 'crashed',
      actions: assign({
        following: null,
        message: ({ event }) => `could not follow the new leader: ${errorText(event.error)}`,
      }),
      description:
        'Not re-pointed: the new upstream is forgotten, so replica sees the change again and retries.',
    },
  },
});

/**
 * The leader of a standby cluster (Patroni's standby_leader): the lock is ours, PostgreSQL stays
 * a standby of the remote primary (standby_cluster's host and port, its slot, restore_command),
 * and the members stream from it. Never promoted while the section is in /config; removing it is
 * the promotion.
 */
export const standbyLeader = nodeSetup.createStateConfig({
  entry: ['standbyLeaderCallback', assign({ pgState: 'running', role: 'standby_leader' })],
  initial: 'atRest',
  always: [
    {
      guard: 'notLeader',
      target: 'replica',
      description: 'The lock is gone (lost, or handed over): a replica of whoever leads now.',
    },
    {
      guard: 'standbyClusterRemoved',
      target: 'promoting',
      description:
        'standby_cluster is gone from /config: the standby leader becomes the primary of a cluster of its own.',
    },
    {
      guard: 'pgIsPrimary',
      target: 'demoting',
      description:
        'Writable while /config says standby cluster (promoted by hand, a trigger file): it cannot be a real primary here; stop it now, as Patroni demotes it.',
    },
  ],
  on: {
    PG_STATUS: [
      {
        guard: 'sampleDown',
        target: 'crashed',
        description: 'Stopped behind our back: crashed gives the lock up, so a running replica can lead.',
        actions: ['storePg', 'forwardFacts', assign({ message: 'postgres is not running' })],
      },
      {
        actions: ['storePg', 'forwardFacts'],
        description: 'Running as a standby: kept, and the WAL position given to the election.',
      },
    ],
    RESTART: [
      refuseUnmetRestart,
      {
        target: 'restarting',
        actions: 'acceptRestart',
        description: 'POST /restart of the standby leader: stop fast, start again as a standby.',
      },
    ],
  },
  states: {
    atRest: {
      tags: ['resting'],
      entry: assign({
        message: ({ context }) => `no action. I am (${context.name}), the standby leader with the lock`,
      }),
      always: {
        guard: 'remoteChanged',
        target: 'repointing',
        description: 'The remote primary changed in /config (host, port, slot): stream from it.',
      },
    },
    repointing: {
      entry: assign({ following: ({ context }) => followTarget(context) }),
      invoke: {
        src: 'followUpstream',
        input: ({ context }) => ({
          upstream: upstreamOf(context)!, // the remote primary: always known while leading a standby cluster
          timeoutSeconds: context.settings.pg_ctl_timeout,
        }),
        onDone: {
          target: 'atRest',
          actions: { type: 'callback', params: { action: 'on_reload' } },
          description: 'PostgreSQL streams from the remote primary as /config names it now.',
        },
        onError: {
          target: 'waitingToRepoint',
          actions: assign({
            following: null,
            message: ({ event }) => `could not follow the remote primary: ${errorText(event.error)}`,
          }),
          description:
            'Not re-pointed: PostgreSQL runs as it did and the lock stays; try again shortly (the upstream is forgotten, so atRest sees the change again).',
        },
      },
    },
    waitingToRepoint: {
      after: {
        shortRetry: { target: 'atRest', description: 'A short pause, then re-point again.' },
      },
    },
  },
});
