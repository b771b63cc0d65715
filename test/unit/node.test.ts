/**
 * The production node machine driven end to end with fake I/O actors, a simulated clock and
 * hand-built cluster views (test/helpers/node-harness.ts).
 */

import { describe, expect, it } from 'vitest';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import { BASEBACKUP_ONLY } from '../../src/cluster/replica-methods.ts';
import type { ClusterView } from '../../src/cluster/view.ts';
import { NOT_ARMED } from '../../src/cluster/watchdog.ts';
import { refreshIntervalMs } from '../../src/machines/election/index.ts';
import { REWIND_RETRY_LOOPS } from '../../src/machines/node/index.ts';
import {
  bootstrappedPrimary,
  FOREIGN_SYSID,
  type Harness,
  harness,
  PORTS,
  primaryDir,
  primaryPg,
  R,
  replicaOfB,
  replicaPg,
  SYSID,
  settings,
  standbyDir,
  stoppedPg,
  upstream,
  view,
} from '../helpers/node-harness.ts';
import { advance, settle } from '../helpers/sim.ts';

// ---- scenarios --------------------------------------------------------------------------

describe('node machine: bootstrap', () => {
  // XState's assign copies the context with Object.assign; from 20 properties on, V8 makes that
  // copy a slow dictionary object, and the simulator loses about a tenth of its speed
  // (bench/README.md, sim). Group new fields into an existing object rather than add keys.
  it('keeps its context at 19 keys or fewer', () => {
    expect(Object.keys(harness().ctx()).length).toBeLessThanOrEqual(19);
  });

  it('waits for the first DCS view before touching the data directory', async () => {
    const h = harness();
    await settle();
    expect(h.snap().value).toEqual({ starting: 'waitingForDcs' });
    expect(h.ctx().message).toBe('waiting for DCS');
    expect(h.calls).toEqual([]);
  });

  it('empty DCS and empty data dir: races /initialize, initdb, starts as primary and holds the lock', async () => {
    const h = harness();
    await h.cluster(view({ initialize: null }));

    expect(h.nodeCalls()).toEqual([
      'inspectDataDir',
      'raceInitialize',
      'initdb',
      'startPostgres',
      'inspectDataDir',
      'ensureLease',
      'writeInitialize',
      'writeBootstrapConfig',
    ]);
    // Then the lock, with the same two steps as the election's race (the election starts holding it).
    expect(h.inputs('freshLease')).toEqual([{ ttl: 30 }]);
    expect(h.inputs('acquireLeader')).toEqual([{ name: 'a' }]);
    expect(h.inputs('startPostgres')).toEqual([{ role: 'primary', upstream: null, timeoutSeconds: 60 }]);
    expect(h.inputs('writeInitialize')).toEqual([{ sysid: SYSID }]);
    expect(h.inputs('ensureLease')).toEqual([{ ttl: 30 }]);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    const ctx = h.ctx();
    expect(ctx.isLeader).toBe(true);
    expect(ctx.bootstrapLeaseAgeMs).not.toBeNull();
    expect(ctx.role).toBe('master');
    expect(ctx.pgState).toBe('running');
    expect(ctx.following).toBe(null);
    expect(ctx.message).toBe('no action. I am (a), the leader with the lock');
    expect(ctx.fatal).toBe(null);
    expect(h.trace).toContain(JSON.stringify({ bootstrap: 'initdb' }));

    // The election starts as the holder: it refreshes after its refresh interval and never races.
    expect(h.electionState()).toEqual({ leader: { holding: 'idle' } });
    const interval = refreshIntervalMs(settings);
    await advance(h.clock, interval - 100, 100);
    expect(h.count('updateLeader')).toBe(0);
    await advance(h.clock, 100, 100);
    expect(h.count('updateLeader')).toBe(1);
    expect(h.inputs('updateLeader')).toEqual([
      { name: 'a', recreate: true, ttl: 30, failsafe: false, write: false, rotate: false },
    ]);
    expect(h.count('acquireLeader')).toBe(1); // the bootstrap's, above: the election never races
    expect(h.count('probePeers')).toBe(0);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    expect(h.ctx().isLeader).toBe(true);
  });

  it('a lost /initialize race waits for the leader, then clones from it and starts as its replica', async () => {
    const h = harness({ impl: { raceInitialize: async () => false } });
    await h.cluster(view({ initialize: null }));
    expect(h.count('raceInitialize')).toBe(1);
    expect(h.snap().value).toEqual({ bootstrap: 'waitingForLeader' });
    expect(h.ctx().message).toBe('waiting for leader to bootstrap');
    expect(h.count('initdb')).toBe(0);

    await h.cluster(view({ initialize: SYSID, leader: 'b', members: ['a', 'b'] }));
    expect(h.inputs('createReplica')).toEqual([
      {
        from: { host: '127.0.0.1', port: 5433, applicationName: 'a', slotName: null },
        methods: BASEBACKUP_ONLY,
      },
    ]);
    expect(h.inputs('startPostgres')).toEqual([
      { role: 'replica', upstream: upstream('b'), timeoutSeconds: 60 },
    ]);
    expect(h.count('initdb')).toBe(0);
    expect(h.count('raceInitialize')).toBe(1);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.ctx().role).toBe('replica');
    expect(h.ctx().following).toBe('b');
    expect(h.ctx().isLeader).toBe(false);
    expect(h.ctx().message).toBe('no action. I am (a), a secondary, and following a leader (b)');
  });

  it('a nofailover node never races /initialize, however long the DCS stays empty', async () => {
    const h = harness({ tags: { nofailover: true, clonefrom: false } });
    await h.cluster(view({ initialize: null }));
    expect(h.snap().value).toEqual({ bootstrap: 'waitingForLeader' });
    await advance(h.clock, 35_000, 500);
    expect(h.count('raceInitialize')).toBe(0);
    expect(h.count('initdb')).toBe(0);
    expect(h.snap().value).toEqual({ bootstrap: 'waitingForLeader' });
    expect(h.ctx().message).toBe('waiting for leader to bootstrap');
  });

  it('a data directory of another cluster is fatal and nothing is started', async () => {
    const h = harness({ dataDir: { ...primaryDir, systemIdentifier: FOREIGN_SYSID } });
    await h.cluster(view({ initialize: SYSID, leader: 'b', members: ['a', 'b'] }));
    expect(h.snap().value).toBe('failed');
    expect(h.snap().status).toBe('done');
    const fatal = h.ctx().fatal!;
    expect(fatal).toContain('belongs to another cluster');
    expect(fatal).toBe(
      `the data directory belongs to another cluster: its system identifier ${FOREIGN_SYSID} differs from /initialize ${SYSID}`,
    );
    expect(h.ctx().message).toBe(fatal);
    expect(h.nodeCalls()).toEqual(['inspectDataDir']);
    expect(h.electionState()).toBeUndefined();
  });

  it('a new cluster whose leader key is already taken is abandoned: /initialize given back, and why', async () => {
    const h = harness({
      impl: { acquireLeader: async () => ({ won: false, leaseAgeMs: 5, leaseTtlSeconds: 30 }) },
    });
    await h.cluster(view({ initialize: null }));
    expect(h.count('cancelInitialization')).toBe(1);
    expect(h.snap().value).toBe('failed');
    expect(h.ctx().fatal).toBe('could not publish the new cluster: could not take the leader key');
  });

  it('a new cluster whose /config cannot be written is abandoned the same way, with the error', async () => {
    const h = harness({
      impl: {
        writeBootstrapConfig: async () => {
          throw new Error('etcd unreachable');
        },
      },
    });
    await h.cluster(view({ initialize: null }));
    expect(h.count('freshLease')).toBe(0);
    expect(h.count('cancelInitialization')).toBe(1);
    expect(h.ctx().fatal).toBe('could not publish the new cluster: etcd unreachable');
  });
});

