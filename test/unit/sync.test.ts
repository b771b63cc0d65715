import { describe, expect, it } from 'vitest';
import type { WalSender } from '../../src/actors/postgres.ts';
import {
  intendSyncNames,
  nextSyncStep,
  noteSyncNamesInEffect,
  syncCandidates,
  syncStandbyNames,
} from '../../src/cluster/sync.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';

const member = (name: string, tags: Record<string, unknown> = {}, state = 'running'): Member => ({
  name,
  index: '1',
  session: '1',
  data: {
    conn_url: `postgres://h/${name}`,
    api_url: `http://h/${name}`,
    state,
    role: 'replica',
    version: '3.0.2',
    tags,
  },
});
const sender = (name: string, sync_state = 'async', flush = 100): WalSender => ({
  usename: 'replicator',
  application_name: name,
  client_addr: '127.0.0.1',
  state: 'streaming',
  sync_state,
  sync_priority: sync_state === 'sync' ? 1 : 0,
  flush_lsn: flush,
  replay_lsn: flush,
});
/** A note seen twice: the catch-up point is `lsn`, `caughtUp` have confirmed it. */
const note = (value: string, lsn: number, caughtUp: string[] = []) => ({ value, lsn, seen: 2, caughtUp });
const on = { synchronous_mode: true, synchronous_mode_strict: false, synchronous_node_count: 1 };
const view = (sync: string[] | null, members = [member('a'), member('b'), member('c')]): ClusterView => ({
  ...emptyClusterView,
  leader: { name: 'a', index: '2', session: '1' },
  members,
  sync: sync === null ? null : { index: '7', leader: 'a', sync_standby: sync },
});

describe('synchronous_standby_names', () => {
  it('is written as PostgreSQL and Patroni write it', () => {
    expect(syncStandbyNames([], false)).toBe('');
    expect(syncStandbyNames([], true)).toBe('*');
    expect(syncStandbyNames(['b'], false)).toBe('b');
    expect(syncStandbyNames(['b', 'node-2'], false)).toBe('2 (b,"node-2")');
  });
});

describe('sync candidates', () => {
  it('streaming running members without nosync; sync ones, then the furthest ahead; nofailover last', () => {
    const v = view(null, [
      member('a'),
      member('b', { nofailover: true }),
      member('c'),
      member('d', { nosync: true }),
      member('e', {}, 'starting'),
    ]);
    const reps = [
      sender('b', 'async', 900),
      sender('c', 'async', 100),
      sender('d', 'sync'),
      sender('e'),
      sender('x'),
    ];
    expect(syncCandidates(v, 'a', reps)).toEqual(['c', 'b']);
    expect(syncCandidates(v, 'a', [sender('c', 'async', 500), { ...sender('b'), state: 'catchup' }])).toEqual(
      ['c'],
    );
  });
  it('a standby with two walsenders (a ghost and its new connection) counts once', () => {
    const reps = [sender('b', 'sync', 150), { ...sender('b', 'potential', 400) }, sender('c', 'async', 300)];
    expect(syncCandidates(view(null), 'a', reps)).toEqual(['b', 'c']);
    expect(nextSyncStep(view([]), 'a', reps, '', { ...on, synchronous_node_count: 2 }, null)).toMatchObject({
      kind: 'set-guc',
      value: '2 (b,c)',
      names: ['b', 'c'],
    });
  });
});

