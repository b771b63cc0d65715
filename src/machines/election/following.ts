import { and } from 'xstate';
import { raceMembers } from '../../cluster/failsafe.ts';
import { withoutProvenGone } from '../../cluster/short-lease.ts';
import { freezeNotLeading, releaseNotLeading } from './outside-lock.ts';
import { electionSetup } from './setup.ts';

export const follower = electionSetup.createStateConfig({
  description: 'Someone else holds the lock, or nobody does and we are waiting to look again.',
  tags: ['resting'],
  entry: 'forgetStaleLeaderProofOnceMoot',
  always: [
    {
      guard: 'releaseRequested',
      target: 'released',
      description: 'A release asked for while in another state: answered, so the node never waits.',
    },
    { guard: 'frozen', target: 'resigned', description: 'Shutting down: no more racing.' },
    {
      guard: 'lockIsMine',
      target: 'reclaiming',
      description: 'After an agent restart the key may still carry our name: take it back by refreshing.',
    },
    {
      guard: and(['unlocked', 'viewCurrent']),
      target: 'racing',
      description: 'Nobody holds the lock (its holder’s lease ran out at etcd): find out who should.',
    },
  ],
  on: {
    CLUSTER: {
      target: 'follower',
      reenter: true,
      actions: 'storeView',
      description:
        'A new view is judged at once (our name on the key, a free lock); the loop timer starts over.',
    },
    LEADER_GIVEN_UP: [
      {
        guard: 'leaderProvenGone',
        target: 'removingStaleLeader',
        actions: 'storeStaleLeaderProof',
        description:
          'Fast failover: enough of its term’s members gave the leader up and its key has not changed for W: remove the key now rather than wait for etcd to expire it.',
      },
      {
        description:
          'No proof for the key as the view shows it (another holder, lease or revision; paused; fast failover off here): ignored.',
      },
    ],
    RELEASE: releaseNotLeading,
    FREEZE: freezeNotLeading,
  },
  after: {
    loopWait: {
      target: 'follower',
      reenter: true,
      description: 'Every loop_wait, look again even when the watch brings nothing.',
    },
  },
});

export const racing = electionSetup.createStateConfig({
  description: 'Nobody holds the lock: find out whether this node is the healthiest.',
  initial: 'deciding',
  on: {
    CLUSTER: {
      actions: 'storeView',
      description:
        'Kept during the race: whether someone took the lock meanwhile is judged on the latest view.',
    },
    RELEASE: releaseNotLeading,
    FREEZE: freezeNotLeading,
  },
  states: {
    deciding: {
      always: [
        // The named switchover candidate need not ask anyone: the request already chose it.
        {
          guard: 'requestedCandidate',
          target: 'acquiring',
          description:
            'The named switchover or failover candidate need not ask anyone: the request chose it.',
        },
        {
          target: 'probing',
          description:
            "Any other node asks its peers first: only the healthiest races (Patroni's is_healthiest_node).",
        },
      ],
    },
    probing: {
      description:
        'Is this node the healthiest? Our own position first, then the peers, asked about the members of the view the race began on.',
      always: {
        guard: 'postgresDown',
        target: '#election.waiting',
        description: 'A node whose PostgreSQL is down is never the healthiest: do not ask anyone.',
      },
      entry: 'noteProbeView',
      initial: 'sampling',
      states: {
        sampling: {
          description: "Our own position, sampled now: it must be as fresh as the peers' answers.",
          invoke: {
            src: 'sampleOwnPosition',
            onDone: {
              target: 'asking',
              description: 'Sampled (the node forwards it as FACTS): now the peers.',
            },
            onError: {
              target: '#election.waiting',
              description: 'The sample itself broke: no race on a stale position of our own.',
            },
          },
        },
        asking: {
          description: "GET /patroni of the other members (2 s, no retries): Patroni's is_healthiest_node.",
          invoke: {
            src: 'probePeers',
            input: ({ context }) => ({
              members: withoutProvenGone(
                raceMembers(context.probeView ?? context.view, context.settings),
                context.staleLeader,
              ),
              name: context.name,
            }),
            onDone: [
              {
                guard: 'leaderKnown',
                target: '#election.follower',
                description:
                  'Someone took the lock while the peers were asked (or a leader was confirmed in failsafe mode): follow them.',
              },
              {
                guard: 'healthiest',
                target: '#election.racing.acquiring',
                actions: ['recordVerdict', 'reportVerdict'],
                description: "Patroni's is_healthiest_node holds over the peers' answers: race for the lock.",
              },
              {
                target: '#election.waiting',
                actions: ['recordVerdict', 'reportVerdict'],
                description: 'Not the healthiest (the verdict says why): look again shortly.',
              },
            ],
            onError: {
              target: '#election.waiting',
              description:
                "The probe itself broke (a peer's silence is an answer, not an error): no race on a guess.",
            },
          },
        },
      },
    },
    acquiring: {
      description:
        'Race for the lock: refresh our lease first, then the create transaction, then consume the switchover or failover request the win answers.',
      on: {
        FAILSAFE_ACCEPTED: {
          description:
            'Taking the lock now: no other leader is confirmed (the asking leader does not count on this node).',
        },
      },
      initial: 'refreshingLease',
      states: {
        refreshingLease: {
          description:
            "A lease kept alive only at the last loop may have most of its ttl behind it; the new leader's deadline must count from a refresh.",
          invoke: {
            src: 'freshLease',
            input: ({ context }) => ({ ttl: context.settings.ttl }),
            onDone: {
              target: 'takingLock',
              description: 'The lease is fresh: the create transaction puts /leader on it.',
            },
            onError: {
              target: '#election.waiting',
              description: 'etcd did not refresh our lease: no race on a lease that may be nearly gone.',
            },
          },
        },
        takingLock: {
          invoke: {
            src: 'acquireLeader',
            input: ({ context }) => ({ name: context.name }),
            onDone: [
              {
                guard: 'wonWithRequestToConsume',
                target: 'consumingFailover',
                description:
                  'Won, and a switchover or failover request (not a scheduled one) named this race.',
              },
              {
                guard: 'won',
                target: '#election.leader',
                actions: ['trustAcquiredLease', 'notifyAcquired'],
                description: 'The create transaction wrote /leader on our lease: trusted until its deadline.',
              },
              // Someone else won: wait for the watch to show who, rather than racing again at once.
              {
                target: '#election.waiting',
                description:
                  'Someone else won: wait for the watch to show who rather than race again at once.',
              },
            ],
            onError: {
              target: '#election.waiting',
              description:
                'No answer from etcd: look again; a key it wrote after all is ours to reclaim (lockIsMine).',
            },
          },
        },
        consumingFailover: {
          description:
            'A switchover or failover request is consumed by whoever takes the lock. The lease is read after the write: the time it took (up to a retry_timeout) counts against the deadline.',
          invoke: {
            src: 'clearFailoverKey',
            onDone: {
              target: '#election.leader',
              actions: ['trustAcquiredLease', 'notifyAcquired'],
              description: 'The request is consumed: lead, trusting the lease as read after the write.',
            },
            // The clearing actor logs its own failure and answers: never an error.
          },
        },
      },
    },
  },
});