describe('node machine: promotion', () => {
  /** Node `a`, a replica of `b`, wins the lock once `b`'s key is gone. */
  async function winLock(h: Harness): Promise<void> {
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
  }

  it('synchronous mode: /sync names only this node, then no standby is waited for, then it promotes', async () => {
    const h = await replicaOfB({ settings: { synchronous_mode: true } });
    const mark = h.calls.length;
    await winLock(h);
    // (The leader key gone, it first stops re-pointing at `b`: followUpstream with no upstream.)
    expect(h.nodeCalls(mark).filter((n) => n !== 'followUpstream')).toEqual([
      'claimSync',
      'setSynchronousStandbyNames',
      'promote',
      'syncSlots',
      'checkpoint',
      'readTimelineHistory',
      'writeHistory',
      'publishMember',
    ]);
    expect(h.inputs('claimSync')).toEqual([{ leader: 'a', index: null }]);
    expect(h.inputs('setSynchronousStandbyNames')).toEqual([{ value: '' }]);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
  });

  it("strict synchronous mode waits for any standby ('*'), never for none", async () => {
    const h = await replicaOfB({ settings: { synchronous_mode: true, synchronous_mode_strict: true } });
    await winLock(h);
    expect(h.inputs('setSynchronousStandbyNames')).toEqual([{ value: '*' }]);
  });

  it('asynchronous mode neither writes /sync nor touches synchronous_standby_names', async () => {
    const h = await replicaOfB();
    const mark = h.calls.length;
    await winLock(h);
    expect(h.nodeCalls(mark).filter((n) => n !== 'followUpstream')).toEqual([
      'promote',
      'syncSlots',
      'checkpoint',
      'readTimelineHistory',
      'writeHistory',
      'publishMember',
    ]);
  });

  it('use_slots off: no slots after the promotion, the rest as usual', async () => {
    const h = await replicaOfB({ settings: { use_slots: false } });
    const mark = h.calls.length;
    await winLock(h);
    expect(h.nodeCalls(mark).filter((n) => n !== 'followUpstream')).toEqual([
      'promote',
      'checkpoint',
      'readTimelineHistory',
      'writeHistory',
      'publishMember',
    ]);
  });

  it('before promoting, every other server it knows of is fenced (the former leader among them)', async () => {
    const h = await replicaOfB();
    const mark = h.calls.length;
    await winLock(h);
    const b = { name: 'b', host: '127.0.0.1', port: PORTS['b'] };
    const order = h.calls.slice(mark).map((c) => c.actor);
    expect(order.indexOf('fenceServers')).toBeLessThan(order.indexOf('promote'));
    // Then, at rest as primary (promoted to timeline 2), the watch: b's key is gone from the view,
    // so b is looked at again, but only behind our timeline; both rounds only in this cluster.
    expect(h.inputs('fenceServers')).toEqual([
      // The promotion waits 0.4 s for a session, the watch at rest (off the failover's path) 2 s.
      { targets: [b], belowTimeline: null, systemIdentifier: SYSID, sessionWaitMs: 400 },
      { targets: [b], belowTimeline: 2, systemIdentifier: SYSID, sessionWaitMs: 2000 },
    ]);
  });

  it('every loop the leader looks again at the servers the view does not show as running replicas', async () => {
    const h = await replicaOfB();
    await winLock(h);
    const b = { name: 'b', host: '127.0.0.1', port: PORTS['b'] };
    expect(h.inputs('fenceServers')).toEqual([
      // The promotion waits 0.4 s for a session, the watch at rest (off the failover's path) 2 s.
      { targets: [b], belowTimeline: null, systemIdentifier: SYSID, sessionWaitMs: 400 },
      { targets: [b], belowTimeline: 2, systemIdentifier: SYSID, sessionWaitMs: 2000 },
    ]);
    // At rest as the leader with the key, a fence found on our own primary may be lifted.
    expect(h.inputs('liftOwnFence')).toEqual([{ mayLift: true }]);
    // b back as a running replica: nothing to look at (a healthy cluster costs nothing).
    await h.cluster(view({ leader: 'a', members: ['a', 'b'] }));
    await advance(h.clock, settings.loop_wait * 1000 + 10, 500);
    expect(h.inputs('fenceServers').at(-1)).toEqual({
      targets: [],
      belowTimeline: 2,
      systemIdentifier: SYSID,
      sessionWaitMs: 2000,
    });
  });

  it('a fence that fails does not stop the promotion', async () => {
    const h = await replicaOfB({
      impl: {
        fenceServers: async () => {
          throw new Error('out of sockets');
        },
      },
    });
    const mark = h.calls.length;
    await winLock(h);
    // Before the promotion, and the watch once at rest as primary.
    expect(h.count('fenceServers')).toBe(2);
    expect(h.nodeCalls(mark)).toContain('promote');
    expect(h.world.pg.inRecovery).toBe(false);
  });

  it('/sync changed by somebody else: no promotion, the lock is given up', async () => {
    const h = await replicaOfB({
      settings: { synchronous_mode: true },
      impl: { claimSync: async () => false },
    });
    const mark = h.calls.length;
    await winLock(h);
    expect(h.nodeCalls(mark)).not.toContain('promote');
    expect(h.nodeCalls(mark)).not.toContain('setSynchronousStandbyNames');
    expect(h.trace).toContain(R('releasing'));
    expect(h.count('deleteLeader')).toBe(1);
    expect(h.world.pg.inRecovery).toBe(true);
  });

  for (const failing of ['claimSync', 'setSynchronousStandbyNames'] as const) {
    it(`${failing} fails: no promotion, the lock is given up with why`, async () => {
      const h = await replicaOfB({
        settings: { synchronous_mode: true },
        impl: {
          [failing]: async () => {
            throw new Error('etcd went away');
          },
        },
      });
      const mark = h.calls.length;
      await winLock(h);
      expect(h.nodeCalls(mark)).not.toContain('promote');
      expect(h.trace).toContain(R('releasing'));
      expect(h.count('deleteLeader')).toBe(1);
    });
  }

  it('already a primary when the lock comes (pg_ctl promote by hand while re-pointing): nothing to promote', async () => {
    let release: () => void = () => {};
    const h = await replicaOfB({
      impl: { followUpstream: () => new Promise<void>((r) => (release = r)) },
    });
    // A new leader to follow: the replica re-points, and the follow hangs meanwhile.
    await h.cluster(view({ leader: 'c', members: ['a', 'b', 'c'] }));
    expect(h.snap().value).toEqual({ active: { running: 'following' } });
    await h.pgStatus({ ...primaryPg, timeline: 2 });
    h.actor.send({ type: 'LEADERSHIP_ACQUIRED', fenceTargets: [] });
    const mark = h.calls.length;
    release();
    await settle();
    expect(h.nodeCalls(mark)).toEqual([
      'syncSlots',
      'checkpoint',
      'readTimelineHistory',
      'writeHistory',
      'publishMember',
    ]);
    expect(h.trace.some((v) => v.includes('promotingPostgres'))).toBe(false);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
  });
});

