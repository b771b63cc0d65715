import { describe, expect, it } from 'vitest';
import type { WalSender } from '../../src/actors/postgres.ts';
import {
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
    const inEffect = { value: 'b', lsn: 200 };
    expect(
      nextSyncStep(view([]), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on, inEffect),
    ).toMatchObject({
      kind: 'write-sync',
      standbys: ['b'],
    });
    expect(nextSyncStep(view(['b']), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on, null)).toEqual({
      kind: 'none',
    });
  });

  it('a standby that goes away leaves /sync before it leaves the GUC', () => {
    const step = nextSyncStep(view(['b']), 'a', [sender('c')], 'b', on, null);
    expect(step).toMatchObject({ kind: 'write-sync', standbys: [] });
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

  it('a standby joins /sync only once it has the WAL the primary had when PostgreSQL began waiting for it', () => {
    const guc = 'b';
    const sync = (flush: number) => [sender('b', 'sync', flush), sender('c')];
    // Never seen in effect yet: nobody new is confirmed.
    expect(nextSyncStep(view([]), 'a', sync(500), guc, on, null)).toEqual({ kind: 'none' });
    // A note for another value does not count either.
    expect(nextSyncStep(view([]), 'a', sync(500), guc, on, { value: '', lsn: 100 })).toEqual({
      kind: 'none',
    });
    // `sync`, but below the position of commits acknowledged without it.
    expect(nextSyncStep(view([]), 'a', sync(299), guc, on, { value: 'b', lsn: 300 })).toEqual({
      kind: 'none',
    });
    expect(nextSyncStep(view([]), 'a', sync(300), guc, on, { value: 'b', lsn: 300 })).toMatchObject({
      kind: 'write-sync',
      standbys: ['b'],
    });
    // Listed already: it stays while PostgreSQL waits for it, wherever it is.
    expect(nextSyncStep(view(['b']), 'a', sync(10), guc, on, null)).toEqual({ kind: 'none' });
  });

  it('a ghost walsender reported `sync` with a position that never moves does not put its standby in /sync', () => {
    // The standby's new connection waits behind the ghost ("replication slot is active").
    const reps = [sender('b', 'sync', 150), { ...sender('b', 'potential', 150), state: 'catchup' }];
    expect(nextSyncStep(view([]), 'a', reps, 'b', on, { value: 'b', lsn: 400 })).toEqual({ kind: 'none' });
  });
});

describe('where synchronous_standby_names took effect', () => {
  const primary = (ssn: string, lsn: number) => ({
    running: true,
    inRecovery: false,
    currentLsn: lsn,
    synchronousStandbyNames: ssn,
  });
  it('is the position of the first sample showing the intended value, kept until the value changes', () => {
    expect(noteSyncNamesInEffect(null, primary('', 100), 'b')).toBeNull();
    const first = noteSyncNamesInEffect(null, primary('b', 200), 'b');
    expect(first).toEqual({ value: 'b', lsn: 200 });
    expect(noteSyncNamesInEffect(first, primary('b', 900), 'b')).toBe(first);
    expect(noteSyncNamesInEffect(first, primary('b', 900), 'c')).toBeNull();
  });
  it('is forgotten on a server that is not a running primary', () => {
    const first = { value: '', lsn: 5 };
    expect(
      noteSyncNamesInEffect(first, { ...primary('', 9), inRecovery: true, currentLsn: null }, ''),
    ).toBeNull();
    expect(noteSyncNamesInEffect(first, { ...primary('', 9), running: false }, '')).toBeNull();
  });
});
