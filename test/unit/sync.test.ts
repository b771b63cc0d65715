import { describe, expect, it } from 'vitest';
import type { WalSender } from '../../src/actors/postgres.ts';
import { nextSyncStep, syncCandidates, syncStandbyNames } from '../../src/cluster/sync.ts';
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
    expect(nextSyncStep(v, 'a', [], '', on)).toMatchObject({ kind: 'write-sync', standbys: [] });
  });

  it('GUC first, then /sync once PostgreSQL reports the standby synchronous', () => {
    expect(nextSyncStep(view([]), 'a', [sender('b', 'async', 200), sender('c')], '', on)).toMatchObject({
      kind: 'set-guc',
      value: 'b',
    });
    // PostgreSQL has not confirmed b yet: /sync stays empty.
    expect(nextSyncStep(view([]), 'a', [sender('b', 'potential', 200), sender('c')], 'b', on)).toEqual({
      kind: 'none',
    });
    expect(nextSyncStep(view([]), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on)).toMatchObject({
      kind: 'write-sync',
      standbys: ['b'],
    });
    expect(nextSyncStep(view(['b']), 'a', [sender('b', 'sync', 200), sender('c')], 'b', on)).toEqual({
      kind: 'none',
    });
  });

  it('a standby that goes away leaves /sync before it leaves the GUC', () => {
    const step = nextSyncStep(view(['b']), 'a', [sender('c')], 'b', on);
    expect(step).toMatchObject({ kind: 'write-sync', standbys: [] });
    expect(nextSyncStep(view([]), 'a', [sender('c')], 'b', on)).toMatchObject({
      kind: 'set-guc',
      value: 'c',
    });
  });

  it('strict mode with nobody: PostgreSQL waits for anybody', () => {
    expect(nextSyncStep(view([]), 'a', [], '', { ...on, synchronous_mode_strict: true })).toMatchObject({
      kind: 'set-guc',
      value: '*',
    });
  });

  it('synchronous_node_count picks that many', () => {
    const reps = [sender('b', 'sync', 300), sender('c', 'async', 200)];
    expect(nextSyncStep(view([]), 'a', reps, '', { ...on, synchronous_node_count: 2 })).toMatchObject({
      kind: 'set-guc',
      value: '2 (b,c)',
    });
  });

  it('turning synchronous mode off drops /sync, then the GUC', () => {
    const off = { ...on, synchronous_mode: false };
    expect(nextSyncStep(view(['b']), 'a', [], 'b', off)).toEqual({ kind: 'delete-sync' });
    expect(nextSyncStep(view(null), 'a', [], 'b', off)).toMatchObject({ kind: 'set-guc', value: '' });
    expect(nextSyncStep(view(null), 'a', [], '', off)).toEqual({ kind: 'none' });
  });
});
