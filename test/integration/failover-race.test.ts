/**
 * Three nodes that may all lead. The leader node dies (kill -9 of agent and postmaster): both
 * survivors see their streams break at the same moment and race. Exactly one may end up
 * writable, the leader key may change only once, and at no sample may two nodes be writable.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, LocalCluster, SUPERUSER } from '../../src/local/cluster.ts';

vi.setConfig({ testTimeout: 120_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: LocalCluster;
let dir: string;
let failed = false;

async function writable(node: ClusterNode): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: node.pgPort,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  try {
    await client.connect();
    const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return r.rows[0]!.r === false;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function leaderKey(): Promise<string | null> {
  const res = await fetch(`${cluster.etcdEndpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/service/race/leader').toString('base64') }),
  });
  const doc = (await res.json()) as { kvs?: Array<{ value: string }> };
  return doc.kvs?.[0] ? Buffer.from(doc.kvs[0].value, 'base64').toString() : null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-race-'));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: 'race',
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
  });
  await cluster.init();
  await cluster.startAll();
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) {
    for (const n of cluster?.nodes ?? []) {
      const log = readFileSync(n.logFile, 'utf8').split('\n').slice(-30).join('\n');
      process.stderr.write(`\n===== ${n.name} log (tail) =====\n${log}\n`);
    }
  }
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('two replicas racing after the leader node died', () => {
  it('one new leader, one change of the leader key, never two writable nodes', async () => {
    expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    const old = cluster.nodes.find((n) => n.status?.role === 'master')!;
    const survivors = cluster.nodes.filter((n) => n !== old);
    await cluster.killNode(old.name);

    const keys: Array<string | null> = [];
    const deadline = Date.now() + 40_000;
    let settledAt: number | null = null;
    while (Date.now() < deadline) {
      const w = await Promise.all(survivors.map(writable));
      expect(w.filter(Boolean).length).toBeLessThanOrEqual(1);
      const k = await leaderKey();
      if (keys[keys.length - 1] !== k) keys.push(k);
      if (w.some(Boolean) && k !== null && k !== old.name) settledAt ??= Date.now();
      // Keep watching for a while after a new leader appears: a second promotion comes late.
      if (settledAt !== null && Date.now() - settledAt > 5000) break;
      await sleep(100);
    }
    expect(settledAt).not.toBeNull();
    const changes = keys.filter((k) => k !== null && k !== old.name);
    expect(changes).toHaveLength(1);
    expect(survivors.map((n) => n.name)).toContain(changes[0]);
  });
});
