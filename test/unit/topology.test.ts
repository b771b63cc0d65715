import { describe, expect, it } from 'vitest';
import { slotNameFromMemberName } from '../../src/actors/postgres.ts';
import {
  cloneSourceFor,
  desiredSlots,
  memberHostPort,
  memberToFollow,
  upstreamFor,
} from '../../src/cluster/topology.ts';
import { type ClusterView, emptyClusterView, type Member, type MemberData } from '../../src/cluster/view.ts';

const hosts: Record<string, string> = {
  pg1: '10.0.0.1',
  pg2: '10.0.0.2',
  pg3: '10.0.0.3',
  'pg-4': '10.0.0.4',
};

function member(name: string, data: Partial<MemberData> = {}): Member {
  const host = hosts[name] ?? '10.0.0.9';
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://${host}:5432/postgres`,
      api_url: `http://${host}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      ...data,
    },
  };
}

const view = (members: Member[], leader: string | null = 'pg1'): ClusterView => ({
  ...emptyClusterView,
  revision: '7',
  initialize: '1',
  leader: leader ? { name: leader, index: '2', session: '1' } : null,
  members,
});

describe('memberHostPort', () => {
  it('parses host and port, defaulting to 5432', () => {
    expect(memberHostPort(member('pg1'))).toEqual({ host: '10.0.0.1', port: 5432 });
    expect(memberHostPort(member('x', { conn_url: 'postgres://h.example/postgres' }))).toEqual({
      host: 'h.example',
      port: 5432,
    });
    expect(memberHostPort(member('x', { conn_url: 'postgres://[fe80::1]:5433/postgres' }))).toEqual({
      host: 'fe80::1',
      port: 5433,
    });
    expect(memberHostPort(member('x', { conn_url: '' }))).toBeNull();
  });
});

describe('upstreamFor', () => {
  const v = view([
    member('pg1', { role: 'master' }),
    member('pg2'),
    member('pg3', { tags: { replicatefrom: 'pg2' } }),
  ]);

  it('without replicatefrom: the leader, with our name as application_name and slot', () => {
    expect(upstreamFor(v, 'pg2', undefined, true)).toEqual({
      host: '10.0.0.1',
      port: 5432,
      applicationName: 'pg2',
      slotName: 'pg2',
    });
  });

  it('slot name is derived from our member name, null without slots', () => {
    const v2 = view([member('pg1'), member('pg-4')]);
    expect(upstreamFor(v2, 'pg-4', undefined, true)).toEqual({
      host: '10.0.0.1',
      port: 5432,
      applicationName: 'pg-4',
      slotName: 'pg_4',
    });
    expect(upstreamFor(v2, 'pg-4', undefined, false)?.slotName).toBeNull();
  });

  it('with replicatefrom: the running named member', () => {
    expect(upstreamFor(v, 'pg3', 'pg2', true)).toEqual({
      host: '10.0.0.2',
      port: 5432,
      applicationName: 'pg3',
      slotName: 'pg3',
    });
  });

  it('replicatefrom a member that is not running, or absent: falls back to the leader', () => {
    const v2 = view([member('pg1'), member('pg2', { state: 'stopped' }), member('pg3')]);
    expect(upstreamFor(v2, 'pg3', 'pg2', true)?.host).toBe('10.0.0.1');
    expect(upstreamFor(v2, 'pg3', 'ghost', true)?.host).toBe('10.0.0.1');
  });

  it('no upstream for the leader itself, or without a leader', () => {
    expect(upstreamFor(v, 'pg1', undefined, true)).toBeNull();
    expect(upstreamFor(view([member('pg1'), member('pg2')], null), 'pg2', undefined, true)).toBeNull();
    // a leader key naming a member that has no member key
    expect(upstreamFor(view([member('pg2')], 'pg1'), 'pg2', undefined, true)).toBeNull();
  });

  // Patroni (_get_node_to_follow) only honours replicatefrom when it differs from our own name,
  // otherwise it follows the leader.
  it('replicatefrom naming ourselves falls back to the leader', () => {
    expect(upstreamFor(v, 'pg2', 'pg2', true)?.host).toBe('10.0.0.1');
    expect(memberToFollow(v, 'pg2', 'pg2')).toBe('pg1');
  });
});

describe('memberToFollow', () => {
  const v = view([member('pg1', { role: 'master' }), member('pg2'), member('pg3')]);

  it('names the running replicatefrom member, else the leader, never ourselves', () => {
    expect(memberToFollow(v, 'pg3', 'pg2')).toBe('pg2');
    expect(memberToFollow(v, 'pg3', undefined)).toBe('pg1');
    expect(memberToFollow(v, 'pg3', 'ghost')).toBe('pg1');
    expect(memberToFollow(v, 'pg3', 'pg3')).toBe('pg1');
    expect(memberToFollow(v, 'pg1', 'pg2')).toBeNull();
    expect(memberToFollow(view([member('pg2')], 'pg1'), 'pg2', undefined)).toBeNull();
  });

  it('always agrees with the member upstreamFor resolves', () => {
    const views = [
      v,
      view([member('pg1'), member('pg2', { state: 'stopped' }), member('pg3')]),
      view([member('pg1'), member('pg2'), member('pg3')], null),
      view([member('pg2'), member('pg3')], 'pg1'),
      view([member('pg1', { conn_url: '' }), member('pg2'), member('pg3')]),
    ];
    for (const cv of views) {
      for (const me of ['pg1', 'pg2', 'pg3']) {
        for (const from of [undefined, 'pg1', 'pg2', 'pg3', 'ghost']) {
          const name = memberToFollow(cv, me, from);
          const up = upstreamFor(cv, me, from, true);
          const expected =
            name === null ? null : memberHostPort(cv.members.find((m) => m.name === name)!)!.host;
          expect(up?.host ?? null).toBe(expected);
        }
      }
    }
  });
});

describe('cloneSourceFor', () => {
  it('prefers a running member tagged clonefrom', () => {
    const v = view([member('pg1'), member('pg2', { tags: { clonefrom: true } }), member('pg3')]);
    expect(cloneSourceFor(v, 'pg3')).toEqual({
      host: '10.0.0.2',
      port: 5432,
      applicationName: 'pg3',
      slotName: null,
    });
  });

  it('ignores non-running clonefrom members and non-boolean tags, then uses the leader', () => {
    const v = view([
      member('pg1'),
      member('pg2', { tags: { clonefrom: true }, state: 'starting' }),
      member('pg-4', { tags: { clonefrom: 'true' } }),
      member('pg3'),
    ]);
    expect(cloneSourceFor(v, 'pg3')).toEqual({
      host: '10.0.0.1',
      port: 5432,
      applicationName: 'pg3',
      slotName: null,
    });
  });

  it('does not clone from itself', () => {
    const v = view([member('pg1'), member('pg3', { tags: { clonefrom: true } })]);
    expect(cloneSourceFor(v, 'pg3')?.host).toBe('10.0.0.1');
  });

  it('picks among several donors by index (modulo)', () => {
    const v = view([
      member('pg1'),
      member('pg2', { tags: { clonefrom: true } }),
      member('pg-4', { tags: { clonefrom: true } }),
      member('pg3'),
    ]);
    expect(cloneSourceFor(v, 'pg3', 0)?.host).toBe('10.0.0.2');
    expect(cloneSourceFor(v, 'pg3', 1)?.host).toBe('10.0.0.4');
    expect(cloneSourceFor(v, 'pg3', 2)?.host).toBe('10.0.0.2');
  });

  it('null without a donor or leader', () => {
    expect(cloneSourceFor(view([member('pg3')], null), 'pg3')).toBeNull();
  });
});

describe('desiredSlots (leader)', () => {
  it('one slot per other member, sorted', () => {
    const v = view([member('pg3'), member('pg1'), member('pg-4'), member('pg2')]);
    expect(desiredSlots(v, 'pg1')).toEqual(['pg2', 'pg3', 'pg_4']);
  });

  it('skips cascading replicas of another existing member, keeps those replicating from us or a ghost', () => {
    const v = view([
      member('pg1'),
      member('pg2'),
      member('pg3', { tags: { replicatefrom: 'pg2' } }),
      member('pg-4', { tags: { replicatefrom: 'pg1' } }),
      member('pg5', { tags: { replicatefrom: 'ghost' } }),
    ]);
    expect(desiredSlots(v, 'pg1')).toEqual(['pg2', 'pg5', 'pg_4']);
  });

  it('no members but us → no slots', () => {
    expect(desiredSlots(view([member('pg1')]), 'pg1')).toEqual([]);
  });
});

describe('slotNameFromMemberName (Patroni slot_name_from_member_name)', () => {
  it.each([
    ['pg1', 'pg1'],
    ['Node-1.example', 'node_1_example'],
    ['UPPER_case', 'upper_case'],
    ['a b', 'au0032b'],
    ['x@y', 'xu0064y'],
    ['é', 'u0233'],
    ['ü-1', 'u0252_1'],
    ['a/b:c', 'au0047bu0058c'],
    ['\u{1F600}', 'u128512'],
    ['\t', 'u0009'],
  ])('%j → %j', (name, slot) => {
    expect(slotNameFromMemberName(name)).toBe(slot);
  });

  it('is cut at 63 characters', () => {
    expect(slotNameFromMemberName('a'.repeat(100))).toBe('a'.repeat(63));
    expect(slotNameFromMemberName(`${'b'.repeat(61)}é`)).toBe(`${'b'.repeat(61)}u0`);
  });
});
