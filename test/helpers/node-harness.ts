/**
 * The node machine driven end to end with fake I/O actors, a simulated clock and hand-built
 * cluster views (test/unit/node*.test.ts). The fakes mirror the shape agent.ts provides: the
 * PostgreSQL actors that change the server's state (start, stop, promote) poll it afterwards and
 * send PG_STATUS to the node before they resolve, as `pollPostgres()` does in production.
 */
import { afterEach, expect } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { type DataDirState, notRunningStatus, type PostgresStatus } from '../../src/actors/postgres.ts';
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import type { FenceRound } from '../../src/cluster/orphans.ts';
import { type ClusterView, emptyClusterView, type Member, type WireRole } from '../../src/cluster/view.ts';
import { NOT_ARMED } from '../../src/cluster/watchdog.ts';
import { electionMachine } from '../../src/machines/election/index.ts';
import {
  type NodeActor,
  type NodeSettings,
  type NodeTags,
  nodeMachine,
} from '../../src/machines/node/index.ts';
import { SimulatedClock, settle } from './sim.ts';

export const settings: NodeSettings = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  check_timeline: false,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  use_pg_rewind: true,
  use_slots: true,
  primary_start_timeout: 300,
  pg_ctl_timeout: 60,
  remove_data_directory_on_rewind_failure: false,
  remove_data_directory_on_diverged_timelines: false,
};
export const noTags: NodeTags = { nofailover: false, clonefrom: false };

export const SYSID = '7000000000000000001';
export const FOREIGN_SYSID = '6000000000000000009';

export const emptyDir: DataDirState = {
  initialized: false,
  systemIdentifier: null,
  clusterState: null,
  timeline: null,
  checkpointLsn: null,
};
export const primaryDir: DataDirState = {
  initialized: true,
  systemIdentifier: SYSID,
  clusterState: 'shut down',
  timeline: 1,
  checkpointLsn: 1000,
};
export const standbyDir: DataDirState = { ...primaryDir, clusterState: 'shut down in recovery' };

export const stoppedPg: PostgresStatus = notRunningStatus();
export const primaryPg: PostgresStatus = {
  ...stoppedPg,
  running: true,
  inRecovery: false,
  timeline: 1,
  currentLsn: 5000,
  postmasterStartTime: '2024-01-01 00:00:00+00',
  serverVersion: 160000,
  systemIdentifier: SYSID,
};
export const replicaPg: PostgresStatus = {
  ...primaryPg,
  inRecovery: true,
  currentLsn: null,
  receivedLsn: 100,
  replayedLsn: 100,
  replicationState: 'streaming',
};

// ---- cluster views ----------------------------------------------------------------------

export const PORTS: Record<string, number> = { a: 5432, b: 5433, c: 5434 };