describe('node machine: running', () => {
  it('a replica whose election acquires the lock promotes and becomes the primary', async () => {
    const h = await replicaOfB();
    expect(h.inputs('startPostgres')).toEqual([
      { role: 'replica', upstream: upstream('b'), timeoutSeconds: 60 },
    ]);
    expect(h.count('acquireLeader')).toBe(0);

    const unlocked = view({ leader: null, members: ['a'] });
    await h.cluster(unlocked);
    await settle();

    expect(h.count('probePeers')).toBe(1);
    expect(h.inputs('acquireLeader')).toEqual([{ name: 'a' }]);
    expect(h.inputs('promote')).toEqual([{ timeoutSeconds: 30 }]);
    // After the promotion: slots, CHECKPOINT (unbounded), /history from the new timeline's file.
    expect(h.inputs('syncSlots')).toEqual([{ slots: { physical: [], logical: [], ignore: [] } }]);
    expect(h.inputs('checkpoint')).toEqual([{ timeoutSeconds: null }]);
    expect(h.inputs('writeHistory')).toEqual([
      { previous: unlocked.history, lines: [[1, 5000, 'no recovery target specified']] },
    ]);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    const ctx = h.ctx();
    expect(ctx.isLeader).toBe(true);
    expect(ctx.role).toBe('master');
    expect(ctx.pgState).toBe('running');
    expect(ctx.following).toBe(null);
    expect(h.trace).toContain(R({ promoting: 'promotingPostgres' }));
    expect(h.trace).toContain(R({ afterPromotion: 'writingHistory' }));
    expect(h.electionState()).toEqual({ leader: { holding: 'idle' } });
  });

  it('a primary that sees another leader demotes at once, rewinds and follows the new leader', async () => {
    const h = await bootstrappedPrimary();
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();

    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'rewind', 'startPostgres']);
    expect(h.inputs('stopPostgres')).toEqual([{ mode: 'immediate', timeoutSeconds: 60 }]);
    expect(h.inputs('rewind')).toEqual([
      { from: expect.objectContaining({ host: '127.0.0.1', port: 5433 }) },
    ]);
    expect(h.inputs('startPostgres').slice(1)).toEqual([
      { role: 'replica', upstream: upstream('b'), timeoutSeconds: 60 },
    ]);
    expect(h.count('deleteLeader')).toBe(0);
    expect(h.trace.slice(-5)).toEqual([
      R('primary'),
      R('demoting'),
      R('rewinding'),
      R('startingReplica'),
      R('replica'),
    ]);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    const ctx = h.ctx();
    expect(ctx.isLeader).toBe(false);
    expect(ctx.role).toBe('replica');
    expect(ctx.following).toBe('b');
    expect(ctx.wasPrimary).toBe(false);
    expect(h.electionState()).toBe('follower');
  });

  it('when pg_rewind is impossible the old primary is cloned again from the new leader', async () => {
    const h = await bootstrappedPrimary({ settings: { remove_data_directory_on_rewind_failure: true } });
    h.impl.rewind = async () => false;
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();

    expect(h.nodeCalls(mark)).toEqual([
      'stopPostgres',
      'rewind',
      'removeDataDir',
      'createReplica',
      'startPostgres',
    ]);
    expect(h.inputs('createReplica')).toEqual([{ from: upstream('b', null), methods: BASEBACKUP_ONLY }]);
    expect(h.inputs('startPostgres').slice(1)).toEqual([
      { role: 'replica', upstream: upstream('b'), timeoutSeconds: 60 },
    ]);
    expect(h.trace.slice(-6)).toEqual([
      R('demoting'),
      R('rewinding'),
      R({ recloning: 'removing' }),
      R({ recloning: 'cloning' }),
      R('startingReplica'),
      R('replica'),
    ]);
    expect(h.ctx().following).toBe('b');
    expect(h.ctx().wasPrimary).toBe(false);
  });

  // pg_rewind that breaks off (the leader unreachable, the run cut short) says nothing about the
  // data directory: it is kept, whatever remove_data_directory_on_* says, and tried again.
  it('with remove_data_directory_on_rewind_failure off, a failed pg_rewind keeps the data directory', async () => {
    const h = await bootstrappedPrimary({ settings: { remove_data_directory_on_rewind_failure: false } });
    h.impl.rewind = async () => {
      throw new Error('pg_rewind: could not find common ancestor of the source and target cluster');
    };
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.count('rewind')).toBe(1);
    expect(h.count('removeDataDir')).toBe(0);
    expect(h.count('createReplica')).toBe(0);
    expect(h.ctx().message).toMatch(
      /^pg_rewind failed, data directory kept: pg_rewind: could not find common ancestor/,
    );
  });

  it('a pg_rewind that breaks off keeps the data directory even with remove_data_directory_on_rewind_failure, and is tried again', async () => {
    const h = await bootstrappedPrimary({ settings: { remove_data_directory_on_rewind_failure: true } });
    let fail = true;
    h.impl.rewind = async () => {
      if (fail) throw new Error('pg_rewind: could not connect to server');
      return true;
    };
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.snap().value).toEqual({ active: { running: 'crashed' } });
    fail = false;
    await advance(h.clock, 2_000, 100);
    expect(h.count('rewind')).toBe(2);
    expect(h.count('removeDataDir')).toBe(0);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });
  it('a forced reinitialize during a start waits for it, then rebuilds; unforced it is refused', async () => {
    const h = await replicaOfB();
    let finishStart: () => void = () => {};
    const realStart = h.impl.startPostgres!;
    h.impl.startPostgres = (input) =>
      new Promise<unknown>((resolve) => {
        finishStart = () => resolve(realStart(input));
      });
    await h.pgStatus({ ...stoppedPg });
    await advance(h.clock, 2_000, 100); // crashed → recovering → startingReplica (start under way)
    expect(h.snap().value).toEqual({ active: { running: 'startingReplica' } });
    const seen: string[] = [];
    h.actor.on('*', (e) => seen.push(e.type));
    h.actor.send({ type: 'REINITIALIZE' });
    h.actor.send({ type: 'REINITIALIZE', force: true });
    expect(seen).toEqual(['reinitialize.busy', 'reinitialize.started']);
    const mark = h.calls.length;
    finishStart();
    await settle();
    await advance(h.clock, 500, 100);
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'removeDataDir', 'createReplica', 'startPostgres']);
    expect(h.inputs('stopPostgres').at(-1)).toEqual({ mode: 'immediate', timeoutSeconds: 60 });
    expect(h.ctx().reinitialize.queued).toBe(false);
  });

  it('a crashed replica looks again after at most 2 s and starts again as a replica', async () => {
    const h = await replicaOfB();
    const mark = h.calls.length;
    await h.pgStatus({ ...stoppedPg });
    expect(h.snap().value).toEqual({ active: { running: 'crashed' } });
    expect(h.ctx().pgState).toBe('crashed');
    expect(h.ctx().message).toBe('postgres is not running');

    await advance(h.clock, 1_900, 100);
    expect(h.snap().value).toEqual({ active: { running: 'crashed' } });
    expect(h.nodeCalls(mark)).toEqual([]);

    await advance(h.clock, 100, 100);
    expect(h.nodeCalls(mark)).toEqual(['inspectDataDir', 'startPostgres']);
    expect(h.inputs('startPostgres').slice(1)).toEqual([
      { role: 'replica', upstream: upstream('b'), timeoutSeconds: 60 },
    ]);
    expect(h.trace.slice(-4)).toEqual([R('crashed'), R('recovering'), R('startingReplica'), R('replica')]);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.ctx().pgState).toBe('running');
  });

  it('a replica follows a new leader', async () => {
    const h = await replicaOfB();
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'c', members: ['a', 'b', 'c'] }));
    expect(h.nodeCalls(mark)).toEqual(['followUpstream']);
    expect(h.inputs('followUpstream')).toEqual([{ upstream: upstream('c'), timeoutSeconds: 60 }]);
    expect(h.ctx().following).toBe('c');
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.ctx().message).toBe('no action. I am (a), a secondary, and following a leader (c)');
    expect(h.count('acquireLeader')).toBe(0);
  });

  it('a replica that is not the healthiest does not race, and says why', async () => {
    const ahead: PeerStatus = {
      name: 'c',
      reachable: true,
      inRecovery: true,
      walPosition: 500,
      timeline: 1,
      nofailover: false,
      watchdogFailed: false,
    };
    const h = await replicaOfB({ impl: { probePeers: async () => [ahead] } });
    await h.cluster(view({ leader: null, members: ['a', 'c'] }));
    // The election probes again after its short pause; by then the node has settled.
    await advance(h.clock, 1_500, 100);

    expect(h.count('probePeers')).toBeGreaterThanOrEqual(2);
    expect(h.count('acquireLeader')).toBe(0);
    expect(h.count('promote')).toBe(0);
    expect(h.ctx().election.verdict).toEqual({ healthiest: false, reason: 'c is ahead (500 > 100)' });
    expect(h.ctx().message).toContain('not the healthiest');
    expect(h.ctx().message).toBe(
      'following a different leader because i am not the healthiest node: c is ahead (500 > 100)',
    );
    expect(h.ctx().isLeader).toBe(false);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });
});

