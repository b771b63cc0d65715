/**
 * Every I/O step the node and election machines can ask for, as promise actors: each does one
 * operation on the input it is given and reports the result. What they need from the running
 * agent (its PostgreSQL and DCS objects, its clock, the status sampler) comes through ActorHost.
 */

import { fromPromise } from 'xstate';
import { type Clock, monotonicNow } from '../actors/clock.ts';
import type { Dcs } from '../actors/dcs.ts';
import type { Postgres, StartRole, StopResult, UpstreamTarget } from '../actors/postgres.ts';
import type { Watchdog } from '../actors/watchdog.ts';
import type { PrePromoteOutcome } from '../cluster/callbacks.ts';
import type { PeerStatus } from '../cluster/eligibility.ts';
import { buildHistory } from '../cluster/history.ts';
import type { FenceResult, FenceRound } from '../cluster/orphans.ts';
import type { BootstrapCommand, ReplicaPlan } from '../cluster/replica-methods.ts';
import type { SlotPlan } from '../cluster/replication-slots.ts';
import type { ClusterView, HistoryLine, Member } from '../cluster/view.ts';
import { NOT_ARMED, type WatchdogActivation, type WatchdogPlan } from '../cluster/watchdog.ts';
import {
  type AcquireResult,
  electionMachine,
  type FailsafeConfirmation,
  type LeaseReading,
  type RefreshResult,
} from '../machines/election/index.ts';
import type { ProvideActors } from './provide.ts';

/** What the actors use of the running agent. */
export interface ActorHost {
  readonly pg: Postgres;
  readonly dcs: Dcs;
  readonly watchdog: Watchdog;
  readonly clock: Clock;
  /** This member's name. */
  readonly name: string;
  /** bootstrap.dcs, written to /config by the node that initializes the cluster. */
  bootstrapDcs(): Record<string, unknown>;
  log(msg: string): void;
  /** Runs an action that changes PostgreSQL's state: samples from before it are dropped. */
  changing<T>(action: () => Promise<T>): Promise<T>;
  /** The member key (and the leader's /status) written now; force: even if unchanged. */
  publish(force: boolean): Promise<void>;
  /** One PostgreSQL status sample, taken after any change under way. */
  pollPostgres(): Promise<void>;
  /** synchronous_standby_names as this node sets it, then a reload (see the agent's sync state). */
  setSyncGuc(value: string, names: readonly string[]): void;
  reloadSyncGuc(): Promise<void>;
  probePeers(members: readonly Member[], me: string): Promise<PeerStatus[]>;
  probeMember(member: Member): Promise<PeerStatus>;
  /** postgresql.pre_promote run and waited for (runtime/callbacks.ts); null when none is configured. */
  prePromote(timeoutSeconds: number): Promise<PrePromoteOutcome>;
  /** Failsafe mode: every member named asked to confirm this leader (runtime/failsafe.ts). */
  confirmFailsafe(members: ReadonlyArray<{ name: string; apiUrl: string }>): Promise<FailsafeConfirmation>;
  /** Gives a machine its actors (XState's provide(), or the simulator's cached one). */
  provide: ProvideActors;
}

