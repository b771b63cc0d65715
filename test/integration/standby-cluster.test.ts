/**
 * A standby cluster on real processes (etcd 3.4, PostgreSQL 15): two pgwarden clusters on one
 * etcd, `main` and `dr` (another scope). `dr`'s bootstrap.dcs names main's leader in
 * standby_cluster, with a permanent slot main keeps for it (primary_slot_name): its first member
 * copies main and leads `dr` as a standby of it (the standby
 * leader: /standby-leader 200, /primary 503, role standby_leader), its other member streams from
 * the standby leader, and what main commits reaches both. Removing the section from dr's /config
 * (PATCH, as `patronictl edit-config` does) promotes the standby leader: dr is a cluster of its
 * own, writable, its replica following, while main goes on untouched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster } from '../../src/local/cluster.ts';
import type { ClusterNode } from '../../src/local/cluster-types.ts';
import {
  dumpLogs,
  etcdValue,
  eventually,
  inRecovery,
  leaderNode,
  sql,
  useLocalCluster,
} from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const TIMING = { ttl: 10, loop_wait: 2, retry_timeout: 4 };
// A permanent slot on main for dr's standby leader to stream through (primary_slot_name).
const mainOf = useLocalCluster(
  { nodes: 2, scope: 'main', dcs: { ...TIMING, slots: { dr: { type: 'physical' } } } },
  { beforeAll, afterAll, afterEach: () => {} },
);

let dr: LocalCluster | undefined;
let failed = false;
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});
let mainLeader: ClusterNode;

const status = async (n: ClusterNode): Promise<Record<string, unknown>> => (await dr!.fetchStatus(n)) ?? {};
async function code(n: ClusterNode, path: string): Promise<number> {
  return (await dr!.rest.request(`${n.apiUrl}${path}`, { method: 'GET' })).status;
}

/** dr's standby leader and its replica, once the replica streams from it. */
async function drMembers(): Promise<{ leader: ClusterNode; replica: ClusterNode }> {
  return eventually(
    'a standby leader in dr with its replica streaming from it',
    async () => {
      const leader = await leaderNode(dr!);
      const replica = dr!.nodes.find((n) => n !== leader)!;
      const rows = await sql<{ application_name: string }>(
        leader,
        "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
      );
      expect(rows.map((r) => r.application_name)).toContain(replica.name);
      return { leader, replica };
    },
    90_000,
  );
}

beforeAll(async () => {
  const main = mainOf();
  mainLeader = await leaderNode(main);
  // main's address book names its replica: a copy of main must not carry it into dr, whose
  // promotion would otherwise fence main's servers.
  const mainReplica = main.nodes.find((n) => n !== mainLeader)!;
  await eventually('main’s address book names its replica', async () => {
    expect(readFileSync(join(mainLeader.dataDir, 'pgwarden.servers.json'), 'utf8')).toContain(
      `"port":${mainReplica.pgPort}`,
    );
  });
  dr = new LocalCluster({
    dir: `${main.nodes[0]!.dataDir}/../../dr`,
    nodes: 2,
    scope: 'dr',
    etcdEndpoints: [main.etcdEndpoint],
    dcs: {
      ...TIMING,
      standby_cluster: { host: mainLeader.host, port: mainLeader.pgPort, primary_slot_name: 'dr' },
    },
  });
  await dr.init();
  await dr.startAll();
});

afterAll(async () => {
  if (failed) dumpLogs(dr);
  await dr?.stop();
});

