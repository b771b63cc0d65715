/**
 * Synchronous replication on a real cluster: /sync and synchronous_standby_names move in the
 * safe order, the REST endpoints follow, and after kill -9 of the leader only the synchronous
 * standby may win, with every acknowledged commit.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { REST_AUTH, SUPERUSER } from '../../src/local/cluster.ts';
import { etcdValue, eventually, sleep, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'syn', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 }, journal: true },
  { beforeAll, afterAll, afterEach },
);

const auth = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;
const syncKey = async () => JSON.parse((await etcdValue(clusterOf(), 'syn', 'sync')) ?? 'null');

describe('synchronous_mode', () => {
  it('names one synchronous standby in /sync, in PostgreSQL, and in the REST API', async () => {
    const leader = clusterOf().nodes.find((n) => n.status?.role === 'master')!;
    const res = await fetch(`${leader.apiUrl}/config`, {
      method: 'PATCH',
      headers: { authorization: auth },
      body: JSON.stringify({ synchronous_mode: true }),
    });
    expect(res.status).toBe(200);
    const sync = await eventually(
      '/sync names a standby',
      async () => {
        const s = await syncKey();
        expect(s?.leader).toBe(leader.name);
        expect(typeof s?.sync_standby).toBe('string');
        return s as { leader: string; sync_standby: string };
      },
      30_000,
    );
    const standby = clusterOf().node(sync.sync_standby);
    const other = clusterOf().nodes.find((n) => n !== leader && n !== standby)!;
    expect(await sql(leader, 'SHOW synchronous_standby_names')).toEqual([
      { synchronous_standby_names: standby.name },
    ]);
    const rows = await sql<{ application_name: string; sync_state: string }>(
      leader,
      'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1',
    );
    expect(rows.find((r) => r.application_name === standby.name)?.sync_state).toBe('sync');
    const code = async (url: string) => (await fetch(url)).status;
    await eventually('REST endpoints follow /sync', async () => {
      expect(await code(`${standby.apiUrl}/sync`)).toBe(200);
      expect(await code(`${standby.apiUrl}/async`)).toBe(503);
      expect(await code(`${other.apiUrl}/sync`)).toBe(503);
      expect(await code(`${other.apiUrl}/async`)).toBe(200);
    });
    const members = (
      (await (await fetch(`${leader.apiUrl}/cluster`)).json()) as {
        members: Array<{ name: string; role: string }>;
      }
    ).members;
    expect(members.find((m) => m.name === standby.name)?.role).toBe('sync_standby');
  });

  it('after kill -9 of the leader only the synchronous standby takes over, with every acknowledged commit', async () => {
    const sync = (await syncKey()) as { leader: string; sync_standby: string };
    const leader = clusterOf().node(sync.leader);
    await sql(leader, 'CREATE TABLE sync_test (id int PRIMARY KEY)');
    for (let i = 1; i <= 50; i++) await sql(leader, 'INSERT INTO sync_test VALUES ($1)', [i]);
    // A writer keeps committing through the kill: every commit it saw acknowledged must survive.
    const acknowledged: number[] = [];
    let writing = true;
    const writer = (async () => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: leader.pgPort,
        user: SUPERUSER.username,
        password: SUPERUSER.password,
        database: 'postgres',
      });
      client.on('error', () => {}); // the kill ends the session
      try {
        await client.connect();
        for (let id = 1000; writing; id++) {
          await client.query('INSERT INTO sync_test VALUES ($1)', [id]);
          acknowledged.push(id);
        }
      } catch {
        // the leader died under the writer
      } finally {
        await client.end().catch(() => {});
      }
    })();
    await sleep(500);
    await clusterOf().killNode(leader.name);
    writing = false;
    await writer;
    expect(acknowledged.length).toBeGreaterThan(0);
    await eventually(
      'the synchronous standby leads',
      async () => expect(await etcdValue(clusterOf(), 'syn', 'leader')).toBe(sync.sync_standby),
      60_000,
    );
    const next = clusterOf().node(sync.sync_standby);
    await eventually('it accepts writes', async () => {
      await sql(next, 'INSERT INTO sync_test VALUES (51)');
    });
    expect(await sql(next, 'SELECT count(*)::int AS n FROM sync_test WHERE id <= 51')).toEqual([{ n: 51 }]);
    const kept = new Set(
      (await sql<{ id: number }>(next, 'SELECT id FROM sync_test WHERE id >= 1000')).map((r) => r.id),
    );
    expect(acknowledged.filter((id) => !kept.has(id))).toEqual([]);
  });
});