/** The leader's /history after b's promotion: timeline 1 ended at 3000. */
const forkedAt3000 = (v: ClusterView): ClusterView => ({
  ...v,
  history: [[1, 3000, 'no recovery target specified']],
});
/** A replica on timeline 1 past the fork, its WAL receiver unable to stream from the leader. */
const divergedReplicaPg: PostgresStatus = {
  ...replicaPg,
  receivedLsn: 5000,
  replayedLsn: 5000,
  replicationState: 'in archive recovery',
};

// Issue 10, bug 8: a failed rewind or use_pg_rewind off cloned the old primary again, removing its
// data directory whatever remove_data_directory_on_* said. Patroni keeps it unless configured.
describe('node machine: the data directory goes only when configured or asked', () => {
  it('pg_rewind finding rewind impossible, nothing configured: no removal, no clone, postgres stays stopped (the old wipe)', async () => {
    const h = await bootstrappedPrimary();
    h.impl.rewind = async () => false;
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    await advance(h.clock, 30_000, 1000);

    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'rewind']);
    expect(h.snap().value).toEqual({ active: { running: 'rewindFailed' } });
    expect(h.ctx().pgState).toBe('stopped');
    expect(h.ctx().message).toBe(
      'pg_rewind from b is not possible; remove_data_directory_on_rewind_failure is not set, so the data directory is kept and postgres stays stopped: POST /reinitialize to clone it again',
    );
  });

  it('remove_data_directory_on_diverged_timelines alone also lets a failed rewind remove the data directory, as in Patroni', async () => {
    const h = await bootstrappedPrimary({ settings: { remove_data_directory_on_diverged_timelines: true } });
    h.impl.rewind = async () => false;
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.nodeCalls(mark)).toEqual([
      'stopPostgres',
      'rewind',
      'removeDataDir',
      'createReplica',
      'startPostgres',
    ]);
  });

  it('after a refused rewind, pg_rewind is tried again when another node leads, and after REWIND_RETRY_LOOPS loops', async () => {
    const h = await bootstrappedPrimary();
    h.impl.rewind = async () => false;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.count('rewind')).toBe(1);
    // A view with the same leader changes nothing.
    await h.cluster(view({ leader: 'b', members: ['a', 'b', 'c'] }));
    expect(h.count('rewind')).toBe(1);
    await h.cluster(view({ leader: 'c', members: ['a', 'b', 'c'] }));
    expect(h.count('rewind')).toBe(2);
    expect(h.inputs('rewind').at(-1)).toEqual({ from: expect.objectContaining({ port: PORTS['c'] }) });
    expect(h.snap().value).toEqual({ active: { running: 'rewindFailed' } });
    await advance(h.clock, REWIND_RETRY_LOOPS * settings.loop_wait * 1000 - 1000, 1000);
    expect(h.count('rewind')).toBe(2);
    h.impl.rewind = async () => true;
    await advance(h.clock, 1000, 100);
    expect(h.count('rewind')).toBe(3);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.count('removeDataDir')).toBe(0);
  });

  it('after a refused rewind, POST /reinitialize removes the data directory and clones again', async () => {
    const h = await bootstrappedPrimary();
    h.impl.rewind = async () => false;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    const mark = h.calls.length;
    const seen: string[] = [];
    h.actor.on('*', (e) => {
      if (e.type !== 'callback') seen.push(e.type);
    });
    const told = h.callbacks.length;
    h.actor.send({ type: 'REINITIALIZE' });
    await settle();
    // The notice: "replica has been created using basebackup".
    expect(seen).toEqual(['reinitialize.started', 'notice']);
    // Its server was already stopped (no on_stop); the demoted primary never ran as a replica
    // before: its first start as one is the role change.
    expect(h.callbacks.slice(told)).toEqual(['on_role_change replica']);
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'removeDataDir', 'createReplica', 'startPostgres']);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });

  it('use_pg_rewind off, nothing configured: the old primary starts as a replica with its data, and stays so when it diverged', async () => {
    const h = await bootstrappedPrimary({ settings: { use_pg_rewind: false } });
    const mark = h.calls.length;
    await h.cluster(forkedAt3000(view({ leader: 'b', members: ['a', 'b'] })));
    await settle();
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'startPostgres']);
    expect(h.inputs('startPostgres').at(-1)).toEqual({
      role: 'replica',
      upstream: upstream('b'),
      timeoutSeconds: 60,
    });

    await h.pgStatus(divergedReplicaPg);
    await advance(h.clock, 60_000, 1000);
    await h.pgStatus(divergedReplicaPg);
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'startPostgres']);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.ctx().message).toBe(
      'timeline diverged from the leader (b): use_pg_rewind is off and remove_data_directory_on_diverged_timelines is not set, so the data directory is kept as it is; POST /reinitialize to clone it again',
    );
  });

  it('use_pg_rewind off with remove_data_directory_on_diverged_timelines: cloned again only once seen to have diverged', async () => {
    const h = await bootstrappedPrimary({
      settings: { use_pg_rewind: false, remove_data_directory_on_diverged_timelines: true },
    });
    const mark = h.calls.length;
    await h.cluster(forkedAt3000(view({ leader: 'b', members: ['a', 'b'] })));
    await settle();
    // It streams (replicaPg): not diverged, nothing removed.
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'startPostgres']);
    await h.pgStatus(divergedReplicaPg);
    expect(h.nodeCalls(mark)).toEqual([
      'stopPostgres',
      'startPostgres',
      'stopPostgres',
      'removeDataDir',
      'createReplica',
      'startPostgres',
    ]);
    expect(h.inputs('stopPostgres').at(-1)).toEqual({ mode: 'immediate', timeoutSeconds: 60 });
    expect(h.trace).toContain(R('stoppingToReclone'));
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });

  it('use_pg_rewind off with only remove_data_directory_on_rewind_failure: a diverged replica is kept (that flag is about failed rewinds)', async () => {
    const h = await bootstrappedPrimary({
      settings: { use_pg_rewind: false, remove_data_directory_on_rewind_failure: true },
    });
    const mark = h.calls.length;
    await h.cluster(forkedAt3000(view({ leader: 'b', members: ['a', 'b'] })));
    await h.pgStatus(divergedReplicaPg);
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'startPostgres']);
    expect(h.count('removeDataDir')).toBe(0);
  });
});