describe('a standby cluster of main', () => {
  it('its leader streams from main as the standby leader; its replica streams from the standby leader', async () => {
    const { leader, replica } = await drMembers();
    expect(await inRecovery(leader)).toBe(true);
    const receiver = await sql<{ sender_port: number; status: string; slot_name: string }>(
      leader,
      'SELECT sender_port, status, slot_name FROM pg_stat_wal_receiver',
    );
    expect(receiver).toEqual([{ sender_port: mainLeader.pgPort, status: 'streaming', slot_name: 'dr' }]);
    // Through main's permanent slot, which main's leader keeps for it.
    expect(await sql(mainLeader, "SELECT active FROM pg_replication_slots WHERE slot_name = 'dr'")).toEqual([
      { active: true },
    ]);
    expect((await status(leader))['role']).toBe('standby_leader');
    expect((await status(replica))['role']).toBe('replica');
    // dr's address book names dr's members only, never main's servers.
    await eventually('dr’s address book names its replica', async () => {
      expect(readFileSync(join(leader.dataDir, 'pgwarden.servers.json'), 'utf8')).toContain(
        `"port":${replica.pgPort}`,
      );
    });
    const book = readFileSync(join(leader.dataDir, 'pgwarden.servers.json'), 'utf8');
    for (const n of mainOf().nodes) expect(book).not.toContain(`"port":${n.pgPort}`);
    // The same system as main: a copy of it.
    expect(await etcdValue(dr!, 'dr', 'initialize')).toBe(await etcdValue(mainOf(), 'main', 'initialize'));
  });

  it('answers the health checks as the standby leader', async () => {
    const { leader, replica } = await drMembers();
    expect(await code(leader, '/standby-leader')).toBe(200);
    expect(await code(leader, '/leader')).toBe(200);
    expect(await code(leader, '/primary')).toBe(503);
    expect(await code(leader, '/replica')).toBe(503);
    expect(await code(replica, '/standby-leader')).toBe(503);
    expect(await code(replica, '/replica')).toBe(200);
    const cluster = await dr!.rest.json<{ members: Array<{ name: string; role: string }> }>(
      `${leader.apiUrl}/cluster`,
    );
    expect(cluster?.members.find((m) => m.name === leader.name)?.role).toBe('standby_leader');
    // A switchover would wait for a hand-over the standby leader does not make: refused at once.
    const switchover = await dr!.rest.request(`${leader.apiUrl}/switchover`, {
      method: 'POST',
      body: JSON.stringify({ leader: leader.name }),
    });
    expect(switchover).toEqual({
      status: 412,
      text: 'switchover is not possible: a standby leader does not hand over in pgwarden yet (stop it to fail over)',
    });
  });

  it('what main commits reaches the standby leader and its replica', async () => {
    const { leader, replica } = await drMembers();
    await sql(mainLeader, 'CREATE TABLE IF NOT EXISTS dr_marks (v text)');
    await sql(mainLeader, "INSERT INTO dr_marks VALUES ('from main')");
    for (const n of [leader, replica])
      await eventually(`the row on ${n.name}`, async () => {
        expect(await sql(n, 'SELECT v FROM dr_marks')).toEqual([{ v: 'from main' }]);
      });
  });

  it('removing standby_cluster from /config promotes the standby leader; its replica follows; main goes on', async () => {
    const { leader, replica } = await drMembers();
    const before = Number((await status(leader))['timeline']);
    const res = await dr!.rest.request(`${leader.apiUrl}/config`, {
      method: 'PATCH',
      body: JSON.stringify({ standby_cluster: null }),
    });
    expect(res.status, res.text).toBe(200);
    await eventually(
      'dr leader writable',
      async () => {
        expect(await code(leader, '/primary')).toBe(200);
        expect(await inRecovery(leader)).toBe(false);
      },
      60_000,
    );
    expect(await code(leader, '/standby-leader')).toBe(503);
    expect(Number((await status(leader))['timeline'])).toBe(before + 1);
    await sql(leader, "INSERT INTO dr_marks VALUES ('from dr')");
    await eventually(
      'the replica follows the new primary',
      async () => {
        expect((await sql(replica, 'SELECT v FROM dr_marks ORDER BY v')).map((r) => r['v'])).toEqual([
          'from dr',
          'from main',
        ]);
      },
      60_000,
    );
    // main: untouched, still writable, and dr no longer reads from it.
    expect(await inRecovery(mainLeader)).toBe(false);
    expect(await sql(mainLeader, 'SELECT v FROM dr_marks')).toEqual([{ v: 'from main' }]);
  });
});
