/** The leader side of `running`: promote, stay primary while the lock is ours, hand over on a switchover, and demote at once when the lock is gone. */
import { assign, sendTo } from 'xstate';
import { desiredSlots } from '../../cluster/topology.ts';
import { doneOutput } from '../done-output.ts';
import { errorText, stopInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

/** Every step of leading stops at once when the lock is gone (the same rule as the primary's). */
export const lockLost = <T extends string>(target: T) =>
  ({
    guard: 'lockLostAsPrimary',
    target,
    description: 'The lock is gone and the key is not ours: a primary without the lock stops now.',
  }) as const;

export const promoting = nodeSetup.createStateConfig({
  description:
    'The lock is ours: make PostgreSQL the primary. In synchronous mode /sync first names only us and PostgreSQL waits for nobody (or, strict, for anybody) until the sync manager picks standbys.',
  entry: [
    assign({ role: 'promoted' }),
    { type: 'say', params: { message: 'promoted self to leader by acquiring session lock' } },
  ],
  // The lock can be lost before the promotion ends (a freeze, a slow promote): the
  // primary it makes must not outlive the lock by the rest of the promotion.
  always: lockLost('demoting'),
  initial: 'deciding',
  states: {
    deciding: {
      // Evaluated once, on entry: a transient state, not a guard on `promoting` itself, which
      // every status sample during the promotion would re-evaluate.
      always: [
        {
          guard: 'pgIsPrimary',
          target: '#node.active.running.afterPromotion',
          description:
            'Already a primary (the agent restarted, or pg_ctl promote by hand): nothing to promote, and its synchronous standbys stay until the sync manager decides, as in Patroni — emptying them would release commits waiting for a standby.',
        },
        {
          guard: 'synchronousMode',
          target: 'claimingSync',
          description: 'Synchronous mode: /sync must name us before anything is writable.',
        },
        { target: 'promotingPostgres' },
      ],
    },
    claimingSync: {
      invoke: {
        src: 'claimSync',
        input: ({ context }) => ({ leader: context.name, index: context.view.sync?.index ?? null }),
        onDone: [
          {
            guard: 'syncClaimed',
            target: 'waitingForNobody',
            description: '/sync now names only this node: nobody else may be promoted meanwhile.',
          },
          {
            target: '#node.active.running.releasing',
            actions: {
              type: 'say',
              params: { message: 'promote failed: postponing promotion: /sync was changed by somebody else' },
            },
          },
        ],
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
        },
      },
    },
    waitingForNobody: {
      description:
        "synchronous_standby_names before the promotion: '' (no standby waited for yet), or '*' in strict mode (any standby, never none).",
      invoke: {
        src: 'setSynchronousStandbyNames',
        input: ({ context }) => ({ value: context.settings.synchronous_mode_strict ? '*' : '' }),
        onDone: 'promotingPostgres',
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
        },
      },
    },
    promotingPostgres: {
      invoke: {
        src: 'promote',
        input: ({ context }) => ({ timeoutSeconds: Math.max(context.settings.loop_wait, 30) }),
        onDone: '#node.active.running.afterPromotion',
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
        },
      },
    },
  },
});

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
        { target: 'checkpointing' },
      ],
    },
    creatingSlots: {
      description: 'Slots first: the other replicas are already reconnecting to us.',
      invoke: {
        src: 'syncSlots',
        input: ({ context }) => ({ slots: desiredSlots(context.view, context.name) }),
        onDone: 'checkpointing',
        onError: '#node.active.running.primary',
      },
    },
    checkpointing: {
      description:
        '/history follows even when the CHECKPOINT fails: it is how a replica past our fork point on the old timeline learns it diverged.',
      invoke: {
        src: 'checkpoint',
        input: { timeoutSeconds: null },
        onDone: 'readingTimelineHistory',
        onError: 'readingTimelineHistory',
      },
    },
    readingTimelineHistory: {
      invoke: {
        src: 'readTimelineHistory',
        onDone: 'writingHistory',
        onError: '#node.active.running.primary',
      },
    },
    writingHistory: {
      invoke: {
        src: 'writeHistory',
        input: ({ context, event }) => ({
          previous: context.view.history,
          lines: doneOutput<Array<[number, number, string]>>(event),
        }),
        onDone: 'publishing',
        onError: '#node.active.running.primary',
      },
    },
    publishing: {
      description: 'The member key says master at once: clients and the switchover waiting on it see it.',
      invoke: {
        src: 'publishMember',
        onDone: '#node.active.running.primary',
        onError: '#node.active.running.primary',
      },
    },
  },
});

export const primary = nodeSetup.createStateConfig({
  description: 'At rest as the lock holder: status samples and the election keep it in line.',
  tags: ['resting'],
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
      { guard: 'restartConditionsUnmet', actions: 'refuseRestart' },
      { target: 'restarting', actions: 'acceptRestart' },
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
      { actions: ['storePg', 'forwardFacts'] },
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
    onDone: 'primary',
    onError: 'primary',
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
    onDone: 'primary',
    onError: {
      target: 'releasing',
      actions: assign({
        message: ({ event }) => `failed to start postgres: ${errorText(event.error)}`,
      }),
    },
  },
});

export const releasing = nodeSetup.createStateConfig({
  description: 'Give the lock up so that a healthy replica can take over.',
  entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
  on: { LEADERSHIP_RELEASED: { target: 'demoting', actions: assign({ isLeader: false }) } },
  after: { loopWait: { target: 'demoting', actions: assign({ isLeader: false }) } },
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
      actions: assign({ pgState: 'stopped', wasPrimary: true, pg: null }),
    },
    // Still writable without the lock: try again at once rather than after a crash
    // recovery's pause, while another node may already be promoted.
    onError: {
      target: 'demotionFailed',
      actions: assign({
        wasPrimary: true,
        message: ({ event }) => `demoting failed, trying again: ${errorText(event.error)}`,
      }),
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
      { target: 'demoting' },
    ],
  },
});
