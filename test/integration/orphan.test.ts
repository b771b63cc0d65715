/**
 * No orphan primary left writable, on real processes (three agents, etcd 3.4, PostgreSQL 15,
 * asynchronous replication): after kill -9 of the leader's agent alone, its postmaster keeps
 * running; a client connected straight to it writes every 50 ms. The node that takes the lock
 * fences it before promoting, so no write on the old server is acknowledged once the new primary
 * is writable. Then the old agent comes back: the node rejoins, the fence lifted, and can lead
 * again with writes accepted. The same with the leader's agent frozen past the ttl (SIGSTOP).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, REST_AUTH } from '../../src/local/cluster.ts';
import {
  eventually,
  inRecovery,
  leaderNode,
  sleep,
  sql,
  useLocalCluster,
  writingTo,
} from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 240_000 });

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'orphan', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 }, journal: true },
  { beforeAll, afterAll, afterEach },
);

const AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

/** A client with `node`'s address writing every 50 ms: when each write was acknowledged (ms). */
const staleClient = (node: ClusterNode) =>
  writingTo(node, 'INSERT INTO orphan_writes (at) VALUES (now())', 50);

/** Polls every 50 ms until a node other than `old` is writable: that node, and when it was first seen so. */
async function nextWritable(old: ClusterNode, since: number): Promise<{ node: ClusterNode; at: number }> {
  for (;;) {
    expect(Date.now() - since).toBeLessThan(60_000);
    for (const n of clusterOf().nodes) {
      if (n !== old && (await inRecovery(n, 500)) === false) return { node: n, at: Date.now() };
    }
    await sleep(50);
  }
}

describe('no orphan primary left writable', () => {
  let old: ClusterNode;
  let promoted: ClusterNode;

  it("kill -9 of the leader's agent alone: no write on the old server is acknowledged once another node is writable", async () => {
    const cluster = clusterOf();
    old = await leaderNode(clusterOf());
    await sql(old, 'CREATE TABLE IF NOT EXISTS orphan_writes (at timestamptz)');
    const client = staleClient(old);
    await sleep(1000);
    await cluster.killAgent(old.name);
    const killedAt = Date.now();
    const next = await nextWritable(old, killedAt);
    promoted = next.node;
    const writableAt = next.at;
    await sleep(5000);
    await client.stop();
    const late = client.acks.filter((t) => t >= writableAt);
    const lastAck = client.acks.at(-1) ?? 0;
    process.stderr.write(
      `orphan: agent killed, new primary writable after ${writableAt - killedAt} ms; old server's last ack ${lastAck - writableAt} ms from then, ${late.length} acks after\n`,
    );
    expect(late).toEqual([]);
    // The old server is still up, and refuses writes.
    await expect(sql(old, 'INSERT INTO orphan_writes (at) VALUES (now())')).rejects.toThrow(/read-only/);
  });

  it('the new leader says so: an alarm in GET /cluster, a counter in /metrics', async () => {
    const doc = (await (await fetch(`${promoted.apiUrl}/cluster`)).json()) as {
      alarms?: Array<{ member: string; message: string }>;
    };
    expect(doc.alarms?.map((a) => a.member)).toEqual([old.name]);
    const metrics = await (
      await fetch(`${promoted.apiUrl}/metrics`, { headers: { authorization: AUTH } })
    ).text();
    expect(metrics).toMatch(/pgwarden_orphans_fenced_total\{[^}]*\} 1/);
    // Any member's GET /cluster shows it, with who raised it (published in the fencing node's key).
    const third = clusterOf().nodes.find((n) => n !== old && n !== promoted)!;
    await eventually('the third node shows the alarm', async () => {
      const d = (await (await fetch(`${third.apiUrl}/cluster`)).json()) as {
        alarms?: Array<{ member: string; by?: string }>;
      };
      expect(d.alarms?.map((a) => [a.member, a.by])).toEqual([[old.name, promoted.name]]);
    });
    const thirdMetrics = await (
      await fetch(`${third.apiUrl}/metrics`, { headers: { authorization: AUTH } })
    ).text();
    expect(thirdMetrics).toMatch(/pgwarden_orphan_alarms\{[^}]*\} 1/);
  });

  it('the old agent back: the node rejoins with the fence lifted, and can lead again', async () => {
    const cluster = clusterOf();
    cluster.startNode(old.name);
    await eventually(
      'the old node streams again',
      async () => {
        if ((await inRecovery(old)) !== true) throw new Error('not a replica yet');
        const status = (await (await fetch(`${old.apiUrl}/patroni`)).json()) as {
          replication_state?: string;
        };
        if (status.replication_state !== 'streaming') throw new Error(JSON.stringify(status));
      },
      90_000,
    );
    const auto = readFileSync(join(old.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/default_transaction_read_only/);
    expect(existsSync(join(old.dataDir, 'pgwarden.fenced'))).toBe(false);
    // Switched back to it, it takes writes: no fence survives in its data directory.
    const res = await fetch(`${promoted.apiUrl}/switchover`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ leader: promoted.name, candidate: old.name }),
    });
    expect(res.status).toBe(200);
    await eventually(
      'the old node writable again',
      async () => {
        await sql(old, 'INSERT INTO orphan_writes (at) VALUES (now())');
      },
      60_000,
    );
    expect(await clusterOf().leader()).toBe(old.name);
  });

  it("the leader's agent frozen past the ttl: its server fenced before the promotion, the agent demotes it once thawed", async () => {
    const cluster = clusterOf();
    const frozen = await leaderNode(clusterOf());
    const client = staleClient(frozen);
    await sleep(1000);
    cluster.freezeAgent(frozen.name, true);
    const frozenAt = Date.now();
    try {
      const next = await nextWritable(frozen, frozenAt);
      await sleep(3000);
      await client.stop();
      const late = client.acks.filter((t) => t >= next.at);
      process.stderr.write(
        `orphan (frozen agent): new primary writable after ${next.at - frozenAt} ms; ${late.length} acks on the old server after\n`,
      );
      expect(late).toEqual([]);
    } finally {
      cluster.freezeAgent(frozen.name, false);
    }
    await eventually(
      'the thawed node streams again',
      async () => {
        const status = (await (await fetch(`${frozen.apiUrl}/patroni`)).json()) as {
          replication_state?: string;
        };
        if (status.replication_state !== 'streaming') throw new Error(JSON.stringify(status));
      },
      90_000,
    );
  });
});
