/** A graceful switchover from this leader: someone fit to take over, a CHECKPOINT, a fast stop, the lock given up with its LSN. */
import { assign, emit, sendTo } from 'xstate';
import { switchoverCandidatesToAsk } from '../../cluster/failover.ts';
import { stopInput } from './facts.ts';
import { lockLost } from './primary.ts';
import { nodeSetup } from './setup.ts';

export const switchingOver = nodeSetup.createStateConfig({
  description:
    'Graceful switchover: make sure someone can take over, stop fast (the shutdown checkpoint reaches the replicas), give the lock up with that LSN.',
  initial: 'checking',
  states: {
    checking: {
      always: lockLost('#node.active.running.demoting'),
      invoke: {
        src: 'probeMembers',
        input: ({ context }) => ({ members: switchoverCandidatesToAsk(context.view, context.name) }),
        onDone: [
          {
            guard: 'someoneCanTakeOver',
            target: 'checkpointing',
            description: 'A member is fit to take over: go on with the switchover.',
          },
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
            description: 'Nobody fit to take over: no switchover into an outage; the request is cleared.',
          },
        ],
        onError: {
          target: '#node.active.running.clearingFailover',
          description: 'The members could not be asked: no switchover on a guess; the request is cleared.',
        },
      },
    },
    checkpointing: {
      description:
        'A CHECKPOINT while still writable, so that the shutdown checkpoint (inside the write outage) has almost nothing left to do.',
      entry: { type: 'say', params: { message: 'manual failover: checkpoint before demoting' } },
      always: lockLost('#node.active.running.demoting'),
      invoke: {
        src: 'checkpoint',
        input: ({ context }) => ({ timeoutSeconds: context.settings.pg_ctl_timeout }),
        onDone: { target: 'stopping', description: 'Checkpointed: the shutdown checkpoint will be short.' },
        onError: {
          target: 'stopping',
          description: 'A slow or failed CHECKPOINT only lengthens the stop: the switchover goes on.',
        },
      },
    },
    stopping: {
      entry: [
        assign({ pgState: 'stopping', role: 'demoted' }),
        { type: 'say', params: { message: 'manual failover: demoting myself' } },
      ],
      invoke: {
        src: 'stopPostgres',
        input: stopInput('fast'),
        onDone: {
          target: 'releasing',
          actions: [
            assign({
              lastLsn: ({ event }) => event.output.checkpointLsn,
              pgState: 'stopped',
              pg: null,
            }),
            'stopCallback',
            'nextReplicaStartIsRoleChange',
          ],
          description: 'Stopped: give the lock up, with the shutdown checkpoint LSN for the next leader.',
        },
        onError: {
          target: '#node.active.running.demoting',
          description: 'The fast stop failed: writable still, so stop it immediately, as a demotion does.',
        },
      },
    },
    releasing: {
      // PostgreSQL is stopped: the watchdog is closed now (Patroni's safepoint), not once the
      // release is answered — with etcd away that takes up to retry_timeout, and no keepalive
      // comes meanwhile (found by the --watchdog --failsafe sweep, seed 37).
      entry: [
        'disarmWatchdog',
        sendTo('election', ({ context }) => ({
          type: 'RELEASE' as const,
          lastLsn: context.lastLsn,
        })),
      ],
      on: {
        LEADERSHIP_RELEASED: {
          target: '#node.active.running.boot',
          actions: assign({ isLeader: false }),
          description: 'The lock is free for the candidate: boot starts this node again as a replica.',
        },
      },
      after: {
        loopWait: {
          target: '#node.active.running.boot',
          actions: assign({ isLeader: false }),
          description:
            'The election never answered within a loop: go on as released rather than wait forever.',
        },
      },
    },
  },
});
