/** After the lock: lost (told to the node), released on request, standing back, resigned at shutdown. */
import { assign, sendParent } from 'xstate';
import { freezeNotLeading } from './outside-lock.ts';
import { electionSetup } from './setup.ts';

export const lost = electionSetup.createStateConfig({
  entry: sendParent(({ context }) => ({
    type: 'LEADERSHIP_LOST',
    reason:
      context.view.leader && context.view.leader.name !== context.name
        ? `the lock is held by ${context.view.leader.name}`
        : 'the lock could not be refreshed before its deadline',
  })),
  always: {
    target: 'follower',
    description: 'The node has been told: follow; a key still naming us (a late refresh) is reclaimed there.',
  },
});

export const released = electionSetup.createStateConfig({
  description: 'Gave the lock up on request (shutdown or switchover).',
  entry: ['notifyReleased', assign({ pendingRelease: null })],
  always: [
    { guard: 'frozen', target: 'resigned', description: 'Released for a shutdown: stay out for good.' },
    { target: 'standingBack', description: 'Released for a switchover: let someone else take it first.' },
  ],
});

export const standingBack = electionSetup.createStateConfig({
  description:
    'Just gave the lock up: neither reclaim it (the watch may still show our name) nor race for it until someone else has taken it, or a ttl has passed.',
  // The view is kept as it is: if our name is still on the key a ttl later, the key lives on
  // our own lease (a release that never reached etcd) and only a reclaim can free the
  // cluster — racing against our own key would fail for ever.
  on: {
    CLUSTER: [
      {
        guard: 'viewHasOtherLeader',
        target: 'follower',
        actions: 'storeView',
        description: 'Someone else holds the lock now: follow them as usual.',
      },
      {
        actions: 'storeView',
        description:
          'Our name may still be on the key: kept, but no reclaim nor race until a ttl has passed.',
      },
    ],
    FREEZE: freezeNotLeading,
  },
  after: {
    standBack: {
      target: 'follower',
      description:
        'A ttl later, a key still naming us lives on our lease (the release never reached etcd): reclaim.',
    },
  },
});

export const resigned = electionSetup.createStateConfig({
  // Not a final state: a final child would announce itself to a node machine that has
  // usually finished by then (XState warns of events sent to a stopped actor).
  description: 'The node is shutting down: no more racing, until the node machine stops it.',
  tags: ['resting'],
});
