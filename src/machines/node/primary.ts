/** The leader side of `running` after the promotion (promoting.ts): stay primary while the lock is ours, hand over on a switchover, and demote at once when the lock is gone. */
import { assign, sendTo } from 'xstate';
import { FENCE_SESSION_WAIT_MS, orphanWatchTargets } from '../../cluster/orphans.ts';
import { slotPlan } from '../../cluster/replication-slots.ts';
import { doneOutput } from '../done-output.ts';
import { errorText, mayLiftOwnFence, stopInput, watchdogStepInput } from './facts.ts';
import { refuseUnmetRestart } from './operations.ts';
import { nodeSetup } from './setup.ts';

/** Every step of leading stops at once when the lock is gone (the same rule as the primary's). */
export const lockLost = <T extends string>(target: T) =>
  ({
    guard: 'lockLostAsPrimary',
    target,
    description: 'The lock is gone and the key is not ours: a primary without the lock stops now.',
  }) as const;

export const afterPromotion = nodeSetup.createStateConfig({
  description:
    'Slots for the replicas, a CHECKPOINT, /history and the member key, so that the old primary can rewind against us. Any step but the CHECKPOINT failing leaves the rest to the next loop (primary retries while /history lags).',
  // The lock can go while this runs (etcd cut off during a slow promotion, its DCS
  // writes waiting out retry_timeout): the primary must go at once, as from `primary`,
  // not once the writes give up — the next leader may be promoted meanwhile.
  always: lockLost('demoting'),
  initial: 'deciding',
  states: {
    deciding: {
      always: [
        {
          guard: 'slotsOn',
          target: 'creatingSlots',
          description: 'use_slots: a physical slot for every other member before anyone streams from us.',
        },
        { target: 'checkpointing', description: 'use_slots off: no slots to make; the CHECKPOINT is next.' },
      ],
    },
    creatingSlots: {
      description: 'Slots first: the other replicas are already reconnecting to us.',
      invoke: {
        src: 'syncSlots',
        input: ({ context }) => ({
          slots: slotPlan(context.view, context.name, true, context.settings.use_slots),
        }),
        onDone: { target: 'checkpointing', description: 'Slots in place: the CHECKPOINT is next.' },
        onError: {
          target: '#node.active.running.primary',
          description: 'Slots failed: the rest is left to the next loop, which runs it while /history lags.',
        },
      },
    },
    checkpointing: {
      description:
        '/history follows even when the CHECKPOINT fails: it is how a replica past our fork point on the old timeline learns it diverged.',
      invoke: {
        src: 'checkpoint',
        input: { timeoutSeconds: null },
        onDone: {
          target: 'readingTimelineHistory',
          description: 'Checkpointed: pg_control shows the new timeline, which pg_rewind against us needs.',
        },
        onError: {
          target: 'readingTimelineHistory',
          description:
            '/history still follows: without it a replica past our fork point never learns it diverged.',
        },
      },
    },
    readingTimelineHistory: {
      invoke: {
        src: 'readTimelineHistory',
        onDone: {
          target: 'writingHistory',
          description: 'Our timeline switches are known: add them to /history.',
        },
        onError: {
          target: '#node.active.running.primary',
          description: 'No history to read: /history is left to the next loop, which tries while it lags.',
        },
      },
    },
    writingHistory: {
      invoke: {
        src: 'writeHistory',
        input: ({ context, event }) => ({
          previous: context.view.history,
          lines: doneOutput<Array<[number, number, string]>>(event),
        }),
        onDone: { target: 'publishing', description: '/history knows our timeline: the member key is next.' },
        onError: {
          target: '#node.active.running.primary',
          description:
            '/history not written: the next loop tries again while it lags (historyBehindOurTimeline).',
        },
      },
    },
    publishing: {
      description: 'The member key says master at once: clients and the switchover waiting on it see it.',
      invoke: {
        src: 'publishMember',
        onDone: {
          target: '#node.active.running.primary',
          description: 'The promotion is published: at rest as primary.',
        },
        onError: {
          target: '#node.active.running.primary',
          description: 'Not published now: the member key is written again at every loop anyway.',
        },
      },
    },
  },
});

