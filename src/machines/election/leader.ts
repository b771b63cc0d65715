/** Holding the lock: reclaiming it after a restart, refreshing it before the deadline, releasing it. */
import { assign } from 'xstate';
import { electionSetup } from './setup.ts';

export const reclaiming = electionSetup.createStateConfig({
  description:
    'The view shows our name on the lock (an agent restart, or a refresh that came too late): re-attach it to our lease if etcd still has it with our name — never create it, that would skip the race.',
  // The view must stay current: a stale one would send us back here once the attempt fails.
  on: {
    CLUSTER: { actions: 'storeView' },
    RELEASE: { target: 'released', actions: 'requestRelease' },
    FREEZE: { target: 'resigned', actions: assign({ frozen: true }) },
  },
  invoke: {
    src: 'updateLeader',
    input: ({ context }) => ({ name: context.name, recreate: false, ttl: context.settings.ttl }),
    onDone: [
      {
        guard: 'refreshed',
        description: 'The refresh kept (or put back) our key on our lease: trusted from its start.',
        target: 'leader',
        actions: [
          {
            type: 'trustLease',
            params: ({ event }) => ({
              leaseAgeMs: event.output.elapsedMs,
              leaseTtlSeconds: event.output.leaseTtlSeconds,
            }),
          },
          'notifyAcquired',
        ],
      },
      { target: 'waiting' },
    ],
    onError: { target: 'waiting' },
  },
});

export const leader = electionSetup.createStateConfig({
  description: 'This node holds the lock until leaseDeadline unless a refresh succeeds first.',
  initial: 'holding',
  on: {
    RELEASE: { target: '.releasing', actions: 'requestRelease' },
  },
  states: {
    holding: {
      after: {
        leaseDeadline: {
          target: '#election.lost',
          actions: assign({ lastVerdict: null }),
          description: 'No refresh succeeded by the deadline (ttl less a margin): the lock may be gone.',
        },
      },
      on: {
        CLUSTER: [
          {
            guard: 'viewHasOtherLeader',
            target: '#election.lost',
            actions: 'storeView',
            description: 'The key names another member: the lock is lost.',
          },
          // Our key vanished (deleted by an operator, or expired at the server first): refresh
          // at once. The refresh puts it back while our lease lives — nobody else may have been
          // promoted meanwhile, their race finds this primary alive — and fails, so the lock is
          // lost, when the lease is gone. Demoting first would cost a promotion and a timeline.
          {
            guard: 'viewHasNoLeader',
            target: '#election.leader.holding.refreshing',
            actions: 'storeView',
            description: 'Our key vanished: refresh at once; it comes back while our lease lives.',
          },
          { actions: 'storeView' },
        ],
      },
      initial: 'idle',
      states: {
        idle: {
          after: { refreshInterval: 'refreshing' },
          on: {
            REFRESH_NOW: 'refreshing',
            // A PATCH of ttl: move the key onto a lease of the new ttl now (the refresh does it),
            // so that the new ttl holds from the next second, not from the next refresh.
            SETTINGS: [
              {
                guard: 'ttlChanged',
                target: 'refreshing',
                actions: 'storeSettings',
                description:
                  'A PATCH of ttl: the key moves onto a lease of the new ttl at once (no demotion).',
              },
              { actions: 'storeSettings' },
            ],
          },
        },
        refreshing: {
          invoke: {
            src: 'updateLeader',
            // The holder puts its key back if it expired at the server first, as Patroni does.
            // The lease is replaced here when the ttl changed: the election names the ttl it wants.
            input: ({ context }) => ({ name: context.name, recreate: true, ttl: context.settings.ttl }),
            onDone: [
              {
                guard: 'refreshed',
                description: 'The refresh kept (or put back) our key on our lease: trusted from its start.',
                target: '#election.leader.holding',
                reenter: true,
                actions: {
                  type: 'trustLease',
                  params: ({ event }) => ({
                    leaseAgeMs: event.output.elapsedMs,
                    leaseTtlSeconds: event.output.leaseTtlSeconds,
                  }),
                },
              },
              { target: '#election.lost' },
            ],
            // DCS unreachable: keep trying; the deadline decides when to give up.
            onError: { target: 'retrying' },
          },
        },
        retrying: {
          after: { retrySoon: 'refreshing' },
        },
      },
    },
    releasing: {
      invoke: {
        src: 'deleteLeader',
        input: ({ context }) => ({
          name: context.name,
          lastLsn: context.pendingRelease?.lastLsn ?? null,
        }),
        onDone: { target: '#election.released' },
        // The key will expire with the lease anyway; the node must not hold on to it.
        onError: { target: '#election.released' },
      },
    },
  },
});