describe('next sync step', () => {
  it('a new synchronous leader first claims /sync with nobody in it', () => {
    const v = { ...view(null), sync: { index: '7', leader: 'old', sync_standby: ['a'] } };
    expect(nextSyncStep(v, 'a', [], '', on, null)).toMatchObject({ kind: 'write-sync', standbys: [] });
  });

  it('GUC first, then /sync once PostgreSQL reports the standby synchronous', () => {
    expect(nextSyncStep(view([]), 'a', [sender('b', 'async', 200), sender('c')], '', on, null)).toMatchObject(
      {
        kind: 'set-guc',
        value: 'b',
      },
    );
    // PostgreSQL has not confirmed b yet: /sync stays empty.
    expect(nextSyncStep(view([]), 'a', [sender('b', 'potential', 200), sender('c')], 'b', on, null)).toEqual({
      kind: 'none',
    });
    const inEffect = note('b', 200, ['b']);
    expect(
      nextSyncStep(view([]), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on, inEffect),
    ).toMatchObject({
      kind: 'write-sync',
      standbys: ['b'],
    });
    expect(
      nextSyncStep(view(['b']), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on, inEffect),
    ).toEqual({
      kind: 'none',
    });
  });

  it('a standby that goes away leaves /sync before it leaves the GUC', () => {
    const step = nextSyncStep(view(['b']), 'a', [sender('c')], 'b', on, note('b', 10, ['b']));
    expect(step).toMatchObject({
      kind: 'write-sync',
      standbys: [],
      reason: 'dropping standbys that are no longer synchronous',
    });
    expect(nextSyncStep(view([]), 'a', [sender('c')], 'b', on, null)).toMatchObject({
      kind: 'set-guc',
      value: 'c',
    });
  });

  it('strict mode with nobody: PostgreSQL waits for anybody', () => {
    expect(nextSyncStep(view([]), 'a', [], '', { ...on, synchronous_mode_strict: true }, null)).toMatchObject(
      {
        kind: 'set-guc',
        value: '*',
      },
    );
  });

  it('synchronous_node_count picks that many', () => {
    const reps = [sender('b', 'sync', 300), sender('c', 'async', 200)];
    expect(nextSyncStep(view([]), 'a', reps, '', { ...on, synchronous_node_count: 2 }, null)).toMatchObject({
      kind: 'set-guc',
      value: '2 (b,c)',
    });
  });

  it('turning synchronous mode off drops /sync, then the GUC', () => {
    const off = { ...on, synchronous_mode: false };
    expect(nextSyncStep(view(['b']), 'a', [], 'b', off, null)).toEqual({ kind: 'delete-sync' });
    expect(nextSyncStep(view(null), 'a', [], 'b', off, null)).toMatchObject({ kind: 'set-guc', value: '' });
    expect(nextSyncStep(view(null), 'a', [], '', off, null)).toEqual({ kind: 'none' });
  });

  it('a standby joins /sync only once it has the WAL the primary had when PostgreSQL waited for it', () => {
    const guc = 'b';
    const sync = (flush: number) => [sender('b', 'sync', flush), sender('c')];
    const sample = (lsn: number, flush: number) => ({
      running: true,
      inRecovery: false,
      currentLsn: lsn,
      synchronousStandbyNames: guc,
      replication: sync(flush),
    });
    let seen = noteSyncNamesInEffect(intendSyncNames(null, guc, ['b']), sample(200, 500), guc);
    // Seen once: SHOW answers from one backend; the committing ones may not wait yet.
    expect(seen).toMatchObject({ seen: 1, lsn: 200, caughtUp: [] });
    expect(nextSyncStep(view([]), 'a', sync(500), guc, on, seen, guc)).toEqual({ kind: 'none' });
    // The second sample sets the catch-up point; `sync` below it is not caught up.
    seen = noteSyncNamesInEffect(seen, sample(300, 299), guc);
    expect(seen).toMatchObject({ seen: 2, lsn: 300, caughtUp: [] });
    expect(nextSyncStep(view([]), 'a', sync(299), guc, on, seen, guc)).toEqual({ kind: 'none' });
    seen = noteSyncNamesInEffect(seen, sample(900, 300), guc);
    expect(seen).toMatchObject({ seen: 2, lsn: 300, caughtUp: ['b'] });
    expect(nextSyncStep(view([]), 'a', sync(300), guc, on, seen, guc)).toMatchObject({
      kind: 'write-sync',
      standbys: ['b'],
    });
    // A note for another value does not count.
    expect(nextSyncStep(view([]), 'a', sync(500), guc, on, note('', 100, ['b']))).toEqual({ kind: 'none' });
  });

  it('being listed in /sync proves nothing: a listed standby not caught up under the value in force leaves it', () => {
    // An agent restarted beside a running primary, or a primary started with the list empty:
    // /sync names b, but commits may have been acknowledged without it.
    const sync = [sender('b', 'sync', 10), sender('c')];
    for (const inEffect of [null, note('b', 300), note('', 0, ['b'])]) {
      expect(nextSyncStep(view(['b']), 'a', sync, 'b', on, inEffect)).toEqual({
        kind: 'write-sync',
        standbys: [],
        reason: 'standbys not confirmed as caught up',
      });
    }
    expect(nextSyncStep(view(['b']), 'a', sync, 'b', on, note('b', 300, ['b']))).toEqual({ kind: 'none' });
  });

  it('a standby caught up keeps its place under a new value that names it too, not under one that does not', () => {
    const prev = note('b', 300, ['b']);
    expect(intendSyncNames(prev, '2 (b,c)', ['b', 'c'])).toEqual({
      value: '2 (b,c)',
      lsn: null,
      seen: 0,
      caughtUp: ['b'],
    });
    expect(intendSyncNames(prev, 'c', ['c']).caughtUp).toEqual([]);
    expect(intendSyncNames(prev, '', []).caughtUp).toEqual([]);
    expect(intendSyncNames(null, 'b', ['b']).caughtUp).toEqual([]);
  });

  it('a ghost walsender reported `sync` with a position that never moves does not put its standby in /sync', () => {
    // The standby's new connection waits behind the ghost ("replication slot is active").
    const reps = [sender('b', 'sync', 150), { ...sender('b', 'potential', 150), state: 'catchup' }];
    const sample = {
      running: true,
      inRecovery: false,
      currentLsn: 400,
      synchronousStandbyNames: 'b',
      replication: reps,
    };
    let seen: ReturnType<typeof noteSyncNamesInEffect> = intendSyncNames(null, 'b', ['b']);
    for (let i = 0; i < 5; i++) seen = noteSyncNamesInEffect(seen, sample, 'b');
    expect(seen?.caughtUp).toEqual([]);
    expect(nextSyncStep(view([]), 'a', reps, 'b', on, seen, 'b')).toEqual({ kind: 'none' });
  });

  it('a reload that did not take is done again', () => {
    const reps = [sender('b', 'sync', 500), sender('c')];
    expect(nextSyncStep(view([]), 'a', reps, 'b', on, note('b', 1), '')).toEqual({
      kind: 'reload',
      reason: "PostgreSQL still has synchronous_standby_names ''",
    });
    // No sample since the reload: nothing is known yet.
    expect(nextSyncStep(view([]), 'a', reps, 'b', on, note('b', 1))).toMatchObject({ kind: 'none' });
  });
});

