/** Holding the lock: reclaiming it after a restart, refreshing it before the deadline, releasing it. */
import { assign } from 'xstate';
import { failsafeTopology, membersToConfirm } from '../../cluster/failsafe.ts';
import { freezeNotLeading, releaseNotLeading } from './outside-lock.ts';
import { electionSetup } from './setup.ts';

export const reclaiming = electionSetup.createStateConfig({
  description:
    'The view shows our name on the lock (an agent restart, or a refresh that came too late): re-attach it to our lease if etcd still has it with our name — never create it, that would skip the race.',
  // The view must stay current: a stale one would send us back here once the attempt fails.
  on: {
    CLUSTER: {
      actions: 'storeView',
      description: 'The view stays current: a stale one would bring us back here once the attempt fails.',
    },
    RELEASE: releaseNotLeading,
    FREEZE: freezeNotLeading,
  },
  invoke: {
    src: 'updateLeader',
    input: ({ context }) => ({
      name: context.name,
      recreate: false,
      ttl: context.settings.ttl,
      write: !!context.settings.short_lease_ms,
    }),
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
          {
            type: 'renewShortLeaseByEtcd',
            params: ({ event }) => ({
              ageMs: event.output.writeAgeMs ?? event.output.elapsedMs,
              sentAt: event.output.sentAt ?? null,
            }),
          },
          'notifyAcquired',
        ],
      },
      {
        target: 'waiting',
        description:
          'No key with our name on our live lease (expired, or taken): not ours; race like anyone.',
      },
    ],
    onError: { target: 'waiting', description: 'etcd did not answer: a short pause, then look again.' },
  },
});

