/**
 * The life of one pgwarden node: from an empty or existing data directory to a running
 * primary or replica, and back down on shutdown.
 *
 *   starting ──► bootstrap (race /initialize → initdb │ clone from leader) ──► running ──► stopping
 *
 * `running` invokes the election machine and keeps PostgreSQL's role in line with it:
 * only the lock holder runs writable; a node that loses the lock demotes; a replica follows
 * whoever holds it. Decisions are level-triggered (guards on the latest cluster view,
 * PostgreSQL status and lock flag), so events arriving in any order converge.
 *
 * Every I/O step is an invoked actor supplied by the runtime (real) or the simulator.
 */
import { type ActorRefFrom, assign, emit, fromPromise, not, type SnapshotFrom, sendTo, setup } from 'xstate';
import type { LocalFacts, Verdict } from '../cluster/eligibility.ts';
import { leaderFailoverDecision } from '../cluster/failover.ts';
import { divergedFromHistory } from '../cluster/history.ts';
import type {
  DataDirState,
  PostgresStatus,
  StartRole,
  StopMode,
  UpstreamTarget,
} from '../cluster/postgres-state.ts';
import {
  divergencePath,
  mayRemoveAfterFailedRewind,
  systemIdentifierMismatch,
  systemIdentifierMismatchMessage,
} from '../cluster/rejoin.ts';
import { cloneSourceFor, memberToFollow, upstreamFor } from '../cluster/topology.ts';
import { type ClusterView, clusterTimeline, emptyClusterView, type WireRole } from '../cluster/view.ts';
import { doneOutput } from './done-output.ts';
import { type ElectionSettings, electionMachine } from './election.ts';

export interface NodeSettings extends ElectionSettings {
  synchronous_mode_strict: boolean;
  synchronous_node_count: number;
  use_pg_rewind: boolean;
  use_slots: boolean;
  primary_start_timeout: number;
  pg_ctl_timeout: number;
  remove_data_directory_on_rewind_failure: boolean;
  remove_data_directory_on_diverged_timelines: boolean;
}

export interface NodeTags {
  nofailover: boolean;
  clonefrom: boolean;
  replicatefrom?: string;
}

export interface NodeInput {
  name: string;
  tags: NodeTags;
  /** Settings before any /config is seen (local config + bootstrap.dcs). */
  settings: NodeSettings;
}

/** Patroni's PostgreSQL state strings, as shown in member keys and REST. */
export type PgState =
  | 'stopped'
  | 'stopping'
  | 'starting'
  | 'running'
  | 'crashed'
  | 'start failed'
  | 'initializing new cluster'
  | 'initdb failed'
  | 'creating replica'
  | 'restarting'
  | 'restart failed';

export type NodeEvent =
  | { type: 'CLUSTER'; view: ClusterView }
  | { type: 'SETTINGS'; settings: NodeSettings }
  | { type: 'PG_STATUS'; status: PostgresStatus }
  | { type: 'DCS_UNAVAILABLE'; message: string }
  | { type: 'STOP' }
  /** Run the HA decisions now (REST wrote /config or /failover). */
  | { type: 'WAKE' }
  /** requestId: echoed in the answer, so that concurrent requests each get their own. */
  | { type: 'RESTART'; timeoutSeconds: number | null; requestId?: number }
  /** `force`: if another action is under way, reinitialize as soon as it is over. */
  | { type: 'REINITIALIZE'; force?: boolean; requestId?: number }
  | { type: 'LEADERSHIP_ACQUIRED' }
  | { type: 'LEADERSHIP_LOST'; reason: string }
  | { type: 'LEADERSHIP_RELEASED' }
  | { type: 'ELECTION_VERDICT'; verdict: Verdict };

/** Answers to operator requests, for whoever asked (the REST API through the agent). */
export type NodeEmitted =
  | { type: 'restart.done'; ok: boolean; message: string; requestId: number | null }
  | { type: 'restart.busy'; action: string; requestId: number | null }
  | { type: 'reinitialize.started'; requestId: number | null }
  | { type: 'reinitialize.busy'; action: string; requestId: number | null }
  | { type: 'switchover.abandoned'; reason: string };

/** At most 19 keys (a test says why): group new fields into an existing object. */
export interface NodeContext {
  name: string;
  tags: NodeTags;
  settings: NodeSettings;
  view: ClusterView;
  /** Whether the first DCS view has arrived. */
  dcsSeen: boolean;
  dataDir: DataDirState | null;
  pg: PostgresStatus | null;
  pgState: PgState;
  role: WireRole;
  /** The election says we hold the lock. */
  isLeader: boolean;
  /**
   * We took the lock ourselves right after initdb, so the election starts as holder: ms since
   * the lease under that key was refreshed (null: we did not bootstrap the cluster).
   */
  bootstrapLeaseAgeMs: number | null;
  /**
   * The data directory may have diverged from the leader: it last ran as a primary, or its WAL
   * went past the leader's history. Cleared once pg_rewind or a clone has settled it, or once it
   * started following a leader.
   */
  wasPrimary: boolean;
  /** Member name we stream from (null: none). */
  following: string | null;
  /** The last thing the node decided or noticed, in Patroni's words where there are any. */
  message: string;
  lastVerdict: Verdict | null;
  fatal: string | null;
  /** Shutdown checkpoint of a stopping leader, passed to the lock release. */
  lastLsn: number | null;
  /**
   * The restart being served: seconds it may take to start PostgreSQL again (null:
   * pg_ctl_timeout) and the operator request to answer (null: scheduled, nobody waits).
   */
  restart: { timeoutSeconds: number | null; requestId: number | null };
  /** The reinitialize being served, and whether a forced one waits for the action under way. */
  reinitialize: { queued: boolean; requestId: number | null };
}

export interface PromotionInput {
  view: ClusterView;
}

const todo = <T, I>() =>
  fromPromise<T, I>(async () => {
    throw new Error('actor not provided');
  });

/** The data directory state strings of a cluster that last ran as a primary (not a standby). */
export function ranAsPrimary(dataDir: DataDirState | null): boolean {
  const s = dataDir?.clusterState ?? '';
  return s === 'in production' || s === 'shut down' || s === 'shutting down' || s === 'in crash recovery';
}

export function localFacts(ctx: Pick<NodeContext, 'name' | 'pg' | 'tags'>): LocalFacts {
  const pg = ctx.pg;
  const wal = pg
    ? pg.inRecovery
      ? Math.max(pg.receivedLsn ?? 0, pg.replayedLsn ?? 0)
      : (pg.currentLsn ?? null)
    : null;
  return {
    name: ctx.name,
    running: pg?.running ?? false,
    inRecovery: pg?.inRecovery ?? true,
    walPosition: wal,
    timeline: pg?.timeline ?? null,
    nofailover: ctx.tags.nofailover,
    streaming: pg?.replicationState === 'streaming',
  };
}

