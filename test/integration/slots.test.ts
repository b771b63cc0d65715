/**
 * Replication slots on real processes (etcd 3.4, PostgreSQL 15, two agents): /config's permanent
 * slots (a physical one, a logical one), ignore_slots, the slot of a member that leaves, and
 * use_slots turned off and on again — each as Patroni 3.0.2 keeps them on the primary.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, leaderNode, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const clusterOf = useLocalCluster(
  {
    nodes: 2,
    scope: 'slots',
    dcs: {
      ttl: 10,
      loop_wait: 2,
      retry_timeout: 4,
      slots: {
        archiver: { type: 'physical' },
        cdc: { type: 'logical', database: 'postgres', plugin: 'test_decoding' },
      },
      ignore_slots: [{ name: 'keep_me' }],
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'logical' } },
    },
  },
  { beforeAll, afterAll, afterEach },
);

interface Slot {
  slot_name: string;
  slot_type: string;
  plugin: string | null;
}
async function slotsOnLeader(): Promise<Slot[]> {
  const leader = await leaderNode(clusterOf());
  return sql<Slot>(
    leader,
    'SELECT slot_name, slot_type, plugin FROM pg_replication_slots ORDER BY slot_name',
  );
}
const names = (slots: Slot[]) => slots.map((s) => s.slot_name);

async function patchConfig(body: Record<string, unknown>): Promise<void> {
  const leader = await leaderNode(clusterOf());
  const res = await clusterOf().rest.request(`${leader.apiUrl}/config`, {
    method: 'PATCH',
    body: JSON.stringify(body),
  });
  expect(res.status, res.text).toBe(200);
}

describe('replication slots kept by the primary', () => {
  it('the permanent ones, physical and logical, beside the member’s', async () => {
    const leader = await leaderNode(clusterOf());
    const replica = clusterOf().nodes.find((n) => n !== leader)!;
    await eventually('the permanent slots', async () => {
      expect(await slotsOnLeader()).toEqual([
        { slot_name: 'archiver', slot_type: 'physical', plugin: null },
        { slot_name: 'cdc', slot_type: 'logical', plugin: 'test_decoding' },
        { slot_name: replica.name, slot_type: 'physical', plugin: null },
      ]);
    });
  });

  it('an unknown physical slot is dropped; one ignore_slots names is kept', async () => {
    const leader = await leaderNode(clusterOf());
    await sql(leader, "SELECT pg_create_physical_replication_slot('stray')");
    await sql(leader, "SELECT pg_create_physical_replication_slot('keep_me')");
    // A slot made in /config later, to make the leader look at its slots again now.
    await patchConfig({ slots: { later: { type: 'physical' } } });
    await eventually('the stray slot dropped, the ignored one kept', async () => {
      const now = names(await slotsOnLeader());
      expect(now).toContain('later');
      expect(now).toContain('keep_me');
      expect(now).not.toContain('stray');
    });
  });

  it('use_slots off: the member’s slot goes, the permanent physical ones stay; on again: it is back', async () => {
    const leader = await leaderNode(clusterOf());
    const replica = clusterOf().nodes.find((n) => n !== leader)!;
    await patchConfig({ postgresql: { use_slots: false } });
    await eventually(
      'the member slot dropped',
      async () => {
        const now = names(await slotsOnLeader());
        expect(now).not.toContain(replica.name);
        expect(now).toEqual(expect.arrayContaining(['archiver', 'keep_me', 'later', 'cdc']));
      },
      30_000,
    );
    await patchConfig({ postgresql: { use_slots: true } });
    await eventually(
      'the member slot back',
      async () => {
        expect(names(await slotsOnLeader())).toContain(replica.name);
      },
      30_000,
    );
  });

  it('a member that leaves: its slot is dropped once its key is gone', async () => {
    const leader = await leaderNode(clusterOf());
    const replica = clusterOf().nodes.find((n) => n !== leader)!;
    await clusterOf().stopNode(replica.name);
    await eventually(
      'the slot of the member that left dropped',
      async () => {
        expect(names(await slotsOnLeader())).not.toContain(replica.name);
      },
      40_000,
    );
    expect(names(await slotsOnLeader())).toEqual(['archiver', 'cdc', 'keep_me', 'later']);
  });
});
