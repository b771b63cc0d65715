import { describe, expect, it } from 'vitest';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import {
  isSyncStandby,
  memberData,
  type NodeReport,
  PATRONI_WIRE_VERSION,
  PGWARDEN_VERSION,
  statusDocument,
} from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { pgStatus as basePgStatus } from '../helpers/pg-status.ts';

const pgStatus = (over: Partial<PostgresStatus> = {}): PostgresStatus =>
  basePgStatus({ timeline: 1, currentLsn: 50331968, ...over });

const replicaPg = (over: Partial<PostgresStatus> = {}): PostgresStatus =>
  pgStatus({
    inRecovery: true,
    currentLsn: null,
    timeline: 2,
    receivedLsn: 50332000,
    replayedLsn: 50331900,
    replayedTimestamp: '2026-11-25 19:58:01.5+00:00',
    replicationState: 'streaming',
    ...over,
  });

const lockedView = (over: Partial<ClusterView> = {}): ClusterView => ({
  ...emptyClusterView,
  revision: '9',
  initialize: '7123456789012345678',
  leader: { name: 'pg1', index: '3', session: '1' },
  ...over,
});

function report(over: Partial<NodeReport> = {}): NodeReport {
  return {
    name: 'pg1',
    scope: 'batman',
    connUrl: 'postgres://127.0.0.1:5432/postgres',
    apiUrl: 'http://127.0.0.1:8008/patroni',
    tags: {},
    state: 'running',
    role: 'master',
    pg: pgStatus(),
    systemIdentifier: '7123456789012345678',
    isLeader: true,
    view: lockedView(),
    dcsLastSeen: 1795637532,
    paused: false,
    synchronousMode: false,
    ...over,
  };
}

const replicaReport = (over: Partial<NodeReport> = {}): NodeReport =>
  report({
    name: 'pg2',
    connUrl: 'postgres://127.0.0.2:5432/postgres',
    apiUrl: 'http://127.0.0.2:8008/patroni',
    role: 'replica',
    isLeader: false,
    pg: replicaPg(),
    ...over,
  });

describe('wire versions', () => {
  it('speaks Patroni 3.0.2', () => {
    expect(PATRONI_WIRE_VERSION).toBe('3.0.2');
  });
});

describe('memberData (§1.3)', () => {
  it('primary: exactly the Patroni example value, in key order', () => {
    const d = memberData(report());
    expect(JSON.stringify(d)).toBe(
      '{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni",' +
        '"state":"running","role":"master","version":"3.0.2","xlog_location":50331968,"timeline":1}',
    );
  });

  it('replica: xlog_location is max(received, replayed), replication_state, integer LSNs', () => {
    const d = memberData(replicaReport());
    expect(d).toEqual({
      conn_url: 'postgres://127.0.0.2:5432/postgres',
      api_url: 'http://127.0.0.2:8008/patroni',
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      xlog_location: 50332000,
      timeline: 2,
      replication_state: 'streaming',
    });
    expect(Object.keys(d)).toEqual([
      'conn_url',
      'api_url',
      'state',
      'role',
      'version',
      'xlog_location',
      'timeline',
      'replication_state',
    ]);
    expect(Number.isInteger(d.xlog_location)).toBe(true);
  });

  it('replica whose replay is ahead of the (stale) receive position reports the replayed LSN', () => {
    const d = memberData(replicaReport({ pg: replicaPg({ receivedLsn: 100, replayedLsn: 200 }) }));
    expect(d.xlog_location).toBe(200);
  });

  it('replica with nothing received or replayed has no xlog_location', () => {
    const d = memberData(replicaReport({ pg: replicaPg({ receivedLsn: null, replayedLsn: null }) }));
    expect(d).not.toHaveProperty('xlog_location');
    expect(d.timeline).toBe(2);
  });

  it('archive-recovery replica', () => {
    const d = memberData(replicaReport({ pg: replicaPg({ replicationState: 'in archive recovery' }) }));
    expect(d.replication_state).toBe('in archive recovery');
  });

  it('the role follows pg_is_in_recovery while PostgreSQL answers', () => {
    expect(memberData(report({ role: 'promoted' })).role).toBe('master');
    expect(memberData(replicaReport({ role: 'demoted' })).role).toBe('replica');
  });

  it('xlog_location only while running or starting', () => {
    expect(memberData(report({ state: 'starting' })).xlog_location).toBe(50331968);
    const stopping = memberData(report({ state: 'stopping' }));
    expect(stopping).not.toHaveProperty('xlog_location');
    expect(stopping.timeline).toBe(1);
  });

  it('tags, pending_restart and pause in key order after the required fields', () => {
    const d = memberData(
      report({
        tags: { nofailover: true, dc: 'east' },
        pg: pgStatus({ pendingRestart: true }),
        paused: true,
      }),
    );
    expect(Object.keys(d)).toEqual([
      'conn_url',
      'api_url',
      'state',
      'role',
      'version',
      'xlog_location',
      'timeline',
      'tags',
      'pending_restart',
      'pause',
    ]);
    expect(d.tags).toEqual({ nofailover: true, dc: 'east' });
    expect(d.pending_restart).toBe(true);
    expect(d.pause).toBe(true);
  });

  it('empty tags are omitted; no pending_restart/pause keys when false', () => {
    const d = memberData(report());
    expect(d).not.toHaveProperty('tags');
    expect(d).not.toHaveProperty('pending_restart');
    expect(d).not.toHaveProperty('pause');
    expect(d).not.toHaveProperty('replication_state');
  });

  it('a stopped node: the required fields only, own role', () => {
    const d = memberData(report({ state: 'stopped', pg: null, role: 'demoted', isLeader: false }));
    expect(JSON.stringify(d)).toBe(
      '{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni",' +
        '"state":"stopped","role":"demoted","version":"3.0.2"}',
    );
  });

  it('pg reported as not running: own role, no xlog_location/timeline even in state running', () => {
    const d = memberData(report({ pg: pgStatus({ running: false }), role: 'uninitialized' }));
    expect(d).toEqual({
      conn_url: 'postgres://127.0.0.1:5432/postgres',
      api_url: 'http://127.0.0.1:8008/patroni',
      state: 'running',
      role: 'uninitialized',
      version: '3.0.2',
    });
  });
});

