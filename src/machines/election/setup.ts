/** The election's actors (provided by the runtime), delays, and named guards and actions. */
import { assign, cancel, enqueueActions, sendParent, setup } from 'xstate';
import {
  isRequestedCandidate,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
} from '../../cluster/eligibility.ts';
import { consumedByNewLeader } from '../../cluster/failover.ts';
import { failsafeNamesMe, failsafeTopology, sameTopology } from '../../cluster/failsafe.ts';
import { knownServersOf } from '../../cluster/orphans.ts';
import {
  etcdRenewalDueInMs,
  proofStillCurrent,
  provenGone,
  type StaleLeaderProof,
  writableForMs,
} from '../../cluster/short-lease.ts';
import type { ClusterView, Member } from '../../cluster/view.ts';
import { doneOutput } from '../done-output.ts';
import { notProvided } from '../not-provided.ts';
import { refreshIntervalMs, retryStepMs, trustedMs, watchdogWindowStarts } from './timing.ts';
import type {
  AcquireResult,
  ElectionContext,
  ElectionEvent,
  ElectionInput,
  ElectionSettings,
  FailsafeConfirmation,
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
    updateLeader: notProvided<
      RefreshResult,
      { name: string; recreate: boolean; ttl: number; failsafe?: boolean; write?: boolean; rotate?: boolean }
    >(),
    /** The short lease's early takeover: the proven-stale leader key removed, its lease revoked. */
    removeStaleLeader: notProvided<boolean, { name: string; index: string; session: string | null }>(),
    deleteLeader: notProvided<boolean, { name: string; lastLsn: number | null }>(),
    /** One status sample of our own PostgreSQL, delivered (the node forwards it as FACTS) before it resolves. */
    sampleOwnPosition: notProvided<void, void>(),
    probePeers: notProvided<PeerStatus[], { members: readonly Member[]; name: string }>(),
    /** /failsafe = this topology (failsafe mode; Patroni's write_failsafe). */
    writeFailsafe: notProvided<void, { topology: Record<string, string> }>(),
    /** Each member asked to confirm this leader (gossip first, POST /failsafe otherwise). */
    confirmFailsafe: notProvided<
      FailsafeConfirmation,
      { members: Array<{ name: string; apiUrl: string }> }
    >(),
    /** The node's watchdog kept alive (nothing when none is armed), as Patroni does after each lock update. */
    keepWatchdogAlive: notProvided<void, void>(),
  },
  delays: {
    loopWait: ({ context }) => context.settings.loop_wait * 1000,
    refreshInterval: ({ context }) => refreshIntervalMs(context.settings, context.watchdogWindowMs),
    failsafeRetry: ({ context }) =>
      Math.min(
        context.settings.loop_wait * 1000,
        refreshIntervalMs(context.settings, context.watchdogWindowMs),
      ),
    /** An armed watchdog's window after a keepalive: a loop_wait (as armed) before it would fire. */
    watchdogWindow: ({ context }) => context.watchdogWindowMs ?? 0,
    leaseDeadline: ({ context }) => Math.max(0, context.leaseLeftMs),
    retrySoon: ({ context }) => retryStepMs(context.settings),
    standBack: ({ context }) => context.settings.ttl * 1000,
  },
  guards: {
    startsAsHolder: ({ context }) => context.holdsLockAtStart,
    /** Nobody holds the lock: no leader key, and no leader accepted in failsafe mode within a ttl. */
    unlocked: ({ context }) => context.view.leader === null && context.failsafeLeader === null,
    /** No etcd failure since the view came: it shows etcd as it is (Patroni races only on a cluster it just read). */
    viewCurrent: ({ context }) => !context.viewStale,
    lockIsMine: ({ context }) => context.view.leader?.name === context.name,
    releaseRequested: ({ context }) => context.pendingRelease !== null,
    /** The node is shutting down (FREEZE): it never races for the lock again. */
    frozen: ({ context }) => context.frozen,
    postgresDown: ({ context }) => !(context.facts?.running ?? false),
    /** PostgreSQL just came up: no reason to sit out the pause. */
    postgresCameUp: ({ context, event }) =>
      event.type === 'FACTS' && !(context.facts?.running ?? false) && event.facts.running,
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
    /** A leader is known: the view's, or one accepted in failsafe mode within a ttl. */
    leaderKnown: ({ context }) => context.view.leader !== null || context.failsafeLeader !== null,
    /** Failsafe mode is on (/config failsafe_mode). */
    failsafeMode: ({ context }) => context.settings.failsafe_mode === true,
    /** Failsafe mode is on and /failsafe names this node: it may ask the others to confirm it. */
    mayAskFailsafe: ({ context }) =>
      context.settings.failsafe_mode === true && failsafeNamesMe(context.view.failsafe, context.name),
    /** Every member /failsafe names confirmed this leader. */
    everyMemberConfirmed: ({ event }) => doneOutput<FailsafeConfirmation>(event).confirmed,
    /** The node's watchdog was just armed or given a new timeout (its countdown restarted). */
    watchdogArmedAnew: ({ context, event }) =>
      event.type === 'WATCHDOG' && watchdogWindowStarts(context.watchdogWindowMs, event),
    /** Kept by the members' confirmation while the DCS does not answer. */
    onFailsafe: ({ context }) => context.onFailsafe,
    /**
     * Fast failover is on here, the cluster is not paused, no leader is held in failsafe mode, and the proof holds for the leader key
     * as the view shows it (same holder, lease and revision): enough of its term's members gave it
     * up, and the key has not changed for W (src/cluster/short-lease.ts).
     */
    leaderProvenGone: ({ context, event }) => {
      if (event.type !== 'LEADER_GIVEN_UP' || !context.settings.short_lease_ms || context.settings.paused)
        return false;
      // Holding back for a leader it confirmed in failsafe mode: it promised not to race for a ttl.
      if (context.failsafeLeader !== null) return false;
      const { proof } = event;
      const leader = context.view.leader;
      return (
        leader !== null &&
        leader.name !== context.name &&
        leader.name === proof.term.leader &&
        leader.session === proof.term.lease &&
        leader.index === proof.index &&
        provenGone(proof)
      );
    },
    /** PostgreSQL runs as a primary here: it confirms no other leader (Patroni's 'Running as a leader'). */
    runningAsPrimary: ({ context }) => context.facts?.running === true && context.facts.inRecovery === false,
    /** Failsafe mode on and /failsafe does not show the members as they are, nor was that just written. */
    topologyToWrite: ({ context }) => {
      if (context.settings.failsafe_mode !== true) return false;
      const topology = failsafeTopology(context.view, context.name, context.settings.api_url ?? '');
      return (
        !sameTopology(context.view.failsafe, topology) && JSON.stringify(topology) !== context.failsafeWritten
      );
    },
  },
  actions: {
    /** Shutdown has begun (FREEZE): never race for the lock again. */
    noteFrozen: assign({ frozen: true }),
    storeView: assign(({ context, event }) => {
      const view = (event as { view: ClusterView }).view;
      return {
        view,
        viewStale: false,
        knownServers: knownServersOf(context.knownServers, view, context.name),
      };
    }),
    noteViewStale: assign({ viewStale: true }),
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
    trustAcquiredLease: enqueueActions(({ context, event, enqueue }) => {
      const lease = doneOutput<LeaseReading>(event);
      enqueue.assign({
        leaseLeftMs: trustedMs(lease.leaseTtlSeconds, context.settings, lease.leaseAgeMs),
        leaseTtlSeconds: lease.leaseTtlSeconds,
      });
      renewShortLease(
        context,
        {
          ageMs: lease.keyWriteAgeMs ?? lease.leaseAgeMs,
          sentAt: lease.keyWriteSentAt ?? lease.sentAt ?? null,
        },
        enqueue,
      );
    }),
    /**
     * A write of our key (the acquisition, a reclaim, a refresh with the short lease on) renews
     * the short lease from when it was sent: `ageMs` ago at most.
     */
    renewShortLeaseByEtcd: enqueueActions(
      ({ context, enqueue }, params: { ageMs: number; sentAt: number | null }) =>
        renewShortLease(context, params, enqueue),
    ),
    /** A majority of the term's members acked a lease frame (gossip). */
    renewShortLeaseByGossip: enqueueActions(({ context, event, enqueue }) =>
      renewShortLease(context, event as { ageMs: number; sentAt: number }, enqueue),
    ),
    /** Out of the lock: no short lease runs. */
    forgetShortLease: enqueueActions(({ enqueue }) => {
      enqueue.cancel('shortLeaseEnd');
      enqueue.cancel('shortLeaseLow');
      enqueue.assign({ newTermWanted: false, shortLeaseSentAt: null });
    }),
    wantNewTerm: assign({ newTermWanted: true }),
    forgetNewTerm: assign({ newTermWanted: false }),
    storeStaleLeaderProof: assign({
      staleLeader: ({ event }) => (event as { proof: StaleLeaderProof }).proof,
    }),
    forgetStaleLeaderProof: assign({ staleLeader: null }),
    /** A key of another term (or holder) in the view: the proof, kept for the race, is moot. */
    forgetStaleLeaderProofOnceMoot: assign({
      staleLeader: ({ context }) =>
        proofStillCurrent(context.staleLeader, context.view.leader) ? context.staleLeader : null,
    }),
    /** The race's probe asks the members of the view it began on. */
    noteProbeView: assign({ probeView: ({ context }) => context.view }),
    recordVerdict: assign({
      lastVerdict: ({ context, event }) =>
        judgeHealthiest(context.view, context.facts!, doneOutput<PeerStatus[]>(event), context.settings),
    }),
    reportVerdict: sendParent(({ context }) => ({ type: 'ELECTION_VERDICT', verdict: context.lastVerdict! })),
    notifyAcquired: sendParent(({ context }) => ({
      type: 'LEADERSHIP_ACQUIRED',
      fenceTargets: context.knownServers,
    })),
    /**
     * A leader accepted in failsafe mode: no race for a ttl from now (a new acceptance starts the
     * ttl again). The leader counts its own trust from before it asked, so it ends first.
     */
    acceptFailsafe: enqueueActions(({ context, event, enqueue }) => {
      const leader = (event as { leader: string }).leader;
      enqueue.assign({ failsafeLeader: leader, failsafeAccepted: context.failsafeAccepted + 1 });
      enqueue.cancel('failsafeExpiry');
      enqueue.raise(
        { type: 'FAILSAFE_EXPIRED' },
        { id: 'failsafeExpiry', delay: context.settings.ttl * 1000 },
      );
      if (context.failsafeLeader === null && !context.onFailsafe)
        enqueue.sendParent({ type: 'FAILSAFE_ACTIVE', active: true });
    }),
    expireFailsafe: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ failsafeLeader: null });
      if (context.failsafeLeader !== null && !context.onFailsafe)
        enqueue.sendParent({ type: 'FAILSAFE_ACTIVE', active: false });
    }),
    /**
     * Every member confirmed: the lock is trusted for the ttl (less the margin) from when the
     * asking began, as after a refresh; failsafe mode is active.
     */
    trustFailsafe: enqueueActions(({ context, event, enqueue }) => {
      const { elapsedMs } = doneOutput<FailsafeConfirmation>(event);
      enqueue.assign({
        leaseLeftMs: trustedMs(context.settings.ttl, context.settings, elapsedMs),
        onFailsafe: true,
      });
      if (!context.onFailsafe && context.failsafeLeader === null)
        enqueue.sendParent({ type: 'FAILSAFE_ACTIVE', active: true });
    }),
    /** The lock is held by the DCS again (or lost): failsafe mode is no longer what keeps it. */
    leaveFailsafe: enqueueActions(({ context, enqueue }) => {
      if (!context.onFailsafe) return;
      enqueue.assign({ onFailsafe: false, failsafeWritten: null });
      if (context.failsafeLeader === null) enqueue.sendParent({ type: 'FAILSAFE_ACTIVE', active: false });
    }),
    /** The topology written (or tried: a failed write is tried again after the next good refresh). */
    noteTopologyWritten: assign({
      failsafeWritten: ({ context }) =>
        JSON.stringify(failsafeTopology(context.view, context.name, context.settings.api_url ?? '')),
    }),
    forgetTopologyWritten: assign({ failsafeWritten: null }),
    notifyReleased: sendParent({ type: 'LEADERSHIP_RELEASED' }),
    /**
     * A keepalive (or the device just armed): the watchdog counts from now, so does its window.
     * A delayed event rather than a state's `after`: the lease's deadline must not restart with it.
     */
    restartWatchdogWindow: enqueueActions(({ context, enqueue }) => {
      enqueue.cancel('watchdogWindow');
      if (context.watchdogWindowMs !== null)
        enqueue.raise({ type: 'WATCHDOG_DEADLINE' }, { id: 'watchdogWindow', delay: 'watchdogWindow' });
    }),
    /** What the node says of its watchdog; a (re)opened one counts from now. */
    noteWatchdog: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Extract<ElectionEvent, { type: 'WATCHDOG' }>;
      const starts = watchdogWindowStarts(context.watchdogWindowMs, e);
      enqueue.assign({ watchdogWindowMs: e.windowMs });
      // Armed as before: its window runs on from the last keepalive.
      if (e.windowMs !== null && !starts) return;
      enqueue.cancel('watchdogWindow');
      if (starts)
        enqueue.raise({ type: 'WATCHDOG_DEADLINE' }, { id: 'watchdogWindow', delay: 'watchdogWindow' });
    }),
    /**
     * The next refresh falls an interval after this one, whatever the holder does meanwhile (a
     * /failsafe write): a delayed event, not a state's `after` — restarted by the write, the
     * refresh fell past the lease's deadline and the leader lost its lock to its own timer.
     */
    scheduleRefresh: enqueueActions(({ enqueue }) => {
      enqueue.cancel('refreshDue');
      enqueue.raise({ type: 'REFRESH_DUE' }, { id: 'refreshDue', delay: 'refreshInterval' });
    }),
    cancelRefresh: cancel('refreshDue'),
    /** Out of the lock: no window runs, and the next leadership learns its watchdog anew. */
    forgetWatchdog: enqueueActions(({ enqueue }) => {
      enqueue.cancel('watchdogWindow');
      enqueue.assign({ watchdogWindowMs: null });
    }),
  },
});

