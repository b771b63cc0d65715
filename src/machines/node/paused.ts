/** Maintenance mode (pause): PostgreSQL stopped by hand stays stopped, and a foreign data directory is only reported. */
import { assign, not, sendTo } from 'xstate';
import { localSystemIdentifier } from './facts.ts';
import { nodeSetup } from './setup.ts';

export const releasingWhilePaused = nodeSetup.createStateConfig({
  description: 'Paused and the primary stopped: give the lock up, start nothing.',
  entry: sendTo('election', { type: 'RELEASE', lastLsn: null }),
  on: {
    LEADERSHIP_RELEASED: { target: 'stoppedWhilePaused', actions: assign({ isLeader: false }) },
  },
  after: { loopWait: { target: 'stoppedWhilePaused', actions: assign({ isLeader: false }) } },
});

export const stoppedWhilePaused = nodeSetup.createStateConfig({
  tags: ['resting'],
  description: 'Maintenance mode: PostgreSQL is down and stays down until resumed (or started by hand).',
  entry: [
    assign({ pgState: 'stopped' }),
    { type: 'say', params: { message: 'PAUSE: postgres is not running' } },
  ],
  always: [{ guard: not('paused'), target: 'boot' }],
  on: {
    PG_STATUS: [
      {
        guard: 'sampleRunning',
        description: 'Started again by the operator: pick the consistent role again.',
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
    { guard: 'foreignCluster', target: 'stopping', actions: 'leaveForeignCluster' },
    {
      guard: 'sameCluster',
      target: 'running',
      description: 'The data directory matches /initialize again: back to running.',
    },
  ],
  on: {
    CLUSTER: { actions: ['storeView', 'forwardView'] },
    SETTINGS: { actions: ['storeSettings', 'forwardSettings'] },
    PG_STATUS: { actions: ['storePg', 'forwardFacts'] },
    LEADERSHIP_ACQUIRED: { actions: sendTo('election', { type: 'RELEASE', lastLsn: null }) },
    LEADERSHIP_LOST: { actions: assign({ isLeader: false }) },
    LEADERSHIP_RELEASED: { actions: assign({ isLeader: false }) },
  },
});
