import { describe, expect, it } from 'vitest';
import {
  buildClusterView,
  encodeHistory,
  encodeMember,
  encodeStatus,
  encodeSync,
  type KvRecord,
  pyJson,
} from '../../src/transport/etcd-keys.ts';

const P = '/service/batman/';
let rev = 10;
function kv(rel: string, value: string, lease = '0'): KvRecord {
  rev += 1;
  return { key: P + rel, value, modRevision: String(rev), createRevision: String(rev), lease };
}

describe('buildClusterView', () => {
  it('assembles the example keyspace', () => {
    const view = buildClusterView(
      P,
      [
        kv('config', '{"ttl":30,"loop_wait":10}'),
        kv('initialize', '7268616322854375442'),
        kv('leader', 'postgresql0', '7587862'),
        kv('members/postgresql1', '{"conn_url":"postgres://h:5433/postgres","role":"replica"}', '99'),
        kv('members/postgresql0', '{"conn_url":"postgres://h:5432/postgres","role":"master"}', '7587862'),
        kv('members/nested/deeper', '{}'),
        kv('status', '{"optime":67395656,"slots":{"s":5}}'),
        kv(
          'history',
          '[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","postgresql1"]]',
        ),
        kv('failover', '{}'),
        kv('sync', '{"leader":"postgresql0","sync_standby":"postgresql1,postgresql2"}'),
        { key: '/service/other/leader', value: 'x', modRevision: '1', createRevision: '1', lease: '0' },
      ],
      '42',
    );
    expect(view.revision).toBe('42');
    expect(view.initialize).toBe('7268616322854375442');
    expect(view.config?.data).toEqual({ ttl: 30, loop_wait: 10 });
    expect(view.leader).toMatchObject({ name: 'postgresql0', session: '7587862' });
    expect(view.members.map((m) => m.name)).toEqual(['postgresql0', 'postgresql1']);
    expect(view.members[1]!.session).toBe('99');
    expect(view.status).toEqual({ optime: 67395656, slots: { s: 5 } });
    expect(view.history?.[0]?.[0]).toBe(1);
    expect(view.failover).toBeNull();
    expect(view.sync).toMatchObject({ leader: 'postgresql0', sync_standby: ['postgresql1', 'postgresql2'] });
    expect(Object.isFrozen(view)).toBe(true);
    expect(Object.isFrozen(view.members[0]!.data)).toBe(true);
  });

  it('decodes each record once: a view rebuilt from the same records shares their frozen values', () => {
    const keys = [
      kv('config', '{"ttl":30}'),
      kv('members/a', '{"role":"master"}'),
      kv('failover', '{"leader":"a"}'),
      kv('sync', '{"leader":"a","sync_standby":"b"}'),
      kv('history', '[[1,100,"r","t"]]'),
      kv('status', '{"optime":5}'),
    ];
    const first = buildClusterView(P, keys, '1');
    const again = buildClusterView(P, keys, '2');
    expect(again).toEqual({ ...first, revision: '2' });
    for (const part of ['config', 'failover', 'sync', 'history', 'status'] as const) {
      expect(again[part], part).toBe(first[part]);
      expect(Object.isFrozen(again[part]), part).toBe(true);
    }
    expect(again.members[0]!.data).toBe(first.members[0]!.data);
    // A new revision of a key is a new record, decoded anew; the same text gives an equal value.
    const rewritten = kv('members/a', '{"role":"replica"}');
    const next = buildClusterView(P, [...keys.slice(0, 1), rewritten, ...keys.slice(2)], '3');
    expect(next.members[0]).toMatchObject({ index: rewritten.modRevision, data: { role: 'replica' } });
    expect(next.config).toBe(first.config);
  });

  it('reads the legacy /optime/leader only without a /status, whatever /status was decoded before', () => {
    const status = kv('status', '{"optime":5}');
    const legacy = kv('optime/leader', '7');
    expect(buildClusterView(P, [status, legacy], '1').status).toEqual({ optime: 5 });
    expect(buildClusterView(P, [legacy], '2').status).toEqual({ optime: 7 });
  });

  it('keeps a leader without member key and maps lease 0 to no session', () => {
    const view = buildClusterView(P, [kv('leader', 'ghost')], '5');
    expect(view.leader).toMatchObject({ name: 'ghost', session: null });
    expect(view.members).toEqual([]);
  });

  it('tolerates garbage like Patroni', () => {
    const view = buildClusterView(
      P,
      [
        kv('config', '{not json'),
        kv('members/a', 'oops'),
        kv('members/b', 'postgres://u:p@h:5432/postgres?application_name=http://h:8008/patroni'),
        kv('sync', '[1,2]'),
        kv('history', 'nope'),
        kv('status', 'garbage'),
      ],
      '9',
    );
    expect(view.config).toEqual({ index: '0', data: {} });
    expect(view.members[0]!.data).toEqual({});
    expect(view.members[1]!.data).toEqual({
      conn_url: 'postgres://u:p@h:5432/postgres',
      api_url: 'http://h:8008/patroni',
    });
    expect(view.sync).toBeNull();
    expect(view.history).toBeNull();
    expect(view.status).toEqual({ optime: 0 });
  });

  it('keeps the index of a parseable non-object config', () => {
    const rec = kv('config', '[1]');
    expect(buildClusterView(P, [rec], '1').config).toEqual({ index: rec.modRevision, data: {} });
  });

  it('reads failover as object, legacy text, or nothing', () => {
    const obj = kv('failover', '{"leader":"a","member":"b","scheduled_at":"2030-01-01T00:00:00+00:00"}');
    expect(buildClusterView(P, [obj], '1').failover).toEqual({
      index: obj.modRevision,
      leader: 'a',
      member: 'b',
      scheduled_at: '2030-01-01T00:00:00+00:00',
    });
    expect(buildClusterView(P, [kv('failover', 'a: b')], '1').failover).toMatchObject({
      leader: 'a',
      member: 'b',
    });
    expect(buildClusterView(P, [kv('failover', '{"scheduled_at":"x"}')], '1').failover).toBeNull();
    expect(buildClusterView(P, [kv('failover', '')], '1').failover).toBeNull();
  });

  it('falls back to optime/leader for status', () => {
    expect(buildClusterView(P, [kv('optime/leader', '1234')], '1').status).toEqual({ optime: 1234 });
    expect(buildClusterView(P, [], '1').status).toBeNull();
    expect(
      buildClusterView(P, [kv('sync', '{"leader":"a","sync_standby":null}')], '1').sync?.sync_standby,
    ).toEqual([]);
  });

  it('reads an empty history list as timeline 1 material', () => {
    expect(buildClusterView(P, [kv('history', '[]')], '1').history).toEqual([]);
  });
});

