/**
 * Why the states and transitions that neither the CI seed budget nor the targeted scenarios
 * (scenarios/) reach are left unreached. test/unit/sim-budget.test.ts fails on anything
 * unreached and unexplained here, and on a note whose transition is now reached (stale), so this
 * list stays exactly the gap. Keys are the ids StateCoverage reports.
 */

const RELEASE_NOT_LEADING =
  'RELEASE is sent by the node machine only while it holds the lock; reaching a non-leader election state needs the lock lost in the same instant. Defensive: the release is answered so the node never waits for it.';
const DCS_ERROR_IN_CALL =
  'An etcd error inside this one call: the simulated etcd fails calls only by not answering (outage, cut, latency), and these calls are bounded by retry_timeout, so they time out as errors only if the outage starts within their few milliseconds. The error target is the same as for a negative answer, which is taken.';
const BOOTSTRAP_PG_ERROR =
  'An injected PostgreSQL failure in the bootstrap: schedules start after the bootstrap; the scenarios fail initdb and the first clone (abandoning and the retry after a failed clone are taken) — this step fails the same way into the same state.';
const TIMER_BEHIND_ANSWER =
  'The fallback timer of a state that waits for the election to confirm a release: the election answers within milliseconds (its deleteLeader is bounded by retry_timeout < loop_wait), so the timer only matters if the election actor itself is gone.';

const READ_CLOCK =
  'The agent’s readClock reads its clock and cannot fail; the fallback (trust the time waited) is for a machine run without one: test/unit/scheduled-action.test.ts takes both branches.';

const PARAMETERS_BEFORE_FIRST_SAMPLE =
  'A reload held before the first status sample (an agent restarted with other parameters in its /config copy) is taken by the scenario "an agent restarted with changed parameters…"; a further change while it is held, and a first sample of a stopped postmaster, need a second PATCH or a stopped PostgreSQL within the second after the start. test/unit/server-parameters-machine.test.ts takes them.';

const BOOTSTRAP_DCS_ERROR =
  'etcd failing in the one step of publishing a new cluster: schedules start after the bootstrap, and the scenario that fails it does so at /initialize (writingInitialize, taken); every step fails into the same abandoning state. test/unit/node.test.ts takes a failed /config write and a leader key already taken.';

const REPLICA_METHODS =
  'postgresql.create_replica_methods other than pg_basebackup (a no_leader restore, keep_data): the simulated clusters configure none and SimulatedPostgres models pg_basebackup from a member only. test/unit/node-replicas.test.ts takes it, test/integration/replica-methods.test.ts runs real methods.';
const CUSTOM_BOOTSTRAP =
  'bootstrap.method with a command (a restore instead of initdb): the simulated clusters bootstrap with initdb and SimulatedPostgres models no backup to restore. test/unit/node-replicas.test.ts takes the restore and its failure, test/integration/replica-methods.test.ts restores a real cluster to a point in time.';

const STANDBY_CLUSTER =
  'A standby cluster (standby_cluster in /config) is played by one scenario (standbyClusterLifecycle: a remote primary, the standby leader killed, the section removed), not by the seeded schedules; this step is off that path. test/unit/node-replicas.test.ts takes it, test/integration/standby-cluster.test.ts runs one beside its primary cluster.';

const WATCHDOG_STEP_THROWS =
  'setWatchdog never rejects: a device that cannot be opened, configured or closed is a reading of its own (DeviceWatchdog, the scenarios break one), so the step only throws if its provider does; kept so that such a provider neither crashes the node nor, in required mode, lets it promote. test/unit/node.test.ts takes it.';

