/**
 * The node machine's ways of making a replica and a cluster (create_replica_methods,
 * bootstrap.method), a standby cluster's leader, use_slots turned on and off, and nostream —
 * driven as in node.test.ts (test/helpers/node-harness.ts).
 */

import { describe, expect, it } from 'vitest';
import {
  BASEBACKUP_ONLY,
  type BootstrapCommand,
  type CommandMethod,
} from '../../src/cluster/replica-methods.ts';
import type { StandbySettings } from '../../src/cluster/standby-cluster.ts';
import {
  bootstrappedPrimary,
  harness,
  noTags,
  primaryPg,
  R,
  replicaOfB,
  standbyDir,
  upstream,
  view,
} from '../helpers/node-harness.ts';
import { advance, settle } from '../helpers/sim.ts';

describe('node machine: replica methods and bootstrap.method', () => {
  const restore: CommandMethod = {
    kind: 'command',
    name: 'restore',
    command: '/opt/restore',
    options: [],
    noParams: false,
    noLeader: true,
    keepData: true,
  };
  const basebackup = BASEBACKUP_ONLY[0]!;
  const pitr: BootstrapCommand = {
    name: 'pitr',
    command: '/opt/pitr',
    noParams: false,
    recoveryConf: { restore_command: 'cp /a/%f %p' },
    keepExistingRecoveryConf: false,
  };

  it('bootstrap.method: the winner of /initialize restores instead of running initdb, then leads', async () => {
    const h = harness({ settings: { bootstrap_method: pitr } });
    await h.cluster(view({ initialize: null }));
    expect(h.nodeCalls().slice(0, 4)).toEqual([
      'inspectDataDir',
      'raceInitialize',
      'customBootstrap',
      'startPostgres',
    ]);
    expect(h.inputs('customBootstrap')).toEqual([{ method: pitr }]);
    expect(h.count('initdb')).toBe(0);
    expect(h.snap().value).toEqual({ active: { running: 'primary' } });
    expect(h.ctx().isLeader).toBe(true);
  });

  it('a failed restore gives /initialize back and exits, saying why', async () => {
    const h = harness({
      settings: { bootstrap_method: pitr },
      impl: {
        customBootstrap: async () => {
          throw new Error('/opt/pitr exited with code 2');
        },
      },
    });
    await h.cluster(view({ initialize: null }));
    expect(h.nodeCalls()).toEqual([
      'inspectDataDir',
      'raceInitialize',
      'customBootstrap',
      'stopPostgres',
      'cancelInitialization',
    ]);
    expect(h.snap().value).toBe('failed');
    expect(h.ctx().pgState).toBe('custom bootstrap failed');
    expect(h.ctx().fatal).toBe('custom bootstrap failed: /opt/pitr exited with code 2');
  });

  it('no leader in an initialized cluster: a no_leader method makes the replica from nobody; without one it waits', async () => {
    const h = harness({ settings: { create_replica_methods: [restore, basebackup] } });
    await h.cluster(view({ leader: null, members: ['b'] }));
    expect(h.inputs('createReplica')).toEqual([{ from: null, methods: [restore] }]);
    expect(h.trace).toContain(JSON.stringify({ bootstrap: 'cloning' }));

    const plain = harness({ settings: { create_replica_methods: [basebackup] } });
    await plain.cluster(view({ leader: null, members: ['b'] }));
    expect(plain.count('createReplica')).toBe(0);
    expect(plain.snap().value).toEqual({ bootstrap: 'waitingForLeader' });
    // A bootstrap under way (/initialize empty) is waited for, however the replica could be made.
    const early = harness({
      settings: { create_replica_methods: [restore] },
      tags: { nofailover: true, clonefrom: false },
    });
    await early.cluster(view({ initialize: '', leader: null }));
    expect(early.count('createReplica')).toBe(0);
    expect(early.snap().value).toEqual({ bootstrap: 'waitingForLeader' });
  });

  it('with a leader every method is tried from it, in order; the notice names the one that worked', async () => {
    const notices: string[] = [];
    const h = harness({
      settings: { create_replica_methods: [restore, basebackup] },
      impl: {
        createReplica: async () => {
          return 'restore';
        },
      },
    });
    h.actor.on('notice', (e) => notices.push(e.message));
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    expect(h.inputs('createReplica')).toEqual([
      { from: upstream('b', null), methods: [restore, basebackup] },
    ]);
    expect(notices).toContain('replica has been created using restore');
  });

  it('POST /reinitialize with a keep_data first method: the data directory is not removed before it', async () => {
    const h = await bootstrappedPrimary({ settings: { create_replica_methods: [restore, basebackup] } });
    h.impl.rewind = async () => false;
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    const mark = h.calls.length;
    h.actor.send({ type: 'REINITIALIZE' });
    await settle();
    expect(h.nodeCalls(mark)).toEqual(['stopPostgres', 'createReplica', 'startPostgres']);
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
  });
});

