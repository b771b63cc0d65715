import { describe, expect, it } from 'vitest';
import { type ClusterView, emptyClusterView, type Member, type MemberData } from '../../src/cluster/view.ts';
import { clusterAsJson } from '../../src/http/cluster-json.ts';

function member(name: string, data: Partial<MemberData> = {}): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://10.0.0.${name.slice(-1)}:5432/postgres`,
      api_url: `http://10.0.0.${name.slice(-1)}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      ...data,
    },
  };
}

const view = (over: Partial<ClusterView> = {}): ClusterView => ({
  ...emptyClusterView,
  revision: '20',
  initialize: '7123456789012345678',
  ...over,
});

describe('clusterAsJson (§2.7 GET /cluster)', () => {
  it('leader, sync standby and replica with lag from /status optime, sorted by name', () => {
    const v = view({
      leader: { name: 'pg1', index: '2', session: '1' },
      // deliberately unsorted
      members: [
        member('pg3', { xlog_location: 1000, timeline: 2, replication_state: 'streaming' }),
        member('pg1', { role: 'master', xlog_location: 5000, timeline: 2 }),
        member('pg2', { xlog_location: 4000, timeline: 2, replication_state: 'streaming' }),
      ],
      sync: { index: '3', leader: 'pg1', sync_standby: ['pg2'] },
      status: { optime: 5000 },
    });
    const doc = clusterAsJson(v, 'batman');
    expect(doc).toEqual({
      members: [
        {
          name: 'pg1',
          role: 'leader',
          state: 'running',
          api_url: 'http://10.0.0.1:8008/patroni',
          host: '10.0.0.1',
          port: 5432,
          timeline: 2,
        },
        {
          name: 'pg2',
          role: 'sync_standby',
          state: 'streaming',
          api_url: 'http://10.0.0.2:8008/patroni',
          host: '10.0.0.2',
          port: 5432,
          timeline: 2,
          lag: 1000,
        },
        {
          name: 'pg3',
          role: 'replica',
          state: 'streaming',
          api_url: 'http://10.0.0.3:8008/patroni',
          host: '10.0.0.3',
          port: 5432,
          timeline: 2,
          lag: 4000,
        },
      ],
      scope: 'batman',
    });
    const members = doc.members as Array<Record<string, unknown>>;
    expect(Object.keys(members[0]!)).toEqual([
      'name',
      'role',
      'state',
      'api_url',
      'host',
      'port',
      'timeline',
    ]);
    expect(Object.keys(members[1]!)).toEqual([
      'name',
      'role',
      'state',
      'api_url',
      'host',
      'port',
      'timeline',
      'lag',
    ]);
    expect(Object.keys(doc)).toEqual(['members', 'scope']);
  });

  it('lag is 0 when a replica is ahead of /status, "unknown" without xlog_location', () => {
    const v = view({
      leader: { name: 'a1', index: '2', session: '1' },
      members: [member('a1', { xlog_location: 100 }), member('b2', { xlog_location: 150 }), member('c3')],
      status: { optime: 100 },
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect(m.map((x) => [x.name, x.lag])).toEqual([
      ['a1', undefined],
      ['b2', 0],
      ['c3', 'unknown'],
    ]);
    expect(m[0]).not.toHaveProperty('lag');
  });

  it('without /status the lag is measured from 0 (→ 0)', () => {
    const v = view({
      leader: { name: 'a1', index: '2', session: '1' },
      members: [member('a1'), member('b2', { xlog_location: 777 })],
      status: null,
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect(m[1]!.lag).toBe(0);
  });

  it('no leader: every member is a replica with a lag', () => {
    const v = view({
      members: [member('a1', { xlog_location: 10 }), member('b2', { xlog_location: 40 })],
      status: { optime: 50 },
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect(m.map((x) => [x.name, x.role, x.lag])).toEqual([
      ['a1', 'replica', 40],
      ['b2', 'replica', 10],
    ]);
  });

  it('state shows replication_state for non-leaders only', () => {
    const v = view({
      leader: { name: 'a1', index: '2', session: '1' },
      members: [
        member('a1', { replication_state: 'streaming' }),
        member('b2', { replication_state: 'in archive recovery' }),
        member('c3', { state: 'starting' }),
      ],
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect(m.map((x) => x.state)).toEqual(['running', 'in archive recovery', 'starting']);
  });

  it('host/port from conn_url: default port, IPv6 without brackets, unparsable url omits both', () => {
    const v = view({
      members: [
        member('a1', { conn_url: 'postgres://db.example.com/postgres' }),
        member('b2', { conn_url: 'postgres://[::1]:6543/postgres' }),
        member('c3', { conn_url: 'not a url' }),
      ],
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect([m[0]!.host, m[0]!.port]).toEqual(['db.example.com', 5432]);
    expect([m[1]!.host, m[1]!.port]).toEqual(['::1', 6543]);
    expect(m[2]).not.toHaveProperty('host');
    expect(m[2]).not.toHaveProperty('port');
  });

  it('optional attributes: timeline, pending_restart, scheduled_restart, tags (non-empty)', () => {
    const sr = { schedule: '2026-11-26T00:00:00+00:00', role: 'master' };
    const v = view({
      leader: { name: 'a1', index: '2', session: '1' },
      members: [
        member('a1', { timeline: 3, pending_restart: true, scheduled_restart: sr, tags: { dc: 'east' } }),
        member('b2', { tags: {} }),
      ],
    });
    const m = clusterAsJson(v, 's').members as Array<Record<string, unknown>>;
    expect(m[0]).toEqual({
      name: 'a1',
      role: 'leader',
      state: 'running',
      api_url: 'http://10.0.0.1:8008/patroni',
      host: '10.0.0.1',
      port: 5432,
      timeline: 3,
      pending_restart: true,
      scheduled_restart: sr,
      tags: { dc: 'east' },
    });
    expect(m[1]).not.toHaveProperty('tags');
    expect(m[1]).not.toHaveProperty('timeline');
    expect(m[1]).not.toHaveProperty('pending_restart');
  });

  it('pause from /config', () => {
    const v = view({ config: { index: '1', data: { ttl: 30, pause: true } } });
    expect(clusterAsJson(v, 's')).toEqual({ members: [], scope: 's', pause: true });
    const unpaused = view({ config: { index: '1', data: { ttl: 30, pause: false } } });
    expect(clusterAsJson(unpaused, 's')).toEqual({ members: [], scope: 's' });
  });

  it('scheduled_switchover with at/from/to', () => {
    const at = '2026-11-26T01:00:00+00:00';
    expect(
      clusterAsJson(view({ failover: { index: '5', leader: 'a1', member: 'b2', scheduled_at: at } }), 's'),
    ).toEqual({
      members: [],
      scope: 's',
      scheduled_switchover: { at, from: 'a1', to: 'b2' },
    });
    expect(clusterAsJson(view({ failover: { index: '5', leader: 'a1', scheduled_at: at } }), 's')).toEqual({
      members: [],
      scope: 's',
      scheduled_switchover: { at, from: 'a1' },
    });
  });

  it('an unscheduled failover key is not reported', () => {
    expect(clusterAsJson(view({ failover: { index: '5', leader: 'a1', member: 'b2' } }), 's')).toEqual({
      members: [],
      scope: 's',
    });
  });

  it('pause and scheduled_switchover come after members and scope', () => {
    const v = view({
      config: { index: '1', data: { pause: true } },
      failover: { index: '5', scheduled_at: '2026-11-26T01:00:00+00:00' },
    });
    expect(Object.keys(clusterAsJson(v, 's'))).toEqual(['members', 'scope', 'pause', 'scheduled_switchover']);
  });
});
