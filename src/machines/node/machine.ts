/**
 * The life of one pgwarden node: from an empty or existing data directory to a running
 * primary or replica, and back down on shutdown.
 *
 *   starting ──► bootstrap (race /initialize → initdb │ clone from leader) ──► running ──► stopping
 *
 * `running` invokes the election machine and keeps PostgreSQL's role in line with it:
 * only the lock holder runs writable; a node that loses the lock demotes; a replica follows
 * whoever holds it. Decisions are level-triggered (guards on the latest cluster view,
 * PostgreSQL status and lock flag), so events arriving in any order converge.
 *
 * Every I/O step is an invoked actor supplied by the runtime (real) or the simulator. The
 * vocabulary (actors, delays, guards, actions) is in setup.ts; the states in the files below.
 */
import type { ActorRefFrom, SnapshotFrom } from 'xstate';
import { assign, emit, sendTo } from 'xstate';
import { bootstrap } from './bootstrap.ts';
import { initialContext } from './context.ts';
import { refuseUnmetRestart, reinitializing, restarting } from './operations.ts';
import { foreignWhilePaused, releasingWhilePaused, stoppedWhilePaused } from './paused.ts';
import {
  afterPromotion,
  clearingFailover,
  demoting,
  demotionFailed,
  primary,
  releasing,
  restartingPrimary,
} from './primary.ts';
import { promoting } from './promoting.ts';
import { crashed, recloning, recovering, rewindFailed, rewinding } from './recovery.ts';
import {
  boot,
  following,
  replica,
  standbyLeader,
  startingReplica,
  stoppingToReclone,
  stoppingToRejoin,
} from './replica.ts';
import { nodeSetup } from './setup.ts';
import { starting } from './starting.ts';
import { stopping } from './stopping.ts';
import { switchingOver } from './switchover.ts';