describe('encoders', () => {
  it('writes compact JSON like Python, ASCII-escaped', () => {
    expect(pyJson({ a: 1, b: [1, 'x'], c: null })).toBe('{"a":1,"b":[1,"x"],"c":null}');
    expect(pyJson({ name: 'café ☃ 😀\u007f' })).toBe('{"name":"caf\\u00e9 \\u2603 \\ud83d\\ude00\\u007f"}');
    expect(pyJson('a\nb\u0001"\\/')).toBe('"a\\nb\\u0001\\"\\\\/"');
  });

  it('encodes the member value in the given key order', () => {
    expect(
      encodeMember({
        conn_url: 'postgres://127.0.0.1:5432/postgres',
        api_url: 'http://127.0.0.1:8008/patroni',
        state: 'running',
        role: 'master',
        version: '3.0.2',
        xlog_location: 50331968,
        timeline: 1,
      }),
    ).toBe(
      '{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","version":"3.0.2","xlog_location":50331968,"timeline":1}',
    );
  });

  it('encodes status, history and sync', () => {
    expect(encodeStatus({ optime: 67395656 })).toBe('{"optime":67395656}');
    expect(encodeStatus({ optime: 5, slots: {} })).toBe('{"optime":5}');
    expect(encodeStatus({ optime: 5, slots: { s: 4 } })).toBe('{"optime":5,"slots":{"s":4}}');
    expect(
      encodeHistory([[1, 25623960, 'no recovery target specified', '2019-09-23T16:57:57+02:00', 'pg1']]),
    ).toBe('[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","pg1"]]');
    expect(encodeSync('pg0', ['pg2', 'pg1'])).toBe('{"leader":"pg0","sync_standby":"pg1,pg2"}');
    expect(encodeSync('pg0', [])).toBe('{"leader":"pg0","sync_standby":null}');
  });
});