describe('node machine: the system identifier, checked on every change', () => {
  const OTHER = '6999999999999999999';

  it('the leader seeing /initialize name another system: stops postgres, gives the lock up, never touches the data, exits with the reason', async () => {
    const h = await bootstrappedPrimary();
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'a', members: ['a'], initialize: OTHER }));
    await settle();
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres']);
    expect(h.inputs('stopPostgres').at(-1)).toEqual({ mode: 'fast', timeoutSeconds: 60 });
    expect(h.count('deleteLeader')).toBe(1);
    expect(h.snap().value).toBe('stopped');
    expect(h.snap().status).toBe('done');
    const fatal = `system ID mismatch, node a belongs to a different cluster: ${OTHER} != ${SYSID}`;
    expect(h.ctx().fatal).toBe(fatal);
    expect(h.ctx().message).toBe(fatal);
  });

  it('a data directory found foreign after a crash is never started: the step that would start it is left first', async () => {
    const h = await replicaOfB();
    await h.pgStatus({ ...stoppedPg });
    h.world.dataDir = { ...standbyDir, systemIdentifier: OTHER };
    const mark = h.calls.length;
    await advance(h.clock, 2_000, 100); // crashed → recovering → boot → startingReplica → out
    expect(h.nodeCalls(mark)).toEqual(['inspectDataDir', 'stopPostgres']);
    expect(h.trace.slice(-2)).toEqual([
      JSON.stringify({ active: { stopping: 'stoppingPostgres' } }),
      JSON.stringify('stopped'),
    ]);
    expect(h.ctx().fatal).toBe(
      `system ID mismatch, node a belongs to a different cluster: ${SYSID} != ${OTHER}`,
    );
  });

  it('the system identifier of a running server counts before the one read at start', async () => {
    const h = await replicaOfB();
    await h.pgStatus({ ...replicaPg, systemIdentifier: OTHER });
    await settle();
    expect(h.snap().value).toBe('stopped');
    expect(h.ctx().fatal).toBe(
      `system ID mismatch, node a belongs to a different cluster: ${SYSID} != ${OTHER}`,
    );
  });

  it('an /initialize that is not a system identifier (the empty value of a bootstrap in progress) is no mismatch', async () => {
    const h = await replicaOfB();
    await h.cluster(view({ leader: 'b', members: ['a', 'b'], initialize: '' }));
    await h.cluster(view({ leader: 'b', members: ['a', 'b'], initialize: '12345' }));
    await settle();
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });

  it('paused: the leader gives the lock up and stops nothing; set back, it carries on; resumed while it differs, it exits', async () => {
    const h = await bootstrappedPrimary({ settings: { paused: true } });
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'a', members: ['a'], initialize: OTHER }));
    await settle();
    expect(h.snap().value).toEqual({ active: 'foreignWhilePaused' });
    expect(h.count('deleteLeader')).toBe(1);
    expect(h.ctx().isLeader).toBe(false);
    expect(h.nodeCalls(mark)).toEqual([]);
    expect(h.ctx().message).toBe(
      `system ID has changed while in paused mode; leaving when resumed unless it is reset: ${OTHER} != ${SYSID}`,
    );
    await h.cluster(view({ leader: null, members: ['a'] }));
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    await h.cluster(view({ leader: null, members: ['a'], initialize: OTHER }));
    expect(h.snap().value).toEqual({ active: 'foreignWhilePaused' });
    h.actor.send({ type: 'SETTINGS', settings: { ...settings, paused: false } });
    await settle();
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres']);
    expect(h.snap().value).toBe('stopped');
    expect(h.ctx().fatal).toMatch(/^system ID mismatch/);
  });
});