/** Rejects when `work` takes longer than `ms` on `clock` (the work itself is not cancelled). */
export function within<T>(clock: Clock, ms: number, work: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    work.then(
      (v) => {
        clock.clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export function postgresActors(h: ActorHost) {
  const pg = h.pg;
  const dcs = h.dcs;
  return {
    inspectDataDir: fromPromise(() => pg.dataDir()),
    initdb: fromPromise(() => h.changing(() => pg.initdb())),
    customBootstrap: fromPromise<void, { method: BootstrapCommand }>(({ input }) =>
      h.changing(() => pg.customBootstrap(input.method)),
    ),
    createReplica: fromPromise<string, ReplicaPlan>(({ input }) => h.changing(() => pg.createReplica(input))),
    startPostgres: fromPromise<
      void,
      { role: StartRole; upstream: UpstreamTarget | null; timeoutSeconds: number }
    >(({ input }) => h.changing(() => pg.start(input.role, input.upstream, input.timeoutSeconds))),
    stopPostgres: fromPromise<StopResult, { mode: 'smart' | 'fast' | 'immediate'; timeoutSeconds: number }>(
      ({ input }) => h.changing(() => pg.stop(input.mode, input.timeoutSeconds)),
    ),
    followUpstream: fromPromise<void, { upstream: UpstreamTarget; timeoutSeconds: number }>(({ input }) =>
      h.changing(() => pg.follow(input.upstream, input.timeoutSeconds)),
    ),
    // Other members' servers, all at once: ours does not change, so no sample is dropped for it.
    fenceServers: fromPromise<FenceResult[], FenceRound>(({ input }) =>
      Promise.all(
        input.targets.map((target) =>
          pg.fence(target, input).then(
            (outcome): FenceResult => ({ target, outcome }),
            (err): FenceResult => ({ target, error: (err as Error)?.message ?? String(err) }),
          ),
        ),
      ),
    ),
    liftOwnFence: fromPromise<string | null, { mayLift: boolean }>(({ input }) =>
      input.mayLift ? pg.liftOwnFence() : Promise.resolve(null),
    ),
    runPrePromote: fromPromise<PrePromoteOutcome, { timeoutSeconds: number }>(({ input }) =>
      h.prePromote(input.timeoutSeconds),
    ),
    promote: fromPromise<void, { timeoutSeconds: number }>(async ({ input }) => {
      await h.changing(() => pg.promote(input.timeoutSeconds));
    }),
    setSynchronousStandbyNames: fromPromise<void, { value: string }>(async ({ input }) => {
      h.setSyncGuc(input.value, []);
      await h.reloadSyncGuc();
    }),
    syncSlots: fromPromise<string[], { slots: SlotPlan }>(({ input }) => pg.syncSlots(input.slots)),
    readTimelineHistory: fromPromise(() => pg.timelineHistory()),
    writeHistory: fromPromise<
      void,
      { previous: readonly HistoryLine[] | null; lines: Array<[number, number, string]> }
    >(async ({ input }) => {
      const at = new Date(h.clock.now());
      await dcs.setHistory(buildHistory(input.previous, input.lines, h.name, at));
    }),
    publishMember: fromPromise(() => h.publish(true)),
    rewind: fromPromise<boolean, { from: UpstreamTarget }>(({ input }) =>
      h.changing(() => pg.rewind(input.from)),
    ),
    removeDataDir: fromPromise(() => h.changing(() => pg.removeDataDir())),
    // Bounded for a switchover, which must not wait forever on a slow checkpoint (it just skips
    // ahead); after a promotion it takes as long as it takes.
    checkpoint: fromPromise<void, { timeoutSeconds: number | null }>(({ input }) =>
      input.timeoutSeconds === null
        ? pg.checkpoint()
        : within(h.clock, input.timeoutSeconds * 1000, pg.checkpoint(), 'CHECKPOINT'),
    ),
  };
}

export function dcsActors(h: ActorHost) {
  const dcs = h.dcs;
  const name = h.name;
  /**
   * The lease as it is now, with the steady time its last grant or keepalive was sent, and the
   * last write of our leader key (what the short lease runs from: a member counts the key's
   * silence from the revision that write makes).
   */
  const leaseReading = <T extends object>(extra: T) => {
    const leaseAgeMs = dcs.leaseAgeMs();
    const now = monotonicNow(h.clock);
    const wrote = dcs.leaderWriteSentAt();
    return {
      ...extra,
      leaseAgeMs,
      leaseTtlSeconds: dcs.leaseTtlSeconds(),
      sentAt: now - leaseAgeMs,
      ...(wrote === null ? {} : { keyWriteAgeMs: now - wrote, keyWriteSentAt: wrote }),
    };
  };
  // The bootstrap takes the lock with the same two steps as the election's race.
  const freshLease = fromPromise<void, { ttl: number }>(({ input }) => dcs.freshLease(input.ttl));
  const acquireLeader = fromPromise<AcquireResult, { name: string }>(async ({ input }) => {
    const won = await dcs.attemptToAcquireLeader(input.name);
    return leaseReading({ won });
  });
  const election = h.provide(electionMachine, {
    freshLease,
    acquireLeader,
    clearFailoverKey: fromPromise<LeaseReading>(async () => {
      await dcs.setFailover({}).catch((err) => h.log(`clearing /failover: ${(err as Error).message}`));
      return leaseReading({});
    }),
    updateLeader: fromPromise<
      RefreshResult,
      { name: string; recreate: boolean; ttl: number; failsafe?: boolean; write?: boolean; rotate?: boolean }
    >(async ({ input }) => {
      // A duration: measured on the clock that never steps (an NTP step back in the middle
      // would otherwise make the lease look younger than it is, and trusted too long).
      const started = monotonicNow(h.clock);
      const ok = await dcs.updateLeader(name, {
        recreate: input.recreate,
        ttl: input.ttl,
        failsafe: input.failsafe === true,
        write: input.write === true,
        rotate: input.rotate === true,
      });
      const now = monotonicNow(h.clock);
      const wrote = dcs.leaderWriteSentAt();
      // The short lease runs from the key's write (after the keepalive and any grant), the etcd
      // lease from the refresh's start.
      const sentAt = wrote !== null && wrote >= started ? wrote : started;
      return {
        ok,
        elapsedMs: now - started,
        leaseTtlSeconds: dcs.leaseTtlSeconds(),
        sentAt,
        writeAgeMs: now - sentAt,
      };
    }),
    deleteLeader: fromPromise<boolean, { name: string; lastLsn: number | null }>(({ input }) =>
      dcs.deleteLeader(name, input.lastLsn ?? undefined),
    ),
    removeStaleLeader: fromPromise<boolean, { name: string; index: string; session: string | null }>(
      async ({ input }) => {
        const removed = await dcs.removeStaleLeader(input);
        if (removed)
          h.log(
            `fast failover: removed the leader key of ${input.name} (revision ${input.index}), proven gone`,
          );
        return removed;
      },
    ),
    sampleOwnPosition: fromPromise(async () => {
      await h.pollPostgres();
    }),
    probePeers: fromPromise<PeerStatus[], { members: readonly Member[]; name: string }>(({ input }) =>
      h.probePeers(input.members, input.name),
    ),
    writeFailsafe: fromPromise<void, { topology: Record<string, string> }>(async ({ input }) => {
      await dcs.setFailsafe(input.topology);
    }),
    confirmFailsafe: fromPromise<FailsafeConfirmation, { members: Array<{ name: string; apiUrl: string }> }>(
      ({ input }) => h.confirmFailsafe(input.members),
    ),
    keepWatchdogAlive: fromPromise(() => h.watchdog.keepalive()),
  });
  return {
    election,
    freshLease,
    acquireLeader,
    probeMembers: fromPromise<PeerStatus[], { members: Member[] }>(({ input }) =>
      Promise.all(input.members.map((m) => h.probeMember(m))),
    ),
    claimSync: fromPromise<boolean, { leader: string; index: string | null }>(({ input }) =>
      dcs.setSyncState(input.leader, [], input.index ?? undefined),
    ),
    writeFailover: fromPromise<void, { value: Record<string, unknown>; index: string }>(async ({ input }) => {
      await dcs.setFailover(input.value, input.index).catch((err) => h.log(`/failover: ${err}`));
    }),
    clearFailover: fromPromise<void, { view: ClusterView }>(async ({ input }) => {
      await dcs.setFailover({}, input.view.failover?.index);
    }),
    setWatchdog: fromPromise<WatchdogActivation, { plan: WatchdogPlan | null; wanted: boolean }>(
      ({ input }) =>
        input.plan === null ? Promise.resolve(NOT_ARMED) : h.watchdog.setTo(input.plan, input.wanted),
    ),
    raceInitialize: fromPromise(() => dcs.initialize()),
    cancelInitialization: fromPromise(async () => {
      await dcs.cancelInitialization();
    }),
    writeInitialize: fromPromise<void, { sysid: string }>(async ({ input }) => {
      await dcs.setInitialize(input.sysid);
    }),
    ensureLease: fromPromise<void, { ttl: number }>(async ({ input }) => {
      await dcs.ensureLease(input.ttl);
    }),
    writeBootstrapConfig: fromPromise(async () => {
      await dcs.setConfig(h.bootstrapDcs());
    }),
  };
}