describe('statusDocument (§2.3)', () => {
  it('primary: exact document', () => {
    const doc = statusDocument(
      report({
        tags: { dc: 'east' },
        pg: pgStatus({
          replication: [
            {
              usename: 'replicator',
              application_name: 'pg2',
              client_addr: '127.0.0.2',
              state: 'streaming',
              sync_state: 'async',
              sync_priority: 0,
              flush_lsn: 50331900,
              replay_lsn: 50331800,
            },
          ],
        }),
      }),
    );
    expect(doc).toEqual({
      state: 'running',
      postmaster_start_time: '2026-11-25 19:57:57.123456+00:00',
      role: 'master',
      server_version: 150004,
      xlog: { location: 50331968 },
      timeline: 1,
      replication: [
        {
          usename: 'replicator',
          application_name: 'pg2',
          client_addr: '127.0.0.2',
          state: 'streaming',
          sync_state: 'async',
          sync_priority: 0,
        },
      ],
      dcs_last_seen: 1795637532,
      tags: { dc: 'east' },
      database_system_identifier: '7123456789012345678',
      patroni: { version: '3.0.2', scope: 'batman', name: 'pg1' },
      pgwarden: { version: PGWARDEN_VERSION, is_leader: true },
    });
    expect(Object.keys(doc)).toEqual([
      'state',
      'postmaster_start_time',
      'role',
      'server_version',
      'xlog',
      'timeline',
      'replication',
      'dcs_last_seen',
      'tags',
      'database_system_identifier',
      'patroni',
      'pgwarden',
    ]);
  });

  it('primary xlog has only `location` (peers decide "in recovery" by its absence)', () => {
    const xlog = statusDocument(report()).xlog as Record<string, unknown>;
    expect(Object.keys(xlog)).toEqual(['location']);
  });

  it('replica: xlog with received/replayed/timestamp/paused and replication_state', () => {
    const doc = statusDocument(replicaReport());
    expect(doc).toEqual({
      state: 'running',
      postmaster_start_time: '2026-11-25 19:57:57.123456+00:00',
      role: 'replica',
      server_version: 150004,
      xlog: {
        received_location: 50332000,
        replayed_location: 50331900,
        replayed_timestamp: '2026-11-25 19:58:01.5+00:00',
        paused: false,
      },
      timeline: 2,
      replication_state: 'streaming',
      dcs_last_seen: 1795637532,
      // no tags: Patroni omits the key when there are none (`if tags:`)
      database_system_identifier: '7123456789012345678',
      patroni: { version: '3.0.2', scope: 'batman', name: 'pg2' },
      pgwarden: { version: PGWARDEN_VERSION, is_leader: false },
    });
    expect(Object.keys(doc.xlog as object)).toEqual([
      'received_location',
      'replayed_location',
      'replayed_timestamp',
      'paused',
    ]);
  });

  it('replica: received falls back to replayed, replayed_timestamp null, paused true', () => {
    const doc = statusDocument(
      replicaReport({
        pg: replicaPg({ receivedLsn: null, replayedLsn: 4096, replayedTimestamp: null, replayPaused: true }),
      }),
    );
    expect(doc.xlog).toEqual({
      received_location: 4096,
      replayed_location: 4096,
      replayed_timestamp: null,
      paused: true,
    });
    const none = statusDocument(
      replicaReport({ pg: replicaPg({ receivedLsn: null, replayedLsn: null, replayedTimestamp: null }) }),
    );
    expect(none.xlog).toEqual({
      received_location: 0,
      replayed_location: 0,
      replayed_timestamp: null,
      paused: false,
    });
  });

  it('sync_standby: true only for a replica named in /sync with synchronous_mode on', () => {
    const sync = { index: '4', leader: 'pg1', sync_standby: ['pg2'] };
    const r = replicaReport({ view: lockedView({ sync }), synchronousMode: true });
    expect(isSyncStandby(r)).toBe(true);
    expect(statusDocument(r).sync_standby).toBe(true);
    expect(Object.keys(statusDocument(r))).toEqual([
      'state',
      'postmaster_start_time',
      'role',
      'server_version',
      'xlog',
      'timeline',
      'sync_standby',
      'replication_state',
      'dcs_last_seen',
      'database_system_identifier',
      'patroni',
      'pgwarden',
    ]);
    const other = replicaReport({ name: 'pg3', view: lockedView({ sync }), synchronousMode: true });
    expect(statusDocument(other)).not.toHaveProperty('sync_standby');
    // listed in /sync but synchronous_mode is off: not a sync standby (Patroni checks the mode first)
    const modeOff = replicaReport({ view: lockedView({ sync }), synchronousMode: false });
    expect(isSyncStandby(modeOff)).toBe(false);
    expect(statusDocument(modeOff)).not.toHaveProperty('sync_standby');
    // the primary is never sync_standby even if listed
    const prim = report({
      view: lockedView({ sync: { index: '4', leader: 'pg1', sync_standby: ['pg1'] } }),
      synchronousMode: true,
    });
    expect(isSyncStandby(prim)).toBe(false);
    expect(statusDocument(prim)).not.toHaveProperty('sync_standby');
  });

  it('failsafe_mode_is_active only while failsafe mode is active, after cluster_unlocked (Patroni)', () => {
    expect(statusDocument(replicaReport()).failsafe_mode_is_active).toBeUndefined();
    const doc = statusDocument(replicaReport({ failsafeActive: true, view: lockedView({ leader: null }) }));
    expect(doc.failsafe_mode_is_active).toBe(true);
    const keys = Object.keys(doc);
    expect(keys.indexOf('failsafe_mode_is_active')).toBe(keys.indexOf('cluster_unlocked') + 1);
  });

  it('cluster_unlocked when no view or no leader', () => {
    expect(statusDocument(replicaReport({ view: null })).cluster_unlocked).toBe(true);
    expect(statusDocument(replicaReport({ view: lockedView({ leader: null }) })).cluster_unlocked).toBe(true);
    expect(statusDocument(replicaReport())).not.toHaveProperty('cluster_unlocked');
  });

  it('pending_restart and pause', () => {
    const doc = statusDocument(report({ pg: pgStatus({ pendingRestart: true }), paused: true }));
    expect(doc.pending_restart).toBe(true);
    expect(doc.pause).toBe(true);
    const keys = Object.keys(doc);
    expect(keys.slice(keys.indexOf('database_system_identifier'))).toEqual([
      'database_system_identifier',
      'pending_restart',
      'patroni',
      'pause',
      'pgwarden',
    ]);
    const plain = statusDocument(report());
    expect(plain).not.toHaveProperty('pending_restart');
    expect(plain).not.toHaveProperty('pause');
  });

  it('no dcs_last_seen before the first DCS read; no identifier before initdb', () => {
    const doc = statusDocument(report({ dcsLastSeen: null, systemIdentifier: null }));
    expect(doc).not.toHaveProperty('dcs_last_seen');
    expect(doc).not.toHaveProperty('database_system_identifier');
  });

  it('a stopped node: only state and role plus the DCS/patroni fields', () => {
    const doc = statusDocument(
      replicaReport({ state: 'stopped', pg: null, role: 'replica', view: null, tags: { nofailover: true } }),
    );
    expect(doc).toEqual({
      state: 'stopped',
      role: 'replica',
      cluster_unlocked: true,
      dcs_last_seen: 1795637532,
      tags: { nofailover: true },
      database_system_identifier: '7123456789012345678',
      patroni: { version: '3.0.2', scope: 'batman', name: 'pg2' },
      pgwarden: { version: PGWARDEN_VERSION, is_leader: false },
    });
    expect(Object.keys(doc)).toEqual([
      'state',
      'role',
      'cluster_unlocked',
      'dcs_last_seen',
      'tags',
      'database_system_identifier',
      'patroni',
      'pgwarden',
    ]);
  });

  it('pg reported not running (e.g. crashed): no xlog, timeline or server_version', () => {
    const doc = statusDocument(
      report({ state: 'crashed', pg: pgStatus({ running: false }), role: 'master' }),
    );
    expect(doc).not.toHaveProperty('xlog');
    expect(doc).not.toHaveProperty('timeline');
    expect(doc).not.toHaveProperty('server_version');
    expect(doc).not.toHaveProperty('postmaster_start_time');
    expect(doc.role).toBe('master');
    expect(doc.state).toBe('crashed');
  });

  it('round-trips through JSON with integer LSNs', () => {
    const parsed = JSON.parse(JSON.stringify(statusDocument(replicaReport())));
    expect(parsed.xlog.received_location).toBe(50332000);
    expect(Number.isInteger(parsed.xlog.replayed_location)).toBe(true);
    expect(parsed.server_version).toBe(150004);
  });
});
