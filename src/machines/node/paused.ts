/** Maintenance mode (pause): PostgreSQL stopped by hand stays stopped, and a foreign data directory is only reported. */
import { assign, not, sendTo } from 'xstate';
import { localSystemIdentifier } from './facts.ts';
import { nodeSetup } from './setup.ts';

export const releasingWhilePaused = nodeSetup.createStateConfig({
  description: 'Paused and the primary stopped: give the lock up, start nothing.',
  entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
  on: {
    LEADERSHIP_RELEASED: {
      target: 'stoppedWhilePaused',
      actions: assign({ isLeader: false }),
      description:
        'The lock is given up (a stopped primary cannot hold it): wait, stopped, for the operator.',
    },
  },
  after: {
    loopWait: {
      target: 'stoppedWhilePaused',
      actions: assign({ isLeader: false }),
      description: 'The election never answered within a loop: go on as released rather than wait forever.',
    },
  },
});

export const stoppedWhilePaused = nodeSetup.createStateConfig({
  tags: ['resting'],
  description: 'Maintenance mode: PostgreSQL is down and stays down until resumed (or started by hand).',
  entry: [
    assign({ pgState: 'stopped' }),
    { type: 'say', params: { message: 'PAUSE: postgres is not running' } },
    // PostgreSQL is down and the lock given up: nobody keeps a watchdog alive any more.
    'disarmWatchdog',
  ],
  always: [
    {
      guard: not('paused'),
      target: 'boot',
      description: 'Maintenance mode is over: pick the role again, starting PostgreSQL if need be.',
    },
  ],
  on: {
    PG_STATUS: [
      {
        guard: 'sampleRunning',
        description: 'Started again by the operator: pick the consistent role again.',
        target: 'boot',
        actions: ['storePg', 'forwardFacts'],
      },
      {
        actions: ['storePg', 'forwardFacts'],
        description: 'Still down: kept and given to the election; nothing is started while paused.',
      },
    ],
    SETTINGS: {
      target: 'stoppedWhilePaused',
      reenter: true,
      actions: ['storeSettings', 'forwardSettings'],
      description: 'Settings kept and given to the election: a resume (paused off) leaves for boot at once.',
    },
    REINITIALIZE: {
      target: 'reinitializing',
      actions: 'acceptReinitialize',
      description: 'POST /reinitialize while paused and stopped: the operator may still ask for a new clone.',
    },
  },
});

export const foreignWhilePaused = nodeSetup.createStateConfig({
  description:
    "Paused, and the data directory's system identifier differs from /initialize: as Patroni, act on nothing (the lock given up if held) and leave the cluster once resumed, unless the identifiers agree again.",
  tags: ['resting'],
  entry: assign({
    message: ({ context }) =>
      `system ID has changed while in paused mode; leaving when resumed unless it is reset: ${context.view.initialize} != ${localSystemIdentifier(context)}`,
  }),
  always: [
    {
      guard: 'foreignCluster',
      target: 'stopping',
      actions: 'leaveForeignCluster',
      description:
        'Resumed, and still not the /initialize cluster: stop PostgreSQL and leave, as Patroni does.',
    },
    {
      guard: 'sameCluster',
      target: 'running',
      description: 'The data directory matches /initialize again: back to running.',
    },
  ],
  on: {
    CLUSTER: {
      actions: ['storeView', 'forwardView'],
      description: '/initialize may be reset to match: every view is kept and given to the election.',
    },
    SETTINGS: {
      actions: ['storeSettings', 'forwardSettings'],
      description: 'A resume (paused off) is what ends this state: settings kept and given to the election.',
    },
    PG_STATUS: {
      actions: ['storePg', 'forwardFacts'],
      description: "Samples kept: the running server's system identifier is the one compared.",
    },
    LEADERSHIP_ACQUIRED: {
      actions: sendTo('election', { type: 'RELEASE', lastLsn: null }),
      description: 'Won the lock here (a named candidate): given back at once, as on the way in.',
    },
    LEADERSHIP_LOST: {
      actions: assign({ isLeader: false }),
      description: 'Keeps isLeader true to the election, should a lock taken here be lost.',
    },
    LEADERSHIP_RELEASED: {
      actions: assign({ isLeader: false }),
      description: 'The lock given back on the way in (or since) is released: no longer the leader.',
    },
  },
});