export const primary = nodeSetup.createStateConfig({
  description: 'At rest as the lock holder: status samples and the election keep it in line.',
  tags: ['resting'],
  // Every loop (the state is entered again each loop_wait): a server of the address book that the
  // view does not show as a running replica is looked at, and fenced if it is a writable orphan
  // (one that could not be reached when we promoted, or a primary woken beside us); and a fence
  // found on our own primary (put while it was an orphan, before it led again) is lifted.
  invoke: [
    {
      src: 'fenceServers',
      input: ({ context }) => ({
        targets: orphanWatchTargets(
          context.election.fenceTargets,
          context.view,
          context.name,
          context.settings.paused === true,
        ),
        // Never a primary on our timeline or a newer one (ours unknown: none at all).
        belowTimeline: context.pg?.timeline ?? 0,
        systemIdentifier: context.view.initialize,
        sessionWaitMs: FENCE_SESSION_WAIT_MS.watch,
      }),
      onDone: {
        actions: { type: 'reportFence', params: { quiet: true } },
        description: 'An orphan fenced raises an alarm; the rest is quiet.',
      },
      onError: { description: 'Looked at again next loop.' },
    },
    {
      src: 'liftOwnFence',
      input: ({ context }) => ({ mayLift: mayLiftOwnFence(context) }),
      onDone: {
        actions: 'reportOwnFenceLifted',
        description: 'A fence on our own primary, put while it was an orphan, is lifted now that it leads.',
      },
      onError: { description: 'Tried again next loop.' },
    },
    {
      // As Patroni each loop: armed when wanted and not yet (after a bootstrap, an agent restart,
      // the end of a pause, a reload), disarmed while paused.
      src: 'setWatchdog',
      input: ({ context }) => watchdogStepInput(context),
      onDone: [
        {
          guard: 'watchdogRefused',
          target: 'releasing',
          actions: [
            'noteWatchdog',
            { type: 'say', params: { message: 'Demoting self because watchdog could not be activated' } },
          ],
          description:
            'Required and none could be armed: a leader without one gives the lock up (Patroni’s words).',
        },
        {
          actions: 'noteWatchdog',
          description: 'Armed, disarmed or unchanged: the election told while one is armed.',
        },
      ],
      onError: { description: 'Tried again next loop.' },
    },
  ],
  entry: [
    assign({ pgState: 'running', role: 'master', following: null, wasPrimary: true }),
    assign({
      message: ({ context }) => `no action. I am (${context.name}), the leader with the lock`,
    }),
  ],
  always: [
    // Not while the key still carries our name: a restarted agent finds its primary
    // running and the election reclaims the lock (nobody else can hold it meanwhile);
    // demoting first would cost a promotion and a timeline for nothing.
    {
      guard: 'lockLostAsPrimary',
      target: 'demoting',
      description: 'The lock is gone and the key is not ours: a primary without the lock stops now.',
    },
    {
      guard: 'switchoverRequested',
      target: 'switchingOver',
      description: 'A switchover names this leader and its time has come: hand over gracefully.',
    },
    {
      guard: 'failoverKeyToClear',
      target: 'clearingFailover',
      description: '/failover holds a request that this leadership has served or made moot: clear it.',
    },
  ],
  // /history does not know our timeline yet (the post-promotion work failed: a CHECKPOINT
  // or etcd): try it again every loop, or a replica that went past our fork point on
  // the old timeline could never learn it diverged.
  after: {
    loopWait: [
      {
        guard: 'historyBehindOurTimeline',
        target: 'afterPromotion',
        description: '/history still lacks our timeline (its write failed): the post-promotion steps again.',
      },
      { target: 'primary', reenter: true, description: 'Every loop: look again.' },
    ],
  },
  on: {
    RESTART: [
      refuseUnmetRestart,
      {
        target: 'restarting',
        actions: 'acceptRestart',
        description: 'POST /restart on the leader: stop fast and start again as primary; the lock stays.',
      },
    ],
    PG_STATUS: [
      {
        // Paused: nobody restarts it; the lock goes, since a stopped primary cannot hold it.
        guard: 'sampleDownWhilePaused',
        target: 'releasingWhilePaused',
        actions: ['storePg', 'forwardFacts'],
        description:
          'Stopped in maintenance mode: nobody restarts it, and a stopped primary gives the lock up.',
      },
      {
        guard: 'sampleDown',
        target: 'restartingPrimary',
        actions: ['storePg', 'forwardFacts'],
        description: 'The leader’s PostgreSQL went down: start it again within primary_start_timeout.',
      },
      {
        guard: 'sampleInRecovery',
        target: 'promoting',
        actions: ['storePg', 'forwardFacts'],
        description: 'Restarted as a standby behind our back while we hold the lock: promote it again.',
      },
      {
        actions: ['storePg', 'forwardFacts'],
        description: "Running as the primary: kept, and given to the election as this node's facts.",
      },
    ],
  },
});