describe('where synchronous_standby_names took effect', () => {
  const primary = (ssn: string, lsn: number) => ({
    running: true,
    inRecovery: false,
    currentLsn: lsn,
    synchronousStandbyNames: ssn,
    replication: [] as WalSender[],
  });
  it('is the position of the second sample showing the intended value, kept until the value changes', () => {
    expect(noteSyncNamesInEffect(null, primary('', 100), 'b')).toBeNull();
    const first = noteSyncNamesInEffect(null, primary('b', 200), 'b');
    expect(first).toEqual({ value: 'b', lsn: 200, seen: 1, caughtUp: [] });
    const second = noteSyncNamesInEffect(first, primary('b', 900), 'b');
    expect(second).toEqual({ value: 'b', lsn: 900, seen: 2, caughtUp: [] });
    expect(noteSyncNamesInEffect(second, primary('b', 1500), 'b')).toEqual(second);
    expect(noteSyncNamesInEffect(second, primary('b', 900), 'c')).toBeNull();
  });
  it('is forgotten on a server in recovery, kept while it is stopped', () => {
    const first = note('', 5, ['b']);
    expect(
      noteSyncNamesInEffect(first, { ...primary('', 9), inRecovery: true, currentLsn: null }, ''),
    ).toBeNull();
    expect(noteSyncNamesInEffect(first, { ...primary('', 9), running: false }, '')).toBe(first);
  });
});
