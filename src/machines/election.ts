/**
 * Leader election: who holds `/leader`, and for how long this node may believe it does.
 *
 * The lock is an etcd key on the node's lease. Acquisition is a create_revision == 0
 * transaction (the `acquireLeader` actor); holding it means refreshing the lease every
 * loop_wait. The machine keeps its own deadline — the start of the last successful refresh
 * plus ttl minus a safety margin — and declares the lock lost when it passes, instead of
 * trusting the client library's late `lost` notification. The parent (node machine) hears
 * LEADERSHIP_ACQUIRED / LEADERSHIP_LOST / LEADERSHIP_RELEASED and acts on PostgreSQL.
 *
 * Nobody takes the lock before the holder's own deadline has passed: a follower races only once
 * etcd has expired the holder's lease (its deadline comes at least the margin before that, see
 * trustedMs). Evidence that the leader is gone — a broken stream, ports that refuse connections
 * — does not shorten that: a live leader behind a REJECT rule, or cut off from etcd, answers
 * the same way, and revoking its lease once made two writable primaries.
 */
import { type ActorRefFrom, assign, fromPromise, sendParent, setup } from 'xstate';
import {
  isRequestedCandidate,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
  type Verdict,
} from '../cluster/eligibility.ts';
import { type ClusterView, emptyClusterView } from '../cluster/view.ts';
import { doneOutput } from './done-output.ts';

export interface ElectionSettings {
  ttl: number;
  /** Maintenance mode: no automatic failover. */
  paused?: boolean;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  check_timeline: boolean;
  synchronous_mode: boolean;
}

export interface ElectionInput {
  name: string;
  settings: ElectionSettings;
  /** True when the node already holds the key (it just bootstrapped the cluster). */
  holdsLock: boolean;
  /** With holdsLock: ms since the lease was last refreshed (see AcquireResult.leaseAgeMs). */
  leaseAgeMs?: number;
  view?: ClusterView;
}

export interface AcquireResult {
  won: boolean;
  /**
   * ms since the lease the key now rides on was last granted or kept alive (counted from when
   * that request was sent): etcd expires the key ttl after that, not ttl after the acquisition.
   */
  leaseAgeMs: number;
  /** The ttl (s) of that lease: after a change of ttl it may not be the settings' yet. */
  leaseTtlSeconds: number;
}

export interface RefreshResult {
  ok: boolean;
  /** How long the refresh took, so that the deadline counts from its start. */
  elapsedMs: number;
  /** The ttl (s) of the lease the key now rides on (see AcquireResult). */
  leaseTtlSeconds: number;
}

export type ElectionEvent =
  | { type: 'CLUSTER'; view: ClusterView }
  | { type: 'FACTS'; facts: LocalFacts }
  | { type: 'SETTINGS'; settings: ElectionSettings }
  | { type: 'RELEASE'; lastLsn: number | null }
  /** Shutdown begins: stop racing, keep refreshing a held lock until RELEASE. */
  | { type: 'FREEZE' }
  | { type: 'REFRESH_NOW' };

/** Events the election sends to its parent. */
export type ElectionOutput =
  | { type: 'LEADERSHIP_ACQUIRED' }
  | { type: 'LEADERSHIP_LOST'; reason: string }
  | { type: 'LEADERSHIP_RELEASED' }
  | { type: 'ELECTION_VERDICT'; verdict: Verdict };

export interface ElectionContext {
  name: string;
  settings: ElectionSettings;
  view: ClusterView;
  facts: LocalFacts | null;
  /** ms left of the lease as of the end of the last successful refresh. */
  leaseLeftMs: number;
  /** The ttl (s) of the lease the held key rides on (0: none held yet). */
  leaseTtlSeconds: number;
  lastVerdict: Verdict | null;
  holdsLockAtStart: boolean;
  leaseAgeAtStartMs: number;
  pendingRelease: { lastLsn: number | null } | null;
  frozen: boolean;
}

