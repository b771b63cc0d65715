/**
 * Fixed fault schedules — shrunk failures the sweeps once found — played by the seeded runner
 * with every invariant: each reaches a path no seed of the budget reaches.
 */
import { formatFailure, runSchedule } from '../runner/index.ts';
import { parseSchedule } from '../schedule/index.ts';
import type { Scenario } from './harness.ts';

/**
 * A fixed fault schedule (a shrunk failure the sweeps once found), played by the seeded runner
 * with every invariant: it reaches a path no seed of the budget reaches. In the mode it was found
 * in: fast failover off unless said (each was found before it was on by default, and its timings
 * are what reach the path).
 */
function replaying(
  seed: number,
  schedule: string,
  opts: {
    ttl?: number;
    synchronousMode?: boolean;
    failsafeMode?: boolean;
    watchdog?: boolean;
    fastFailover?: boolean;
  } = {},
): Scenario['run'] {
  return async (inspect) => {
    const r = await runSchedule({
      seed,
      ttl: opts.ttl,
      synchronousMode: opts.synchronousMode,
      failsafeMode: opts.failsafeMode,
      watchdog: opts.watchdog,
      fastFailover: opts.fastFailover ?? false,
      schedule: parseSchedule(schedule, ['node1', 'node2', 'node3']),
      coverage: { inspect: inspect ?? (() => {}) },
    });
    if (!r.ok) throw new Error(formatFailure(r));
  };
}

export const frozenInPromotion: Scenario = {
  name: 'a leader frozen in its promotion and thawed past its lease demotes before it finishes the promotion',
  run: replaying(
    13,
    '1:kill:node1,2:kill:node2,11:restart:node1,13:kill:node3,15:freeze:node1,16:restart:node3,22:dcs-latency:2000,23:thaw:node1',
    { ttl: 10 },
  ),
};

export const ghostWalsender: Scenario = {
  // Found on real processes (bench/plans/refusing-after-failover.json): a walsender outlives
  // its standby unnoticed (a ghost, until wal_sender_timeout) and PostgreSQL reports it `sync`.
  name: 'a ghost walsender reported `sync` does not make its standby, which lacks commits acknowledged alone, the synchronous standby',
  run: replaying(
    1,
    '2:partition:node1:node2,2:partition:node1:node3,3:kill:node2,3:kill:node3,11:restart:node2,11:restart:node3,14:kill:node1',
    { synchronousMode: true },
  ),
};

export const lockLostWhileClearingFailover: Scenario = {
  name: 'a new leader that loses the lock while clearing /failover demotes at once',
  run: replaying(40971, '5:dcs-latency:1550,35:switchover:node1:node3:-,37:dcs-cut:node3,41:dcs-latency:0'),
};

export const failedDemotionRetried: Scenario = {
  name: 'a failed demotion is tried again at once',
  run: replaying(275, '36:switchover:node1:node3:-,40:fail:node3:stop,47:dcs-cut:node3', { ttl: 10 }),
};

export const staleLeaderNeverFencesNewOne: Scenario = {
  // Found by the sweep (seed 103) when the leader's watch came: node2, a leader frozen past its
  // lease, woke while still in its `primary` state and its watch fenced node1, the leader promoted
  // since (no writable leader for good). A newer timeline is never fenced now.
  name: 'a leader frozen past its lease wakes: its watch never fences the leader promoted since',
  run: replaying(103, '3:kill:node1,18:freeze:node2,23:restart:node1,29:switchover:node1:-:-,35:thaw:node2'),
};

export const orphanFencedOnceReachable: Scenario = {
  // The leader's agent killed while its host is cut from the others: nobody can fence it at the
  // promotion; the new leader's watch fences it within a loop of the partition healing.
  name: 'an orphan cut off at the promotion is fenced by the new leader within a loop of becoming reachable',
  run: replaying(
    5,
    '1:kill-agent:node1,2:partition:node1:node2,2:partition:node1:node3,14:heal:node1:node2,14:heal:node1:node3',
  ),
};

export const failoverToMemberOutsideFailsafe: Scenario = {
  // Found by the watchdog sweep (seed 22, --failsafe --watchdog): a failover named a member that
  // /failsafe no longer named (it had been frozen). It may not take over in failsafe mode, and the
  // others deferred to it: no leader for good. They race now, as if nobody had been named.
  name: 'failsafe mode: a failover naming a member outside /failsafe does not leave the cluster leaderless',
  run: replaying(
    22,
    '10:kill:node2,12:freeze:node3,23:dcs-cut:node1,34:restart:node2,46:thaw:node3,48:failover:node2:node3',
    { failsafeMode: true, watchdog: true },
  ),
};

export const switchoverReleaseWithWatchdog: Scenario = {
  // Found by the --watchdog --failsafe sweep (seed 37): the old leader of a switchover, its
  // PostgreSQL stopped, waited a loop for etcd (away) to confirm its release before closing its
  // watchdog, and was reset meanwhile. It closes the watchdog once PostgreSQL is stopped now.
  name: 'a switchover whose release meets etcd gone: the old leader closes its watchdog once its PostgreSQL is stopped',
  run: replaying(37, '10:switchover:node2:-:13,11:reject:node1:node2,20:dcs-down,21:freeze:node3', {
    failsafeMode: true,
    watchdog: true,
  }),
};

export const failsafeWriteKeepsRefreshSchedule: Scenario = {
  // Found by the --failsafe sweep (seed 431): a replica's member key expired, the leader wrote
  // /failsafe without it, and the write restarted the wait for the next refresh — which then fell
  // past the lease's deadline. The leader lost its lock to its own timer and promoted again on a
  // new timeline. The next refresh counts from the last one now, whatever happens between.
  name: 'failsafe mode: writing /failsafe never pushes the next lease refresh past the deadline',
  run: replaying(431, '29:kill:node2', { failsafeMode: true }),
};

export const leaderMemberKeyBackAfterOutage: Scenario = {
  // Found by the --failsafe sweep (seed 175) once the refresh kept its own schedule: a leader cut
  // from etcd past the ttl (kept by failsafe mode) came back and its member key never did — the
  // put on the lease etcd had expired was dropped, and the loop's forced publish, queued behind
  // another, lost its force. Its replicas had no one to follow for good.
  name: 'a leader back from an etcd outage longer than the ttl puts its member key back, and its replicas follow it',
  run: replaying(175, '22:freeze:node1,24:shutdown:node2,29:freeze:node3,31:thaw:node3,34:dcs-cut:node3', {
    failsafeMode: true,
  }),
};