export const COVERAGE_NOTES: Readonly<Record<string, string>> = {
  'node.bootstrap.restoring': CUSTOM_BOOTSTRAP,
  'node.bootstrap.racingInitialize --done(raceInitialize)#1--> node.bootstrap.restoring': CUSTOM_BOOTSTRAP,
  'node.active.running.standbyLeader.repointing': STANDBY_CLUSTER,
  'node.active.running.standbyLeader.waitingToRepoint': STANDBY_CLUSTER,
  'node.active.running.standbyLeader --always#2--> node.active.running.demoting': STANDBY_CLUSTER,
  'node.active.running.standbyLeader.atRest --always--> node.active.running.standbyLeader.repointing':
    STANDBY_CLUSTER,
  'node.active.running.standbyLeader.repointing --error(followUpstream)--> node.active.running.standbyLeader.waitingToRepoint':
    STANDBY_CLUSTER,
  'node.active.running.standbyLeader.waitingToRepoint --after(shortRetry)--> node.active.running.standbyLeader.atRest':
    STANDBY_CLUSTER,
  'node.active.running.standbyLeader --PG_STATUS#0--> node.active.running.crashed': STANDBY_CLUSTER,
  'node.active.running.standbyLeader --PG_STATUS#1--> (no target)': STANDBY_CLUSTER,
  'node.active.running.standbyLeader --RESTART#0--> (no target)': STANDBY_CLUSTER,
  'node.active.running.standbyLeader --RESTART#1--> node.active.running.restarting': STANDBY_CLUSTER,
  'node.active.running.standbyLeader --always#0--> node.active.running.replica': STANDBY_CLUSTER,
  'node.active.running.standbyLeader.repointing --done(followUpstream)--> node.active.running.standbyLeader.atRest':
    STANDBY_CLUSTER,
  'node.bootstrap.cloningRemote --error(createReplica)--> node.bootstrap.abandoning': STANDBY_CLUSTER,
  'node.bootstrap.startingStandbyLeader --error(startPostgres)--> node.bootstrap.abandoning': STANDBY_CLUSTER,
  'node.bootstrap.restoring --done(customBootstrap)--> node.bootstrap.startingNewPrimary': CUSTOM_BOOTSTRAP,
  'node.bootstrap.restoring --error(customBootstrap)--> node.bootstrap.abandoning': CUSTOM_BOOTSTRAP,
  'node.bootstrap.deciding --always#4--> node.bootstrap.cloning': REPLICA_METHODS,
  'node.active.running.recloning.removing --always--> node.active.running.recloning.cloning': REPLICA_METHODS,
  'node.active.running.primary --error(setWatchdog)--> (no target)': WATCHDOG_STEP_THROWS,
  'node.active.running.promoting.armingWatchdog --error(setWatchdog)#0--> node.active.running.releasing':
    WATCHDOG_STEP_THROWS,
  'node.active.running.promoting.armingWatchdog --error(setWatchdog)#1--> node.active.running.promoting.deciding':
    WATCHDOG_STEP_THROWS,
  'node.active.running.primary --error(liftOwnFence)--> (no target)':
    'The lift runs SQL only when a fence marker is on our own primary (the scenarios never fence a leader that later leads again without a restart), and fails only if PostgreSQL stops answering in that moment; tried again next loop. test/integration/postgres-process.test.ts lifts a real one.',
  'node.active.running.primary --error(fenceServers)--> (no target)':
    'fenceServers never rejects (a server not reached is a result of its own); kept so that a throwing provider only skips one loop of the watch. test/unit/node.test.ts takes it ("a fence that fails...").',
  'node.active.running.promoting.prePromoting --done(runPrePromote)#0--> node.active.running.releasing':
    'postgresql.pre_promote refused: the simulated nodes configure no pre_promote (it is a script on the host). test/unit/node.test.ts takes it, and test/integration/callbacks.test.ts on real processes (the lock given back, then a replica leads once the script allows).',
  'node.active.running.promoting.prePromoting --error(runPrePromote)--> node.active.running.releasing':
    'The pre_promote step itself breaking (not the script failing: that is an outcome, exit code null): runPrePromote never rejects; the branch keeps a broken one from promoting.',
  'node.active.running.promoting.fencing --error(fenceServers)--> node.active.running.promoting.prePromoting':
    'fenceServers never rejects: each server not reached is a result of its own (the scenario "…cut from the others…" takes it). The error branch keeps a throwing provider from stopping the promotion; test/unit/node.test.ts takes it.',
  'node.bootstrap.publishing.grantingLease --error(ensureLease)--> node.bootstrap.abandoning':
    BOOTSTRAP_DCS_ERROR,
  'node.bootstrap.publishing.refreshingLease --error(freshLease)--> node.bootstrap.abandoning':
    BOOTSTRAP_DCS_ERROR,
  'node.bootstrap.publishing.takingLock --done(acquireLeader)#1--> node.bootstrap.abandoning':
    BOOTSTRAP_DCS_ERROR,
  'node.bootstrap.publishing.takingLock --error(acquireLeader)--> node.bootstrap.abandoning':
    BOOTSTRAP_DCS_ERROR,
  'node.bootstrap.publishing.writingConfig --error(writeBootstrapConfig)--> node.bootstrap.abandoning':
    BOOTSTRAP_DCS_ERROR,
  'serverParameters.unsampled.reloadHeld --APPLY#0--> (no target)': PARAMETERS_BEFORE_FIRST_SAMPLE,
  'serverParameters.unsampled.reloadHeld --APPLY#1--> (no target)': PARAMETERS_BEFORE_FIRST_SAMPLE,
  'serverParameters.unsampled.reloadHeld --SAMPLED#1--> serverParameters.sampled':
    PARAMETERS_BEFORE_FIRST_SAMPLE,
  'node.active.running.stoppingToRejoin --error(stopPostgres)--> node.active.running.crashed':
    'A stop that fails just as a diverged replica stops to rejoin: an injected stop failure must be pending at that moment; the scenarios fail stop on restart, reinitialize and shutdown, and this one goes to the same crashed state.',
  'node.active.running.stoppingToReclone --error(stopPostgres)--> node.active.running.crashed':
    'A stop that fails just as a diverged replica (use_pg_rewind off, remove_data_directory_on_diverged_timelines on) stops to be cloned again: an injected stop failure must be pending at that moment; this goes to the same crashed state as the other failed stops (taken).',
  'node.active.running.rewindFailed --always#0--> node.active.running.releasing':
    'Defensive: a node whose pg_rewind could not rewind waits with PostgreSQL stopped, and the election never finds a stopped node the healthiest, so it does not take the lock there; should it ever hold it, it gives it up as crashed does (taken).',
  'node.active.foreignWhilePaused --LEADERSHIP_ACQUIRED--> (no target)':
    'In maintenance mode only a named switchover candidate races; a node whose data directory stopped matching /initialize while paused would have to be that candidate. The lock goes back at once, as on entry (taken from running).',
  'node.active.foreignWhilePaused --LEADERSHIP_LOST--> (no target)':
    'The lock is given up on entry (LEADERSHIP_RELEASED, taken); losing it afterwards needs it acquired there first (see LEADERSHIP_ACQUIRED). Keeps isLeader honest should it happen.',
  'node.active.running.switchingOver.checking --error(probeMembers)--> node.active.running.clearingFailover':
    'Member probes never reject (an unreachable member is an answer: reachable false); the error branch guards against a bug in them.',
  'node.bootstrap.racingInitialize --error(raceInitialize)--> node.bootstrap.waitingForLeader':
    DCS_ERROR_IN_CALL,
  'node.active.running.afterPromotion.creatingSlots --error(syncSlots)--> node.active.running.primary':
    'The simulated PostgreSQL creates and drops slots without failing (no injected failure for it); a real one fails here only if the server went away mid-promotion. Same target as a failed /history write (taken): the next loop tries again.',
  'node.active.running.afterPromotion.readingTimelineHistory --error(readTimelineHistory)--> node.active.running.primary':
    'The simulated PostgreSQL always has its timeline history; a real one fails only if the data directory went away. Same target as a failed /history write (taken).',
  'node.active.running.afterPromotion.publishing --error(publishMember)--> node.active.running.primary':
    'The agent’s publish logs its errors and resolves; the error path is for a runtime that reports them. Same target as done.',
  'node.active.running.afterPromotion.deciding --always#1--> node.active.running.afterPromotion.checkpointing':
    'use_slots: false, which the simulated configurations do not use; test/unit/node.test.ts takes it.',
  'node.active.running.promoting.waitingForNobody --error(setSynchronousStandbyNames)--> node.active.running.releasing':
    'The agent’s setSynchronousStandbyNames logs a failed reload and resolves (the samples show whether the value took effect, and the sync manager reloads again); the error path is for a runtime that reports it. test/unit/node.test.ts takes it.',
  'node.active.running.promoting.deciding --always#0--> node.active.running.afterPromotion':
    'The lock taken while PostgreSQL already runs as a primary in a state that has not demoted it yet (pg_ctl promote by hand while the replica re-points): the schedules promote by hand only on a replica at rest, which demotes it first. test/unit/node.test.ts takes it.',
  'node.bootstrap.adopting --done(writeInitialize)--> node.active.running':
    "The node's own /initialize write reaches its watch before the write's promise resolves, and adopting's eventless transition (the cluster has /initialize now) leaves first, to the same target; the adoption itself is taken in two scenarios.",
  'node.bootstrap.adopting --error(writeInitialize)--> node.active.running':
    "As done(writeInitialize), for a failed write: the same target. Nothing claims /initialize again afterwards (Patroni's leader writes a missing /initialize every loop; pgwarden does not yet: an open gap).",
  'node.active.running.crashed --always#1--> node.active.running.reinitializing':
    'A forced reinitialize queued and PostgreSQL crashing before the queue is served: the queue is served from replica (taken, scenario "reinitialize while a start runs"), this is the same check on the crash path.',
  'node.active.running.primary --PG_STATUS#2--> node.active.running.promoting':
    "The lock holder's PostgreSQL reported in recovery: only if someone restarts the primary as a standby behind the agent's back; the agent then promotes it again.",
  'node.active.running.releasingWhilePaused --after(loopWait)--> node.active.running.stoppedWhilePaused':
    TIMER_BEHIND_ANSWER,
  'node.active.running.stoppedWhilePaused --REINITIALIZE--> node.active.running.reinitializing':
    'POST /reinitialize on a stopped member of a paused cluster: the same target as from replica (taken); schedules pause rarely enough that this pair does not meet.',
  'node.bootstrap.abandoning.stoppingPostgres --error(stopPostgres)--> node.bootstrap.abandoning.cancellingInitialization':
    'A stop failing inside an abandoned bootstrap: the scenarios abandon after initdb fails (no server to stop) and when etcd goes away while publishing (the stop succeeds); no schedule combines a failed stop with a bootstrap. Same target as the stop that succeeds.',
  'node.bootstrap.inspectingNewCluster --error(inspectDataDir)--> node.bootstrap.abandoning':
    BOOTSTRAP_PG_ERROR,
  'node.bootstrap.startingNewPrimary --error(startPostgres)--> node.bootstrap.abandoning': BOOTSTRAP_PG_ERROR,
  'election.follower --always#0--> election.released':
    'A release remembered in another state and acted on when back in follower. ' + RELEASE_NOT_LEADING,
  'election.follower --RELEASE--> election.released': RELEASE_NOT_LEADING,
  'election.racing --RELEASE--> election.released': RELEASE_NOT_LEADING,
  'election.removingStaleLeader --RELEASE--> election.released': RELEASE_NOT_LEADING,
  'election.removingStaleLeader --FAILSAFE_ACCEPTED--> (no target)':
    'A leader asking for confirmation in failsafe mode while this member removes its proven-stale key: it needs failsafe mode, fast failover, a leader given up by gossip yet asking over REST, and etcd slow enough to keep the removal open. test/unit/election.test.ts takes it ("confirms no leader in failsafe mode while it removes the key").',
  'election.racing --FREEZE--> election.resigned':
    'A shutdown in the middle of a race: the race lasts as long as its probe, and with fast failover on by default the leader proven gone is no longer asked, so no peer is silent for the 2 s budget in the budget’s runs. Same target and action as from follower (taken: a shutdown while following).',
  'election.racing.probing.asking --error(probePeers)--> election.waiting':
    'Peer probes never reject (an unreachable peer is an answer); the error branch guards against a bug in them.',
  'election.leader.holding.refreshing --done(updateLeader)#1--> election.lost':
    'A refresh that reaches etcd and is refused (our lease gone, or the key on another name) before the watch shows it: the watch is faster in the simulator, so the lock is lost through CLUSTER (taken); unit tests of the election take this branch.',
  'node.active.running.demotionFailed --after(demotionRetry)#0--> node.active.running.boot':
    'A demotion whose stop failed while PostgreSQL went down anyway (it crashed in between): the simulated stop fails before touching PostgreSQL, and a crash within the 200 ms retry is not scheduled. The other branch (stop again) is taken by the scenario "a failed demotion is tried again at once".',
  'scheduledAction.pending --SCHEDULE#0--> (no target)':
    'The same request again while it waits: the node machine sends a scheduled switchover only when /failover changes, and refuses a second scheduled restart itself; for senders that repeat themselves. test/unit/scheduled-action.test.ts takes it.',
  'scheduledAction.pending --SCHEDULE#2--> (no target)':
    'A different request refused while one waits: the node machine refuses a second scheduled restart itself (409), and a rewritten scheduled switchover replaces the waiting one (SCHEDULE#1, taken). test/unit/scheduled-action.test.ts takes it.',
  'scheduledAction.pending.checkingClock --error(readClock)#0--> scheduledAction.idle': READ_CLOCK,
  'scheduledAction.pending.checkingClock --error(readClock)#1--> scheduledAction.pending.waiting': READ_CLOCK,
  'reinitializeRequest.askingNode --after(nodeAnswer)--> reinitializeRequest.answered':
    'The node machine answers REINITIALIZE in the same step in every state it runs in; only a node machine that has stopped (the agent shutting down) leaves the request unanswered. test/unit/reinitialize-request.test.ts takes it.',
  'serverParameters --RELOAD_AGAIN--> (no target)':
    'A reload PostgreSQL did not apply (a sample begun after it shows the old synchronous_standby_names): the simulated PostgreSQL applies every reload it is sent. A real one may miss one (a reload signalled while the postmaster restarts). test/unit/server-parameters-machine.test.ts takes it.',
  'leaderDuties.idle --PUBLISH#5--> (no target)':
    'A publication that can give no order: the runtime leaves those out (publicationMatters, the same rule as the guards); this branch answers them for senders that do not filter. test/unit/leader-duties.test.ts takes it and shows such a publication changes nothing.',
  'election.waiting --RELEASE--> election.released':
    'The node asking for a release while its election waits out an etcd error: the budget reached it by chance until the model enforced slots on cascading upstreams too (2026-12-06). test/unit/election.test.ts takes it (after an acquisition etcd did not answer).',
  'election.leader.holding.confirming --error(confirmFailsafe)--> election.leader.holding.retrying':
    'The failsafe confirmation never rejects: a member that does not answer, or answers anything but 200 Accepted, is a confirmation missing (src/runtime/failsafe.ts). The error branch keeps a broken one from extending the lock.',
  'election.racing.acquiring --FAILSAFE_ACCEPTED--> (no target)':
    "A leader asking to be confirmed during the few milliseconds of this node's create transaction: the schedules' etcd answers at once. Refused, since this node may be the leader the moment after; test/unit/failsafe.test.ts takes it.",
  'election.racing.probing.sampling --error(sampleOwnPosition)--> election.waiting':
    'The status sampler never rejects: a PostgreSQL that does not answer is logged and the last status kept (src/runtime/postgres-sampler.ts). The error branch keeps a broken sampler from starting a race on a stale position of our own.',
};
