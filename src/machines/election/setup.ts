/** The election's actors (provided by the runtime), delays, and named guards and actions. */
import { assign, sendParent, setup } from 'xstate';
import {
  isRequestedCandidate,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
} from '../../cluster/eligibility.ts';
import { consumedByNewLeader } from '../../cluster/failover.ts';
import type { ClusterView } from '../../cluster/view.ts';
import { doneOutput } from '../done-output.ts';
import { notProvided } from '../not-provided.ts';
import { refreshIntervalMs, retryStepMs, trustedMs } from './timing.ts';
import type {
  AcquireResult,
  ElectionContext,
  ElectionEvent,
  ElectionInput,
  ElectionSettings,
  LeaseReading,
  RefreshResult,
} from './types.ts';

export const electionSetup = setup({
  types: {
    context: {} as ElectionContext,
    events: {} as ElectionEvent,
    input: {} as ElectionInput,
  },
  actors: {
    /** Keeps our lease alive now (a fresh grant if it is gone), with this ttl. */
    freshLease: notProvided<void, { ttl: number }>(),
    /** The create_revision == 0 transaction on /leader, on our lease. */
    acquireLeader: notProvided<AcquireResult, { name: string }>(),
    /** /failover overwritten with `{}` (failures logged); answers the lease as it is then. */
    clearFailoverKey: notProvided<LeaseReading, unknown>(),
    updateLeader: notProvided<RefreshResult, { name: string; recreate: boolean; ttl: number }>(),
    deleteLeader: notProvided<boolean, { name: string; lastLsn: number | null }>(),
    /** One status sample of our own PostgreSQL, delivered (the node forwards it as FACTS) before it resolves. */
    sampleOwnPosition: notProvided<void, void>(),
    probePeers: notProvided<PeerStatus[], { view: ClusterView; name: string }>(),
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
    /** The node is shutting down (FREEZE): it never races for the lock again. */
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
    /** Won, and /failover holds a request the new leader consumes (cluster/failover.ts). */
    wonWithRequestToConsume: ({ context, event }) =>
      doneOutput<AcquireResult>(event).won && consumedByNewLeader(context.view.failover),
    /** The refresh kept (or put back) our key on our lease. */
    refreshed: ({ event }) => doneOutput<RefreshResult>(event).ok,
    /** A switchover or failover names this running replica, and it may take it (cluster/eligibility.ts). */
    requestedCandidate: ({ context }) =>
      context.facts !== null && isRequestedCandidate(context.view, context.facts, context.settings),
    ttlChanged: ({ context, event }) =>
      event.type === 'SETTINGS' && event.settings.ttl !== context.leaseTtlSeconds,
  },
  actions: {
    /** Shutdown has begun (FREEZE): never race for the lock again. */
    noteFrozen: assign({ frozen: true }),
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
    /** trustLease with the lease as the acquisition (or the clearing after it) read it. */
    trustAcquiredLease: assign(({ context, event }) => {
      const lease = doneOutput<LeaseReading>(event);
      return {
        leaseLeftMs: trustedMs(lease.leaseTtlSeconds, context.settings, lease.leaseAgeMs),
        leaseTtlSeconds: lease.leaseTtlSeconds,
      };
    }),
    /** The race's probe asks the members of the view it began on. */
    noteProbeView: assign({ probeView: ({ context }) => context.view }),
    recordVerdict: assign({
      lastVerdict: ({ context, event }) =>
        judgeHealthiest(context.view, context.facts!, doneOutput<PeerStatus[]>(event), context.settings),
    }),
    reportVerdict: sendParent(({ context }) => ({ type: 'ELECTION_VERDICT', verdict: context.lastVerdict! })),
    notifyAcquired: sendParent({ type: 'LEADERSHIP_ACQUIRED' }),
    notifyReleased: sendParent({ type: 'LEADERSHIP_RELEASED' }),
  },
});