describe('node machine: standby cluster', () => {
  const standby: StandbySettings = {
    host: '10.9.9.9',
    port: 6000,
    primarySlotName: 'dr',
    recovery: { restore_command: 'cp /a/%f %p' },
    createReplicaMethods: [],
    methods: BASEBACKUP_ONLY,
  };
  const remote = {
    host: '10.9.9.9',
    port: 6000,
    applicationName: 'a',
    slotName: 'dr',
    recovery: standby.recovery,
  };

  it('bootstrap: the winner of /initialize copies the remote primary and leads as its standby, never promoted', async () => {
    const h = harness({ settings: { standby_cluster: standby } });
    await h.cluster(view({ initialize: null }));
    expect(h.nodeCalls().slice(0, 4)).toEqual([
      'inspectDataDir',
      'raceInitialize',
      'createReplica',
      'startPostgres',
    ]);
    // A copy of another cluster: pgwarden's own files about that cluster (its servers) are dropped.
    expect(h.inputs('createReplica')).toEqual([{ from: remote, methods: BASEBACKUP_ONLY, foreign: true }]);
    expect(h.inputs('startPostgres')).toEqual([{ role: 'replica', upstream: remote, timeoutSeconds: 60 }]);
    expect(h.count('initdb')).toBe(0);
    await h.cluster(view({ leader: 'a', members: ['a'] }));
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.ctx().role).toBe('standby_leader');
    expect(h.ctx().message).toBe('no action. I am (a), the standby leader with the lock');
    expect(h.count('promote')).toBe(0);
    // Told as Patroni tells a new standby leader: started in that role, no role change after.
    expect(h.callbacks).toEqual(['on_start standby_leader']);
  });

  it('a replica that takes the lock follows the remote primary instead of promoting', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    const told = h.callbacks.length;
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    expect(h.count('promote')).toBe(0);
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.ctx().following).toBe('remote_member:10.9.9.9:6000/dr');
    expect(h.inputs('followUpstream').at(-1)).toEqual({ upstream: remote, timeoutSeconds: 60 });
    expect(h.callbacks.slice(told)).toContain('on_role_change standby_leader');
  });

  it('the remote primary moved in /config: re-pointed; the section removed: promoted', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    const moved = { ...standby, host: '10.9.9.10' };
    h.actor.send({ type: 'SETTINGS', settings: { ...h.ctx().settings, standby_cluster: moved } });
    await settle();
    expect(h.inputs('followUpstream').at(-1)).toEqual({
      upstream: { ...remote, host: '10.9.9.10' },
      timeoutSeconds: 60,
    });
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.count('promote')).toBe(0);

    h.actor.send({ type: 'SETTINGS', settings: { ...h.ctx().settings, standby_cluster: null } });
    await settle();
    expect(h.count('promote')).toBe(1);
    expect(h.ctx().role).toBe('master');
  });

  it('POST /restart of the standby leader starts it as a standby of the remote again, never as a primary', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    h.actor.send({ type: 'RESTART', timeoutSeconds: null });
    await settle();
    expect(h.inputs('startPostgres').at(-1)).toEqual({
      role: 'replica',
      upstream: remote,
      timeoutSeconds: 60,
    });
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.count('promote')).toBe(0);
  });

  it('writable while the section is there (promoted by hand): stopped at once', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    await h.pgStatus({ ...primaryPg });
    expect(h.trace).toContain(R('demoting'));
    expect(h.count('promote')).toBe(0);
  });

  it('a section it cannot use (no host, a bad port) keeps it a standby: never promoted, nothing re-pointed', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    const repoints = h.count('followUpstream');
    h.actor.send({
      type: 'SETTINGS',
      settings: { ...h.ctx().settings, standby_cluster: { ...standby, host: null } },
    });
    await settle();
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.count('promote')).toBe(0);
    expect(h.count('followUpstream')).toBe(repoints);
  });

  it('a re-point that fails keeps the lock and tries again shortly', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    let fail = true;
    h.impl.followUpstream = async () => {
      if (fail) throw new Error('reload failed');
    };
    h.actor.send({
      type: 'SETTINGS',
      settings: { ...h.ctx().settings, standby_cluster: { ...standby, host: '10.9.9.11' } },
    });
    await settle();
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'waitingToRepoint' } } });
    expect(h.ctx().isLeader).toBe(true);
    fail = false;
    await advance(h.clock, 3_000, 500);
    expect(h.snap().value).toEqual({ active: { running: { standbyLeader: 'atRest' } } });
    expect(h.inputs('followUpstream').at(-1)).toEqual({
      upstream: { ...remote, host: '10.9.9.11' },
      timeoutSeconds: 60,
    });
  });

  it('the lock lost: a replica of the new standby leader', async () => {
    const h = await replicaOfB({ settings: { standby_cluster: standby } });
    await h.cluster(view({ leader: null, members: ['a'] }));
    await settle();
    h.actor.send({ type: 'LEADERSHIP_LOST', reason: 'test' });
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    await settle();
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.ctx().following).toBe('b');
  });
});