/** The node trusts its lock for ttl minus this much after the refresh started. */
/**
 * How often the holder refreshes its lease: as late as still leaves a full retry_timeout of
 * retries before its own deadline, and never more often than loop_wait. After a crash the
 * lease runs out ttl after the last refresh, so refreshing late (not early) is what makes
 * failover faster, at no cost to how long a DCS outage the leader survives.
 */
export function refreshIntervalMs(settings: ElectionSettings): number {
  const latest =
    settings.ttl * 1000 - leaseMarginMs(settings) - settings.retry_timeout * 1000 - retryStepMs(settings);
  return Math.max(settings.loop_wait * 1000, latest);
}

/** Pause between refresh attempts while the DCS does not answer. */
export function retryStepMs(settings: ElectionSettings): number {
  return Math.min(1000, settings.loop_wait * 1000);
}

/** ms a lock on a lease of `ttlSeconds`, refreshed `ageMs` ago, may still be trusted. */
export function trustedMs(ttlSeconds: number, settings: ElectionSettings, ageMs: number): number {
  return ttlSeconds * 1000 - leaseMarginMs({ ...settings, ttl: ttlSeconds }) - ageMs;
}

export function leaseMarginMs(settings: ElectionSettings): number {
  return Math.min(2000, Math.max(500, settings.ttl * 100));
}

const noopPromise = <T, I>() =>
  fromPromise<T, I>(async () => {
    throw new Error('actor not provided');
  });

