/** From the agent's start to its data directory judged: wait for the DCS (a primary left running is fenced if etcd stays away), then inspect the data directory; bootstrap.ts takes it from there. */
import { assign } from 'xstate';
import { errorText, ranAsPrimary, stopInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

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