export function member(name: string, role: WireRole = 'replica', state = 'running'): Member {
  const port = PORTS[name]!;
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 3576}/patroni`,
      state,
      role,
      version: '3.0.4',
    },
  };
}

let revision = 10;
export function view(opts: {
  leader?: string | null;
  initialize?: string | null;
  members?: string[];
}): ClusterView {
  const leader = opts.leader ?? null;
  return {
    ...emptyClusterView,
    revision: String(revision++),
    initialize: opts.initialize === undefined ? SYSID : opts.initialize,
    leader: leader ? { name: leader, index: '2', session: '1' } : null,
    members: (opts.members ?? []).map((n) => member(n, n === leader ? 'master' : 'replica')),
  };
}

/** Where node `a` streams from when it follows `who` (slots on). */
export const upstream = (who: string, slot: string | null = 'a') => ({
  host: '127.0.0.1',
  port: PORTS[who]!,
  applicationName: 'a',
  slotName: slot,
});

// ---- harness ----------------------------------------------------------------------------

export type Impl = (input: never) => Promise<unknown>;

export const NODE_ACTORS = [
  'inspectDataDir',
  'raceInitialize',
  'cancelInitialization',
  'writeInitialize',
  'initdb',
  'customBootstrap',
  'ensureLease',
  'writeBootstrapConfig',
  'createReplica',
  'startPostgres',
  'stopPostgres',
  'followUpstream',
  'claimSync',
  'setSynchronousStandbyNames',
  'promote',
  'syncSlots',
  'checkpoint',
  'readTimelineHistory',
  'writeHistory',
  'publishMember',
  'rewind',
  'removeDataDir',
] as const;
export const ELECTION_ACTORS = [
  'freshLease',
  'acquireLeader',
  'clearFailoverKey',
  'updateLeader',
  'deleteLeader',
  'sampleOwnPosition',
  'probePeers',
] as const;
/** Called around other steps without changing PostgreSQL here: left out of nodeCalls. */
export const ASIDE_ACTORS = [
  'fenceServers',
  'liftOwnFence',
  'setWatchdog',
  'keepWatchdogAlive',
  'runPrePromote',
] as const;
export type ActorName =
  | (typeof NODE_ACTORS)[number]
  | (typeof ELECTION_ACTORS)[number]
  | (typeof ASIDE_ACTORS)[number];

export const running: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

export interface HarnessOptions {
  name?: string;
  tags?: NodeTags;
  dataDir?: DataDirState;
  settings?: Partial<NodeSettings>;
  /** Override any actor's behaviour (the world is still recorded). */
  impl?: Partial<Record<ActorName, Impl>>;
}

export function harness(opts: HarnessOptions = {}) {
  const world = {
    dataDir: opts.dataDir ?? emptyDir,
    pg: stoppedPg,
    view: emptyClusterView,
    checkpointLsn: 424242 as number | null,
  };
  const calls: Array<{ actor: ActorName; input: unknown }> = [];
  let node: NodeActor | undefined;

  /** What pollPostgres does after start/stop/promote in production. */
  const poll = () => node!.send({ type: 'PG_STATUS', status: world.pg });

  const defaults: Record<ActorName, Impl> = {
    inspectDataDir: async () => ({ ...world.dataDir }),
    runPrePromote: async () => null,
    raceInitialize: async () => true,
    cancelInitialization: async () => {},
    writeInitialize: async () => {},
    initdb: async () => {
      world.dataDir = { ...primaryDir };
    },
    ensureLease: async () => {},
    writeBootstrapConfig: async () => {},
    createReplica: async () => {
      world.dataDir = { ...standbyDir };
      return 'createReplica';
    },
    customBootstrap: async () => {
      world.dataDir = { ...primaryDir };
    },
    startPostgres: async (input: { role: 'primary' | 'replica' }) => {
      world.pg = input.role === 'primary' ? { ...primaryPg } : { ...replicaPg };
      world.dataDir = {
        ...world.dataDir,
        clusterState: input.role === 'primary' ? 'in production' : 'in archive recovery',
      };
      poll();
    },
    stopPostgres: async () => {
      const signalled = world.pg.running;
      world.pg = { ...stoppedPg };
      poll();
      return { checkpointLsn: world.checkpointLsn, signalled };
    },
    followUpstream: async () => {},
    claimSync: async () => true,
    setSynchronousStandbyNames: async () => {},
    promote: async () => {
      world.pg = { ...primaryPg, timeline: 2 };
      poll();
    },
    syncSlots: async () => {},
    checkpoint: async () => {},
    readTimelineHistory: async () => [[1, 5000, 'no recovery target specified']],
    writeHistory: async () => {},
    publishMember: async () => {},
    rewind: async () => true,
    removeDataDir: async () => {
      world.dataDir = { ...emptyDir };
    },
    freshLease: async () => {},
    acquireLeader: async () => ({ won: world.view.leader === null, leaseAgeMs: 5, leaseTtlSeconds: 30 }),
    clearFailoverKey: async () => ({ leaseAgeMs: 5, leaseTtlSeconds: 30 }),
    updateLeader: async () => ({ ok: true, elapsedMs: 5, leaseTtlSeconds: 30 }),
    deleteLeader: async () => true,
    sampleOwnPosition: async () => undefined,
    probePeers: async () => [] as PeerStatus[],
    liftOwnFence: async () => null,
    setWatchdog: async () => NOT_ARMED,
    keepWatchdogAlive: async () => {},
    fenceServers: async (round: FenceRound) =>
      round.targets.map((target) => ({ target, outcome: { fenced: false, reason: 'in recovery' } })),
  };
  const impl: Record<ActorName, Impl> = { ...defaults, ...opts.impl };

  /** A promise actor that records its input, then answers as `impl` says. */
  const fake = <T, I>(actor: ActorName) =>
    fromPromise<T, I>(async ({ input }) => {
      calls.push({ actor, input });
      // Real I/O never answers within the transition that started it.
      await Promise.resolve();
      return (await impl[actor](input as never)) as T;
    });

  const election = electionMachine.provide({
    actors: {
      freshLease: fake('freshLease'),
      acquireLeader: fake('acquireLeader'),
      clearFailoverKey: fake('clearFailoverKey'),
      updateLeader: fake('updateLeader'),
      deleteLeader: fake('deleteLeader'),
      sampleOwnPosition: fake('sampleOwnPosition'),
      probePeers: fake('probePeers'),
      keepWatchdogAlive: fake('keepWatchdogAlive'),
    },
  });
  const machine = nodeMachine.provide({
    actors: {
      election,
      inspectDataDir: fake('inspectDataDir'),
      raceInitialize: fake('raceInitialize'),
      cancelInitialization: fake('cancelInitialization'),
      writeInitialize: fake('writeInitialize'),
      initdb: fake('initdb'),
      ensureLease: fake('ensureLease'),
      writeBootstrapConfig: fake('writeBootstrapConfig'),
      freshLease: fake('freshLease'),
      acquireLeader: fake('acquireLeader'),
      createReplica: fake('createReplica'),
      customBootstrap: fake('customBootstrap'),
      startPostgres: fake('startPostgres'),
      stopPostgres: fake('stopPostgres'),
      followUpstream: fake('followUpstream'),
      claimSync: fake('claimSync'),
      setSynchronousStandbyNames: fake('setSynchronousStandbyNames'),
      promote: fake('promote'),
      syncSlots: fake('syncSlots'),
      checkpoint: fake('checkpoint'),
      readTimelineHistory: fake('readTimelineHistory'),
      writeHistory: fake('writeHistory'),
      publishMember: fake('publishMember'),
      rewind: fake('rewind'),
      removeDataDir: fake('removeDataDir'),
      fenceServers: fake('fenceServers'),
      liftOwnFence: fake('liftOwnFence'),
      setWatchdog: fake('setWatchdog'),
      runPrePromote: fake('runPrePromote'),
    },
  });
  const clock = new SimulatedClock();
  const name = opts.name ?? 'a';
  node = createActor(machine, {
    clock,
    input: { name, tags: opts.tags ?? noTags, settings: { ...settings, ...opts.settings } },
  });
  running.push(node);

  /** Every user callback the node asked for, as `<action> <role>`. */
  const callbacks: string[] = [];
  node.on('callback', (e) => callbacks.push(`${e.action} ${e.role}`));
  /** Every state value the node passed through, in order (consecutive duplicates dropped). */
  const trace: string[] = [];
  node.subscribe((s) => {
    const v = JSON.stringify(s.value);
    if (trace[trace.length - 1] !== v) trace.push(v);
  });
  node.start();
  const actor = node;

  return {
    actor,
    clock,
    world,
    impl,
    calls,
    trace,
    callbacks,
    snap: () => actor.getSnapshot(),
    ctx: () => actor.getSnapshot().context,
    /** The election child's state value (undefined when it is not running). */
    electionState: () =>
      (actor.getSnapshot().children['election']?.getSnapshot() as { value?: unknown } | undefined)?.value,
    /** Inputs of every call of one actor, in order. */
    inputs: (n: ActorName) => calls.filter((c) => c.actor === n).map((c) => c.input),
    count: (n: ActorName) => calls.filter((c) => c.actor === n).length,
    /** Names of the node's own I/O actors called since `from`, in order. */
    nodeCalls: (from = 0) =>
      calls
        .slice(from)
        .map((c) => c.actor)
        .filter((n) => (NODE_ACTORS as readonly string[]).includes(n)),
    cluster: async (v: ClusterView) => {
      world.view = v;
      actor.send({ type: 'CLUSTER', view: v });
      await settle();
    },
    pgStatus: async (status: PostgresStatus) => {
      world.pg = status;
      actor.send({ type: 'PG_STATUS', status });
      await settle();
    },
  };
}
export type Harness = ReturnType<typeof harness>;

export const R = (sub: unknown) => JSON.stringify({ active: { running: sub } });

/** Node `a` running as a replica of `b` from an existing standby data directory. */
export async function replicaOfB(opts: HarnessOptions = {}): Promise<Harness> {
  const h = harness({ dataDir: standbyDir, ...opts });
  await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
  expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  expect(h.ctx().following).toBe('b');
  return h;
}

/** Node `a` bootstrapped a new cluster and runs as its primary; the DCS has caught up. */
export async function bootstrappedPrimary(opts: HarnessOptions = {}): Promise<Harness> {
  const h = harness(opts);
  await h.cluster(view({ initialize: null }));
  await h.cluster(view({ leader: 'a', members: ['a'] }));
  expect(h.snap().value).toEqual({ active: { running: 'primary' } });
  expect(h.ctx().isLeader).toBe(true);
  return h;
}