export const electionMachine = setup({
  types: {
    context: {} as ElectionContext,
    events: {} as ElectionEvent,
    input: {} as ElectionInput,
  },
  actors: {
    acquireLeader: noopPromise<AcquireResult, { name: string }>(),
    updateLeader: noopPromise<RefreshResult, { name: string; recreate: boolean; ttl: number }>(),
    deleteLeader: noopPromise<boolean, { name: string; lastLsn: number | null }>(),
    probePeers: noopPromise<PeerStatus[], { view: ClusterView; name: string }>(),
  },
  delays: {
    loopWait: ({ context }) => context.settings.loop_wait * 1000,
    refreshInterval: ({ context }) => refreshIntervalMs(context.settings),
    leaseDeadline: ({ context }) => Math.max(0, context.leaseLeftMs),
    retrySoon: ({ context }) => retryStepMs(context.settings),
    standBack: ({ context }) => context.settings.ttl * 1000,
  },
  guards: {
    startsAsHolder: ({ context }) => context.holdsLockAtStart,
    unlocked: ({ context }) => context.view.leader === null,
    lockIsMine: ({ context }) => context.view.leader?.name === context.name,
    releaseRequested: ({ context }) => context.pendingRelease !== null,
    /** Our stream from the leader just broke: worth asking whether the leader's node is gone. */
    frozen: ({ context }) => context.frozen,
    postgresDown: ({ context }) => !(context.facts?.running ?? false),
    /** PostgreSQL just came up: no reason to sit out the pause. */
    postgresCameUp: ({ context, event }) =>
      event.type === 'FACTS' && !(context.facts?.running ?? false) && event.facts.running,
    someoneLeads: ({ context }) => context.view.leader !== null,
    viewHasLeader: ({ event }) => event.type === 'CLUSTER' && event.view.leader !== null,
    viewHasNoLeader: ({ event }) => event.type === 'CLUSTER' && event.view.leader === null,
    viewHasOtherLeader: ({ context, event }) =>
      event.type === 'CLUSTER' && event.view.leader !== null && event.view.leader.name !== context.name,
    /** Patroni's is_healthiest_node over the peers just probed (cluster/eligibility.ts). */
    healthiest: ({ context, event }) =>
      judgeHealthiest(context.view, context.facts!, doneOutput<PeerStatus[]>(event), context.settings)
        .healthiest,
    /** The acquire transaction found /leader free and wrote it. */
    won: ({ event }) => doneOutput<AcquireResult>(event).won,
    /** The refresh kept (or put back) our key on our lease. */
    refreshed: ({ event }) => doneOutput<RefreshResult>(event).ok,
    /** A switchover or failover names this running replica, and it may take it (cluster/eligibility.ts). */
    requestedCandidate: ({ context }) =>
      context.facts !== null && isRequestedCandidate(context.view, context.facts, context.settings),
    ttlChanged: ({ context, event }) =>
      event.type === 'SETTINGS' && event.settings.ttl !== context.leaseTtlSeconds,
  },
  actions: {
    storeView: assign({ view: ({ event }) => (event as { view: ClusterView }).view }),
    storeFacts: assign({ facts: ({ event }) => (event as { facts: LocalFacts }).facts }),
    storeSettings: assign({ settings: ({ event }) => (event as { settings: ElectionSettings }).settings }),
    requestRelease: assign({
      pendingRelease: ({ event }) => ({ lastLsn: (event as { lastLsn: number | null }).lastLsn }),
    }),
    /**
     * The lock is trusted until the lease's own ttl (less the margin) after its last refresh
     * began: the ttl etcd keeps it alive for, which after a PATCH of ttl may differ from the
     * settings' until the holder's refresh has moved the key onto a new lease.
     */
    trustLease: assign({
      leaseLeftMs: ({ context }, params: { leaseAgeMs: number; leaseTtlSeconds: number }) =>
        trustedMs(params.leaseTtlSeconds, context.settings, params.leaseAgeMs),
      leaseTtlSeconds: (_, params: { leaseAgeMs: number; leaseTtlSeconds: number }) => params.leaseTtlSeconds,
    }),
    recordVerdict: assign({
      lastVerdict: ({ context, event }) =>
        judgeHealthiest(context.view, context.facts!, doneOutput<PeerStatus[]>(event), context.settings),
    }),
    reportVerdict: sendParent(({ context }) => ({ type: 'ELECTION_VERDICT', verdict: context.lastVerdict! })),
    notifyAcquired: sendParent({ type: 'LEADERSHIP_ACQUIRED' }),
    notifyReleased: sendParent({ type: 'LEADERSHIP_RELEASED' }),
  },
}).createMachine({
  id: 'election',
  context: ({ input }) => ({
    name: input.name,
    settings: input.settings,
    view: input.view ?? emptyClusterView,
    facts: null,
    leaseLeftMs: 0,
    leaseTtlSeconds: 0,
    lastVerdict: null,
    holdsLockAtStart: input.holdsLock,
    leaseAgeAtStartMs: input.leaseAgeMs ?? 0,
    pendingRelease: null,
    frozen: false,
  }),
  on: {
    FACTS: { actions: 'storeFacts' },
    SETTINGS: { actions: 'storeSettings' },
    FREEZE: { actions: assign({ frozen: true }) },
  },
  initial: 'init',
  states: {
    init: {
      always: [
        {
          guard: 'startsAsHolder',
          target: 'leader',
          actions: {
            type: 'trustLease',
            // The bootstrap put the key on a lease granted with the settings' ttl.
            params: ({ context }) => ({
              leaseAgeMs: context.leaseAgeAtStartMs,
              leaseTtlSeconds: context.settings.ttl,
            }),
          },
        },
        { target: 'follower' },
      ],
    },

    follower: {
      description: 'Someone else holds the lock, or nobody does and we are waiting to look again.',
      tags: ['resting'],
      always: [
        { guard: 'releaseRequested', target: 'released' },
        { guard: 'frozen', target: 'resigned' },
        // After an agent restart the key may still carry our name: take it back by refreshing.
        { guard: 'lockIsMine', target: 'reclaiming' },
        { guard: 'unlocked', target: 'racing' },
      ],
      on: {
        CLUSTER: { target: 'follower', reenter: true, actions: 'storeView' },
        RELEASE: { target: 'released', actions: 'requestRelease' },
        FREEZE: { target: 'resigned', actions: assign({ frozen: true }) },
      },
      after: { loopWait: { target: 'follower', reenter: true } },
    },

    racing: {
      description: 'Nobody holds the lock: find out whether this node is the healthiest.',
      initial: 'deciding',
      on: {
        CLUSTER: { actions: 'storeView' },
        RELEASE: { target: 'released', actions: 'requestRelease' },
        FREEZE: { target: 'resigned', actions: assign({ frozen: true }) },
      },
      states: {
        deciding: {
          always: [
            // The named switchover candidate need not ask anyone: the request already chose it.
            { guard: 'requestedCandidate', target: 'acquiring' },
            { target: 'probing' },
          ],
        },
        probing: {
          always: { guard: 'postgresDown', target: '#election.waiting' },
          invoke: {
            src: 'probePeers',
            input: ({ context }) => ({ view: context.view, name: context.name }),
            onDone: [
              {
                guard: 'someoneLeads',
                target: '#election.follower',
                description: 'Someone took the lock while the peers were asked: follow them.',
              },
              {
                guard: 'healthiest',
                target: 'acquiring',
                actions: ['recordVerdict', 'reportVerdict'],
                description: "Patroni's is_healthiest_node holds over the peers' answers: race for the lock.",
              },
              {
                target: '#election.waiting',
                actions: ['recordVerdict', 'reportVerdict'],
                description: 'Not the healthiest (the verdict says why): look again shortly.',
              },
            ],
            onError: { target: '#election.waiting' },
          },
        },
        acquiring: {
          invoke: {
            src: 'acquireLeader',
            input: ({ context }) => ({ name: context.name }),
            onDone: [
              {
                guard: 'won',
                target: '#election.leader',
                actions: [
                  {
                    type: 'trustLease',
                    params: ({ event }) => ({
                      leaseAgeMs: event.output.leaseAgeMs,
                      leaseTtlSeconds: event.output.leaseTtlSeconds,
                    }),
                  },
                  'notifyAcquired',
                ],
              },
              // Someone else won: wait for the watch to show who, rather than racing again at once.
              { target: '#election.waiting' },
            ],
            onError: { target: '#election.waiting' },
          },
        },
      },
    },

    waiting: {
      description: 'Not eligible (or the race failed): look again after a short pause or on a DCS change.',
      on: {
        CLUSTER: [
          { guard: 'viewHasLeader', target: 'follower', actions: 'storeView' },
          { actions: 'storeView' },
        ],
        // PostgreSQL just came up: no reason to sit out the pause.
        FACTS: [
          {
            guard: 'postgresCameUp',
            target: 'follower',
            actions: 'storeFacts',
          },
          { actions: 'storeFacts' },
        ],
        RELEASE: { target: 'released', actions: 'requestRelease' },
        FREEZE: { target: 'resigned', actions: assign({ frozen: true }) },
      },
      after: { retrySoon: 'follower' },
    },

    reclaiming: {
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
    },

    leader: {
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
                  { guard: 'ttlChanged', target: 'refreshing', actions: 'storeSettings' },
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
    },

    lost: {
      entry: sendParent(({ context }) => ({
        type: 'LEADERSHIP_LOST',
        reason:
          context.view.leader && context.view.leader.name !== context.name
            ? `the lock is held by ${context.view.leader.name}`
            : 'the lock could not be refreshed before its deadline',
      })),
      always: 'follower',
    },

    released: {
      description: 'Gave the lock up on request (shutdown or switchover).',
      entry: ['notifyReleased', assign({ pendingRelease: null })],
      always: [{ guard: 'frozen', target: 'resigned' }, { target: 'standingBack' }],
    },

    standingBack: {
      description:
        'Just gave the lock up: neither reclaim it (the watch may still show our name) nor race for it until someone else has taken it, or a ttl has passed.',
      // The view is kept as it is: if our name is still on the key a ttl later, the key lives on
      // our own lease (a release that never reached etcd) and only a reclaim can free the
      // cluster — racing against our own key would fail for ever.
      on: {
        CLUSTER: [
          {
            guard: 'viewHasOtherLeader',
            target: 'follower',
            actions: 'storeView',
          },
          { actions: 'storeView' },
        ],
        FREEZE: { target: 'resigned', actions: assign({ frozen: true }) },
      },
      after: { standBack: 'follower' },
    },

    resigned: {
      // Not a final state: a final child would announce itself to a node machine that has
      // usually finished by then (XState warns of events sent to a stopped actor).
      description: 'The node is shutting down: no more racing, until the node machine stops it.',
      tags: ['resting'],
    },
  },
});

export type ElectionActor = ActorRefFrom<typeof electionMachine>;