describe('node machine: shutdown', () => {
  it('STOP on the leader stops PostgreSQL fast and releases the lock with the shutdown checkpoint', async () => {
    const h = await bootstrappedPrimary();
    h.world.checkpointLsn = 987654;
    const mark = h.calls.length;
    h.actor.send({ type: 'STOP' });
    await settle();

    expect(h.nodeCalls(mark)).toEqual(['stopPostgres']);
    expect(h.inputs('stopPostgres')).toEqual([{ mode: 'fast', timeoutSeconds: 60 }]);
    expect(h.inputs('deleteLeader')).toEqual([{ name: 'a', lastLsn: 987654 }]);
    expect(h.snap().value).toBe('stopped');
    expect(h.snap().status).toBe('done');
    expect(h.ctx().lastLsn).toBe(987654);
    expect(h.ctx().isLeader).toBe(false);
    expect(h.ctx().pgState).toBe('stopped');
    expect(h.ctx().message).toBe('shutting down');
  });

  it('STOP on a replica stops PostgreSQL and never touches the leader key', async () => {
    const h = await replicaOfB();
    const mark = h.calls.length;
    h.actor.send({ type: 'STOP' });
    await settle();
    // No lock to give back: done at once, without waiting out loop_wait.
    expect(h.snap().value).toBe('stopped');
    await advance(h.clock, 15_000, 500);

    expect(h.nodeCalls(mark)).toEqual(['stopPostgres']);
    expect(h.inputs('stopPostgres')).toEqual([{ mode: 'fast', timeoutSeconds: 60 }]);
    expect(h.count('deleteLeader')).toBe(0);
    expect(h.snap().value).toBe('stopped');
    expect(h.snap().status).toBe('done');
    expect(h.ctx().pgState).toBe('stopped');
  });
});

