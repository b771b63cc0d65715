import { knownServersOf, readAddressBook } from '../../cluster/orphans.ts';
import { emptyClusterView } from '../../cluster/view.ts';
import { follower, racing, removingStaleLeader, waiting } from './following.ts';
import { leader, reclaiming } from './leader.ts';
import { lost, released, resigned, standingBack } from './leaving.ts';
import { electionSetup } from './setup.ts';

export const electionMachine = electionSetup.createMachine({
  id: 'election',
  context: ({ input }) => ({
    name: input.name,
    settings: input.settings,
    view: input.view ?? emptyClusterView,
    viewStale: false,
    facts: null,
    leaseLeftMs: 0,
    leaseTtlSeconds: 0,
    lastVerdict: null,
    holdsLockAtStart: input.holdsLock,
    leaseAgeAtStartMs: input.leaseAgeMs ?? 0,
    pendingRelease: null,
    frozen: false,
    probeView: null,
    failsafeLeader: null,
    failsafeAccepted: 0,
    onFailsafe: false,
    failsafeWritten: null,
    knownServers: knownServersOf(
      readAddressBook(input.knownServers ?? [], input.name),
      input.view ?? emptyClusterView,
      input.name,
    ),
    watchdogWindowMs: null,
    staleLeader: null,
    newTermWanted: false,
    shortLeaseSentAt: null,
  }),
  on: {
    DCS_UNAVAILABLE: {
      actions: 'noteViewStale',
      description:
        'etcd stopped answering: the view is kept but no longer trusted for a race until etcd gives a fresh one (a free lock and /sync as they were may be long gone: sweep seeds 109 --sync, 369).',
    },
    FACTS: {
      actions: 'storeFacts',
      description: "The node's PostgreSQL facts (running, WAL position): what the race judges this node by.",
    },
    SETTINGS: {
      actions: 'storeSettings',
      description:
        'loop_wait, ttl and retry_timeout time every wait and the lease arithmetic: the latest kept.',
    },
    FAILSAFE_ACCEPTED: [
      {
        guard: 'runningAsPrimary',
        description:
          "PostgreSQL runs as a primary here: no other leader is confirmed (Patroni's 'Running as a leader').",
      },
      {
        actions: 'acceptFailsafe',
        description:
          'A leader asked to be confirmed (failsafe mode): accepted; no race for a ttl, a view without a leader key notwithstanding.',
      },
    ],
    FAILSAFE_EXPIRED: {
      actions: 'expireFailsafe',
      description: 'A ttl since the last acceptance: a view without a leader key means no leader again.',
    },
    WATCHDOG: {
      actions: 'noteWatchdog',
      description:
        'What the node says of its watchdog, kept whatever the state: armed beside a primary before the lock is ours again (an agent restart), its window starts with our next refresh.',
    },
    FREEZE: {
      actions: 'noteFrozen',
      description:
        'Shutdown has begun: remembered, so the release that follows ends resigned, not standing back.',
    },
  },
  initial: 'init',
  states: {
    init: {
      always: [
        {
          guard: 'startsAsHolder',
          target: 'leader',
          description: 'This node just bootstrapped the cluster and holds the key: lead from the start.',
          actions: [
            {
              type: 'trustLease',
              // The bootstrap put the key on a lease granted with the settings' ttl.
              params: ({ context }) => ({
                leaseAgeMs: context.leaseAgeAtStartMs,
                leaseTtlSeconds: context.settings.ttl,
              }),
            },
            // The bootstrap wrote the key: the short lease runs from then.
            {
              type: 'renewShortLeaseByEtcd',
              params: ({ context }) => ({ ageMs: context.leaseAgeAtStartMs, sentAt: null }),
            },
          ],
        },
        {
          target: 'follower',
          description: 'Any node that did not just bootstrap starts by looking at the view.',
        },
      ],
    },

    follower,
    removingStaleLeader,
    racing,
    waiting,
    reclaiming,
    leader,
    lost,
    released,
    standingBack,
    resigned,
  },
});
