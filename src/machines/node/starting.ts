/** From the agent's start to a data directory: wait for the DCS, then adopt an existing data directory, race /initialize and initdb, or clone from the leader. */
import { assign } from 'xstate';
import { cloneSourceFor } from '../../cluster/topology.ts';
import { errorText, ranAsPrimary, stopInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

/** Any failed step of publishing a new cluster: give /initialize back (abandoning), saying why. */
const abandonBootstrap = {
  target: '#node.bootstrap.abandoning',
  actions: 'noteBootstrapFailure',
} as const;

export const starting = nodeSetup.createStateConfig({
  initial: 'waitingForDcs',
  states: {
    waitingForDcs: {
      description: 'Until the first DCS view arrives (the agent retries etcd until it answers).',
      tags: ['resting'],
      entry: { type: 'say', params: { message: 'waiting for DCS' } },
      always: {
        guard: 'dcsAnswered',
        target: 'inspecting',
        description: 'etcd answered: the data directory can be judged against the cluster.',
      },
      after: {
        noDcsAnswerInRetryTimeout: {
          guard: 'pgIsPrimary',
          target: 'fencingPrimary',
          description:
            'A primary left running by an earlier agent, and no etcd for a retry_timeout: it may not hold the lock, so it stops taking writes.',
        },
      },
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
        input: stopInput('fast'),
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
});

export const bootstrap = nodeSetup.createStateConfig({
  initial: 'deciding',
  states: {
    deciding: {
      always: [
        {
          guard: 'foreignDataDir',
          target: '#node.failed',
          description:
            'Another cluster’s data directory: never joined, never removed; the agent stops with why.',
          actions: assign({
            fatal: ({ context }) =>
              `the data directory belongs to another cluster: its system identifier ${context.dataDir?.systemIdentifier} differs from /initialize ${context.view.initialize}`,
          }),
        },
        {
          guard: 'dataDirInitialized',
          target: 'adopting',
          description: 'A data directory of this cluster (or of none yet): keep it and start from it.',
        },
        {
          guard: 'clusterHasLeader',
          target: 'cloning',
          description: 'Empty here, and a leader to copy: pg_basebackup from it (or clonefrom).',
        },
        {
          guard: 'mayBootstrap',
          target: 'racingInitialize',
          description: 'Empty here and in etcd: race for /initialize; the winner runs initdb.',
        },
        {
          target: 'waitingForLeader',
          description: 'Someone is bootstrapping the cluster: wait for its leader.',
        },
      ],
    },
    adopting: {
      description:
        'An existing data directory: claim /initialize for it if the cluster has no system identifier there (no key, or the empty value of a bootstrap that never published).',
      always: [
        {
          guard: 'clusterExists',
          description: 'The cluster exists already (/initialize or a leader): join it as it is.',
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
          {
            guard: 'gotInitializeLock',
            target: 'initdb',
            description: 'This node won /initialize: it runs initdb and becomes the first primary.',
          },
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
      initial: 'grantingLease',
      states: {
        grantingLease: {
          invoke: {
            src: 'ensureLease',
            input: ({ context }) => ({ ttl: context.settings.ttl }),
            onDone: 'writingInitialize',
            onError: abandonBootstrap,
          },
        },
        writingInitialize: {
          invoke: {
            src: 'writeInitialize',
            input: ({ context }) => ({ sysid: context.dataDir!.systemIdentifier! }),
            onDone: 'writingConfig',
            onError: abandonBootstrap,
          },
        },
        writingConfig: {
          invoke: { src: 'writeBootstrapConfig', onDone: 'refreshingLease', onError: abandonBootstrap },
        },
        refreshingLease: {
          description: "The new leader's deadline counts from a refresh of its lease.",
          invoke: {
            src: 'freshLease',
            input: ({ context }) => ({ ttl: context.settings.ttl }),
            onDone: 'takingLock',
            onError: abandonBootstrap,
          },
        },
        takingLock: {
          description:
            'create_revision == 0, as every acquisition: a key already there (a stale one, or one nobody should hold during a bootstrap) is never overwritten.',
          invoke: {
            src: 'acquireLeader',
            input: ({ context }) => ({ name: context.name }),
            onDone: [
              {
                guard: 'tookLeaderKey',
                description: 'The new cluster is published and its leader key is ours.',
                target: '#node.active.running',
                actions: [
                  assign({
                    bootstrapLeaseAgeMs: ({ event }) => event.output.leaseAgeMs,
                    isLeader: true,
                  }),
                  { type: 'say', params: { message: 'initialized a new cluster' } },
                ],
              },
              {
                target: '#node.bootstrap.abandoning',
                actions: assign({
                  fatal: 'could not publish the new cluster: could not take the leader key',
                }),
              },
            ],
            onError: abandonBootstrap,
          },
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
});