describe('node machine: maintenance mode (pause)', () => {
  const paused = { settings: { paused: true } };

  it('a replica whose PostgreSQL stops is not restarted while paused, and is once resumed', async () => {
    const h = await replicaOfB(paused);
    const mark = h.calls.length;
    await h.pgStatus({ ...stoppedPg });
    await advance(h.clock, 30_000, 1000);
    expect(h.snap().value).toEqual({ active: { running: 'stoppedWhilePaused' } });
    expect(h.nodeCalls(mark)).toEqual([]);
    h.actor.send({ type: 'SETTINGS', settings: { ...settings, paused: false } });
    await settle();
    expect(h.nodeCalls(mark)).toContain('startPostgres');
  });

  it('a primary that loses the lock while paused keeps running', async () => {
    const h = await bootstrappedPrimary(paused);
    const mark = h.calls.length;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.ctx().isLeader).toBe(false);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    expect(h.nodeCalls(mark)).not.toContain('stopPostgres');
  });

  it('a primary whose PostgreSQL stops while paused gives the lock up and starts nothing', async () => {
    const h = await bootstrappedPrimary(paused);
    const mark = h.calls.length;
    await h.pgStatus({ ...stoppedPg });
    await advance(h.clock, 15_000, 500);
    expect(h.count('deleteLeader')).toBe(1);
    expect(h.snap().value).toEqual({ active: { running: 'stoppedWhilePaused' } });
    expect(h.nodeCalls(mark)).not.toContain('startPostgres');
  });

  it('shutting down while paused leaves PostgreSQL running and the leader key alone', async () => {
    const h = await bootstrappedPrimary(paused);
    const mark = h.calls.length;
    h.actor.send({ type: 'STOP' });
    await settle();
    expect(h.snap().value).toBe('stopped');
    expect(h.nodeCalls(mark)).toEqual([]);
    expect(h.count('deleteLeader')).toBe(0);
  });
});

