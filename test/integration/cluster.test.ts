/**
 * Three real agents (separate processes, as the postgres OS user) on real etcd and
 * PostgreSQL 15: bootstrap, replication, failover after kill -9, rejoin through pg_rewind,
 * nofailover, and a foreign data directory. ttl 10 / loop_wait 2 keeps it quick.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readJournal } from '../../src/actors/journal.ts';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { lookupUser } from '../../src/local/os-user.ts';
import { dumpLogs, etcdValue, eventually, replayJournals, sleep, sql } from '../helpers/cluster-tools.ts';

const TTL = 10;
vi.setConfig({ testTimeout: 120_000 });

let cluster: LocalCluster;
let dir: string;

async function rowsOn(node: ClusterNode, id: number): Promise<number> {
  const r = await sql<{ n: string }>(node, 'SELECT count(*) AS n FROM ha_test WHERE id = $1', [id]);
  return Number(r[0]!.n);
}

const leaderKey = () => etcdValue(cluster, 'it', 'leader');
const dcsValue = (key: string) => etcdValue(cluster, 'it', key);

const primaryOf = (nodes: ClusterNode[]) =>
  nodes.find((n) => n.status?.role === 'master' && n.status.state === 'running');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-it-'));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: 'it',
    dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4 },
    // node3 may never lead: it proves nofailover all through the failovers below.
    tags: (i) => (i === 2 ? { nofailover: true } : {}),
    journal: true,
  });
  await cluster.init();
  await cluster.startAll();
});

let failed = false;
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) dumpLogs(cluster);
  await cluster?.stop();
  try {
    // The failover, the rewind, the restarts: every decision replays on the machines as they are.
    if (cluster) replayJournals(cluster);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('a three-node cluster on real etcd and PostgreSQL', () => {
  let firstLeader: ClusterNode;

  it('bootstraps one leader and two streaming replicas with slots', async () => {
    const ready = await cluster.waitUntilReady({ timeoutMs: 60_000 });
    expect(ready).toBe(true);
    firstLeader = primaryOf(cluster.nodes)!;
    expect(firstLeader.name).not.toBe('node3');
    expect(await leaderKey()).toBe(firstLeader.name);
    const slots = await sql<{ slot_name: string; active: boolean }>(
      firstLeader,
      "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1",
    );
    const others = cluster.nodes.filter((n) => n !== firstLeader).map((n) => n.name);
    await eventually('both replicas stream through their slots', async () => {
      const s = await sql<{ slot_name: string; active: boolean }>(
        firstLeader,
        "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1",
      );
      expect(s).toEqual(others.map((name) => ({ slot_name: name, active: true })));
    });
    expect(slots.map((s) => s.slot_name)).toEqual(others);
  });

  it('answers health checks as load balancers expect', async () => {
    const code = async (n: ClusterNode, path: string, method = 'GET') =>
      (await fetch(`${n.apiUrl}${path}`, { method, signal: AbortSignal.timeout(2000) })).status;
    const replicas = cluster.nodes.filter((n) => n !== firstLeader);
    expect(await code(firstLeader, '/primary')).toBe(200);
    expect(await code(firstLeader, '/')).toBe(200);
    expect(await code(firstLeader, '/leader')).toBe(200);
    expect(await code(firstLeader, '/replica')).toBe(503);
    expect(await code(firstLeader, '/health')).toBe(200);
    for (const r of replicas) {
      expect(await code(r, '/replica')).toBe(200);
      expect(await code(r, '/primary')).toBe(503);
      expect(await code(r, '/read-only')).toBe(200);
      expect(await code(r, '/replica?lag=1GB')).toBe(200);
    }
    // HAProxy's `option httpchk` sends OPTIONS: status only, no body.
    const opt = await fetch(`${firstLeader.apiUrl}/`, { method: 'OPTIONS' });
    expect(opt.status).toBe(200);
    expect(await opt.text()).toBe('');
    const head = await fetch(`${replicas[0]!.apiUrl}/primary`, { method: 'HEAD' });
    expect(head.status).toBe(503);
    const doc = (await (await fetch(`${firstLeader.apiUrl}/cluster`)).json()) as {
      members: Array<{ name: string; role: string; state: string; lag?: number }>;
    };
    expect(doc.members.map((m) => [m.name, m.role])).toEqual(
      cluster.nodes.map((n) => [n.name, n === firstLeader ? 'leader' : 'replica']),
    );
  });

  it('/initialize holds the system identifier every node reports', async () => {
    const sysid = await dcsValue('initialize');
    expect(sysid).toMatch(/^\d{10,}$/);
    await cluster.poll();
    for (const n of cluster.nodes) expect(n.status?.database_system_identifier).toBe(sysid);
  });

  it('a row written on the primary appears on both replicas', async () => {
    await sql(firstLeader, 'CREATE TABLE ha_test (id int PRIMARY KEY, note text)');
    await sql(firstLeader, "INSERT INTO ha_test VALUES (1, 'before failover')");
    for (const n of cluster.nodes.filter((x) => x !== firstLeader)) {
      await eventually(`row on ${n.name}`, async () => expect(await rowsOn(n, 1)).toBe(1));
    }
  });

  let newLeader: ClusterNode;

  it('kill -9 of the leader node: the other failover-capable replica takes the lock and accepts writes', async () => {
    const candidate = cluster.nodes.find((n) => n !== firstLeader && n.name !== 'node3')!;
    // Freeze the old primary's WAL senders so that the next commit reaches nobody else: the old
    // primary then has WAL the new leader never saw, and must be rewound to rejoin.
    const senders = (await sql<{ pid: number }>(firstLeader, 'SELECT pid FROM pg_stat_replication')).map(
      (r) => r.pid,
    );
    expect(senders).toHaveLength(2);
    for (const pid of senders) process.kill(pid, 'SIGSTOP');
    await sql(firstLeader, "INSERT INTO ha_test VALUES (2, 'lost with the old primary')");
    await cluster.killNode(firstLeader.name);
    for (const pid of senders) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    const killedAt = Date.now();

    await eventually(
      'a new leader key',
      async () => {
        const l = await leaderKey();
        expect(l).not.toBeNull();
        expect(l).not.toBe(firstLeader.name);
      },
      3 * TTL * 1000,
    );
    expect(await leaderKey()).toBe(candidate.name);
    newLeader = candidate;
    await eventually('writes on the new leader', async () => {
      await sql(newLeader, "INSERT INTO ha_test VALUES (3, 'after failover')");
    });
    expect(Date.now() - killedAt).toBeLessThan(2 * TTL * 1000 + 10_000);
    const recovery = await sql<{ r: boolean }>(newLeader, 'SELECT pg_is_in_recovery() AS r');
    expect(recovery[0]!.r).toBe(false);
    await eventually('/history records the promotion', async () => {
      const history = JSON.parse((await dcsValue('history')) ?? 'null');
      expect(history).toHaveLength(1);
      expect(history[0][0]).toBe(1);
      expect(history[0][4]).toBe(newLeader.name);
    });
  });

  it('the node tagged nofailover follows the new leader', async () => {
    const node3 = cluster.node('node3');
    await eventually('node3 has the new row', async () => expect(await rowsOn(node3, 3)).toBe(1), 30_000);
  });

  it('the old leader, restarted, rejoins as a replica through pg_rewind', async () => {
    const logFrom = readFileSync(firstLeader.logFile, 'utf8').length;
    cluster.startNode(firstLeader.name);
    await eventually(
      'old leader streams from the new one',
      async () => {
        expect(await rowsOn(firstLeader, 3)).toBe(1);
        const r = await sql<{ r: boolean }>(firstLeader, 'SELECT pg_is_in_recovery() AS r');
        expect(r[0]!.r).toBe(true);
      },
      60_000,
    );
    // The row only the old primary had is gone: its WAL was rewound to the fork point.
    expect(await rowsOn(firstLeader, 2)).toBe(0);
    // A rewind that succeeded, not a wiped data directory cloned again.
    const since = readFileSync(firstLeader.logFile, 'utf8').slice(logFrom);
    expect(since).toMatch(/pg_rewind: /);
    expect(since).not.toMatch(/pg_basebackup from|cloning again/);
    expect(await leaderKey()).toBe(newLeader.name);
    const slots = await sql<{ slot_name: string }>(
      newLeader,
      'SELECT slot_name FROM pg_replication_slots WHERE active ORDER BY 1',
    );
    expect(slots.map((s) => s.slot_name)).toEqual([firstLeader.name, 'node3'].sort());
  });

  it('a replica killed and restarted rejoins', async () => {
    const node3 = cluster.node('node3');
    await cluster.killNode('node3');
    await sql(newLeader, "INSERT INTO ha_test VALUES (4, 'while node3 was down')");
    cluster.startNode('node3');
    await eventually('node3 catches up', async () => expect(await rowsOn(node3, 4)).toBe(1), 60_000);
    expect(await leaderKey()).toBe(newLeader.name);
  });

  it('a node tagged nofailover never takes the lock, even alone', async () => {
    await cluster.stopNode(firstLeader.name);
    await cluster.stopNode(newLeader.name);
    // The clean stop released the lock at once; node3 must leave it free well past a ttl.
    const until = Date.now() + (TTL + 5) * 1000;
    while (Date.now() < until) {
      expect(await leaderKey()).toBeNull();
      await sleep(500);
    }
    await cluster.poll();
    expect(cluster.node('node3').status?.role).toBe('replica');
  });

  it('a data directory of another cluster is refused with a clear message', async () => {
    const node3 = cluster.node('node3');
    await cluster.stopNode('node3');
    const user = lookupUser('postgres')!;
    rmSync(node3.dataDir, { recursive: true, force: true });
    execFileSync(
      'runuser',
      ['-u', user.user, '--', '/usr/lib/postgresql/15/bin/initdb', '-D', node3.dataDir],
      {
        stdio: 'ignore',
      },
    );
    cluster.startNode('node3');
    await eventually('node3 exits', async () => expect(cluster.isRunning('node3')).toBe(false), 30_000);
    expect(readFileSync(node3.logFile, 'utf8')).toMatch(/belongs to another cluster/);
  });
  // Last: a minute of failovers, restarts and rejoins lies behind, every timer has fired.
  it("journals every node's decisions: a header, then every event, invoked actors' results and timers included", () => {
    // Timers firing, across the cluster: a node's own journal need not show one (node1 may lead
    // for less than a loop_wait before the kill -9 on a loaded machine, and after its restart
    // live a few seconds as a follower whose loop timer starts again at every view).
    const timers: string[] = [];
    for (const node of cluster.nodes) {
      const entries = readJournal(node.journalFile);
      expect(entries[0], node.name).toMatchObject({
        kind: 'header',
        what: 'pgwarden journal 2',
        actor: node.name,
      });
      expect((entries[0]!.event as { machines: string }).machines).toMatch(/^[0-9a-f]{64}$/);
      const seen = new Set(entries.filter((e) => e.kind === 'event').map((e) => `${e.actor}: ${e.what}`));
      const has = (prefix: string) => [...seen].some((w) => w.startsWith(prefix));
      const summary = `${node.name}: ${[...seen].join(' | ')}`;
      expect(has('node: xstate.done.actor.'), summary).toBe(true);
      if (has('node.election: xstate.after.') || has('node: xstate.after.')) timers.push(node.name);
      expect(has('node: PG_STATUS'), summary).toBe(true);
      expect(has('node.restartScheduler: xstate.init'), summary).toBe(true);
    }
    expect(timers.length, 'nodes whose journal shows a timer firing').toBeGreaterThan(0);
  });
});