/**
 * The short lease renewed by a write or a frame sent `ageMs` ago (at steady `sentAt`): the leader
 * stops writing when it ends (less the fencing budget), and renews through etcd halfway unless
 * gossip renews it first. A renewal sent before the newest one known proves less and is ignored
 * (a refresh slowed by etcd arrives after gossip renewed the lease since). One with no sending
 * time (the bootstrap's) counts as the newest.
 */
function renewShortLease(
  context: ElectionContext,
  renewal: { ageMs: number; sentAt: number | null },
  enqueue: {
    assign(a: Partial<ElectionContext>): void;
    cancel(id: string): void;
    raise(e: ElectionEvent, o: { id: string; delay: number }): void;
  },
): void {
  const leaseMs = context.settings.short_lease_ms;
  if (!leaseMs) return;
  const newest = context.shortLeaseSentAt;
  if (renewal.sentAt !== null && newest !== null && renewal.sentAt <= newest) return;
  enqueue.assign({ shortLeaseSentAt: renewal.sentAt });
  enqueue.cancel('shortLeaseEnd');
  enqueue.cancel('shortLeaseLow');
  enqueue.raise(
    { type: 'SHORT_LEASE_END' },
    { id: 'shortLeaseEnd', delay: Math.max(0, writableForMs(leaseMs, renewal.ageMs)) },
  );
  enqueue.raise(
    { type: 'SHORT_LEASE_LOW' },
    { id: 'shortLeaseLow', delay: etcdRenewalDueInMs(leaseMs, renewal.ageMs) },
  );
}
