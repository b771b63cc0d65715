/**
 * From the first DCS view to a member: adopt an existing data directory, race /initialize for a
 * new cluster (new-cluster.ts), or make a replica — of the leader, or from a backup with nobody
 * to copy (no_leader).
 */
import { assign } from 'xstate';
import { abandoning } from './abandoning.ts';
import { errorText, replicaPlanOf } from './facts.ts';
import {
  cloningRemote,
  initdb,
  inspectingNewCluster,
  publishing,
  restoring,
  startingNewPrimary,
  startingStandbyLeader,
} from './new-cluster.ts';
import { nodeSetup } from './setup.ts';

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
    initdb,
    restoring,
    cloningRemote,
    startingStandbyLeader,
    startingNewPrimary,
    inspectingNewCluster,
    publishing,
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