export const leader = electionSetup.createStateConfig({
  description: 'This node holds the lock until leaseDeadline unless a refresh succeeds first.',
  initial: 'holding',
  exit: ['forgetWatchdog', 'forgetShortLease'],
  on: {
    SHORT_LEASE_RENEWED: {
      actions: 'renewShortLeaseByGossip',
      description:
        'A majority of our term’s members acked a lease frame: the short lease runs from when it was sent.',
    },
    SHORT_LEASE_NEW_TERM: {
      actions: 'wantNewTerm',
      description:
        'The term’s members changed, or some gave it up: the next refresh moves the key onto a new lease, a term they hear anew.',
    },
    FAILSAFE_ACCEPTED: {
      description: 'We hold the lock: no other leader is confirmed.',
    },
    RELEASE: {
      target: '.releasing',
      actions: ['requestRelease', 'leaveFailsafe'],
      description:
        'Asked to give the lock up (switchover, shutdown): delete the key rather than let it expire.',
    },
  },
  states: {
    holding: {
      // Entered anew after each refresh or confirmation: the watchdog is kept alive then (as
      // Patroni does after each update of the lock), and its window counts from there.
      entry: ['restartWatchdogWindow', 'scheduleRefresh'],
      exit: 'cancelRefresh',
      invoke: { src: 'keepWatchdogAlive' },
      after: {
        leaseDeadline: {
          target: '#election.lost',
          actions: [assign({ lastVerdict: null }), 'leaveFailsafe'],
          description:
            'No refresh (nor, in failsafe mode, every member’s confirmation) by the deadline (ttl less a margin): the lock may be gone.',
        },
      },
      on: {
        WATCHDOG: [
          {
            guard: 'watchdogArmedAnew',
            target: '#election.leader.holding.refreshing',
            actions: 'noteWatchdog',
            description:
              'The node just armed its watchdog (or gave it a new timeout): refresh now, so that the lease, the keepalive and the shorter refresh interval all count from here.',
          },
          {
            actions: 'noteWatchdog',
            description:
              'Still armed as it was, or disarmed: kept; while armed, the lock is trusted no longer than its window after a keepalive.',
          },
        ],
        SHORT_LEASE_END: {
          target: '#election.lost',
          actions: [assign({ lastVerdict: null }), 'leaveFailsafe'],
          description:
            'Neither a majority of our term’s members nor etcd renewed the short lease in time: stop writing now, a fencing budget before others may prove us gone.',
        },
        WATCHDOG_DEADLINE: {
          target: '#election.lost',
          actions: [assign({ lastVerdict: null }), 'leaveFailsafe'],
          description:
            'No refresh within the armed watchdog’s window (its timeout less min(loop_wait, 5 s)): demote now, while there is time to stop PostgreSQL before it fires.',
        },
        CLUSTER: [
          {
            guard: 'viewHasOtherLeader',
            target: '#election.lost',
            actions: ['storeView', 'leaveFailsafe'],
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
          {
            actions: 'storeView',
            description: 'The key still names us: kept; refreshes and the deadline go on as timed.',
          },
        ],
      },
      initial: 'resuming',
      states: {
        resuming: {
          description: 'Entered anew after a refresh or a confirmation: which wait comes next.',
          always: [
            {
              guard: 'onFailsafe',
              target: 'onFailsafe',
              description: 'Kept by the members while the DCS does not answer: try it again a loop from now.',
            },
            { target: 'idle', description: 'Held by the DCS: refresh at the next interval.' },
          ],
        },
        idle: {
          always: {
            guard: 'topologyToWrite',
            target: 'writingTopology',
            description: 'Failsafe mode: /failsafe does not name the members as they are: write it.',
          },
          on: {
            REFRESH_DUE: {
              target: 'refreshing',
              description:
                'An interval after the last refresh: as late as still leaves a full retry_timeout of retries before the deadline.',
            },
            REFRESH_NOW: {
              target: 'refreshing',
              description:
                'A REST write to /config or /failover (WAKE): refresh now, not at the next interval.',
            },
            SHORT_LEASE_LOW: {
              target: 'refreshing',
              description:
                'Gossip has not renewed the short lease for half of it: renew it by writing our key.',
            },
            SHORT_LEASE_NEW_TERM: {
              target: 'refreshing',
              actions: 'wantNewTerm',
              description: 'A new short-lease term: the key moves onto a new lease now.',
            },
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
              {
                actions: 'storeSettings',
                description: 'ttl unchanged: the new timings apply from the next refresh on.',
              },
            ],
          },
        },
        writingTopology: {
          description: "/failsafe = every member's name and api_url (Patroni's write_failsafe).",
          invoke: {
            src: 'writeFailsafe',
            input: ({ context }) => ({
              topology: failsafeTopology(context.view, context.name, context.settings.api_url ?? ''),
            }),
            onDone: { target: 'idle', actions: 'noteTopologyWritten', description: 'Written.' },
            onError: {
              target: 'idle',
              actions: 'noteTopologyWritten',
              description: 'Not written: tried again after the next good refresh, not at once.',
            },
          },
          on: {
            REFRESH_DUE: {
              target: 'refreshing',
              description:
                'The refresh came due while writing (etcd slow): the lease first; the write is tried again after the refresh.',
            },
            SHORT_LEASE_LOW: {
              target: 'refreshing',
              description:
                'The short lease needs a write of our key: that first; /failsafe after the refresh.',
            },
          },
        },
        onFailsafe: {
          description:
            'The DCS does not answer and every member confirmed us: the deadline counts from the confirmation; etcd is tried again a loop from now.',
          on: {
            SHORT_LEASE_LOW: {
              target: 'refreshing',
              description:
                'Gossip has not renewed the short lease for half of it: try etcd now, not a loop from now.',
            },
          },
          after: {
            failsafeRetry: {
              target: 'refreshing',
              description:
                'A loop later (sooner with a watchdog armed, so that a refresh that fails and the asking after it fit in its window): is etcd back?',
            },
          },
        },
        confirming: {
          description:
            "The DCS did not answer: ask every member /failsafe names to confirm us (gossip, else POST /failsafe; Patroni's check_failsafe_topology).",
          invoke: {
            src: 'confirmFailsafe',
            input: ({ context }) => ({ members: membersToConfirm(context.view.failsafe, context.name) }),
            onDone: [
              {
                guard: 'everyMemberConfirmed',
                target: '#election.leader.holding',
                reenter: true,
                actions: 'trustFailsafe',
                description:
                  'Every member accepted: none races for a ttl, so the lock is trusted for a ttl (less the margin) from when we asked.',
              },
              {
                target: 'retrying',
                description:
                  'A member did not accept (or could not be asked): the deadline stands; etcd is tried again.',
              },
            ],
            onError: { target: 'retrying', description: 'The asking itself broke: the deadline stands.' },
          },
        },
        refreshing: {
          invoke: {
            src: 'updateLeader',
            // The holder puts its key back if it expired at the server first, as Patroni does.
            // The lease is replaced here when the ttl changed: the election names the ttl it wants.
            // Kept by the members' confirmation, a lease etcd expired meanwhile is replaced.
            // With the short lease on, the key is written (its new revision is the renewal others
            // see), and put back where it vanished only on a lease granted for it (KvDcs): the
            // lease it rode on may be about to be revoked by a member that removed it by a proof
            // (docs/design-gossip-failover.md §3).
            input: ({ context }) => ({
              name: context.name,
              recreate: true,
              ttl: context.settings.ttl,
              failsafe: context.onFailsafe,
              write: !!context.settings.short_lease_ms,
              rotate: context.newTermWanted,
            }),
            onDone: [
              {
                guard: 'refreshed',
                description: 'The refresh kept (or put back) our key on our lease: trusted from its start.',
                target: '#election.leader.holding',
                reenter: true,
                actions: [
                  {
                    type: 'trustLease',
                    params: ({ event }) => ({
                      leaseAgeMs: event.output.elapsedMs,
                      leaseTtlSeconds: event.output.leaseTtlSeconds,
                    }),
                  },
                  {
                    type: 'renewShortLeaseByEtcd',
                    params: ({ event }) => ({
                      ageMs: event.output.writeAgeMs ?? event.output.elapsedMs,
                      sentAt: event.output.sentAt ?? null,
                    }),
                  },
                  'forgetNewTerm',
                  'leaveFailsafe',
                  'forgetTopologyWritten',
                ],
              },
              {
                target: '#election.lost',
                actions: 'leaveFailsafe',
                description:
                  'etcd refused (our lease gone, or the key names another): lost now, not at the deadline.',
              },
            ],
            // DCS unreachable: keep trying; the deadline decides when to give up.
            onError: [
              {
                guard: 'mayAskFailsafe',
                target: 'confirming',
                description:
                  'etcd did not answer, failsafe mode is on and /failsafe names us: ask the members to confirm us.',
              },
              {
                target: 'retrying',
                description: 'etcd did not answer: keep trying; the deadline decides when to give up.',
              },
            ],
          },
        },
        retrying: {
          on: {
            SHORT_LEASE_LOW: {
              target: 'refreshing',
              description: 'The short lease needs a write of our key: the next attempt now.',
            },
          },
          after: {
            retrySoon: {
              target: 'refreshing',
              description: 'A short pause between attempts while etcd is away.',
            },
          },
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
        onDone: {
          target: '#election.released',
          description:
            'The key is deleted (our last LSN in /status first, if known): the next leader may race.',
        },
        // The key will expire with the lease anyway; the node must not hold on to it.
        onError: {
          target: '#election.released',
          description: 'The key expires with the lease anyway: the node must not wait on a failed delete.',
        },
      },
    },
  },
});