export const nodeMachine = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput,
    emitted: {} as NodeEmitted,
  },
  actors: {
    election: electionMachine,
    inspectDataDir: todo<DataDirState, unknown>(),
    raceInitialize: todo<boolean, unknown>(),
    cancelInitialization: todo<void, unknown>(),
    writeInitialize: todo<void, { sysid: string }>(),
    initdb: todo<void, unknown>(),
    publishBootstrap: todo<{ leaseAgeMs: number }, { sysid: string }>(),
    basebackup: todo<void, { from: UpstreamTarget }>(),
    startPostgres: todo<void, { role: StartRole; upstream: UpstreamTarget | null; timeoutSeconds: number }>(),
    stopPostgres: todo<{ checkpointLsn: number | null }, { mode: StopMode; timeoutSeconds: number }>(),
    followUpstream: todo<void, { upstream: UpstreamTarget | null; timeoutSeconds: number }>(),
    promote: todo<void, { timeoutSeconds: number }>(),
    afterPromotion: todo<void, PromotionInput>(),
    rewind: todo<boolean, { from: UpstreamTarget }>(),
    removeDataDir: todo<void, unknown>(),
    /** Is some member fit to take over from us (reachable, streaming, not nofailover)? */
    checkSwitchoverCandidates: todo<boolean, { view: ClusterView; candidate: string | null }>(),
    checkpoint: todo<void, unknown>(),
    /** Overwrite /failover with `{}` (compare-and-set on the index we saw). */
    clearFailover: todo<void, { view: ClusterView }>(),
  },
  delays: {
    loopWait: ({ context }) => context.settings.loop_wait * 1000,
    shortRetry: ({ context }) => Math.min(2000, context.settings.loop_wait * 1000),
    demotionRetry: 200,
    /**
     * From this agent's start, how long a running primary waits for a first DCS answer before it
     * stops accepting writes (Patroni demotes on a DCS error too). Not a ttl: the lock its previous
     * process held may have run out long before this start (that process may have been dead for
     * minutes, and another node promoted meanwhile), so waiting for a lock to run out is no bound.
     */
    noDcsAnswerInRetryTimeout: ({ context }) => context.settings.retry_timeout * 1000,
    /** A data directory kept after pg_rewind could not rewind it: try again this much later. */
    rewindRetry: ({ context }) => REWIND_RETRY_LOOPS * context.settings.loop_wait * 1000,
  },
  guards: {
    historyBehindOurTimeline: ({ context }) =>
      (context.pg?.timeline ?? 0) > 1 && clusterTimeline(context.view) < context.pg!.timeline!,
    /**
     * Running as primary without the lock (not paused, the key not ours either): the primary
     * must go now. `primary` checks it at rest; the states that run DCS writes on the way there
     * (afterPromotion, clearingFailover) check it too, since those writes can take retry_timeout
     * while the next leader is being promoted.
     */
    lockLostAsPrimary: ({ context }) =>
      !context.isLeader && context.settings.paused !== true && context.view.leader?.name !== context.name,
    dataDirInitialized: ({ context }) => context.dataDir?.initialized ?? false,
    foreignDataDir: ({ context }) => {
      const mine = context.dataDir?.systemIdentifier;
      const cluster = context.view.initialize;
      return !!mine && !!cluster && cluster !== mine;
    },
    clusterHasLeader: ({ context }) => context.view.leader !== null,
    /** Bootstrapped already (/initialize) or led: nothing to bootstrap, join it. */
    clusterExists: ({ context }) => !!context.view.initialize || context.view.leader !== null,
    dcsAnswered: ({ context }) => context.dcsSeen,
    gotInitializeLock: ({ event }) => doneOutput<boolean>(event),
    /** checkSwitchoverCandidates found a member that can take over. */
    someoneCanTakeOver: ({ event }) => doneOutput<boolean>(event),
    /** pg_rewind did its job (false: it found rewinding impossible). */
    rewound: ({ event }) => doneOutput<boolean>(event),
    dataDirEmpty: ({ event }) => !doneOutput<DataDirState>(event).initialized,
    noCloneSource: ({ context }) => cloneSourceFor(context.view, context.name) === null,
    reinitializeQueued: ({ context }) => context.reinitialize.queued,
    /** A forced reinitialize is served on a replica even while something else runs. */
    forcedOnReplica: ({ context, event }) =>
      event.type === 'REINITIALIZE' && event.force === true && !context.isLeader,
    sampleRunning: ({ event }) => event.type === 'PG_STATUS' && event.status.running,
    sampleDown: ({ event }) => event.type === 'PG_STATUS' && !event.status.running,
    sampleDownWhilePaused: ({ context, event }) =>
      event.type === 'PG_STATUS' && !event.status.running && context.settings.paused === true,
    sampleInRecovery: ({ event }) => event.type === 'PG_STATUS' && event.status.inRecovery,
    mayBootstrap: ({ context }) => context.view.initialize === null && !context.tags.nofailover,
    isLeader: ({ context }) => context.isLeader,
    notLeader: ({ context }) => !context.isLeader,
    paused: ({ context }) => context.settings.paused === true,
    pgRunning: ({ context }) => context.pg?.running ?? false,
    pgDown: ({ context }) => context.pg !== null && !context.pg.running,
    pgIsPrimary: ({ context }) => (context.pg?.running ?? false) && !context.pg!.inRecovery,
    /** A replica stuck on a timeline that diverged from the leader's (divergedFromLeader), pg_rewind on. */
    divergedMayRewind: ({ context }) =>
      divergedFromLeader(context) && divergencePath(context.settings) === 'rewind',
    /** Diverged, no pg_rewind, and remove_data_directory_on_diverged_timelines: clone it again. */
    divergedMayReclone: ({ context }) =>
      divergedFromLeader(context) && divergencePath(context.settings) === 'reclone',
    /**
     * The status sample shows a replica that diverged and may be neither rewound nor removed: it
     * keeps running as it is (as Patroni leaves it), and says so.
     */
    divergedKeptAsIs: ({ context, event }) =>
      divergencePath(context.settings) === 'keep' &&
      divergedFromLeader({ ...context, pg: (event as Extract<NodeEvent, { type: 'PG_STATUS' }>).status }),
    /**
     * May have diverged from the leader, the leader is known well enough to rewind from, and
     * use_pg_rewind is on. Without it the node starts as a replica with its data as it is: only a
     * divergence seen while it runs (divergedMayReclone) may cost the data directory.
     */
    mustRewind: ({ context }) => mustRejoin(context) && divergencePath(context.settings) === 'rewind',
    /** pg_rewind could not rewind, and the operator configured the data directory to go then. */
    mayRemoveAfterFailedRewind: ({ context }) => mayRemoveAfterFailedRewind(context.settings),
    /** The view that arrives names another leader than the one we had (or none). */
    leaderChanges: ({ context, event }) =>
      (event as Extract<NodeEvent, { type: 'CLUSTER' }>).view.leader?.name !== context.view.leader?.name,
    /** The data directory is not the one /initialize names (checked on every change, not only at start). */
    foreignCluster: ({ context }) => context.settings.paused !== true && systemIdMismatch(context),
    /** The same while paused: Patroni only warns, and gives the lock up if it holds it. */
    foreignClusterWhilePausedLeading: ({ context }) =>
      context.settings.paused === true && context.isLeader && systemIdMismatch(context),
    foreignClusterWhilePaused: ({ context }) => context.settings.paused === true && systemIdMismatch(context),
    sameCluster: ({ context }) => !systemIdMismatch(context),
    upstreamChanged: ({ context }) => followTarget(context) !== context.following,
    switchoverRequested: ({ context }) =>
      leaderFailoverDecision(context.view, context.name).kind === 'execute',
    failoverKeyToClear: ({ context }) => leaderFailoverDecision(context.view, context.name).kind === 'clear',
  },
  actions: {
    storeView: assign({ view: ({ event }) => (event as { view: ClusterView }).view, dcsSeen: true }),
    storeSettings: assign({ settings: ({ event }) => (event as { settings: NodeSettings }).settings }),
    storePg: assign({ pg: ({ event }) => (event as { status: PostgresStatus }).status }),
    /** Its WAL went past the leader's history: from here on it is treated as an old primary. */
    mayHaveDiverged: assign({ wasPrimary: true }),
    /**
     * Running as a replica: the divergence question is settled if it was started following a
     * leader (`following`, fixed when the start began). A leader that appeared while it was
     * starting does not settle it: the WAL may still fork from that leader's (stoppingToRejoin).
     */
    startedAsReplica: assign({
      pgState: 'running',
      wasPrimary: ({ context }) => context.wasPrimary && context.following === null,
    }),
    acceptRestart: assign(({ event }) => {
      const e = event as Extract<NodeEvent, { type: 'RESTART' }>;
      return { restart: { timeoutSeconds: e.timeoutSeconds, requestId: e.requestId ?? null } };
    }),
    acceptReinitialize: assign({
      reinitialize: ({ context, event }) => ({
        queued: context.reinitialize.queued,
        requestId: (event as Extract<NodeEvent, { type: 'REINITIALIZE' }>).requestId ?? null,
      }),
    }),
    forwardView: sendTo('election', ({ context }) => ({ type: 'CLUSTER' as const, view: context.view })),
    forwardFacts: sendTo('election', ({ context }) => ({
      type: 'FACTS' as const,
      facts: localFacts(context),
    })),
    forwardSettings: sendTo('election', ({ context }) => ({
      type: 'SETTINGS' as const,
      settings: context.settings,
    })),
    say: assign({ message: (_, params: { message: string }) => params.message }),
    /** The data directory belongs to another cluster: leave it (and the cluster) alone, and exit. */
    leaveForeignCluster: assign(({ context }) => {
      const fatal = systemIdentifierMismatchMessage(
        context.name,
        localSystemIdentifier(context)!,
        context.view.initialize!,
      );
      return { fatal, message: fatal };
    }),
    sayDivergedKept: assign({
      message: ({ context }) =>
        `timeline diverged from the leader (${context.following ?? 'none'}): use_pg_rewind is off and remove_data_directory_on_diverged_timelines is not set, so the data directory is kept as it is; POST /reinitialize to clone it again`,
    }),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({
    name: input.name,
    tags: input.tags,
    settings: input.settings,
    view: emptyClusterView,
    dcsSeen: false,
    dataDir: null,
    pg: null,
    pgState: 'stopped',
    role: 'uninitialized',
    isLeader: false,
    bootstrapLeaseAgeMs: null,
    wasPrimary: false,
    following: null,
    message: 'starting',
    lastVerdict: null,
    fatal: null,
    lastLsn: null,
    restart: { timeoutSeconds: null, requestId: null },
    reinitialize: { queued: false, requestId: null },
  }),
  on: {
    CLUSTER: { actions: 'storeView' },
    SETTINGS: { actions: 'storeSettings' },
    PG_STATUS: { actions: 'storePg' },
    DCS_UNAVAILABLE: { actions: assign({ message: ({ event }) => event.message }) },
    STOP: '.stopped',
  },
  initial: 'starting',
  states: {
    starting: {
      initial: 'waitingForDcs',
      states: {
        waitingForDcs: {
          description: 'Until the first DCS view arrives (the agent retries etcd until it answers).',
          tags: ['resting'],
          entry: { type: 'say', params: { message: 'waiting for DCS' } },
          always: { guard: 'dcsAnswered', target: 'inspecting' },
          after: { noDcsAnswerInRetryTimeout: { guard: 'pgIsPrimary', target: 'fencingPrimary' } },
          // The cluster's own timing read from the data directory (patroni.dynamic.json) a moment
          // after the start: the wait for etcd is measured by its retry_timeout.
          on: { SETTINGS: { target: 'waitingForDcs', reenter: true, actions: 'storeSettings' } },
        },
        fencingPrimary: {
          description:
            'No DCS answer within retry_timeout of this agent’s start and PostgreSQL runs as a primary: whatever lock it held may have run out long ago and another node be promoted, so it stops accepting writes (Patroni demotes on a DCS error too). The start path decides what it becomes once the DCS answers.',
          entry: {
            type: 'say',
            params: { message: 'demoting self because DCS is not accessible and postgres runs as a primary' },
          },
          invoke: {
            src: 'stopPostgres',
            input: ({ context }) => ({
              mode: 'fast' as const,
              timeoutSeconds: context.settings.pg_ctl_timeout,
            }),
            onDone: { target: 'waitingForDcs', actions: assign({ pg: null, pgState: 'stopped' }) },
            onError: { target: 'waitingForDcs' },
          },
        },
        inspecting: {
          invoke: {
            src: 'inspectDataDir',
            onDone: {
              target: '#node.bootstrap',
              actions: assign({
                dataDir: ({ event }) => event.output,
                wasPrimary: ({ event }) => ranAsPrimary(event.output),
              }),
            },
            onError: {
              target: '#node.failed',
              actions: assign({
                fatal: ({ event }) => `cannot inspect the data directory: ${errorText(event.error)}`,
              }),
            },
          },
        },
      },
    },

    bootstrap: {
      initial: 'deciding',
      states: {
        deciding: {
          always: [
            {
              guard: 'foreignDataDir',
              target: '#node.failed',
              actions: assign({
                fatal: ({ context }) =>
                  `the data directory belongs to another cluster: its system identifier ${context.dataDir?.systemIdentifier} differs from /initialize ${context.view.initialize}`,
              }),
            },
            { guard: 'dataDirInitialized', target: 'adopting' },
            { guard: 'clusterHasLeader', target: 'cloning' },
            { guard: 'mayBootstrap', target: 'racingInitialize' },
            { target: 'waitingForLeader' },
          ],
        },
        adopting: {
          description:
            'An existing data directory: claim /initialize for it if the cluster has no system identifier there (no key, or the empty value of a bootstrap that never published).',
          always: [
            {
              guard: 'clusterExists',
              target: '#node.active.running',
            },
          ],
          invoke: {
            src: 'writeInitialize',
            input: ({ context }) => ({ sysid: context.dataDir!.systemIdentifier! }),
            onDone: '#node.active.running',
            onError: '#node.active.running',
          },
        },
        waitingForLeader: {
          tags: ['resting'],
          entry: { type: 'say', params: { message: 'waiting for leader to bootstrap' } },
          on: { CLUSTER: { target: 'deciding', actions: 'storeView' } },
          after: { loopWait: 'deciding' },
        },
        racingInitialize: {
          invoke: {
            src: 'raceInitialize',
            onDone: [
              { guard: 'gotInitializeLock', target: 'initdb' },
              {
                target: 'waitingForLeader',
                actions: { type: 'say', params: { message: 'failed to acquire initialize lock' } },
              },
            ],
            onError: { target: 'waitingForLeader' },
          },
        },
        initdb: {
          entry: [
            assign({ pgState: 'initializing new cluster' }),
            { type: 'say', params: { message: 'initializing a new cluster' } },
          ],
          invoke: {
            src: 'initdb',
            onDone: 'startingNewPrimary',
            onError: {
              target: 'abandoning',
              actions: assign({
                pgState: 'initdb failed',
                fatal: ({ event }) => `initdb failed: ${errorText(event.error)}`,
              }),
            },
          },
        },
        startingNewPrimary: {
          invoke: {
            src: 'startPostgres',
            input: ({ context }) => ({
              role: 'primary' as const,
              upstream: null,
              timeoutSeconds: context.settings.pg_ctl_timeout,
            }),
            onDone: 'inspectingNewCluster',
            onError: {
              target: 'abandoning',
              actions: assign({
                fatal: ({ event }) => `the new cluster did not start: ${errorText(event.error)}`,
              }),
            },
          },
        },
        inspectingNewCluster: {
          invoke: {
            src: 'inspectDataDir',
            onDone: { target: 'publishing', actions: assign({ dataDir: ({ event }) => event.output }) },
            onError: {
              target: 'abandoning',
              actions: assign({ fatal: ({ event }) => errorText(event.error) }),
            },
          },
        },
        publishing: {
          description: '/initialize = system identifier, /config = bootstrap.dcs, then take the leader key.',
          invoke: {
            src: 'publishBootstrap',
            input: ({ context }) => ({ sysid: context.dataDir!.systemIdentifier! }),
            onDone: {
              target: '#node.active.running',
              actions: [
                assign({
                  bootstrapLeaseAgeMs: ({ event }) => event.output.leaseAgeMs,
                  isLeader: true,
                }),
                { type: 'say', params: { message: 'initialized a new cluster' } },
              ],
            },
            onError: {
              target: 'abandoning',
              actions: assign({
                fatal: ({ event }) => `could not publish the new cluster: ${errorText(event.error)}`,
              }),
            },
          },
        },
        abandoning: {
          description: 'A failed bootstrap gives /initialize back so another node may try.',
          invoke: { src: 'cancelInitialization', onDone: '#node.failed', onError: '#node.failed' },
        },
        cloning: {
          entry: [
            assign({ pgState: 'creating replica', role: 'uninitialized' }),
            { type: 'say', params: { message: 'bootstrapping from leader' } },
          ],
          invoke: {
            src: 'basebackup',
            input: ({ context }) => ({ from: cloneSourceFor(context.view, context.name)! }),
            onDone: {
              target: '#node.active.running',
              actions: assign({ pgState: 'stopped', wasPrimary: false, dataDir: null }),
            },
            onError: {
              target: 'cloneFailed',
              actions: assign({
                message: ({ event }) => `failed to bootstrap from leader: ${errorText(event.error)}`,
              }),
            },
          },
        },
        cloneFailed: {
          entry: assign({ pgState: 'stopped' }),
          invoke: { src: 'removeDataDir', onDone: 'retryLater', onError: 'retryLater' },
        },
        retryLater: { after: { loopWait: 'deciding' } },
      },
    },

    active: {
      description: 'PostgreSQL has a data directory: the election runs alongside.',
      invoke: {
        id: 'election',
        src: 'election',
        input: ({ context }) => ({
          name: context.name,
          settings: context.settings,
          holdsLock: context.bootstrapLeaseAgeMs !== null,
          leaseAgeMs: context.bootstrapLeaseAgeMs ?? 0,
          view: context.view,
        }),
      },
      initial: 'running',
      states: {
        running: {
          entry: ['forwardFacts'],
          // Patroni compares the data directory's system identifier with /initialize on every
          // cycle. A child's own eventless transitions are taken first, but the state they lead to
          // is left in the same step, before anything it invokes has started.
          always: [
            { guard: 'foreignCluster', target: 'stopping', actions: 'leaveForeignCluster' },
            {
              guard: 'foreignClusterWhilePausedLeading',
              target: 'foreignWhilePaused',
              actions: sendTo('election', { type: 'RELEASE', lastLsn: null }),
            },
            { guard: 'foreignClusterWhilePaused', target: 'foreignWhilePaused' },
          ],
          on: {
            CLUSTER: { actions: ['storeView', 'forwardView'] },
            PG_STATUS: { actions: ['storePg', 'forwardFacts'] },
            SETTINGS: { actions: ['storeSettings', 'forwardSettings'] },
            LEADERSHIP_ACQUIRED: {
              actions: assign({ isLeader: true, message: 'acquired session lock as a leader' }),
            },
            LEADERSHIP_LOST: {
              actions: assign({
                isLeader: false,
                message: ({ event }) => `lost the leader lock: ${event.reason}`,
                // Our name may still be on the key in a view that can no longer be refreshed
                // (etcd unreachable): the lock is lost all the same, and the primary must go.
                view: ({ context }) =>
                  context.view.leader?.name === context.name
                    ? { ...context.view, leader: null }
                    : context.view,
              }),
            },
            LEADERSHIP_RELEASED: { actions: assign({ isLeader: false }) },
            ELECTION_VERDICT: {
              actions: assign({
                lastVerdict: ({ event }) => event.verdict,
                message: ({ event, context }) =>
                  event.verdict.healthiest
                    ? context.message
                    : `following a different leader because i am not the healthiest node: ${event.verdict.reason}`,
              }),
            },
            STOP: [
              {
                // Maintenance mode: the agent goes, PostgreSQL and the leader key stay as they are.
                guard: 'paused',
                target: '#node.stopped',
                // Leaving `active` stops the election with it: no release, no more racing.
                actions: { type: 'say', params: { message: 'paused: leaving postgres running' } },
              },
              { target: '#node.active.stopping' },
            ],
            WAKE: { actions: sendTo('election', { type: 'REFRESH_NOW' }) },
            // Only a settled replica or primary takes these; anything else is mid-action.
            RESTART: {
              actions: emit(({ context, event }) => ({
                type: 'restart.busy' as const,
                action: context.pgState,
                requestId: event.requestId ?? null,
              })),
            },
            REINITIALIZE: [
              {
                // Cutting a running start, clone or rewind short would leave its process running
                // under our feet; forced, the rebuild waits for it instead, then goes first.
                guard: 'forcedOnReplica',
                actions: [
                  'acceptReinitialize',
                  assign({ reinitialize: ({ context }) => ({ ...context.reinitialize, queued: true }) }),
                  emit(({ event }) => ({
                    type: 'reinitialize.started' as const,
                    requestId: event.requestId ?? null,
                  })),
                  assign({
                    message: ({ context }) => `reinitialize queued behind ${context.pgState}`,
                  }),
                ],
              },
              {
                actions: emit(({ context, event }) => ({
                  type: 'reinitialize.busy' as const,
                  action: context.pgState,
                  requestId: event.requestId ?? null,
                })),
              },
            ],
          },
          initial: 'boot',
          states: {
            boot: {
              description: 'Look at PostgreSQL as it is and pick the path to a consistent role.',
              always: [
                { guard: 'pgIsPrimary', target: 'primary' },
                { guard: 'pgRunning', target: 'replica' },
                { guard: 'mustRewind', target: 'rewinding' },
                { target: 'startingReplica' },
              ],
            },

            startingReplica: {
              entry: assign({
                pgState: 'starting',
                role: 'replica',
                following: ({ context }) => followTarget(context),
              }),
              invoke: {
                src: 'startPostgres',
                input: ({ context }) => ({
                  role: 'replica' as const,
                  upstream: upstreamOf(context),
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                // Started with no leader to compare with, an ex-primary may still have diverged from
                // whoever leads next: the check waits for that leader (replica → stoppingToRejoin).
                onDone: { target: 'replica', actions: ['startedAsReplica'] },
                onError: {
                  target: 'crashed',
                  actions: assign({
                    pgState: 'start failed',
                    message: ({ event }) => `postgres failed to start: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            replica: {
              description: 'At rest: status samples every second and the DCS watch bring changes.',
              tags: ['resting'],
              entry: [
                assign({ pgState: 'running', role: 'replica' }),
                assign({
                  message: ({ context }) =>
                    context.following
                      ? `no action. I am (${context.name}), a secondary, and following a leader (${context.following})`
                      : `no action. I am (${context.name}), a secondary, and there is no leader to follow`,
                }),
              ],
              always: [
                {
                  guard: 'reinitializeQueued',
                  target: 'reinitializing',
                  description: 'A POST /reinitialize waited for a state that may serve it.',
                },
                {
                  guard: 'isLeader',
                  target: 'promoting',
                  description: 'The election took the lock: this replica becomes the primary.',
                },
                {
                  guard: 'pgIsPrimary',
                  target: 'demoting',
                  description:
                    'Writable without the lock (promoted by hand, or started as a primary): stop it now.',
                },
                {
                  guard: 'mustRewind',
                  target: 'stoppingToRejoin',
                  description:
                    'An old primary with a leader to rewind from may have diverged: pg_rewind first.',
                },
                {
                  guard: 'divergedMayRewind',
                  target: 'stoppingToRejoin',
                  actions: 'mayHaveDiverged',
                  description: "Stuck past the point where its timeline left the leader's: rewind it.",
                },
                {
                  guard: 'divergedMayReclone',
                  target: 'stoppingToReclone',
                  description:
                    'Diverged, no pg_rewind, remove_data_directory_on_diverged_timelines: clone again.',
                },
                {
                  guard: 'upstreamChanged',
                  target: 'following',
                  description: 'Another member to stream from (a new leader, replicatefrom): re-point.',
                },
              ],
              on: {
                PG_STATUS: [
                  {
                    guard: 'sampleDownWhilePaused',
                    target: 'stoppedWhilePaused',
                    actions: ['storePg', 'forwardFacts'],
                  },
                  {
                    guard: 'sampleDown',
                    target: 'crashed',
                    actions: ['storePg', 'forwardFacts', assign({ message: 'postgres is not running' })],
                  },
                  {
                    guard: 'divergedKeptAsIs',
                    target: 'replica',
                    reenter: false,
                    actions: ['storePg', 'forwardFacts', 'sayDivergedKept'],
                  },
                  { target: 'replica', reenter: false, actions: ['storePg', 'forwardFacts'] },
                ],
                RESTART: { target: 'restarting', actions: 'acceptRestart' },
                REINITIALIZE: { target: 'reinitializing', actions: 'acceptReinitialize' },
              },
            },

            stoppingToRejoin: {
              description:
                'An ex-primary running as a replica since before there was a leader: its WAL may have diverged from the new one, and only pg_rewind (or a clone) can tell and mend it, on a stopped data directory.',
              entry: assign({ pgState: 'stopping' }),
              invoke: {
                src: 'stopPostgres',
                input: ({ context }) => ({
                  mode: 'fast' as const,
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                // boot takes it to rewinding (mustRejoin) once the leader can be rewound from.
                onDone: { target: 'boot', actions: assign({ pgState: 'stopped', pg: null }) },
                onError: {
                  target: 'crashed',
                  actions: assign({
                    message: ({ event }) => `could not stop to rejoin: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            stoppingToReclone: {
              description:
                'A replica whose timeline diverged from the leader, with use_pg_rewind off and remove_data_directory_on_diverged_timelines on: the operator chose a new clone over the data directory.',
              entry: [
                assign({ pgState: 'stopping' }),
                { type: 'say', params: { message: 'reinitializing due to diverged timelines' } },
              ],
              invoke: {
                src: 'stopPostgres',
                input: ({ context }) => ({
                  mode: 'immediate' as const,
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                onDone: { target: 'recloning', actions: assign({ pg: null, wasPrimary: false }) },
                onError: {
                  target: 'crashed',
                  actions: assign({
                    message: ({ event }) => `could not stop to clone again: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            restarting: {
              description: 'An operator asked for a restart: stop fast and start again in the same role.',
              entry: [
                assign({ pgState: 'restarting' }),
                { type: 'say', params: { message: 'restarting postgres on request' } },
              ],
              initial: 'stopping',
              states: {
                stopping: {
                  invoke: {
                    src: 'stopPostgres',
                    input: ({ context }) => ({
                      mode: 'fast' as const,
                      timeoutSeconds: context.settings.pg_ctl_timeout,
                    }),
                    onDone: 'starting',
                    onError: {
                      target: 'failed',
                      actions: assign({ message: ({ event }) => errorText(event.error) }),
                    },
                  },
                },
                starting: {
                  invoke: {
                    src: 'startPostgres',
                    input: ({ context }) => ({
                      role: context.isLeader ? ('primary' as const) : ('replica' as const),
                      upstream: context.isLeader ? null : upstreamOf(context),
                      timeoutSeconds: context.restart.timeoutSeconds ?? context.settings.pg_ctl_timeout,
                    }),
                    onDone: 'done',
                    onError: {
                      target: 'failed',
                      actions: assign({ message: ({ event }) => errorText(event.error) }),
                    },
                  },
                },
                done: {
                  entry: emit(({ context }) => ({
                    type: 'restart.done' as const,
                    ok: true,
                    message: 'restarted successfully',
                    requestId: context.restart.requestId,
                  })),
                  always: '#node.active.running.boot',
                },
                failed: {
                  entry: [
                    assign({ pgState: 'restart failed' }),
                    emit(({ context }) => ({
                      type: 'restart.done' as const,
                      ok: false,
                      message: context.message,
                      requestId: context.restart.requestId,
                    })),
                  ],
                  always: '#node.active.running.crashed',
                },
              },
            },

            reinitializing: {
              description:
                'An operator asked to rebuild this replica: stop, wipe, clone again from the leader.',
              entry: [
                assign({
                  pgState: 'creating replica',
                  reinitialize: ({ context }) => ({ ...context.reinitialize, queued: false }),
                }),
                { type: 'say', params: { message: 'reinitializing on request' } },
                emit(({ context }) => ({
                  type: 'reinitialize.started' as const,
                  requestId: context.reinitialize.requestId,
                })),
              ],
              invoke: {
                src: 'stopPostgres',
                input: ({ context }) => ({
                  mode: 'immediate' as const,
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                onDone: { target: 'recloning', actions: assign({ wasPrimary: false }) },
                onError: { target: 'recloning', actions: assign({ wasPrimary: false }) },
              },
            },

            following: {
              entry: assign({ following: ({ context }) => followTarget(context) }),
              invoke: {
                src: 'followUpstream',
                input: ({ context }) => ({
                  upstream: upstreamOf(context),
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                onDone: 'replica',
                // PostgreSQL may still follow the old upstream: forget the new one, so that the
                // replica state sees the upstream change again and retries (upstreamChanged).
                onError: {
                  target: 'crashed',
                  actions: assign({
                    following: null,
                    message: ({ event }) => `could not follow the new leader: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            promoting: {
              entry: [
                assign({ role: 'promoted' }),
                { type: 'say', params: { message: 'promoted self to leader by acquiring session lock' } },
              ],
              // The lock can be lost before the promotion ends (a freeze, a slow promote): the
              // primary it makes must not outlive the lock by the rest of the promotion.
              always: { guard: 'lockLostAsPrimary', target: 'demoting' },
              invoke: {
                src: 'promote',
                input: ({ context }) => ({ timeoutSeconds: Math.max(context.settings.loop_wait, 30) }),
                onDone: 'afterPromotion',
                onError: {
                  target: 'releasing',
                  actions: assign({ message: ({ event }) => `promote failed: ${errorText(event.error)}` }),
                },
              },
            },

            afterPromotion: {
              description: 'CHECKPOINT and /history, so that the old primary can rewind against us.',
              // The lock can go while this runs (etcd cut off during a slow promotion, its DCS
              // writes waiting out retry_timeout): the primary must go at once, as from `primary`,
              // not once the writes give up — the next leader may be promoted meanwhile.
              always: { guard: 'lockLostAsPrimary', target: 'demoting' },
              invoke: {
                src: 'afterPromotion',
                input: ({ context }) => ({ view: context.view }),
                onDone: 'primary',
                onError: 'primary',
              },
            },

            primary: {
              description: 'At rest as the lock holder: status samples and the election keep it in line.',
              tags: ['resting'],
              entry: [
                assign({ pgState: 'running', role: 'master', following: null, wasPrimary: true }),
                assign({
                  message: ({ context }) => `no action. I am (${context.name}), the leader with the lock`,
                }),
              ],
              always: [
                // Not while the key still carries our name: a restarted agent finds its primary
                // running and the election reclaims the lock (nobody else can hold it meanwhile);
                // demoting first would cost a promotion and a timeline for nothing.
                {
                  guard: 'lockLostAsPrimary',
                  target: 'demoting',
                  description:
                    'The lock is gone and the key is not ours: a primary without the lock stops now.',
                },
                {
                  guard: 'switchoverRequested',
                  target: 'switchingOver',
                  description: 'A switchover names this leader and its time has come: hand over gracefully.',
                },
                {
                  guard: 'failoverKeyToClear',
                  target: 'clearingFailover',
                  description:
                    '/failover holds a request that this leadership has served or made moot: clear it.',
                },
              ],
              // /history does not know our timeline yet (the post-promotion work failed: a CHECKPOINT
              // or etcd): try it again every loop, or a replica that went past our fork point on
              // the old timeline could never learn it diverged.
              after: {
                loopWait: [
                  { guard: 'historyBehindOurTimeline', target: 'afterPromotion' },
                  { target: 'primary', reenter: true },
                ],
              },
              on: {
                RESTART: { target: 'restarting', actions: 'acceptRestart' },
                PG_STATUS: [
                  {
                    // Paused: nobody restarts it; the lock goes, since a stopped primary cannot hold it.
                    guard: 'sampleDownWhilePaused',
                    target: 'releasingWhilePaused',
                    actions: ['storePg', 'forwardFacts'],
                  },
                  {
                    guard: 'sampleDown',
                    target: 'restartingPrimary',
                    actions: ['storePg', 'forwardFacts'],
                  },
                  {
                    guard: 'sampleInRecovery',
                    target: 'promoting',
                    actions: ['storePg', 'forwardFacts'],
                  },
                  { actions: ['storePg', 'forwardFacts'] },
                ],
              },
            },

            clearingFailover: {
              description:
                'A /failover request that can never apply here (wrong leader, unknown candidate): clear it.',
              // Cut from etcd, the write waits out retry_timeout: a lock lost meanwhile demotes now.
              always: { guard: 'lockLostAsPrimary', target: 'demoting' },
              invoke: {
                src: 'clearFailover',
                input: ({ context }) => ({ view: context.view }),
                onDone: 'primary',
                onError: 'primary',
              },
              // The watch brings the cleared key; until then the same request must not re-trigger us.
              exit: assign({ view: ({ context }) => ({ ...context.view, failover: null }) }),
            },

            switchingOver: {
              description:
                'Graceful switchover: make sure someone can take over, stop fast (the shutdown checkpoint reaches the replicas), give the lock up with that LSN.',
              initial: 'checking',
              states: {
                checking: {
                  always: { guard: 'lockLostAsPrimary', target: '#node.active.running.demoting' },
                  invoke: {
                    src: 'checkSwitchoverCandidates',
                    input: ({ context }) => {
                      const d = leaderFailoverDecision(context.view, context.name);
                      return { view: context.view, candidate: d.kind === 'execute' ? d.candidate : null };
                    },
                    onDone: [
                      { guard: 'someoneCanTakeOver', target: 'checkpointing' },
                      {
                        target: '#node.active.running.clearingFailover',
                        actions: [
                          {
                            type: 'say',
                            params: {
                              message: 'switchover is not possible: no good candidates have been found',
                            },
                          },
                          emit({
                            type: 'switchover.abandoned',
                            reason: 'no good candidates have been found',
                          }),
                        ],
                      },
                    ],
                    onError: { target: '#node.active.running.clearingFailover' },
                  },
                },
                checkpointing: {
                  description:
                    'A CHECKPOINT while still writable, so that the shutdown checkpoint (inside the write outage) has almost nothing left to do.',
                  entry: { type: 'say', params: { message: 'manual failover: checkpoint before demoting' } },
                  always: { guard: 'lockLostAsPrimary', target: '#node.active.running.demoting' },
                  invoke: { src: 'checkpoint', onDone: 'stopping', onError: 'stopping' },
                },
                stopping: {
                  entry: [
                    assign({ pgState: 'stopping', role: 'demoted' }),
                    { type: 'say', params: { message: 'manual failover: demoting myself' } },
                  ],
                  invoke: {
                    src: 'stopPostgres',
                    input: ({ context }) => ({
                      mode: 'fast' as const,
                      timeoutSeconds: context.settings.pg_ctl_timeout,
                    }),
                    onDone: {
                      target: 'releasing',
                      actions: assign({
                        lastLsn: ({ event }) => event.output.checkpointLsn,
                        pgState: 'stopped',
                        pg: null,
                      }),
                    },
                    onError: { target: '#node.active.running.demoting' },
                  },
                },
                releasing: {
                  entry: sendTo('election', ({ context }) => ({
                    type: 'RELEASE' as const,
                    lastLsn: context.lastLsn,
                  })),
                  on: {
                    LEADERSHIP_RELEASED: {
                      target: '#node.active.running.boot',
                      actions: assign({ isLeader: false }),
                    },
                  },
                  after: {
                    loopWait: { target: '#node.active.running.boot', actions: assign({ isLeader: false }) },
                  },
                },
              },
            },

            releasingWhilePaused: {
              description: 'Paused and the primary stopped: give the lock up, start nothing.',
              entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
              on: {
                LEADERSHIP_RELEASED: { target: 'stoppedWhilePaused', actions: assign({ isLeader: false }) },
              },
              after: { loopWait: { target: 'stoppedWhilePaused', actions: assign({ isLeader: false }) } },
            },

            stoppedWhilePaused: {
              tags: ['resting'],
              description:
                'Maintenance mode: PostgreSQL is down and stays down until resumed (or started by hand).',
              entry: [
                assign({ pgState: 'stopped' }),
                { type: 'say', params: { message: 'PAUSE: postgres is not running' } },
              ],
              always: [{ guard: not('paused'), target: 'boot' }],
              on: {
                PG_STATUS: [
                  {
                    guard: 'sampleRunning',
                    target: 'boot',
                    actions: ['storePg', 'forwardFacts'],
                  },
                  { actions: ['storePg', 'forwardFacts'] },
                ],
                SETTINGS: {
                  target: 'stoppedWhilePaused',
                  reenter: true,
                  actions: ['storeSettings', 'forwardSettings'],
                },
                REINITIALIZE: { target: 'reinitializing', actions: 'acceptReinitialize' },
              },
            },

            restartingPrimary: {
              entry: [
                assign({ pgState: 'starting' }),
                { type: 'say', params: { message: 'postgres crashed; starting it again as the leader' } },
              ],
              invoke: {
                src: 'startPostgres',
                input: ({ context }) => ({
                  role: 'primary' as const,
                  upstream: null,
                  timeoutSeconds: context.settings.primary_start_timeout,
                }),
                onDone: 'primary',
                onError: {
                  target: 'releasing',
                  actions: assign({
                    message: ({ event }) => `failed to start postgres: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            releasing: {
              description: 'Give the lock up so that a healthy replica can take over.',
              entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
              on: { LEADERSHIP_RELEASED: { target: 'demoting', actions: assign({ isLeader: false }) } },
              after: { loopWait: { target: 'demoting', actions: assign({ isLeader: false }) } },
            },

            demoting: {
              description: 'Lost the lock (or never had it) while writable: stop at once, no checkpoint.',
              entry: [
                assign({ pgState: 'stopping', role: 'demoted' }),
                {
                  type: 'say',
                  params: { message: 'demoting self because I do not have the lock and I was a leader' },
                },
              ],
              invoke: {
                src: 'stopPostgres',
                input: ({ context }) => ({
                  mode: 'immediate' as const,
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                onDone: {
                  target: 'boot',
                  actions: assign({ pgState: 'stopped', wasPrimary: true, pg: null }),
                },
                // Still writable without the lock: try again at once rather than after a crash
                // recovery's pause, while another node may already be promoted.
                onError: {
                  target: 'demotionFailed',
                  actions: assign({
                    wasPrimary: true,
                    message: ({ event }) => `demoting failed, trying again: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            demotionFailed: {
              description:
                'The immediate stop of a primary without the lock failed: stop it again shortly, and keep trying while it runs.',
              after: { demotionRetry: [{ guard: 'pgDown', target: 'boot' }, { target: 'demoting' }] },
            },

            rewinding: {
              description:
                'pg_rewind from the leader (use_pg_rewind). The data directory goes only if the operator configured it: remove_data_directory_on_rewind_failure or remove_data_directory_on_diverged_timelines.',
              entry: [
                assign({ pgState: 'stopped', role: 'replica' }),
                { type: 'say', params: { message: 'running pg_rewind from the leader' } },
              ],
              invoke: {
                src: 'rewind',
                input: ({ context }) => ({ from: upstreamOf(context)! }),
                onDone: [
                  {
                    guard: 'rewound',
                    target: 'startingReplica',
                    actions: assign({ wasPrimary: false }),
                  },
                  {
                    // pg_rewind ran against a reachable leader and could not rewind.
                    guard: 'mayRemoveAfterFailedRewind',
                    target: 'recloning',
                    actions: {
                      type: 'say',
                      params: {
                        message:
                          'pg_rewind is not possible; remove_data_directory_on_rewind_failure is set: removing the data directory and cloning again from the leader',
                      },
                    },
                  },
                  { target: 'rewindFailed' },
                ],
                // pg_rewind broke off (the leader unreachable, the run cut short): nothing is known
                // about the data directory, so it is kept whatever the configuration, and tried again.
                onError: {
                  target: 'crashed',
                  actions: assign({
                    message: ({ event }) =>
                      `pg_rewind failed, data directory kept: ${errorText(event.error)}`,
                  }),
                },
              },
            },

            rewindFailed: {
              description:
                'pg_rewind could not rewind and nobody configured the data directory to go: it stays as it is, PostgreSQL stopped (its timeline diverged from the leader, so it could not follow). pg_rewind is tried again when another node leads, and every REWIND_RETRY_LOOPS loops; POST /reinitialize clones it again.',
              tags: ['resting'],
              entry: [
                assign({ pgState: 'stopped', role: 'replica' }),
                assign({
                  message: ({ context }) =>
                    `pg_rewind from ${context.view.leader?.name ?? 'the leader'} is not possible; remove_data_directory_on_rewind_failure is not set, so the data directory is kept and postgres stays stopped: POST /reinitialize to clone it again`,
                }),
              ],
              always: [
                { guard: 'isLeader', target: 'releasing' },
                { guard: 'reinitializeQueued', target: 'reinitializing' },
              ],
              on: {
                CLUSTER: [
                  { guard: 'leaderChanges', target: 'boot', actions: ['storeView', 'forwardView'] },
                  { actions: ['storeView', 'forwardView'] },
                ],
                REINITIALIZE: { target: 'reinitializing', actions: 'acceptReinitialize' },
              },
              after: { rewindRetry: 'boot' },
            },

            recloning: {
              entry: assign({ pgState: 'creating replica' }),
              initial: 'removing',
              states: {
                removing: {
                  invoke: {
                    src: 'removeDataDir',
                    onDone: { target: 'cloning', actions: assign({ dataDir: null }) },
                    onError: '#node.active.running.crashed',
                  },
                },
                cloning: {
                  always: {
                    guard: 'noCloneSource',
                    target: '#node.active.running.crashed',
                  },
                  invoke: {
                    src: 'basebackup',
                    input: ({ context }) => ({ from: cloneSourceFor(context.view, context.name)! }),
                    onDone: {
                      target: '#node.active.running.startingReplica',
                      actions: assign({ wasPrimary: false }),
                    },
                    onError: {
                      target: '#node.active.running.crashed',
                      actions: assign({ message: ({ event }) => `clone failed: ${errorText(event.error)}` }),
                    },
                  },
                },
              },
            },

            crashed: {
              description: 'PostgreSQL is down or an action failed: look again shortly.',
              entry: assign({
                pgState: ({ context }) => (context.pgState === 'start failed' ? 'start failed' : 'crashed'),
              }),
              always: [
                { guard: 'isLeader', target: 'releasing' },
                { guard: 'reinitializeQueued', target: 'reinitializing' },
              ],
              on: { REINITIALIZE: { target: 'reinitializing', actions: 'acceptReinitialize' } },
              after: { shortRetry: 'recovering' },
            },

            recovering: {
              description:
                'After a crash: an empty data dir must be cloned again; otherwise start as it was.',
              invoke: {
                src: 'inspectDataDir',
                onDone: [
                  {
                    guard: 'dataDirEmpty',
                    target: 'recloning',
                    actions: assign({ dataDir: ({ event }) => event.output }),
                  },
                  {
                    target: 'boot',
                    actions: assign({
                      dataDir: ({ event }) => event.output,
                      wasPrimary: ({ context, event }) => context.wasPrimary || ranAsPrimary(event.output),
                    }),
                  },
                ],
                onError: 'crashed',
              },
            },
          },
        },

        foreignWhilePaused: {
          description:
            "Paused, and the data directory's system identifier differs from /initialize: as Patroni, act on nothing (the lock given up if held) and leave the cluster once resumed, unless the identifiers agree again.",
          tags: ['resting'],
          entry: assign({
            message: ({ context }) =>
              `system ID has changed while in paused mode; leaving when resumed unless it is reset: ${context.view.initialize} != ${localSystemIdentifier(context)}`,
          }),
          always: [
            { guard: 'foreignCluster', target: 'stopping', actions: 'leaveForeignCluster' },
            { guard: 'sameCluster', target: 'running' },
          ],
          on: {
            CLUSTER: { actions: ['storeView', 'forwardView'] },
            SETTINGS: { actions: ['storeSettings', 'forwardSettings'] },
            PG_STATUS: { actions: ['storePg', 'forwardFacts'] },
            LEADERSHIP_ACQUIRED: { actions: sendTo('election', { type: 'RELEASE', lastLsn: null }) },
            LEADERSHIP_LOST: { actions: assign({ isLeader: false }) },
            LEADERSHIP_RELEASED: { actions: assign({ isLeader: false }) },
          },
        },

        stopping: {
          description:
            'Clean shutdown: stop PostgreSQL (fast), then give the lock up with the shutdown checkpoint. Also the way out of a cluster the data directory does not belong to (fatal set: the agent exits with it).',
          entry: [
            assign({ pgState: 'stopping', message: ({ context }) => context.fatal ?? 'shutting down' }),
            sendTo('election', { type: 'FREEZE' }),
          ],
          // A slow stop can outlast the lock (etcd unreachable meanwhile): the node must not go on
          // believing it leads while another takes over.
          on: {
            LEADERSHIP_LOST: {
              actions: assign({
                isLeader: false,
                message: ({ event }) => `lost the leader lock: ${event.reason}`,
              }),
            },
          },
          initial: 'stoppingPostgres',
          states: {
            stoppingPostgres: {
              invoke: {
                src: 'stopPostgres',
                input: ({ context }) => ({
                  mode: 'fast' as const,
                  timeoutSeconds: context.settings.pg_ctl_timeout,
                }),
                onDone: {
                  target: 'releasing',
                  actions: assign({ lastLsn: ({ event }) => event.output.checkpointLsn, pgState: 'stopped' }),
                },
                onError: { target: 'releasing', actions: assign({ pgState: 'stopped' }) },
              },
            },
            releasing: {
              always: { guard: 'notLeader', target: '#node.stopped' },
              entry: sendTo('election', ({ context }) => ({
                type: 'RELEASE' as const,
                lastLsn: context.lastLsn,
              })),
              on: { LEADERSHIP_RELEASED: { target: '#node.stopped', actions: assign({ isLeader: false }) } },
              after: { loopWait: '#node.stopped' },
            },
          },
        },
      },
    },

    stopped: {
      entry: assign({ role: ({ context }) => context.role }),
      type: 'final',
    },

    failed: {
      description:
        'Cannot continue (foreign data directory, failed bootstrap): the agent exits with the reason.',
      entry: assign({ message: ({ context }) => context.fatal ?? 'failed' }),
      type: 'final',
    },
  },
});

/** pg_rewind is tried again on a kept data directory after this many loop_waits (100 s by default). */
export const REWIND_RETRY_LOOPS = 10;

/** The system identifier of our data directory: the running server's, else pg_controldata's. */
function localSystemIdentifier(ctx: Pick<NodeContext, 'pg' | 'dataDir'>): string | null {
  return ctx.pg?.systemIdentifier ?? ctx.dataDir?.systemIdentifier ?? null;
}

function systemIdMismatch(ctx: NodeContext): boolean {
  return systemIdentifierMismatch(localSystemIdentifier(ctx), ctx.view.initialize);
}

/**
 * A running replica that does not stream and has replayed WAL past where the leader's history
 * left its timeline (see divergedFromHistory). Only a stuck one: a streaming replica follows
 * fine, and its timeline and position, sampled a moment apart, may straddle the switch. The
 * timeline a non-streaming replica reports is the one it replays (IDENTIFY_SYSTEM), so it pairs
 * with the replayed position, not with WAL received on a newer timeline and not yet replayed.
 */
function divergedFromLeader(ctx: Pick<NodeContext, 'view' | 'name' | 'pg'>): boolean {
  return (
    ctx.view.leader !== null &&
    ctx.view.leader.name !== ctx.name &&
    !!ctx.pg?.running &&
    ctx.pg.inRecovery &&
    ctx.pg.replicationState !== 'streaming' &&
    divergedFromHistory(ctx.view.history, ctx.pg.timeline, ctx.pg.replayedLsn)
  );
}

/** May have diverged from the leader, and the leader is known well enough to rewind from. */
function mustRejoin(ctx: NodeContext): boolean {
  return (
    ctx.wasPrimary &&
    ctx.view.leader !== null &&
    ctx.view.leader.name !== ctx.name &&
    upstreamOf(ctx) !== null
  );
}

/** The member this node should stream from, by name (the same answer `upstreamOf` resolves). */
function followTarget(ctx: NodeContext): string | null {
  return memberToFollow(ctx.view, ctx.name, ctx.tags.replicatefrom);
}

function upstreamOf(ctx: NodeContext): UpstreamTarget | null {
  return upstreamFor(ctx.view, ctx.name, ctx.tags.replicatefrom, ctx.settings.use_slots);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export type NodeActor = ActorRefFrom<typeof nodeMachine>;
export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>;
