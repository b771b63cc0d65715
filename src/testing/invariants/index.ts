/**
 * Invariants the seeded runner (src/testing/runner/) checks while a fault schedule plays on a
 * simulated cluster. Each check answers null (holds) or a description of what it saw; one
 * module per concern (who writes, stuck machines, unasked events, the data, split brain, the
 * heal), and here the lists the runner checks at every tick and after every step.
 */
import { noLostAcknowledgedWrites, noNeedlessRewind, noUnaskedDataRemoval } from './data.ts';
import { noFencedLeader, noOrphanBesideNewPrimary, noOrphanLeftBesideLeader } from './orphans.ts';
import { noBetterCandidatePassedOver } from './race.ts';
import { noSplitBrainWrites } from './split-brain.ts';
import { noStuckMachine } from './stuck.ts';
import type { Invariant } from './types.ts';
import { nothingScheduledEarly, noUnaskedLeadershipChange } from './unasked.ts';
import { noArmedOrphanBesideNewPrimary, noWatchdogResetOfLiveAgent } from './watchdog.ts';
import {
  noReleaseWhileWritable,
  singleWritableLeader,
  singleWritableNode,
  writableOnlyWhileLeading,
} from './writers.ts';

export { noLostAcknowledgedWrites, noNeedlessRewind, noUnaskedDataRemoval } from './data.ts';
export { clusterNotHealed, leaderAfterHeal } from './heal.ts';
export { noFencedLeader, noOrphanBesideNewPrimary, noOrphanLeftBesideLeader } from './orphans.ts';
export { noBetterCandidatePassedOver, passedOver } from './race.ts';
export { noSplitBrainWrites, type UnfencedWindow, unfencedWindows } from './split-brain.ts';
export { agentMachines, noStuckMachine, type StuckBounds, StuckWatch, stuckBounds } from './stuck.ts';
export type { Invariant, InvariantContext } from './types.ts';
export { nothingScheduledEarly, noUnaskedLeadershipChange } from './unasked.ts';
export { noArmedOrphanBesideNewPrimary, noWatchdogResetOfLiveAgent } from './watchdog.ts';
export {
  actsOnItsPrimary,
  INVARIANT_TICK_MS,
  noReleaseWhileWritable,
  orphanWritable,
  singleWritableLeader,
  singleWritableNode,
  writableOnlyWhileLeading,
} from './writers.ts';

/** Checked at every tick of virtual time. */
export const tickInvariants: Invariant[] = [
  singleWritableLeader,
  singleWritableNode,
  noStuckMachine,
  nothingScheduledEarly,
  noUnaskedLeadershipChange,
  writableOnlyWhileLeading,
  noUnaskedDataRemoval,
  noNeedlessRewind,
  noSplitBrainWrites,
  noReleaseWhileWritable,
  noBetterCandidatePassedOver,
  noOrphanBesideNewPrimary,
  noOrphanLeftBesideLeader,
  noFencedLeader,
  noWatchdogResetOfLiveAgent,
  noArmedOrphanBesideNewPrimary,
];
/** Checked after every step. */
export const stepInvariants: Invariant[] = [noLostAcknowledgedWrites];