describe('node machine: use_slots', () => {
  it('turned off and on: a running replica re-points without its slot, then with it', async () => {
    const h = await replicaOfB();
    h.actor.send({ type: 'SETTINGS', settings: { ...h.ctx().settings, use_slots: false } });
    await settle();
    expect(h.inputs('followUpstream').at(-1)).toEqual({ upstream: upstream('b', null), timeoutSeconds: 60 });
    expect(h.ctx().following).toBe('b');
    h.actor.send({ type: 'SETTINGS', settings: { ...h.ctx().settings, use_slots: true } });
    await settle();
    expect(h.inputs('followUpstream').at(-1)).toEqual({ upstream: upstream('b'), timeoutSeconds: 60 });
    const repoints = h.count('followUpstream');
    h.actor.send({ type: 'SETTINGS', settings: { ...h.ctx().settings, loop_wait: 5 } });
    await settle();
    expect(h.count('followUpstream')).toBe(repoints);
  });
});

describe('node machine: nostream', () => {
  it('a nostream replica follows nobody: started as a standby without upstream, left so when the leader changes', async () => {
    const h = harness({ dataDir: standbyDir, tags: { ...noTags, nostream: true } });
    await h.cluster(view({ leader: 'b', members: ['a', 'b'] }));
    expect(h.snap().value).toEqual({ active: { running: 'replica' } });
    expect(h.inputs('startPostgres')).toEqual([{ role: 'replica', upstream: null, timeoutSeconds: 60 }]);
    expect(h.ctx().following).toBeNull();
    await h.cluster(view({ leader: 'c', members: ['a', 'b', 'c'] }));
    await settle();
    expect(h.count('followUpstream')).toBe(0);
  });
});