export const clearingFailover = nodeSetup.createStateConfig({
  description: 'A /failover request that can never apply here (wrong leader, unknown candidate): clear it.',
  // Cut from etcd, the write waits out retry_timeout: a lock lost meanwhile demotes now.
  always: lockLost('demoting'),
  invoke: {
    src: 'clearFailover',
    input: ({ context }) => ({ view: context.view }),
    onDone: { target: 'primary', description: '/failover is empty: at rest as primary again.' },
    onError: {
      target: 'primary',
      description: 'Not cleared: back at rest; the next view showing the request clears it again.',
    },
  },
  // The watch brings the cleared key; until then the same request must not re-trigger us.
  exit: assign({ view: ({ context }) => ({ ...context.view, failover: null }) }),
});

export const restartingPrimary = nodeSetup.createStateConfig({
  entry: [
    assign({ pgState: 'starting' }),
    { type: 'say', params: { message: 'postgres crashed; starting it again as the leader' } },
  ],
  invoke: {
    src: 'startPostgres',
    input: ({ context }) => ({
      role: 'primary' as const,
      upstream: null,
      timeoutSeconds: context.settings.primary_start_timeout,
    }),
    onDone: {
      target: 'primary',
      actions: { type: 'callback', params: { action: 'on_start', role: 'master' } },
      description: "The leader's PostgreSQL runs again: no failover was needed.",
    },
    onError: {
      target: 'releasing',
      actions: assign({
        message: ({ event }) => `failed to start postgres: ${errorText(event.error)}`,
      }),
      description: 'Not up within primary_start_timeout: the lock goes to a replica that can take writes.',
    },
  },
});

export const releasing = nodeSetup.createStateConfig({
  description: 'Give the lock up so that a healthy replica can take over.',
  entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
  on: {
    LEADERSHIP_RELEASED: {
      target: 'demoting',
      actions: assign({ isLeader: false }),
      description: 'The lock is given up: make sure nothing here still takes writes.',
    },
  },
  after: {
    loopWait: {
      target: 'demoting',
      actions: assign({ isLeader: false }),
      description: 'The election never answered within a loop: go on as released rather than wait forever.',
    },
  },
});

export const demoting = nodeSetup.createStateConfig({
  description: 'Lost the lock (or never had it) while writable: stop at once, no checkpoint.',
  entry: [
    assign({ pgState: 'stopping', role: 'demoted' }),
    {
      type: 'say',
      params: { message: 'demoting self because I do not have the lock and I was a leader' },
    },
  ],
  invoke: {
    src: 'stopPostgres',
    input: stopInput('immediate'),
    onDone: {
      target: 'boot',
      actions: [
        assign({ pgState: 'stopped', wasPrimary: true, pg: null }),
        'stopCallback',
        'nextReplicaStartIsRoleChange',
      ],
      description:
        'Stopped: boot starts it as a replica, known as an old primary (pg_rewind first when configured).',
    },
    // Still writable without the lock: try again at once rather than after a crash
    // recovery's pause, while another node may already be promoted.
    onError: {
      target: 'demotionFailed',
      actions: assign({
        wasPrimary: true,
        message: ({ event }) => `demoting failed, trying again: ${errorText(event.error)}`,
      }),
      description:
        'Still writable without the lock: try again within demotionRetry, not after a crash pause.',
    },
  },
});

export const demotionFailed = nodeSetup.createStateConfig({
  description:
    'The immediate stop of a primary without the lock failed: stop it again shortly, and keep trying while it runs.',
  after: {
    demotionRetry: [
      {
        guard: 'pgDown',
        target: 'boot',
        description: 'PostgreSQL went down anyway: nothing left to demote.',
      },
      { target: 'demoting', description: 'Still running without the lock: stop it again.' },
    ],
  },
});
