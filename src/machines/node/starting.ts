/** From the agent's start to a data directory: wait for the DCS, then adopt an existing data directory, race /initialize and initdb, or clone from the leader. */
import { assign } from 'xstate';
import { abandoning } from './abandoning.ts';
import {
  errorText,
  followTarget,
  ranAsPrimary,
  remotePlanOf,
  replicaPlanOf,
  replicaStartInput,
  stopInput,
} from './facts.ts';
import { nodeSetup } from './setup.ts';

/** Any failed step of publishing a new cluster: give /initialize back (abandoning), saying why. */
const abandonBootstrap = {
  target: '#node.bootstrap.abandoning',
  actions: 'noteBootstrapFailure',
  description: 'A half-published cluster is no cluster: /initialize goes back so another node may bootstrap.',
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
      on: {
        SETTINGS: {
          target: 'waitingForDcs',
          reenter: true,
          actions: 'storeSettings',
          description:
            "Settings arrived (the cluster's timing, from the data directory): the wait for etcd restarts by them.",
        },
      },
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
        onDone: {
          target: 'waitingForDcs',
          actions: [assign({ pg: null, pgState: 'stopped' }), 'stopCallback'],
          description: 'No longer writable: wait for etcd; once it answers, the start path decides the role.',
        },
        onError: {
          target: 'waitingForDcs',
          description:
            'The stop failed: wait again; a primary still running after a retry_timeout is stopped again.',
        },
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
          description:
            'What the data directory holds, and whether it last ran as a primary, picks the way in.',
        },
        onError: {
          target: '#node.failed',
          actions: assign({
            fatal: ({ event }) => `cannot inspect the data directory: ${errorText(event.error)}`,
          }),
          description:
            'A data directory that cannot be read is never started, cloned over nor removed: exit.',
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
          guard: 'mayCloneWithoutLeader',
          target: 'cloning',
          description:
            'No leader, but the cluster exists and a replica method needs nobody to copy (no_leader): make the replica that way.',
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
        onDone: {
          target: '#node.active.running',
          description: '/initialize names this data directory now: run it as a member of that cluster.',
        },
        onError: {
          target: '#node.active.running',
          description: 'The claim failed (etcd): PostgreSQL runs all the same; nothing here claims it again.',
        },
      },
    },
    waitingForLeader: {
      tags: ['resting'],
      entry: { type: 'say', params: { message: 'waiting for leader to bootstrap' } },
      on: {
        CLUSTER: {
          target: 'deciding',
          actions: 'storeView',
          description: 'A new view (a leader, or /initialize given back): decide the way in again.',
        },
      },
      after: {
        loopWait: {
          target: 'deciding',
          description: 'Every loop, decide again even if the watch brings nothing new.',
        },
      },
    },
    racingInitialize: {
      invoke: {
        src: 'raceInitialize',
        onDone: [
          {
            guard: 'wonInitializeForStandbyCluster',
            target: 'cloningRemote',
            description:
              'This node won /initialize of a standby cluster: it copies the remote primary and will lead as its standby.',
          },
          {
            guard: 'wonInitializeToRestore',
            target: 'restoring',
            description:
              'This node won /initialize and bootstrap.method names a command: it restores the new cluster.',
          },
          {
            guard: 'gotInitializeLock',
            target: 'initdb',
            description: 'This node won /initialize: it runs initdb and becomes the first primary.',
          },
          {
            target: 'waitingForLeader',
            actions: { type: 'say', params: { message: 'failed to acquire initialize lock' } },
            description:
              'Another node won /initialize: it runs initdb; wait for its leader and clone from it.',
          },
        ],
        onError: {
          target: 'waitingForLeader',
          description: 'etcd failed the race: taken as lost; wait and decide again.',
        },
      },
    },
    initdb: {
      entry: [
        assign({ pgState: 'initializing new cluster' }),
        { type: 'say', params: { message: 'initializing a new cluster' } },
      ],
      invoke: {
        src: 'initdb',
        onDone: {
          target: 'startingNewPrimary',
          description: "A new data directory: start it as the cluster's first primary.",
        },
        onError: {
          target: 'abandoning',
          actions: assign({
            pgState: 'initdb failed',
            fatal: ({ event }) => `initdb failed: ${errorText(event.error)}`,
          }),
          description: 'initdb failed: /initialize goes back so another node may bootstrap.',
        },
      },
    },
    restoring: {
      description:
        "bootstrap.method: its command fills the data directory (a restore), PostgreSQL recovers once as recovery_conf says and leaves recovery, the roles are made or updated; then it starts as the cluster's first primary.",
      entry: [
        assign({ pgState: 'running custom bootstrap script' }),
        { type: 'say', params: { message: 'running custom bootstrap script' } },
      ],
      invoke: {
        src: 'customBootstrap',
        input: ({ context }) => ({ method: context.settings.bootstrap_method! }),
        onDone: {
          target: 'startingNewPrimary',
          description: "The restored data directory: start it as the cluster's first primary.",
        },
        onError: {
          target: 'abandoning',
          actions: assign({
            pgState: 'custom bootstrap failed',
            fatal: ({ event }) => `custom bootstrap failed: ${errorText(event.error)}`,
          }),
          description:
            'The restore failed (what it left was moved aside, not removed): /initialize goes back so another node may bootstrap.',
        },
      },
    },
    cloningRemote: {
      description:
        "A new standby cluster: its first member copies the remote primary (standby_cluster's create_replica_methods, else pg_basebackup), to lead the cluster as that primary's standby.",
      entry: [
        assign({ pgState: 'creating replica', role: 'uninitialized' }),
        { type: 'say', params: { message: 'trying to bootstrap a new standby leader' } },
      ],
      invoke: {
        src: 'createReplica',
        input: ({ context }) => remotePlanOf(context),
        onDone: {
          target: 'startingStandbyLeader',
          actions: 'noteReplicaMethod',
          description: 'A copy of the remote primary: start it as a standby of it.',
        },
        onError: {
          target: 'abandoning',
          actions: assign({
            pgState: 'stopped',
            fatal: ({ event }) =>
              `could not copy the remote primary of the standby cluster: ${errorText(event.error)}`,
          }),
          description: 'No copy of the remote primary: /initialize goes back so another node may try.',
        },
      },
    },
    startingStandbyLeader: {
      invoke: {
        src: 'startPostgres',
        // No leader yet in this standby cluster: the remote primary (memberToFollow).
        input: replicaStartInput,
        onDone: {
          target: 'inspectingNewCluster',
          actions: [
            assign({ role: 'standby_leader', following: ({ context }) => followTarget(context) }),
            { type: 'callback', params: { action: 'on_start', role: 'standby_leader' } },
          ],
          description:
            'The standby of the remote primary runs: read the system identifier /initialize will carry.',
        },
        onError: {
          target: 'abandoning',
          actions: assign({
            fatal: ({ event }) => `the new standby leader did not start: ${errorText(event.error)}`,
          }),
          description: 'It did not start: /initialize goes back so another node may bootstrap.',
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
        onDone: {
          target: 'inspectingNewCluster',
          actions: { type: 'callback', params: { action: 'on_start', role: 'master' } },
          description: 'The new primary runs: read the system identifier that /initialize will carry.',
        },
        onError: {
          target: 'abandoning',
          actions: assign({
            fatal: ({ event }) => `the new cluster did not start: ${errorText(event.error)}`,
          }),
          description: 'The new cluster did not start: /initialize goes back so another node may bootstrap.',
        },
      },
    },
    inspectingNewCluster: {
      invoke: {
        src: 'inspectDataDir',
        onDone: {
          target: 'publishing',
          actions: assign({ dataDir: ({ event }) => event.output }),
          description: 'The system identifier is known: publish the cluster in etcd.',
        },
        onError: {
          target: 'abandoning',
          actions: assign({ fatal: ({ event }) => errorText(event.error) }),
          description:
            'No system identifier to publish: /initialize goes back so another node may bootstrap.',
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
            onDone: {
              target: 'writingInitialize',
              description: 'A lease to put the leader key on: now /initialize gets the system identifier.',
            },
            onError: abandonBootstrap,
          },
        },
        writingInitialize: {
          invoke: {
            src: 'writeInitialize',
            input: ({ context }) => ({ sysid: context.dataDir!.systemIdentifier! }),
            onDone: {
              target: 'writingConfig',
              description: '/initialize names the new cluster: now /config gets bootstrap.dcs.',
            },
            onError: abandonBootstrap,
          },
        },
        writingConfig: {
          invoke: {
            src: 'writeBootstrapConfig',
            onDone: {
              target: 'refreshingLease',
              description: "/config holds bootstrap.dcs: the leader's deadline is next, from a fresh lease.",
            },
            onError: abandonBootstrap,
          },
        },
        refreshingLease: {
          description: "The new leader's deadline counts from a refresh of its lease.",
          invoke: {
            src: 'freshLease',
            input: ({ context }) => ({ ttl: context.settings.ttl }),
            onDone: { target: 'takingLock', description: 'The lease is fresh: take the leader key on it.' },
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
                description: '/leader was already there (never overwritten): the bootstrap is given up.',
              },
            ],
            onError: abandonBootstrap,
          },
        },
      },
    },
    abandoning,
    cloning: {
      entry: [
        assign({ pgState: 'creating replica', role: 'uninitialized' }),
        assign({
          message: ({ context }) =>
            context.view.leader ? 'bootstrapping from leader' : 'bootstrap (without leader)',
        }),
      ],
      invoke: {
        src: 'createReplica',
        input: ({ context }) => replicaPlanOf(context),
        onDone: {
          target: '#node.active.running',
          actions: [assign({ pgState: 'stopped', wasPrimary: false, dataDir: null }), 'noteReplicaMethod'],
          description:
            "A fresh copy of the leader's (or a backup's): start it as a standby; a copy cannot have diverged, no rewind.",
        },
        onError: {
          target: 'retryLater',
          actions: assign({
            pgState: 'stopped',
            message: ({ event }) => `failed to bootstrap: ${errorText(event.error)}`,
          }),
          description:
            'Every method failed (what they left is removed by the attempt itself): try again a loop later.',
        },
      },
    },
    retryLater: {
      after: {
        loopWait: {
          target: 'deciding',
          description: 'A loop later the cluster may look different (another leader, none): decide again.',
        },
      },
    },
  },
});
