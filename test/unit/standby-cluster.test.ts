/**
 * standby_cluster: how /config's section is read (leniently) and bootstrap.dcs's (strictly), whom
 * each member of a standby cluster streams from, the standby leader's recovery settings, role and
 * slots, and the methods its clones use.
 */
import { describe, expect, it } from 'vitest';
import { renderRecoveryConf } from '../../src/actors/postgres/conf.ts';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import { reportedRole } from '../../src/cluster/report.ts';
import { remoteMemberName, remoteTarget, standbyClusterOf } from '../../src/cluster/standby-cluster.ts';
import { memberToFollow, upstreamFor } from '../../src/cluster/topology.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { standbySlotsDue } from '../../src/machines/duties-slots.ts';
import { settingsFrom } from '../../src/runtime/dynamic-config.ts';
import { memberWith } from '../helpers/members.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';
import { pgStatus } from '../helpers/pg-status.ts';

const SECTION = { host: '10.9.9.9', port: 6000, primary_slot_name: 'dr', restore_command: 'cp /a/%f %p' };
const standby = standbyClusterOf({ standby_cluster: SECTION })!;

const view = (leader: string | null): ClusterView => ({
  ...emptyClusterView,
  leader: leader ? { name: leader, index: '1', session: '1' } : null,
  members: [
    memberWith('a', { connUrl: 'postgres://127.0.0.1:5432/postgres' }),
    memberWith('b', { connUrl: 'postgres://127.0.0.1:5433/postgres' }),
  ],
  config: { index: '1', data: { standby_cluster: SECTION } },
});

describe("reading /config's standby_cluster", () => {
  it('host, port (a number or its text), slot and the recovery settings', () => {
    expect(standby).toEqual({
      host: '10.9.9.9',
      port: 6000,
      primarySlotName: 'dr',
      recovery: { restore_command: 'cp /a/%f %p' },
      createReplicaMethods: [],
    });
    expect(
      standbyClusterOf({ standby_cluster: { host: 'h', port: '5433', create_replica_methods: ['x', 1] } }),
    ).toMatchObject({
      port: 5433,
      createReplicaMethods: ['x'],
    });
    expect(standbyClusterOf({ standby_cluster: { host: 'h' } })?.port).toBe(5432);
  });

  it('none: no standby cluster', () => {
    for (const section of [undefined, null, {}, 'h', { host: '' }])
      expect(standbyClusterOf({ standby_cluster: section }), JSON.stringify(section)).toBeNull();
  });

  it('one pgwarden cannot stream from is a standby cluster all the same, without a remote (fails closed: nobody promoted)', () => {
    for (const section of [{ restore_command: 'cp' }, { host: 'h', port: 'x' }, { host: 'h', port: 70000 }]) {
      const standby = standbyClusterOf({ standby_cluster: section });
      expect(standby?.host, JSON.stringify(section)).toBeNull();
      expect(remoteTarget(standby!, 'a')).toBeNull();
      expect(memberToFollow(view(null), 'a', undefined, standby)).toBeNull();
    }
  });

  it('bootstrap.dcs is checked when the configuration is read', () => {
    const withDcs = (sc: unknown) =>
      parseConfigText(`${MINIMAL_CONFIG}bootstrap:\n  dcs:\n    standby_cluster: ${JSON.stringify(sc)}\n`);
    expect(withDcs(SECTION).bootstrap.dcs['standby_cluster']).toEqual(SECTION);
    expect(() => withDcs({ restore_command: 'cp' })).toThrow(
      /bootstrap\.dcs\.standby_cluster\.host: a host .* is required/,
    );
    expect(() => withDcs({ host: 'h', port: 0 })).toThrow(
      /standby_cluster\.host: a host \(and a port from 1 to 65535\)/,
    );
    expect(() => withDcs({ host: ['h'] })).toThrow(/standby_cluster\.host: must be a string/);
    expect(() => withDcs({ host: 'h', create_replica_methods: 'x' })).toThrow(
      /standby_cluster\.create_replica_methods: must be a list/,
    );
  });
});

describe('whom a member of a standby cluster streams from', () => {
  it('the leader and, with no leader, everyone: the remote primary, with its slot and recovery settings', () => {
    expect(memberToFollow(view('a'), 'a', undefined, standby)).toBe('remote_member:10.9.9.9:6000/dr');
    expect(memberToFollow(view(null), 'b', undefined, standby)).toBe(remoteMemberName(standby));
    expect(upstreamFor(view('a'), 'a', undefined, true, standby)).toEqual({
      host: '10.9.9.9',
      port: 6000,
      applicationName: 'a',
      slotName: 'dr',
      recovery: { restore_command: 'cp /a/%f %p' },
    });
  });

  it('the others: the standby leader, through their own slot on it', () => {
    expect(upstreamFor(view('a'), 'b', undefined, true, standby)).toEqual({
      host: '127.0.0.1',
      port: 5432,
      applicationName: 'b',
      slotName: 'b',
    });
  });

  it("the standby leader's recovery settings follow primary_conninfo", () => {
    const config = parseConfigText(MINIMAL_CONFIG);
    const text = renderRecoveryConf(config, remoteTarget(standby, 'a'));
    expect(text).toMatch(
      /primary_slot_name = 'dr'\nrestore_command = 'cp \/a\/%f %p'\nrecovery_target_timeline = 'latest'/,
    );
  });
});

describe('the standby leader', () => {
  const inRecovery: PostgresStatus = pgStatus({
    inRecovery: true,
    currentLsn: null,
    receivedLsn: 10,
    replayedLsn: 10,
  });

  it('reports its role as Patroni does while PostgreSQL is a standby', () => {
    const base = { pg: inRecovery } as Parameters<typeof reportedRole>[0];
    expect(reportedRole({ ...base, role: 'standby_leader' })).toBe('standby_leader');
    expect(reportedRole({ ...base, role: 'replica' })).toBe('replica');
  });

  it("keeps every member's slot, as a primary does; a leader in recovery elsewhere waits for its promotion", () => {
    const e = { isLeader: true, status: inRecovery, view: view('a'), useSlots: true };
    expect(standbySlotsDue('a', e, '')).toBe(true);
    expect(standbySlotsDue('a', e, 'b')).toBe(false);
    expect(standbySlotsDue('a', { ...e, view: { ...view('a'), config: null } }, '')).toBe(false);
    expect(standbySlotsDue('a', { ...e, useSlots: false }, '')).toBe(false);
  });

  it("clones with the section's create_replica_methods and their local options; none named: pg_basebackup", () => {
    const config = parseConfigText(
      `${MINIMAL_CONFIG}  create_replica_methods: [local_only]\n  local_only: {command: x}\n  from_s3: {command: restore-s3, no_leader: true}\n`,
    );
    const named = settingsFrom(config, {
      standby_cluster: { ...SECTION, create_replica_methods: ['from_s3', 'basebackup'] },
    });
    expect(named.standby_cluster?.methods.map((m) => m.name)).toEqual(['from_s3', 'basebackup']);
    const none = settingsFrom(config, { standby_cluster: SECTION });
    expect(none.standby_cluster?.methods.map((m) => m.name)).toEqual(['basebackup']);
    // A section that cannot be used (it comes from /config): pg_basebackup, not a failed start.
    const broken = settingsFrom(config, {
      standby_cluster: { ...SECTION, create_replica_methods: ['a', 'a'] },
    });
    expect(broken.standby_cluster?.methods.map((m) => m.name)).toEqual(['basebackup']);
    expect(settingsFrom(config, {}).standby_cluster).toBeNull();
  });
});