export const waiting = electionSetup.createStateConfig({
  description: 'Not eligible (or the race failed): look again after a short pause or on a DCS change.',
  on: {
    CLUSTER: [
      {
        guard: 'viewHasLeader',
        target: 'follower',
        actions: 'storeView',
        description: 'Someone took the lock: follow them.',
      },
      { actions: 'storeView', description: 'Still nobody leads: the view is kept for the next look.' },
    ],
    // PostgreSQL just came up: no reason to sit out the pause.
    FACTS: [
      {
        guard: 'postgresCameUp',
        target: 'follower',
        actions: 'storeFacts',
        description: 'PostgreSQL just came up: no reason to sit out the pause.',
      },
      {
        actions: 'storeFacts',
        description: 'Nothing worth cutting the pause short: kept for the next look.',
      },
    ],
    RELEASE: releaseNotLeading,
    FREEZE: freezeNotLeading,
  },
  after: {
    retrySoon: { target: 'follower', description: 'The short pause is over: look again from follower.' },
  },
});

export const removingStaleLeader = electionSetup.createStateConfig({
  description:
    'The leader is proven gone (src/cluster/short-lease.ts): its key deleted if it is still the one of the proof, its lease revoked. Then the race, as for any free lock.',
  on: {
    FAILSAFE_ACCEPTED: {
      description:
        'Removing the leader key: no leader is confirmed meanwhile (POST /failsafe answers 500; the asking leader demotes by its own deadline).',
    },
    CLUSTER: {
      actions: 'storeView',
      description: 'Kept: the removal compares the revision the proof is about, not the view.',
    },
    RELEASE: releaseNotLeading,
    FREEZE: freezeNotLeading,
  },
  invoke: {
    src: 'removeStaleLeader',
    input: ({ context }) => ({
      name: context.staleLeader!.term.leader,
      index: context.staleLeader!.index,
      session: context.staleLeader!.term.lease,
    }),
    onDone: {
      target: 'follower',
      description:
        'Removed (or changed meanwhile: kept): look at the view again; a free lock is raced for, without asking the leader proven gone (the proof is kept until another key shows).',
    },
    onError: {
      target: 'follower',
      actions: 'forgetStaleLeaderProof',
      description: 'etcd did not answer: the key stays; the next proof tries again.',
    },
  },
});
