/**
 * Issue 10, bug 8 on real processes: with `use_pg_rewind: false` and no
 * remove_data_directory_on_* flag, an old primary whose WAL went past the fork point keeps its
 * data directory after a failover (Patroni starts it as a secondary with its data as it is).
 * The old agent re-cloned it whatever the configuration said. Two nodes, ttl 10.
 */
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { lookupUser } from '../../src/local/os-user.ts';
import { dumpLogs, etcdValue, eventually, sql } from '../helpers/cluster-tools.ts';

const TTL = 10;
vi.setConfig({ testTimeout: 120_000 });

let cluster: LocalCluster;
let dir: string;
let failed = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-nowipe-'));
  cluster = new LocalCluster({
    dir,
    nodes: 2,
    scope: 'nowipe',
    dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4 },
    postgresql: { use_pg_rewind: false },
  });
  await cluster.init();
  await cluster.startAll();
});

afterAll(async () => {
  if (failed) dumpLogs(cluster);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rows = async (n: ClusterNode, id: number) =>
  Number((await sql<{ n: string }>(n, 'SELECT count(*) AS n FROM t WHERE id = $1', [id]))[0]!.n);

describe('use_pg_rewind off, no remove_data_directory_on_* flag', () => {
  it("the old primary's data directory survives a failover: kept, started as a replica, never cloned", async () => {
    try {
      expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
      const old = cluster.nodes.find((n) => n.status?.role === 'master')!;
      const other = cluster.nodes.find((n) => n !== old)!;
      await sql(old, 'CREATE TABLE t (id int PRIMARY KEY)');
      await sql(old, 'INSERT INTO t VALUES (1)');
      await eventually('row 1 on the replica', async () => expect(await rows(other, 1)).toBe(1));

      // A file of our own in the old primary's data directory: a clone would not bring it back.
      const marker = join(old.dataDir, 'pgwarden-no-wipe-marker');
      writeFileSync(marker, 'kept\n');
      const pgUser = lookupUser('postgres')!;
      chownSync(marker, pgUser.uid, pgUser.gid);

      // The next commit reaches nobody: the old primary's WAL goes past the fork point.
      const senders = (await sql<{ pid: number }>(old, 'SELECT pid FROM pg_stat_replication')).map(
        (r) => r.pid,
      );
      for (const pid of senders) process.kill(pid, 'SIGSTOP');
      await sql(old, 'INSERT INTO t VALUES (2)');
      await cluster.killNode(old.name);
      for (const pid of senders) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      await eventually(
        'the other node leads',
        async () => expect(await etcdValue(cluster, 'nowipe', 'leader')).toBe(other.name),
        3 * TTL * 1000,
      );
      await eventually('writes on the new leader', async () => sql(other, 'INSERT INTO t VALUES (3)'));

      const logFrom = readFileSync(old.logFile, 'utf8').length;
      cluster.startNode(old.name);
      await eventually(
        'the old primary runs again, read-only',
        async () => {
          const r = await sql<{ r: boolean }>(old, 'SELECT pg_is_in_recovery() AS r');
          expect(r[0]!.r).toBe(true);
        },
        60_000,
      );
      // Give it several loops to do anything it would do.
      await new Promise((r) => setTimeout(r, 10_000));
      expect(existsSync(marker)).toBe(true);
      // Its own last commit is still there: the same data directory, not a copy of the leader's.
      expect(await rows(old, 2)).toBe(1);
      expect(await rows(old, 3)).toBe(0);
      const since = readFileSync(old.logFile, 'utf8').slice(logFrom);
      expect(since).not.toMatch(/pg_basebackup|cloning again|removing the data directory/);
      expect(await etcdValue(cluster, 'nowipe', 'leader')).toBe(other.name);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
