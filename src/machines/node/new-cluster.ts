/**
 * The states that make a new cluster once this node won /initialize: initdb, a restore
 * (bootstrap.method), or a copy of a standby cluster's remote primary; then its first start and
 * its publication (/initialize, /config, the leader key). Any failure gives /initialize back.
 */
import { assign } from 'xstate';
import { errorText, followTarget, remotePlanOf, replicaStartInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

/** Any failed step of publishing a new cluster: give /initialize back (abandoning), saying why. */
const abandonBootstrap = {
  target: '#node.bootstrap.abandoning',
  actions: 'noteBootstrapFailure',
  description: 'A half-published cluster is no cluster: /initialize goes back so another node may bootstrap.',
} as const;

export const initdb = nodeSetup.createStateConfig({
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
});

export const restoring = nodeSetup.createStateConfig({
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
});

export const cloningRemote = nodeSetup.createStateConfig({
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
});

export const startingStandbyLeader = nodeSetup.createStateConfig({
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
});

export const startingNewPrimary = nodeSetup.createStateConfig({
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
});

export const inspectingNewCluster = nodeSetup.createStateConfig({
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
      description: 'No system identifier to publish: /initialize goes back so another node may bootstrap.',
    },
  },
});

export const publishing = nodeSetup.createStateConfig({
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
});
