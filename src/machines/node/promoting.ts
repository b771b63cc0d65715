/** The first step of leading: claim /sync in synchronous mode, fence every other server known, then promote PostgreSQL. */
import { assign } from 'xstate';
import { FENCE_SESSION_WAIT_MS } from '../../cluster/orphans.ts';
import { errorText, watchdogStepInput } from './facts.ts';
import { lockLost } from './primary.ts';
import { nodeSetup } from './setup.ts';

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
  initial: 'armingWatchdog',
  states: {
    armingWatchdog: {
      description:
        "Patroni's watchdog, before anything else (as in enforce_primary_role): armed if wanted and one can be; in required mode, no promotion without it.",
      invoke: {
        src: 'setWatchdog',
        input: ({ context }) => watchdogStepInput(context),
        onDone: [
          {
            guard: 'watchdogRefused',
            target: '#node.active.running.releasing',
            actions: [
              'noteWatchdog',
              {
                type: 'say',
                params: { message: 'Not promoting self because watchdog could not be activated' },
              },
            ],
            description:
              'Required and none could be armed: no promotion; the lock goes back (Patroni’s words).',
          },
          {
            target: 'deciding',
            actions: 'noteWatchdog',
            description:
              'Armed (the election bounds its trust by it), or not wanted, or none in automatic mode: go on.',
          },
        ],
        onError: [
          {
            guard: 'watchdogRequired',
            target: '#node.active.running.releasing',
            actions: {
              type: 'say',
              params: { message: 'Not promoting self because watchdog could not be activated' },
            },
            description: 'The step itself broke, and a watchdog is required: no promotion.',
          },
          {
            target: 'deciding',
            actions: {
              type: 'notice',
              params: ({ event }) => ({ message: `watchdog: ${errorText(event.error)}` }),
            },
            description: 'The step itself broke, a watchdog not required: go on without one.',
          },
        ],
      },
    },
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
        { target: 'readyToPromote', description: 'Not synchronous mode: no /sync to claim first.' },
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
            description: '/sync was changed by somebody else first: no promotion; the lock goes back.',
          },
        ],
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
          description: '/sync could not be written: no writable primary without it; the lock goes back.',
        },
      },
    },
    waitingForNobody: {
      description:
        "synchronous_standby_names before the promotion: '' (no standby waited for yet), or '*' in strict mode (any standby, never none).",
      invoke: {
        src: 'setSynchronousStandbyNames',
        input: ({ context }) => ({ value: context.settings.synchronous_mode_strict ? '*' : '' }),
        onDone: {
          target: 'readyToPromote',
          description: "Nobody waited for yet ('', or '*' when strict): promote next.",
        },
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
          description:
            'synchronous_standby_names could not be set to match /sync: no promotion; the lock goes back.',
        },
      },
    },
    readyToPromote: {
      // Right before the promotion, after /sync: nothing that became writable meanwhile is missed.
      always: [
        {
          guard: 'serversToFence',
          target: 'fencing',
          description:
            'An old primary may still be writable (its agent killed or frozen): every other server we know of is fenced before ours is promoted.',
        },
        { target: 'prePromoting', description: 'No other server known: nothing to fence.' },
      ],
    },
    fencing: {
      invoke: {
        src: 'fenceServers',
        // The lock was just taken: any other primary of this cluster is an orphan, whatever its timeline.
        input: ({ context }) => ({
          targets: context.election.fenceTargets,
          belowTimeline: null,
          systemIdentifier: context.view.initialize,
          sessionWaitMs: FENCE_SESSION_WAIT_MS.promotion,
        }),
        onDone: {
          target: 'prePromoting',
          actions: { type: 'reportFence', params: { quiet: false } },
          description:
            'Each writable one is read-only for new transactions, its client sessions ended: no client of it commits once we are writable. One not reached in time (its host dead, cut from us, or frozen) is left: its own agent, if alive, demoted it by its deadline, and the first watch at rest looks at it again with more patience.',
        },
        onError: {
          target: 'prePromoting',
          actions: {
            type: 'notice',
            params: ({ event }) => ({ message: `could not fence: ${errorText(event.error)}` }),
          },
          description: 'The fencing itself failed: we promote, as with a server not reached.',
        },
      },
    },
    prePromoting: {
      description:
        "postgresql.pre_promote (Patroni's fencing hook), after the lock and the fencing, before PostgreSQL is promoted: waited for, at most a ttl.",
      invoke: {
        src: 'runPrePromote',
        input: ({ context }) => ({ timeoutSeconds: context.settings.ttl }),
        onDone: [
          {
            guard: 'prePromoteRefused',
            target: '#node.active.running.releasing',
            actions: {
              type: 'say',
              params: { message: 'pre_promote script refused the promotion: releasing the lock' },
            },
            description:
              'The script exited non-zero (or could not run, or ran past its deadline): no promotion; the lock goes back, and the election stands back a ttl (Patroni).',
          },
          {
            target: 'promotingPostgres',
            description: 'It exited 0, or none is configured: promote.',
          },
        ],
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `pre_promote failed: ${errorText(event.error)}` }),
          description: 'The hook itself broke: no promotion without it; the lock goes back.',
        },
      },
    },
    promotingPostgres: {
      invoke: {
        src: 'promote',
        input: ({ context }) => ({ timeoutSeconds: Math.max(context.settings.loop_wait, 30) }),
        onDone: {
          target: '#node.active.running.afterPromotion',
          actions: { type: 'callback', params: { action: 'on_role_change', role: 'master' } },
          description: 'Writable now: what the others need to follow or rewind from us comes next.',
        },
        onError: {
          target: '#node.active.running.releasing',
          actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
          description:
            'The promotion failed: a leader that cannot take writes gives the lock to one that can.',
        },
      },
    },
  },
});
