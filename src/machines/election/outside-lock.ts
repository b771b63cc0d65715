/**
 * The answers every election state outside the lock gives the node's shutdown: one rule each,
 * shared by follower, racing, waiting, reclaiming and standingBack.
 */

/** RELEASE without the lock: answered at once (released), so the node never waits for it. */
export const releaseNotLeading = {
  target: 'released',
  actions: 'requestRelease',
  description: 'Not holding the lock: the release is answered at once, so the node never waits for it.',
} as const;

/** FREEZE without the lock: the shutdown has begun, so whatever this state was doing stops for good. */
export const freezeNotLeading = {
  target: 'resigned',
  actions: 'noteFrozen',
  description: 'Shutting down: no more racing or reclaiming, for good.',
} as const;
