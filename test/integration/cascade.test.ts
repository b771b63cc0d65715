/**
 * `tags.replicatefrom` on real processes (three agents, etcd 3.4, PostgreSQL 15, use_slots on):
 * node3 streams from node2, not from the leader — the leader's pg_stat_replication lists node2
 * alone, node2's lists node3, on the slot node2 keeps for it —; when node2 stops, node3 falls back
 * to the leader
 * (Patroni's _get_node_to_follow: a replicatefrom member that is not running is not followed).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, leaderNode, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const clusterOf = useLocalCluster(
  {
    nodes: 3,
    scope: 'cascade',
    dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
    // node1 and node2 may lead; node3 never does, and streams from node2.
    tags: (i) =>
      i === 2 ? { replicatefrom: 'node2', nofailover: true } : i === 1 ? { nofailover: true } : {},
  },
  { beforeAll, afterAll, afterEach },
  false,
);

const streamsFrom = async (name: string) =>
  (
    await sql<{ application_name: string }>(
      clusterOf().node(name),
      "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
    )
  ).map((r) => r.application_name);

describe('replicatefrom: cascading replication', () => {
  it('node3 streams from node2, node2 from the leader', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    expect(leader.name).toBe('node1');
    await eventually(
      'node2 streams from node1 and node3 from node2',
      async () => {
        const [fromLeader, fromNode2] = [await streamsFrom('node1'), await streamsFrom('node2')];
        if (JSON.stringify([fromLeader, fromNode2]) !== JSON.stringify([['node2'], ['node3']]))
          throw new Error(`node1 → ${fromLeader}, node2 → ${fromNode2}`);
      },
      90_000,
    );
    const rows = await sql<{ conninfo: string }>(
      cluster.node('node3'),
      'SELECT conninfo FROM pg_stat_wal_receiver',
    );
    expect(rows[0]?.conninfo).toContain(`port=${cluster.node('node2').pgPort}`);
    const slots = async (name: string) =>
      (
        await sql<{ slot_name: string }>(
          cluster.node(name),
          'SELECT slot_name FROM pg_replication_slots ORDER BY 1',
        )
      ).map((r) => r.slot_name);
    expect(await slots('node2')).toEqual(['node3']);
    expect(await slots('node1')).toEqual(['node2']);
  });

  it('a write on the leader reaches node3 through node2', async () => {
    const cluster = clusterOf();
    await sql(cluster.node('node1'), 'CREATE TABLE IF NOT EXISTS cascade_probe (v int)');
    await sql(cluster.node('node1'), 'INSERT INTO cascade_probe VALUES (42)');
    await eventually('the row on node3', async () => {
      const rows = await sql<{ v: number }>(cluster.node('node3'), 'SELECT v FROM cascade_probe');
      if (rows[0]?.v !== 42) throw new Error(JSON.stringify(rows));
    });
  });

  it('node2 stopped: node3 follows the leader instead', async () => {
    const cluster = clusterOf();
    await cluster.stopNode('node2');
    await eventually(
      'node3 streams from node1',
      async () => {
        const fromLeader = await streamsFrom('node1');
        if (!fromLeader.includes('node3')) throw new Error(`node1 → ${fromLeader}`);
      },
      90_000,
    );
    cluster.startNode('node2');
  });
});