describe('node machine: the watchdog (Patroni semantics)', () => {
  const plan = {
    mode: 'automatic' as const,
    device: '/dev/watchdog',
    driver: 'default' as const,
    timeoutSeconds: 25,
    loopWaitSeconds: 10,
    deviceUsable: true,
  };
  const armed = {
    ...NOT_ARMED,
    armed: true,
    timeoutSeconds: 25,
    windowMs: 15_000,
    changed: true,
    message: 'armed',
  };
  const refused = { ...NOT_ARMED, refused: true, message: 'Configuration requires watchdog, but …' };
  const electionWindow = (h: Harness) =>
    (h.snap().children['election']!.getSnapshot() as { context: { watchdogWindowMs: number | null } }).context
      .watchdogWindowMs;

  async function winLock(h: Harness): Promise<void> {
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
  }
  /** Every message the node says from now on. */
  const saying = (h: Harness) => {
    const said: string[] = [];
    h.actor.subscribe((snap) => {
      if (said.at(-1) !== snap.context.message) said.push(snap.context.message);
    });
    return said;
  };

  it('armed before anything else of the promotion, and the election bounds its trust by its window', async () => {
    const h = await replicaOfB({ settings: { watchdog: plan }, impl: { setWatchdog: async () => armed } });
    const mark = h.calls.length;
    await winLock(h);
    const order = h.calls.slice(mark).map((c) => c.actor);
    expect(order.indexOf('setWatchdog')).toBeLessThan(order.indexOf('fenceServers'));
    expect(order.indexOf('setWatchdog')).toBeLessThan(order.indexOf('promote'));
    expect(h.inputs('setWatchdog')[0]).toEqual({ plan, wanted: true });
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    expect(electionWindow(h)).toBe(15_000);
  });

  it("required and none can be armed: no promotion, the lock goes back, in Patroni's words", async () => {
    const h = await replicaOfB({
      settings: { watchdog: { ...plan, mode: 'required' } },
      impl: { setWatchdog: async () => refused },
    });
    const said = saying(h);
    await winLock(h);
    expect(h.count('promote')).toBe(0);
    expect(h.trace).toContain(R('releasing'));
    expect(said).toContain('Not promoting self because watchdog could not be activated');
  });

  it('the step throwing: required refuses the promotion, automatic promotes without one', async () => {
    const throwing = {
      setWatchdog: async () => {
        throw new Error('provider broke');
      },
    };
    const required = await replicaOfB({
      settings: { watchdog: { ...plan, mode: 'required' } },
      impl: throwing,
    });
    const said = saying(required);
    await winLock(required);
    expect(required.count('promote')).toBe(0);
    expect(said).toContain('Not promoting self because watchdog could not be activated');
    const automatic = await replicaOfB({ settings: { watchdog: plan }, impl: throwing });
    await winLock(automatic);
    expect(automatic.count('promote')).toBe(1);
    expect(automatic.snap().value).toEqual({ active: { running: 'primary' } });
  });

  it('each loop the leader keeps it in line: disarmed while paused, and a required one that cannot be armed again costs the lock', async () => {
    let answer: typeof armed | typeof refused | typeof NOT_ARMED = armed;
    const h = await bootstrappedPrimary({
      settings: { watchdog: { ...plan, mode: 'required' } },
      impl: { setWatchdog: async () => answer },
    });
    expect(h.inputs('setWatchdog').at(-1)).toEqual({ plan: { ...plan, mode: 'required' }, wanted: true });
    h.actor.send({
      type: 'SETTINGS',
      settings: { ...settings, watchdog: { ...plan, mode: 'required' }, paused: true },
    });
    answer = { ...NOT_ARMED, changed: true, message: 'watchdog disabled' };
    await advance(h.clock, settings.loop_wait * 1000 + 10, 500);
    expect(h.inputs('setWatchdog').at(-1)).toEqual({ plan: { ...plan, mode: 'required' }, wanted: false });
    expect(electionWindow(h)).toBeNull();
    h.actor.send({ type: 'SETTINGS', settings: { ...settings, watchdog: { ...plan, mode: 'required' } } });
    answer = refused;
    const said = saying(h);
    await advance(h.clock, settings.loop_wait * 1000 + 10, 500);
    expect(h.trace).toContain(R('releasing'));
    expect(said).toContain('Demoting self because watchdog could not be activated');
  });

  it('closed once PostgreSQL runs (or starts) as a replica after leading, and at a clean exit', async () => {
    const h = await replicaOfB({ settings: { watchdog: plan }, impl: { setWatchdog: async () => armed } });
    const disarms: number[] = [];
    h.actor.on('watchdog.disarm', () => disarms.push(h.calls.length));
    await winLock(h);
    expect(disarms).toEqual([]);
    // Another node holds the key: the primary demotes, and once it is stopped the watchdog goes.
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await advance(h.clock, 5000, 500);
    expect(disarms.length).toBeGreaterThanOrEqual(1);
    const stop = h.calls.findIndex((c) => c.actor === 'stopPostgres');
    expect(stop).toBeGreaterThanOrEqual(0);
    expect(disarms[0]).toBeGreaterThan(stop);
    const before = disarms.length;
    h.actor.send({ type: 'STOP' });
    await advance(h.clock, 5000, 500);
    expect(h.snap().status).toBe('done');
    expect(disarms.length).toBe(before + 1);
  });
});

describe("node machine: user callbacks (Patroni's postgresql.callbacks)", () => {
  it('bootstrap: on_start as master once the new cluster runs', async () => {
    const h = await bootstrappedPrimary();
    expect(h.callbacks).toEqual(['on_start master']);
  });

  it('an existing standby starts: on_start replica; promoted: on_role_change master', async () => {
    const h = await replicaOfB();
    expect(h.callbacks).toEqual(['on_start replica']);
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    expect(h.inputs('promote')).toHaveLength(1);
    expect(h.callbacks).toEqual(['on_start replica', 'on_role_change master']);
  });

  it('a primary that sees another leader: on_stop as demoted, then on_role_change replica once it runs as one', async () => {
    const h = await bootstrappedPrimary();
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.callbacks).toEqual(['on_start master', 'on_stop demoted', 'on_role_change replica']);
  });

  it('a restart on request: on_restart alone (no on_stop, no on_start)', async () => {
    const h = await bootstrappedPrimary();
    h.actor.send({ type: 'RESTART', timeoutSeconds: null });
    await settle();
    expect(h.count('startPostgres')).toBe(2);
    expect(h.callbacks).toEqual(['on_start master', 'on_restart master']);
  });

  it('shutdown: on_stop', async () => {
    const h = await replicaOfB();
    h.actor.send({ type: 'STOP' });
    await settle();
    expect(h.snap().value).toBe('stopped');
    expect(h.callbacks).toEqual(['on_start replica', 'on_stop replica']);
  });
});

describe("node machine: pre_promote (Patroni's fencing hook)", () => {
  it('exit 0: promoted, after the hook, with the ttl as its deadline', async () => {
    const h = await replicaOfB({
      impl: { runPrePromote: async () => ({ command: '/opt/fence', exitCode: 0 }) },
    });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    expect(h.inputs('runPrePromote')).toEqual([{ timeoutSeconds: 30 }]);
    expect(h.inputs('promote')).toHaveLength(1);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
  });

  it('a non-zero exit, or none at all: no promotion, the lock given back', async () => {
    for (const exitCode of [1, null]) {
      const h = await replicaOfB({
        impl: { runPrePromote: async () => ({ command: '/opt/fence', exitCode }) },
      });
      await h.cluster(view({ leader: null, members: ['a'] }));
      await settle();
      expect(h.count('runPrePromote')).toBe(1);
      expect(h.count('promote')).toBe(0);
      expect(h.trace).toContain(R('releasing'));
      expect(h.ctx().isLeader).toBe(false);
      expect(h.callbacks).not.toContain('on_role_change master');
    }
  });
});
