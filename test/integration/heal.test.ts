/**
 * The cluster heals whole on real processes: after the leader's agent alone is killed (its
 * PostgreSQL keeps running and writable) or frozen past the ttl, a replica takes over, and within
 * 60 s of the agent's return every member streams on the new leader's timeline. Before, the
 * third node could stay on the old timeline for good: it had streamed WAL from the old primary
 * past the point where the new leader's history left that timeline, and only pg_rewind (now run
 * when such a replica stops streaming) brings it back. A writer keeps committing through a libpq
 * multi-host string all along, as an application would.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SUPERUSER } from '../../src/local/cluster.ts';
import { etcdValue, eventually, sleep, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 180_000 });

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'heal', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
  { beforeAll, afterAll, afterEach },
);

beforeAll(async () => {
  const leader = (await etcdValue(clusterOf(), 'heal', 'leader'))!;
  await sql(
    clusterOf().node(leader),
    'CREATE TABLE heal_test (id serial PRIMARY KEY, at timestamptz DEFAULT now())',
  );
});

/**
 * Commits every 50 ms until stopped, on the first node that accepts writes, trying the nodes in
 * order as a libpq multi-host string with target_session_attrs=read-write does (node-postgres
 * has no multi-host support). Errors are expected during a failover.
 */
function writer(): { stop: () => Promise<number> } {
  let running = true;
  let acknowledged = 0;
  const done = (async () => {
    while (running) {
      for (const n of clusterOf().nodes) {
        if (!running) break;
        const client = new pg.Client({
          host: '127.0.0.1',
          port: n.pgPort,
          user: SUPERUSER.username,
          password: SUPERUSER.password,
          database: 'postgres',
          connectionTimeoutMillis: 2000,
        });
        client.on('error', () => {}); // a demoted primary ends the session: the next node
        try {
          await client.connect();
          const [row] = (await client.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro')).rows;
          while (running && row && !row.ro) {
            await client.query('INSERT INTO heal_test DEFAULT VALUES');
            acknowledged++;
            await sleep(50);
          }
        } catch {
          // refused, in recovery, or cut off: the next node
        } finally {
          await client.end().catch(() => {});
        }
      }
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return acknowledged;
    },
  };
}

/** Every member but the leader streams from a WAL sender on the leader's current timeline. */
async function healed(leader: string): Promise<void> {
  // A primary's current timeline: the first eight hex digits of its current WAL file.
  const [{ file }] = (await sql<{ file: string }>(
    clusterOf().node(leader),
    'SELECT pg_walfile_name(pg_current_wal_lsn()) AS file',
  )) as [{ file: string }];
  const timeline = Number.parseInt(file.slice(0, 8), 16);
  for (const n of clusterOf().nodes) {
    if (n.name === leader) continue;
    const rows = await sql<{ status: string; tli: number }>(
      n,
      'SELECT status, received_tli AS tli FROM pg_stat_wal_receiver',
    );
    expect({ node: n.name, receiver: rows[0] ?? null }).toEqual({
      node: n.name,
      receiver: { status: 'streaming', tli: timeline },
    });
  }
}

async function newLeaderAfter(old: string): Promise<string> {
  return eventually(
    'a new leader',
    async () => {
      const l = await etcdValue(clusterOf(), 'heal', 'leader');
      if (!l || l === old) throw new Error(`leader is ${l}`);
      const status = await clusterOf().fetchStatus(clusterOf().node(l));
      if (status?.role !== 'master') throw new Error(`${l} is ${status?.role}`);
      return l;
    },
    60_000,
  );
}

describe('the cluster heals whole', () => {
  beforeEach(async () => {
    expect(await clusterOf().waitUntilReady({ timeoutMs: 90_000 })).toBe(true);
  });

  it('after kill -9 of the leader agent alone: every member streams on the new timeline within 60 s of its return', async () => {
    const old = (await etcdValue(clusterOf(), 'heal', 'leader'))!;
    const w = writer();
    await sleep(1000);
    await clusterOf().killAgent(old);
    const leader = await newLeaderAfter(old);
    await sleep(3000); // the orphan primary and the new one both run for a while, as in the field
    clusterOf().startNode(old);
    await eventually('every member streaming on the leader timeline', () => healed(leader), 60_000);
    expect(await w.stop()).toBeGreaterThan(0);
  });

  it('after the leader agent was frozen past the ttl: every member streams on the new timeline within 60 s of its thaw', async () => {
    const old = (await etcdValue(clusterOf(), 'heal', 'leader'))!;
    const w = writer();
    await sleep(1000);
    clusterOf().freezeAgent(old, true);
    let leader: string;
    try {
      leader = await newLeaderAfter(old);
      await sleep(3000);
    } finally {
      clusterOf().freezeAgent(old, false);
    }
    await eventually('every member streaming on the leader timeline', () => healed(leader), 60_000);
    expect(await w.stop()).toBeGreaterThan(0);
  });
});
