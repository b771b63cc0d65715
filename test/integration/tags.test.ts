/**
 * The tags of later Patroni 3.x on real processes (etcd 3.4, PostgreSQL 15, four agents):
 * `failover_priority` (3.2) — node1, node2 and node3 with priorities 1, 2 and 5; when the leader
 * is killed, the survivor with the highest priority takes over (all are equally far along in an
 * idle cluster) — and `nostream` (3.3) — node4 streams from nobody and gets no slot: it replays
 * the WAL the leader archives, through postgresql.recovery_conf's restore_command.
 */
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { lookupUser } from '../../src/local/os-user.ts';
import { eventually, inRecovery, leaderNode, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const ARCHIVE = mkdtempSync(join(tmpdir(), 'pgwarden-archive-'));
const pgUser = lookupUser('postgres');
if (pgUser && process.getuid?.() === 0) chownSync(ARCHIVE, pgUser.uid, pgUser.gid);
afterAll(() => rmSync(ARCHIVE, { recursive: true, force: true }));

const PRIORITY = [1, 2, 5];
const clusterOf = useLocalCluster(
  {
    nodes: 4,
    scope: 'tags',
    dcs: {
      ttl: 10,
      loop_wait: 2,
      retry_timeout: 4,
      postgresql: {
        use_pg_rewind: true,
        use_slots: true,
        parameters: { archive_mode: 'on', archive_command: `cp %p ${ARCHIVE}/%f` },
      },
    },
    tags: (i) => (i < 3 ? { failover_priority: PRIORITY[i] } : { nostream: true, nofailover: true }),
    editConfig: (node, doc) =>
      node.index === 3
        ? {
            ...doc,
            postgresql: {
              ...(doc['postgresql'] as Record<string, unknown>),
              recovery_conf: { restore_command: `cp ${ARCHIVE}/%f %p` },
            },
          }
        : doc,
  },
  { beforeAll, afterAll, afterEach },
  false,
);

const node4 = () => clusterOf().node('node4');

describe('nostream', () => {
  it('node4 replays the archive: no WAL receiver, no slot for it, and what the leader commits arrives', async () => {
    // Not waited for as ready: node4 never streams, which a ready cluster needs.
    await eventually('a leader', async () => expect(await clusterOf().leader()).toBeTruthy(), 90_000);
    const leader = await leaderNode(clusterOf());
    await eventually(
      'node4 running as a standby',
      async () => expect(await inRecovery(node4())).toBe(true),
      60_000,
    );
    expect(await sql(node4(), 'SELECT status FROM pg_stat_wal_receiver')).toEqual([]);
    await eventually(
      'slots for the streaming members only',
      async () => {
        const slots = await sql<{ slot_name: string }>(
          leader,
          'SELECT slot_name FROM pg_replication_slots ORDER BY 1',
        );
        expect(slots.map((s) => s.slot_name)).toEqual(
          clusterOf()
            .nodes.filter((n) => n !== leader && n.name !== 'node4')
            .map((n) => n.name),
        );
      },
      30_000,
    );
    await sql(leader, 'CREATE TABLE archived (v text)');
    await sql(leader, "INSERT INTO archived VALUES ('through the archive')");
    const [{ wal }] = (await sql<{ wal: string }>(
      leader,
      'SELECT pg_walfile_name(pg_switch_wal()) AS wal',
    )) as [{ wal: string }];
    await eventually('the segment archived', async () => expect(existsSync(join(ARCHIVE, wal))).toBe(true));
    await eventually(
      'the row on node4',
      async () =>
        expect(await sql(node4(), 'SELECT v FROM archived')).toEqual([{ v: 'through the archive' }]),
      30_000,
    );
    expect(await sql(node4(), 'SELECT status FROM pg_stat_wal_receiver')).toEqual([]);
  });
});

describe('failover_priority', () => {
  it('the leader killed: the survivor with the highest priority takes over', async () => {
    const cluster = clusterOf();
    const old = await leaderNode(cluster);
    const survivors = cluster.nodes.slice(0, 3).filter((n) => n !== old);
    const expected = survivors.reduce((a, b) => (PRIORITY[a.index]! > PRIORITY[b.index]! ? a : b));
    // Every candidate has all of the leader's WAL: only the priority tells them apart.
    await eventually('the replicas caught up', async () => {
      const [{ lsn }] = (await sql<{ lsn: string }>(old, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [
        { lsn: string },
      ];
      for (const n of survivors) {
        const [{ done }] = (await sql<{ done: boolean }>(
          n,
          'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
          [lsn],
        )) as [{ done: boolean }];
        expect(done).toBe(true);
      }
    });
    await cluster.killNode(old.name);
    const next = await eventually(
      'a new leader',
      async () => {
        const name = await cluster.leader();
        if (!name || name === old.name) throw new Error(`leader: ${name}`);
        return name;
      },
      60_000,
    );
    expect(next).toBe(expected.name);
  });
});
