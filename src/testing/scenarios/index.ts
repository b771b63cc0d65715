/**
 * Targeted scenarios: what seeded schedules rarely or never reach (a failed bootstrap, a data
 * directory etcd forgot, PostgreSQL operations failing in the middle of an operator request),
 * each played on a simulated cluster with an outcome of its own to check. The coverage report
 * counts them next to the seeded runs (src/testing/coverage.ts), and the unit suite asserts
 * their outcomes. One module per family; this list keeps the order they have always run in.
 */
import {
  etcdGoneDuringBootstrap,
  failedInitdb,
  firstCloneFails,
  nofailoverAlone,
  stoppedWhileWaitingForEtcd,
} from './bootstrap.ts';
import { cascadingReplica } from './cascade.ts';
import {
  failsafeLeaderCutFromAMember,
  failsafeLeaderCutFromEtcd,
  failsafeReplicaHoldsBack,
  failsafeThroughEtcdOutage,
  failsafeTopologyFollowsMembers,
  failsafeWithWatchdogThroughEtcdOutage,
} from './failsafe.ts';
import {
  forcedReinitializeRemovalFails,
  leaderWillNotStart,
  leaderWillNotStartWithoutEtcd,
  promotionFails,
  reinitializeStopFails,
  restartedLeaderFailsToStart,
  restartStartFails,
  restartStopFails,
  shutdownCannotStop,
  shutdownCannotStopFastFailover,
  shutdownStopFails,
  switchoverCheckpointFails,
  switchoverStopFails,
} from './failures.ts';
import { fastFailoverScenarios } from './fast-failover.ts';
import type { Scenario } from './harness.ts';
import { foreignDataDirectory, initializeKeyChanged, initializeKeyChangedWhilePaused } from './identity.ts';
import {
  etcdLostEveryKey,
  failoverClearedWhileEtcdFails,
  leaderKeyDeleted,
  leaderKeyRewritten,
  roguePromotion,
} from './interference.ts';
import {
  cutDuringPostPromotionCheckpoint,
  cutDuringSlowPromotion,
  cutDuringSwitchoverCheckpoint,
  etcdFailsWhileAcquiring,
  fencesByLastConfig,
  leaderShutDownWithoutEtcd,
  newLeaderCutDuringSlowPromotion,
  restartedPrimaryWithoutEtcd,
  shutDownWhileReclaiming,
  shutdownOutlastsLock,
  standingBack,
} from './lease.ts';
import { shutdownWhilePaused, stoppedByHandWhilePaused } from './maintenance.ts';
import { orphanScenarios } from './orphans.ts';
import { mostAdvancedReplicaWins } from './race.ts';
import {
  reinitializeQueuedBehindRewind,
  rewindImpossibleKeepsData,
  rewindOffKeepsData,
  rewindOutcomes,
  rewindRefusedTwice,
} from './rejoin.ts';
import {
  failedDemotionRetried,
  failoverToMemberOutsideFailsafe,
  failsafeWriteKeepsRefreshSchedule,
  frozenInPromotion,
  ghostWalsender,
  leaderMemberKeyBackAfterOutage,
  lockLostWhileClearingFailover,
  orphanFencedOnceReachable,
  staleLeaderNeverFencesNewOne,
  switchoverReleaseWithWatchdog,
} from './replayed.ts';
import {
  failoverToCurrentLeader,
  failoverToReplicaBetweenUpstreams,
  patchConfigUnchanged,
  patchConfigWriteFails,
  reinitializeDuringStart,
  restartFilters,
  scheduledRestartByWallClock,
  scheduledRestartDeleted,
  scheduledSwitchoverDeleted,
  scheduledSwitchoverReplaced,
  staleScheduledSwitchoverDropped,
} from './requests.ts';
import { standbyClusterLifecycle } from './standby.ts';
import {
  reloadKeepsSynchronousStandby,
  restartedAgentHoldsParameterReload,
  restartedAgentKeepsSynchronousNames,
  syncChangedWhileClaiming,
} from './synchronous.ts';
import { watchdogScenarios } from './watchdog.ts';

export type { Scenario };

export const scenarios: Scenario[] = [
  failedInitdb,
  etcdGoneDuringBootstrap,
  etcdLostEveryKey,
  leaderKeyDeleted,
  leaderKeyRewritten,
  failoverClearedWhileEtcdFails,
  mostAdvancedReplicaWins,
  ...orphanScenarios,
  syncChangedWhileClaiming,
  patchConfigWriteFails,
  patchConfigUnchanged,
  staleLeaderNeverFencesNewOne,
  orphanFencedOnceReachable,
  ...watchdogScenarios,
  ...fastFailoverScenarios,
  failoverToMemberOutsideFailsafe,
  switchoverReleaseWithWatchdog,
  failsafeWriteKeepsRefreshSchedule,
  leaderMemberKeyBackAfterOutage,
  failsafeThroughEtcdOutage,
  failsafeWithWatchdogThroughEtcdOutage,
  failsafeLeaderCutFromAMember,
  failsafeLeaderCutFromEtcd,
  failsafeReplicaHoldsBack,
  failsafeTopologyFollowsMembers,
  newLeaderCutDuringSlowPromotion,
  nofailoverAlone,
  stoppedWhileWaitingForEtcd,
  roguePromotion,
  promotionFails,
  restartedLeaderFailsToStart,
  reinitializeDuringStart,
  stoppedByHandWhilePaused,
  shutdownWhilePaused,
  scheduledRestartByWallClock,
  reloadKeepsSynchronousStandby,
  shutdownOutlastsLock,
  restartedAgentKeepsSynchronousNames,
  restartedAgentHoldsParameterReload,
  foreignDataDirectory,
  firstCloneFails,
  restartFilters,
  scheduledRestartDeleted,
  scheduledSwitchoverReplaced,
  scheduledSwitchoverDeleted,
  staleScheduledSwitchoverDropped,
  failoverToReplicaBetweenUpstreams,
  restartStartFails,
  restartStopFails,
  leaderWillNotStart,
  leaderWillNotStartWithoutEtcd,
  ...rewindOutcomes,
  rewindImpossibleKeepsData,
  rewindRefusedTwice,
  reinitializeQueuedBehindRewind,
  rewindOffKeepsData,
  initializeKeyChanged,
  initializeKeyChangedWhilePaused,
  switchoverStopFails,
  switchoverCheckpointFails,
  reinitializeStopFails,
  forcedReinitializeRemovalFails,
  shutdownStopFails,
  shutdownCannotStop,
  shutdownCannotStopFastFailover,
  etcdFailsWhileAcquiring,
  shutDownWhileReclaiming,
  leaderShutDownWithoutEtcd,
  standingBack,
  restartedPrimaryWithoutEtcd,
  failoverToCurrentLeader,
  fencesByLastConfig,
  frozenInPromotion,
  ghostWalsender,
  lockLostWhileClearingFailover,
  failedDemotionRetried,
  cutDuringSlowPromotion,
  cutDuringPostPromotionCheckpoint,
  cutDuringSwitchoverCheckpoint,
  cascadingReplica,
  standbyClusterLifecycle,
];
