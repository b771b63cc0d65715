/**
 * Shutdown, and the way out of a cluster the data directory does not belong to: stop PostgreSQL,
 * then give the lock up — only once PostgreSQL no longer accepts writes.
 */
import { assign, sendTo } from 'xstate';
import { stopInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

export const stopping = nodeSetup.createStateConfig({
  description:
    'Clean shutdown: stop PostgreSQL (fast), then give the lock up with the shutdown checkpoint. Also the way out of a cluster the data directory does not belong to (fatal set: the agent exits with it).',
  entry: [
    assign({ pgState: 'stopping', message: ({ context }) => context.fatal ?? 'shutting down' }),
    sendTo('election', { type: 'FREEZE' }),
  ],
  // A slow stop can outlast the lock (etcd unreachable meanwhile): the node must not go on
  // believing it leads while another takes over.
  on: {
    // Without this the root's STOP would end the shutdown at once: the election stopped with the
    // lock unreleased, PostgreSQL perhaps still stopping.
    STOP: { description: 'Already shutting down: a second stop (another signal) changes nothing.' },
    LEADERSHIP_LOST: {
      actions: assign({
        isLeader: false,
        message: ({ event }) => `lost the leader lock: ${event.reason}`,
      }),
      description: 'A slow stop can outlast the lock: the node must not believe it leads meanwhile.',
    },
  },
  initial: 'stoppingPostgres',
  states: {
    stoppingPostgres: {
      invoke: {
        src: 'stopPostgres',
        input: stopInput('fast'),
        onDone: {
          target: 'releasing',
          actions: [
            assign({ lastLsn: ({ event }) => event.output.checkpointLsn, pgState: 'stopped' }),
            'stopCallback',
          ],
          description: 'Stopped: the lock goes with the shutdown checkpoint LSN, for the next leader.',
        },
        onError: {
          target: 'stoppingImmediately',
          description: 'The fast stop failed: PostgreSQL may still accept writes, so stop it harder first.',
        },
      },
    },
    stoppingImmediately: {
      description:
        'The fast stop failed: an immediate stop (no checkpoint) before the lock may go, since a release lets another node promote at once.',
      invoke: {
        src: 'stopPostgres',
        input: stopInput('immediate'),
        onDone: {
          target: 'releasing',
          actions: [
            assign({ lastLsn: ({ event }) => event.output.checkpointLsn, pgState: 'stopped' }),
            'stopCallback',
          ],
          description: 'Stopped at last: the lock goes, without a shutdown checkpoint to hand on.',
        },
        onError: {
          target: '#node.stopped',
          actions: assign({ message: 'PostgreSQL shutdown failed, leader key not removed' }),
          description:
            'PostgreSQL cannot be stopped: keep the lock (it expires with the lease), never hand it over beside a writable primary (as Patroni).',
        },
      },
    },
    releasing: {
      always: {
        guard: 'notLeader',
        target: '#node.stopped',
        description: 'The lock is released (or was never held): the shutdown is complete.',
      },
      // PostgreSQL is stopped: the watchdog is closed before the lock goes (Patroni's safepoint).
      entry: [
        'disarmWatchdog',
        sendTo('election', ({ context }) => ({
          type: 'RELEASE' as const,
          lastLsn: context.lastLsn,
        })),
      ],
      on: {
        LEADERSHIP_RELEASED: {
          target: '#node.stopped',
          actions: assign({ isLeader: false }),
          description: 'The election confirmed the release: the shutdown is complete.',
        },
      },
      after: {
        loopWait: {
          target: '#node.stopped',
          description: 'The election never answered within a loop: leave; the lease expires by itself.',
        },
      },
    },
  },
});