export const nodeMachine = nodeSetup.createMachine({
  id: 'node',
  context: ({ input }) => initialContext(input),
  // The restart scheduler lives as long as the node: a restart may be scheduled in any state, and
  // whether it still applies is judged when it comes due (RESTART_DUE).
  // So does the switchover scheduler: it holds the leader's scheduled switchover (storeView arms it).
  invoke: [
    { id: 'restartScheduler', src: 'restartScheduler', input: { dueEvent: 'RESTART_DUE' } },
    { id: 'switchoverScheduler', src: 'switchoverScheduler', input: { dueEvent: 'SWITCHOVER_DUE' } },
  ],
  on: {
    CLUSTER: {
      actions: 'storeView',
      description:
        "Every etcd view is kept (it arms or drops this leader's scheduled switchover): guards judge it.",
    },
    SETTINGS: {
      actions: 'storeSettings',
      description: 'The latest /config and YAML settings: every guard and delay after this reads them.',
    },
    FAILSAFE_ACTIVE: {
      actions: assign({
        election: ({ context, event }) => ({ ...context.election, failsafeActive: event.active }),
      }),
      description: 'The election says whether failsafe mode is active here (GET /patroni, /metrics).',
    },
    PG_STATUS: {
      actions: 'storePg',
      description: 'The latest PostgreSQL sample: whether it runs, and as what, is judged from it.',
    },
    DCS_UNAVAILABLE: {
      actions: 'noteDcsUnavailable',
      description: "etcd does not answer: the node says so; what that costs the lock is the election's call.",
    },
    STOP: {
      target: '.stopped',
      description:
        'Shutdown outside running (start, bootstrap, paused foreign, stopping): leave at once, as things are.',
    },
    SCHEDULE_RESTART: [
      {
        guard: 'restartScheduled',
        actions: 'refuseSecondRestart',
        description: 'One scheduled restart at a time (409), as in Patroni.',
      },
      {
        actions: 'scheduleRestart',
        description: 'POST /restart with a schedule: held until its time; the member key shows it.',
      },
    ],
    CANCEL_SCHEDULED_RESTART: [
      {
        guard: 'restartScheduled',
        actions: 'cancelScheduledRestart',
        description:
          'DELETE /restart: the scheduled restart never happens, and the member key stops showing it.',
      },
      {
        actions: 'sayNothingToCancel',
        description: 'DELETE /restart with nothing scheduled: answered so (404).',
      },
    ],
    SWITCHOVER_DUE: [
      {
        guard: 'switchoverNoLongerOurs',
        actions: {
          type: 'notice',
          params: { message: 'scheduled switchover not started: this node no longer leads it' },
        },
        description: 'The lock went, or /failover was rewritten, since it was armed: not ours to start.',
      },
      {
        guard: 'switchoverDueTooLate',
        actions: [
          { type: 'notice', params: { message: 'dropping a stale scheduled switchover' } },
          'dropScheduledSwitchover',
        ],
        description:
          'Due more than 1.5 loops ago (the agent was stopped): not what was asked for, as in Patroni.',
      },
      {
        actions: [
          { type: 'notice', params: { message: 'scheduled switchover is due' } },
          'startScheduledSwitchover',
        ],
        description: 'Due, on time and still ours: /failover without scheduled_at makes it a switchover now.',
      },
    ],
    RESTART_DUE: [
      {
        guard: 'restartedSinceScheduled',
        actions: [
          'forgetScheduledRestart',
          {
            type: 'notice',
            params: { message: 'scheduled restart dropped: postgres was restarted meanwhile' },
          },
        ],
        description: 'The postmaster restarted since the restart was scheduled: it is moot (Patroni).',
      },
      {
        guard: 'dueRestartConditionsUnmet',
        actions: [
          'forgetScheduledRestart',
          {
            type: 'notice',
            params: { message: 'scheduled restart dropped: restart conditions are not satisfied' },
          },
        ],
        description: 'Its filters (role, version, pending restart) no longer hold: dropped, as Patroni does.',
      },
      {
        actions: [
          'forgetScheduledRestart',
          { type: 'notice', params: { message: 'restart initiated (scheduled)' } },
          'restartAsScheduled',
        ],
        description: 'Due, and its filters hold: restarted as POST /restart would, with nobody waiting.',
      },
    ],
  },
  initial: 'starting',
  states: {
    starting,
    bootstrap,

    active: {
      description: 'PostgreSQL has a data directory: the election runs alongside.',
      invoke: {
        id: 'election',
        src: 'election',
        input: ({ context }) => ({
          name: context.name,
          settings: context.settings,
          holdsLock: context.bootstrapLeaseAgeMs !== null,
          leaseAgeMs: context.bootstrapLeaseAgeMs ?? 0,
          view: context.view,
          knownServers: context.dataDir?.knownServers ?? [],
        }),
      },
      initial: 'running',
      states: {
        running: {
          entry: ['forwardFacts'],
          // Patroni compares the data directory's system identifier with /initialize on every
          // cycle. A child's own eventless transitions are taken first, but the state they lead to
          // is left in the same step, before anything it invokes has started.
          always: [
            {
              guard: 'foreignCluster',
              target: 'stopping',
              actions: 'leaveForeignCluster',
              description:
                'The data directory no longer matches /initialize: stop PostgreSQL and leave, as Patroni does.',
            },
            {
              guard: 'foreignClusterWhilePausedLeading',
              target: 'foreignWhilePaused',
              actions: sendTo('election', { type: 'RELEASE', lastLsn: null }),
              description: 'The same, paused: PostgreSQL is left alone, but the lock is given back.',
            },
            {
              guard: 'foreignClusterWhilePaused',
              target: 'foreignWhilePaused',
              description: 'The same, paused and not leading: PostgreSQL is left alone.',
            },
          ],
          on: {
            CLUSTER: {
              actions: ['storeView', 'forwardView'],
              description: 'Kept, and given to the election, which judges the lock by the same view.',
            },
            PG_STATUS: {
              actions: ['storePg', 'forwardFacts'],
              description:
                "Kept, and given to the election: it races on this node's facts (running, WAL position).",
            },
            SETTINGS: {
              actions: ['storeSettings', 'forwardSettings'],
              description: 'Kept, and given to the election: its waits and lease arithmetic follow them.',
            },
            LEADERSHIP_ACQUIRED: {
              actions: assign({
                isLeader: true,
                message: 'acquired session lock as a leader',
                election: ({ context, event }) => ({ ...context.election, fenceTargets: event.fenceTargets }),
              }),
              description: 'The election holds the lock: the states that check isLeader act on it (promote).',
            },
            LEADERSHIP_LOST: {
              actions: assign({
                isLeader: false,
                message: ({ event }) => `lost the leader lock: ${event.reason}`,
                // Our name may still be on the key in a view that can no longer be refreshed
                // (etcd unreachable): the lock is lost all the same, and the primary must go.
                view: ({ context }) =>
                  context.view.leader?.name === context.name
                    ? { ...context.view, leader: null }
                    : context.view,
              }),
              description: 'The lock is lost: a primary goes even while a stale view still shows our name.',
            },
            LEADERSHIP_RELEASED: {
              actions: assign({ isLeader: false }),
              description: 'The lock this node asked to give up is released: no longer the leader.',
            },
            ELECTION_VERDICT: {
              actions: assign({
                election: ({ context, event }) => ({ ...context.election, verdict: event.verdict }),
                message: ({ event, context }) =>
                  event.verdict.healthiest
                    ? context.message
                    : `following a different leader because i am not the healthiest node: ${event.verdict.reason}`,
              }),
              description: 'The race was judged: a node that is not the healthiest says why it follows.',
            },
            STOP: [
              {
                // Maintenance mode: the agent goes, PostgreSQL and the leader key stay as they are.
                guard: 'paused',
                target: '#node.stopped',
                // Leaving `active` stops the election with it: no release, no more racing.
                actions: [
                  { type: 'say', params: { message: 'paused: leaving postgres running' } },
                  // Patroni's paused shutdown closes it: nobody keeps it alive from now on.
                  'closeWatchdog',
                ],
                description:
                  'Maintenance mode: the agent goes; PostgreSQL and the leader key stay as they are.',
              },
              {
                target: '#node.active.stopping',
                description: 'Clean shutdown: PostgreSQL first, then the lock, given up with its last LSN.',
              },
            ],
            WAKE: {
              actions: sendTo('election', { type: 'REFRESH_NOW' }),
              description:
                'A REST write to /config or /failover: the leader refreshes now, not at its next interval.',
            },
            // Only a settled replica or primary takes these; anything else is mid-action.
            RESTART: [
              refuseUnmetRestart,
              {
                actions: emit(({ context, event }) => ({
                  type: 'restart.busy' as const,
                  action: context.pgState,
                  requestId: event.requestId ?? null,
                })),
                description:
                  'Something else runs (a start, a rewind, a promotion): answered busy, never queued.',
              },
            ],
            REINITIALIZE: [
              {
                // Cutting a running start, clone or rewind short would leave its process running
                // under our feet; forced, the rebuild waits for it instead, then goes first.
                guard: 'forcedOnReplica',
                description:
                  'POST /reinitialize with force on a replica: served even while something else runs.',
                actions: [
                  'acceptReinitialize',
                  assign({ reinitialize: ({ context }) => ({ ...context.reinitialize, queued: true }) }),
                  emit(({ event }) => ({
                    type: 'reinitialize.started' as const,
                    requestId: event.requestId ?? null,
                  })),
                  assign({
                    message: ({ context }) => `reinitialize queued behind ${context.pgState}`,
                  }),
                ],
              },
              {
                actions: emit(({ context, event }) => ({
                  type: 'reinitialize.busy' as const,
                  action: context.pgState,
                  requestId: event.requestId ?? null,
                })),
                description: 'Not forced while something else runs: answered busy, as Patroni does.',
              },
            ],
          },
          initial: 'boot',
          states: {
            boot,
            startingReplica,
            replica,
            standbyLeader,
            stoppingToRejoin,
            stoppingToReclone,
            restarting,
            reinitializing,
            following,
            promoting,
            afterPromotion,
            primary,
            clearingFailover,
            switchingOver,
            releasingWhilePaused,
            stoppedWhilePaused,
            restartingPrimary,
            releasing,
            demoting,
            demotionFailed,
            rewinding,
            rewindFailed,
            recloning,
            crashed,
            recovering,
          },
        },

        foreignWhilePaused,

        stopping,
      },
      on: {
        DCS_UNAVAILABLE: {
          actions: ['noteDcsUnavailable', sendTo('election', { type: 'DCS_UNAVAILABLE' })],
          description:
            'etcd does not answer: the node says so, and the election stops trusting its view for a race until etcd gives a fresh one.',
        },
      },
    },

    stopped: {
      // Not closed here: a shutdown whose PostgreSQL would not stop leaves it armed, as Patroni
      // does ("Leaving watchdog running"), so that the host is reset before the lease runs out.
      entry: assign({ role: ({ context }) => context.role }),
      type: 'final',
    },

    failed: {
      description:
        'Cannot continue (foreign data directory, failed bootstrap): the agent exits with the reason.',
      entry: assign({ message: ({ context }) => context.fatal ?? 'failed' }),
      type: 'final',
    },
  },
});

export type NodeActor = ActorRefFrom<typeof nodeMachine>;
export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>;
